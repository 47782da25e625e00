//! Properties to send: a typed struct of optional values, written into wire form
//! without an allocator (into a caller's buffer) or into a `Bytes`.

use core::fmt;
use core::num::{NonZeroU16, NonZeroU32};

use super::properties::{Properties, PropertyKind};
use super::property::{PayloadFormat, Property, SubscriptionId};
use crate::wire::SliceSink;
use crate::{varint, EncodeError, QoS, Str, TopicName};

/// A User Property to send: name and value.
pub type UserProperty<'a> = (Str<&'a [u8]>, Str<&'a [u8]>);

/// The values of the properties to send. Every field is optional (`None` or an
/// empty slice: not sent); each packet accepts only the properties the spec allows in
/// it, which [`Properties::write_into`] and [`Properties::from_values`] check.
///
/// ```
/// use core::num::NonZeroU16;
/// use mqtt_proto::v5::{ConnectProperties, PropertyValues};
/// use mqtt_proto::Str;
///
/// let values = PropertyValues {
///     session_expiry_interval: Some(3600),
///     receive_maximum: NonZeroU16::new(32),
///     user_properties: &[(Str::new("site").unwrap(), Str::new("north").unwrap())],
///     ..PropertyValues::default()
/// };
/// let mut buf = [0u8; 64];
/// let props = ConnectProperties::write_into(&values, &mut buf).unwrap();
/// assert_eq!(props.session_expiry_interval(), Some(3600));
/// assert_eq!(props.user_properties().count(), 1);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each field is the property of the same name in `Properties`
pub struct PropertyValues<'a> {
    pub payload_format_indicator: Option<PayloadFormat>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<Str<&'a [u8]>>,
    pub response_topic: Option<TopicName<&'a [u8]>>,
    pub correlation_data: Option<&'a [u8]>,
    /// Several only in a PUBLISH (from a server); at most one in SUBSCRIBE.
    pub subscription_identifiers: &'a [SubscriptionId],
    pub session_expiry_interval: Option<u32>,
    pub assigned_client_identifier: Option<Str<&'a [u8]>>,
    pub server_keep_alive: Option<u16>,
    pub authentication_method: Option<Str<&'a [u8]>>,
    pub authentication_data: Option<&'a [u8]>,
    pub request_problem_information: Option<bool>,
    pub will_delay_interval: Option<u32>,
    pub request_response_information: Option<bool>,
    pub response_information: Option<Str<&'a [u8]>>,
    pub server_reference: Option<Str<&'a [u8]>>,
    pub reason_string: Option<Str<&'a [u8]>>,
    pub receive_maximum: Option<NonZeroU16>,
    pub topic_alias_maximum: Option<u16>,
    pub topic_alias: Option<NonZeroU16>,
    /// QoS 0 or 1; QoS 2 is refused (it is what an absent Maximum QoS means).
    pub maximum_qos: Option<QoS>,
    pub retain_available: Option<bool>,
    /// Name and value pairs, sent in this order.
    pub user_properties: &'a [UserProperty<'a>],
    pub maximum_packet_size: Option<NonZeroU32>,
    pub wildcard_subscription_available: Option<bool>,
    pub subscription_identifier_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
}

