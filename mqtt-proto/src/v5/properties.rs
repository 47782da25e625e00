//! The properties of a packet (section 2.2.2), kept in validated wire form.
//!
//! Decoding checks a property block once: every identifier known and allowed in its
//! packet, no property twice that may appear once, every value in range. The block is
//! then kept as its bytes (a view of the packet, no allocation); the accessors and
//! iterators read typed values out of it. A block to send is written into wire form
//! once, from a [`PropertyValues`](super::PropertyValues), into a caller's buffer or a
//! `Bytes`.

use core::fmt;
use core::marker::PhantomData;
use core::num::{NonZeroU16, NonZeroU32};

use super::property::{read_value, PayloadFormat, Property, SubscriptionId};
use super::property_id::{DataType, PropertyId, WILL};
use crate::wire::{Reader, Sink};
use crate::{varint, DecodeError, PacketType, QoS, Storage, Str, TopicName};

/// Which property set a [`Properties`] is: the packet it belongs to. Sealed; the
/// kinds are the marker types of this module ([`ConnectProps`], [`WillProps`], ...).
pub trait PropertyKind: kind::Kind {}

pub(crate) mod kind {
    pub trait Kind {
        /// The packet-mask bit whose allowed properties this set follows.
        const BIT: u16;
        /// The packet type used for errors and repeatability.
        const PACKET: crate::PacketType;
    }
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident = $packet:ident, $bit:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {}
        impl PropertyKind for $name {}
        impl kind::Kind for $name {
            const BIT: u16 = $bit;
            const PACKET: PacketType = PacketType::$packet;
        }
    )*};
}

kinds! {
    /// The properties of CONNECT (section 3.1.2.11).
    ConnectProps = Connect, 1 << 1;
    /// The Will Properties in the payload of CONNECT (section 3.1.3.2).
    WillProps = Connect, WILL;
    /// The properties of CONNACK (section 3.2.2.3).
    ConnackProps = Connack, 1 << 2;
    /// The properties of PUBLISH (section 3.3.2.3).
    PublishProps = Publish, 1 << 3;
    /// The properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK: Reason
    /// String and User Property (sections 3.4.2.2, 3.5.2.2, 3.6.2.2, 3.7.2.2, 3.9.2.1,
    /// 3.11.2.1).
    AckProps = Puback, 1 << 4;
    /// The properties of SUBSCRIBE (section 3.8.2.1).
    SubscribeProps = Subscribe, 1 << 8;
    /// The properties of UNSUBSCRIBE (section 3.10.2.1).
    UnsubscribeProps = Unsubscribe, 1 << 10;
    /// The properties of DISCONNECT (section 3.14.2.2).
    DisconnectProps = Disconnect, 1 << 14;
    /// The properties of AUTH (section 3.15.2.2).
    AuthProps = Auth, 1 << 15;
}

/// A validated property block in wire form (without its Property Length).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Properties<S, K> {
    wire: S,
    kind: PhantomData<K>,
}

/// Properties of CONNECT.
pub type ConnectProperties<S> = Properties<S, ConnectProps>;
/// Will Properties of CONNECT.
pub type WillProperties<S> = Properties<S, WillProps>;
/// Properties of CONNACK.
pub type ConnackProperties<S> = Properties<S, ConnackProps>;
/// Properties of PUBLISH.
pub type PublishProperties<S> = Properties<S, PublishProps>;
/// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
pub type AckProperties<S> = Properties<S, AckProps>;
/// Properties of SUBSCRIBE.
pub type SubscribeProperties<S> = Properties<S, SubscribeProps>;
/// Properties of UNSUBSCRIBE.
pub type UnsubscribeProperties<S> = Properties<S, UnsubscribeProps>;
/// Properties of DISCONNECT.
pub type DisconnectProperties<S> = Properties<S, DisconnectProps>;
/// Properties of AUTH.
pub type AuthProperties<S> = Properties<S, AuthProps>;

/// Checks a property block for kind `K` in a packet of type `packet_type`.
pub(crate) fn validate<K: PropertyKind>(
    wire: &[u8],
    packet_type: PacketType,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(&wire, 0);
    let mut seen = 0u64;
    while r.remaining() > 0 {
        let byte = r.u8()?;
        let Some(id) = PropertyId::from_u8(byte) else {
            return Err(DecodeError::UnknownProperty(byte));
        };
        if id.packets() & K::BIT == 0 {
            return Err(if K::BIT == WILL {
                DecodeError::PropertyNotAllowedInWill(id)
            } else {
                DecodeError::PropertyNotAllowed {
                    packet_type,
                    property: id,
                }
            });
        }
        if seen & id.mask() != 0 && !id.repeatable_in(K::PACKET) {
            return Err(DecodeError::DuplicateProperty(id));
        }
        seen |= id.mask();
        read_value(&mut r, id, true)?;
    }
    let data = PropertyId::AuthenticationData.mask();
    if seen & data != 0 && seen & PropertyId::AuthenticationMethod.mask() == 0 {
        return Err(DecodeError::AuthenticationDataWithoutMethod);
    }
    Ok(())
}