impl<'a> PropertyValues<'a> {
    /// Calls `f` with each property to send, in identifier order.
    fn for_each<E>(&self, mut f: impl FnMut(Property<&'a [u8]>) -> Result<(), E>) -> Result<(), E> {
        use Property as P;
        macro_rules! one {
            ($field:ident, $variant:ident) => {
                if let Some(v) = self.$field.clone() {
                    f(P::$variant(v))?;
                }
            };
        }
        one!(payload_format_indicator, PayloadFormatIndicator);
        one!(message_expiry_interval, MessageExpiryInterval);
        one!(content_type, ContentType);
        one!(response_topic, ResponseTopic);
        one!(correlation_data, CorrelationData);
        for &id in self.subscription_identifiers {
            f(P::SubscriptionIdentifier(id))?;
        }
        one!(session_expiry_interval, SessionExpiryInterval);
        one!(assigned_client_identifier, AssignedClientIdentifier);
        one!(server_keep_alive, ServerKeepAlive);
        one!(authentication_method, AuthenticationMethod);
        one!(authentication_data, AuthenticationData);
        one!(request_problem_information, RequestProblemInformation);
        one!(will_delay_interval, WillDelayInterval);
        one!(request_response_information, RequestResponseInformation);
        one!(response_information, ResponseInformation);
        one!(server_reference, ServerReference);
        one!(reason_string, ReasonString);
        one!(receive_maximum, ReceiveMaximum);
        one!(topic_alias_maximum, TopicAliasMaximum);
        one!(topic_alias, TopicAlias);
        one!(maximum_qos, MaximumQoS);
        one!(retain_available, RetainAvailable);
        for (k, v) in self.user_properties {
            f(P::UserProperty(k.clone(), v.clone()))?;
        }
        one!(maximum_packet_size, MaximumPacketSize);
        one!(
            wildcard_subscription_available,
            WildcardSubscriptionAvailable
        );
        one!(
            subscription_identifier_available,
            SubscriptionIdentifierAvailable
        );
        one!(shared_subscription_available, SharedSubscriptionAvailable);
        Ok(())
    }

    /// Length of the block for kind `K`, or why `K` cannot carry these values.
    fn wire_len<K: PropertyKind>(&self) -> Result<usize, EncodeError> {
        let mut n = 0usize;
        let mut seen = 0u64;
        self.for_each(|p| {
            let id = p.id();
            if id.packets() & K::BIT == 0 {
                return Err(EncodeError::PropertyNotAllowed(id));
            }
            if seen & id.mask() != 0 && !id.repeatable_in(K::PACKET) {
                return Err(EncodeError::DuplicateProperty(id));
            }
            seen |= id.mask();
            match &p {
                Property::MaximumQoS(QoS::ExactlyOnce) => {
                    return Err(EncodeError::InvalidPropertyValue(id))
                }
                Property::CorrelationData(b) | Property::AuthenticationData(b)
                    if b.len() > u16::MAX as usize =>
                {
                    return Err(EncodeError::FieldTooLong)
                }
                _ => {}
            }
            n += p.wire_len();
            Ok(())
        })?;
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(EncodeError::AuthenticationDataWithoutMethod);
        }
        if n > varint::MAX_REMAINING_LENGTH as usize {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok(n)
    }

    fn write<W: crate::wire::Sink>(&self, w: &mut W) {
        let _ = self.for_each(|p| {
            p.write(w);
            Ok::<(), ()>(())
        });
    }
}

impl<'b, K: PropertyKind> Properties<&'b [u8], K> {
    /// Writes `values` in wire form at the start of `buf`, without an allocator;
    /// refuses a property `K` may not carry, or carry twice.
    pub fn write_into(values: &PropertyValues<'_>, buf: &'b mut [u8]) -> Result<Self, EncodeError> {
        let needed = values.wire_len::<K>()?;
        if buf.len() < needed {
            return Err(EncodeError::BufferTooSmall { needed });
        }
        let mut sink = SliceSink { buf, pos: 0 };
        values.write(&mut sink);
        let SliceSink { buf, .. } = sink;
        Ok(Properties::trusted(&buf[..needed]))
    }
}

#[cfg(feature = "bytes")]
impl<K: PropertyKind> Properties<bytes::Bytes, K> {
    /// Builds a block from `values`; refuses a property `K` may not carry, or carry
    /// twice.
    pub fn from_values(values: &PropertyValues<'_>) -> Result<Self, EncodeError> {
        let needed = values.wire_len::<K>()?;
        let mut buf = bytes::BytesMut::with_capacity(needed);
        values.write(&mut crate::wire::BufSink(&mut buf));
        Ok(Properties::trusted(buf.freeze()))
    }
}

impl fmt::Debug for PropertyValues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let _ = self.for_each(|p| {
            list.entry(&p);
            Ok::<(), ()>(())
        });
        list.finish()
    }
}