/// Where the value of a property starting at `pos` ends, for a block known valid.
fn skip(b: &[u8], pos: usize, data_type: DataType) -> usize {
    let prefixed = |at: usize| {
        at + 2
            + b.get(at..at + 2)
                .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])))
    };
    match data_type {
        DataType::Byte => pos + 1,
        DataType::TwoByteInteger => pos + 2,
        DataType::FourByteInteger => pos + 4,
        DataType::VariableByteInteger => {
            let mut p = pos;
            while b.get(p).is_some_and(|&x| x & 0x80 != 0) {
                p += 1;
            }
            p + 1
        }
        DataType::Utf8String | DataType::BinaryData => prefixed(pos),
        DataType::Utf8StringPair => prefixed(prefixed(pos)),
    }
}

impl<S: Storage, K: PropertyKind> Properties<S, K> {
    /// Reads a Property Length and the block it announces, and validates the block;
    /// `packet_type` names the packet in errors.
    pub(crate) fn read(
        r: &mut Reader<'_, S>,
        packet_type: PacketType,
    ) -> Result<Self, DecodeError> {
        let len = r.var_int()? as usize;
        let wire = r.bytes_n(len)?;
        validate::<K>(wire.as_ref(), packet_type)?;
        Ok(Properties::trusted(wire))
    }

    /// Wraps a block known valid for `K`.
    pub(crate) fn trusted(wire: S) -> Self {
        Properties {
            wire,
            kind: PhantomData,
        }
    }

    /// The wire form, without the Property Length.
    pub fn as_wire(&self) -> &[u8] {
        self.wire.as_ref()
    }

    /// True when the block holds no property.
    pub fn is_empty(&self) -> bool {
        self.wire.as_ref().is_empty()
    }

    /// Number of properties (walks the block).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// A borrowed view of the same block.
    pub fn as_borrowed(&self) -> Properties<&[u8], K> {
        Properties::trusted(self.wire.as_ref())
    }

    /// Every property, in wire order.
    pub fn iter(&self) -> PropertyIter<'_, S> {
        PropertyIter {
            reader: Reader::new(&self.wire, 0),
            only: None,
        }
    }

    /// Every property with identifier `id`, in wire order.
    fn all_of(&self, id: PropertyId) -> PropertyIter<'_, S> {
        PropertyIter {
            reader: Reader::new(&self.wire, 0),
            only: Some(id),
        }
    }

    /// The first property with identifier `id`, if any.
    pub fn get(&self, id: PropertyId) -> Option<Property<S>> {
        self.all_of(id).next()
    }

    /// The User Properties, name and value, in wire order (which a server keeps
    /// [MQTT-3.3.2-18]).
    pub fn user_properties(&self) -> impl Iterator<Item = (Str<S>, Str<S>)> + '_ {
        self.all_of(PropertyId::UserProperty)
            .filter_map(|p| match p {
                Property::UserProperty(k, v) => Some((k, v)),
                _ => None,
            })
    }

    /// The Subscription Identifiers: several in a PUBLISH from the server (section
    /// 3.3.4), at most one in SUBSCRIBE.
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = SubscriptionId> + '_ {
        self.all_of(PropertyId::SubscriptionIdentifier)
            .filter_map(|p| match p {
                Property::SubscriptionIdentifier(v) => Some(v),
                _ => None,
            })
    }

    /// Length of Property Length plus block.
    pub(crate) fn encoded_len(&self) -> usize {
        let n = self.wire.as_ref().len();
        varint::len(n as u32) + n
    }

    /// Writes Property Length and block.
    pub(crate) fn write<W: Sink>(&self, w: &mut W) {
        let b = self.wire.as_ref();
        w.put_var_int(b.len() as u32);
        w.put(b);
    }
}

impl<S: Storage + Default, K> Default for Properties<S, K> {
    /// No properties.
    fn default() -> Self {
        Properties {
            wire: S::default(),
            kind: PhantomData,
        }
    }
}

#[cfg(feature = "bytes")]
impl<K: PropertyKind> Properties<&[u8], K> {
    /// Copies a borrowed block into an owned one.
    pub fn to_bytes(&self) -> Properties<bytes::Bytes, K> {
        Properties::trusted(bytes::Bytes::copy_from_slice(self.wire))
    }
}

macro_rules! accessors {
    ($($(#[$doc:meta])* $name:ident -> $ty:ty = $variant:ident;)*) => {
        impl<S: Storage, K: PropertyKind> Properties<S, K> {$(
            $(#[$doc])*
            pub fn $name(&self) -> Option<$ty> {
                match self.get(PropertyId::$variant)? {
                    Property::$variant(v) => Some(v),
                    _ => None,
                }
            }
        )*}
    };
}

accessors! {
    /// Payload Format Indicator (PUBLISH, Will): whether the payload is UTF-8.
    payload_format_indicator -> PayloadFormat = PayloadFormatIndicator;
    /// Message Expiry Interval in seconds (PUBLISH, Will).
    message_expiry_interval -> u32 = MessageExpiryInterval;
    /// Content Type (PUBLISH, Will), e.g. a MIME type [MQTT-3.3.2-19].
    content_type -> Str<S> = ContentType;
    /// Response Topic (PUBLISH, Will): a topic name, never a wildcard [MQTT-3.3.2-14].
    response_topic -> TopicName<S> = ResponseTopic;
    /// Correlation Data (PUBLISH, Will).
    correlation_data -> S = CorrelationData;
    /// Session Expiry Interval in seconds (CONNECT, CONNACK, DISCONNECT).
    session_expiry_interval -> u32 = SessionExpiryInterval;
    /// Assigned Client Identifier (CONNACK) [MQTT-3.2.2-16].
    assigned_client_identifier -> Str<S> = AssignedClientIdentifier;
    /// Server Keep Alive in seconds (CONNACK) [MQTT-3.2.2-21].
    server_keep_alive -> u16 = ServerKeepAlive;
    /// Authentication Method (CONNECT, CONNACK, AUTH).
    authentication_method -> Str<S> = AuthenticationMethod;
    /// Authentication Data (CONNECT, CONNACK, AUTH).
    authentication_data -> S = AuthenticationData;
    /// Request Problem Information (CONNECT).
    request_problem_information -> bool = RequestProblemInformation;
    /// Will Delay Interval in seconds (Will).
    will_delay_interval -> u32 = WillDelayInterval;
    /// Request Response Information (CONNECT).
    request_response_information -> bool = RequestResponseInformation;
    /// Response Information (CONNACK).
    response_information -> Str<S> = ResponseInformation;
    /// Server Reference (CONNACK, DISCONNECT).
    server_reference -> Str<S> = ServerReference;
    /// Reason String (CONNACK, the acknowledgements, DISCONNECT, AUTH).
    reason_string -> Str<S> = ReasonString;
    /// Receive Maximum (CONNECT, CONNACK); never 0.
    receive_maximum -> NonZeroU16 = ReceiveMaximum;
    /// Topic Alias Maximum (CONNECT, CONNACK); absent means 0.
    topic_alias_maximum -> u16 = TopicAliasMaximum;
    /// Topic Alias (PUBLISH); never 0 [MQTT-3.3.2-8].
    topic_alias -> NonZeroU16 = TopicAlias;
    /// Maximum QoS (CONNACK): QoS 0 or 1 (absent means 2).
    maximum_qos -> QoS = MaximumQoS;
    /// Retain Available (CONNACK).
    retain_available -> bool = RetainAvailable;
    /// Maximum Packet Size (CONNECT, CONNACK); never 0.
    maximum_packet_size -> NonZeroU32 = MaximumPacketSize;
    /// Wildcard Subscription Available (CONNACK).
    wildcard_subscription_available -> bool = WildcardSubscriptionAvailable;
    /// Subscription Identifier Available (CONNACK).
    subscription_identifier_available -> bool = SubscriptionIdentifierAvailable;
    /// Shared Subscription Available (CONNACK).
    shared_subscription_available -> bool = SharedSubscriptionAvailable;
}

/// Iterator over the properties of a block (all of them, or those of one identifier).
pub struct PropertyIter<'p, S> {
    reader: Reader<'p, S>,
    only: Option<PropertyId>,
}

impl<S: Storage> Iterator for PropertyIter<'_, S> {
    type Item = Property<S>;

    fn next(&mut self) -> Option<Property<S>> {
        loop {
            if self.reader.remaining() == 0 {
                return None;
            }
            // The block was validated when it was built, so none of this fails.
            let id = PropertyId::from_u8(self.reader.u8().ok()?)?;
            match self.only {
                Some(only) if only != id => {
                    // Skip the value without slicing the storage.
                    let pos = self.reader.pos();
                    let end = skip(self.reader.src_bytes(), pos, id.data_type());
                    self.reader.advance_to(end).ok()?;
                }
                _ => return read_value(&mut self.reader, id, false).ok(),
            }
        }
    }
}

impl<'p, S: Storage, K: PropertyKind> IntoIterator for &'p Properties<S, K> {
    type Item = Property<S>;
    type IntoIter = PropertyIter<'p, S>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<S: Storage, K: PropertyKind> fmt::Debug for Properties<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
