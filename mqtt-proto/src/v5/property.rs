//! One property: its typed value, read from and written to the wire.

use core::fmt;
use core::num::{NonZeroU16, NonZeroU32};

use super::PropertyId;
use crate::wire::{Reader, Sink};
use crate::{varint, DecodeError, QoS, Storage, Str, TopicName};

/// Payload Format Indicator (section 3.3.2.3.2): what the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum PayloadFormat {
    /// 0: unspecified bytes.
    #[default]
    Unspecified = 0,
    /// 1: UTF-8 encoded character data.
    Utf8 = 1,
}

/// A Subscription Identifier: 1 to 268,435,455 (section 3.8.2.1.2; 0 is a protocol
/// error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(NonZeroU32);

impl SubscriptionId {
    /// The largest identifier, 268,435,455 (the largest variable byte integer).
    pub const MAX: u32 = varint::MAX_REMAINING_LENGTH;

    /// The identifier `v`, or `None` outside 1..=268,435,455.
    pub const fn new(v: u32) -> Option<SubscriptionId> {
        if v > Self::MAX {
            return None;
        }
        match NonZeroU32::new(v) {
            Some(n) => Some(SubscriptionId(n)),
            None => None,
        }
    }

    /// The identifier as a number.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

/// A property with its value, its bytes held in `S` (`&[u8]` or `Bytes`).
///
/// Only values the spec allows can be held: a Topic Alias is never 0, a Maximum QoS
/// never 2 once decoded, a Response Topic never holds a wildcard.
#[derive(Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the names are the spec's, the accessors of `Properties` say more
pub enum Property<S> {
    PayloadFormatIndicator(PayloadFormat),
    MessageExpiryInterval(u32),
    ContentType(Str<S>),
    ResponseTopic(TopicName<S>),
    CorrelationData(S),
    SubscriptionIdentifier(SubscriptionId),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(Str<S>),
    ServerKeepAlive(u16),
    AuthenticationMethod(Str<S>),
    AuthenticationData(S),
    RequestProblemInformation(bool),
    WillDelayInterval(u32),
    RequestResponseInformation(bool),
    ResponseInformation(Str<S>),
    ServerReference(Str<S>),
    ReasonString(Str<S>),
    ReceiveMaximum(NonZeroU16),
    TopicAliasMaximum(u16),
    TopicAlias(NonZeroU16),
    MaximumQoS(QoS),
    RetainAvailable(bool),
    UserProperty(Str<S>, Str<S>),
    MaximumPacketSize(NonZeroU32),
    WildcardSubscriptionAvailable(bool),
    SubscriptionIdentifierAvailable(bool),
    SharedSubscriptionAvailable(bool),
}

impl<S: Storage> Property<S> {
    /// The property's identifier.
    pub fn id(&self) -> PropertyId {
        use Property as P;
        match self {
            P::PayloadFormatIndicator(_) => PropertyId::PayloadFormatIndicator,
            P::MessageExpiryInterval(_) => PropertyId::MessageExpiryInterval,
            P::ContentType(_) => PropertyId::ContentType,
            P::ResponseTopic(_) => PropertyId::ResponseTopic,
            P::CorrelationData(_) => PropertyId::CorrelationData,
            P::SubscriptionIdentifier(_) => PropertyId::SubscriptionIdentifier,
            P::SessionExpiryInterval(_) => PropertyId::SessionExpiryInterval,
            P::AssignedClientIdentifier(_) => PropertyId::AssignedClientIdentifier,
            P::ServerKeepAlive(_) => PropertyId::ServerKeepAlive,
            P::AuthenticationMethod(_) => PropertyId::AuthenticationMethod,
            P::AuthenticationData(_) => PropertyId::AuthenticationData,
            P::RequestProblemInformation(_) => PropertyId::RequestProblemInformation,
            P::WillDelayInterval(_) => PropertyId::WillDelayInterval,
            P::RequestResponseInformation(_) => PropertyId::RequestResponseInformation,
            P::ResponseInformation(_) => PropertyId::ResponseInformation,
            P::ServerReference(_) => PropertyId::ServerReference,
            P::ReasonString(_) => PropertyId::ReasonString,
            P::ReceiveMaximum(_) => PropertyId::ReceiveMaximum,
            P::TopicAliasMaximum(_) => PropertyId::TopicAliasMaximum,
            P::TopicAlias(_) => PropertyId::TopicAlias,
            P::MaximumQoS(_) => PropertyId::MaximumQoS,
            P::RetainAvailable(_) => PropertyId::RetainAvailable,
            P::UserProperty(..) => PropertyId::UserProperty,
            P::MaximumPacketSize(_) => PropertyId::MaximumPacketSize,
            P::WildcardSubscriptionAvailable(_) => PropertyId::WildcardSubscriptionAvailable,
            P::SubscriptionIdentifierAvailable(_) => PropertyId::SubscriptionIdentifierAvailable,
            P::SharedSubscriptionAvailable(_) => PropertyId::SharedSubscriptionAvailable,
        }
    }

    /// A view of this property that borrows its bytes.
    pub fn as_borrowed(&self) -> Property<&[u8]> {
        use Property as P;
        match self {
            P::PayloadFormatIndicator(v) => P::PayloadFormatIndicator(*v),
            P::MessageExpiryInterval(v) => P::MessageExpiryInterval(*v),
            P::ContentType(v) => P::ContentType(v.as_borrowed()),
            P::ResponseTopic(v) => P::ResponseTopic(v.as_borrowed()),
            P::CorrelationData(v) => P::CorrelationData(v.as_ref()),
            P::SubscriptionIdentifier(v) => P::SubscriptionIdentifier(*v),
            P::SessionExpiryInterval(v) => P::SessionExpiryInterval(*v),
            P::AssignedClientIdentifier(v) => P::AssignedClientIdentifier(v.as_borrowed()),
            P::ServerKeepAlive(v) => P::ServerKeepAlive(*v),
            P::AuthenticationMethod(v) => P::AuthenticationMethod(v.as_borrowed()),
            P::AuthenticationData(v) => P::AuthenticationData(v.as_ref()),
            P::RequestProblemInformation(v) => P::RequestProblemInformation(*v),
            P::WillDelayInterval(v) => P::WillDelayInterval(*v),
            P::RequestResponseInformation(v) => P::RequestResponseInformation(*v),
            P::ResponseInformation(v) => P::ResponseInformation(v.as_borrowed()),
            P::ServerReference(v) => P::ServerReference(v.as_borrowed()),
            P::ReasonString(v) => P::ReasonString(v.as_borrowed()),
            P::ReceiveMaximum(v) => P::ReceiveMaximum(*v),
            P::TopicAliasMaximum(v) => P::TopicAliasMaximum(*v),
            P::TopicAlias(v) => P::TopicAlias(*v),
            P::MaximumQoS(v) => P::MaximumQoS(*v),
            P::RetainAvailable(v) => P::RetainAvailable(*v),
            P::UserProperty(k, v) => P::UserProperty(k.as_borrowed(), v.as_borrowed()),
            P::MaximumPacketSize(v) => P::MaximumPacketSize(*v),
            P::WildcardSubscriptionAvailable(v) => P::WildcardSubscriptionAvailable(*v),
            P::SubscriptionIdentifierAvailable(v) => P::SubscriptionIdentifierAvailable(*v),
            P::SharedSubscriptionAvailable(v) => P::SharedSubscriptionAvailable(*v),
        }
    }

    /// Encoded length, identifier included.
    pub(crate) fn wire_len(&self) -> usize {
        use Property as P;
        1 + match self {
            P::PayloadFormatIndicator(_)
            | P::RequestProblemInformation(_)
            | P::RequestResponseInformation(_)
            | P::MaximumQoS(_)
            | P::RetainAvailable(_)
            | P::WildcardSubscriptionAvailable(_)
            | P::SubscriptionIdentifierAvailable(_)
            | P::SharedSubscriptionAvailable(_) => 1,
            P::ServerKeepAlive(_)
            | P::ReceiveMaximum(_)
            | P::TopicAliasMaximum(_)
            | P::TopicAlias(_) => 2,
            P::MessageExpiryInterval(_)
            | P::SessionExpiryInterval(_)
            | P::WillDelayInterval(_)
            | P::MaximumPacketSize(_) => 4,
            P::SubscriptionIdentifier(v) => varint::len(v.get()),
            P::ContentType(s)
            | P::AssignedClientIdentifier(s)
            | P::AuthenticationMethod(s)
            | P::ResponseInformation(s)
            | P::ServerReference(s)
            | P::ReasonString(s) => 2 + s.len(),
            P::ResponseTopic(t) => 2 + t.as_bytes().len(),
            P::CorrelationData(b) | P::AuthenticationData(b) => 2 + b.as_ref().len(),
            P::UserProperty(k, v) => 4 + k.len() + v.len(),
        }
    }

    /// Writes identifier and value. Binary values must be at most 65,535 bytes (the
    /// caller checked).
    pub(crate) fn write<W: Sink>(&self, w: &mut W) {
        use Property as P;
        w.put_u8(self.id() as u8);
        match self {
            P::PayloadFormatIndicator(v) => w.put_u8(*v as u8),
            P::RequestProblemInformation(v)
            | P::RequestResponseInformation(v)
            | P::RetainAvailable(v)
            | P::WildcardSubscriptionAvailable(v)
            | P::SubscriptionIdentifierAvailable(v)
            | P::SharedSubscriptionAvailable(v) => w.put_u8(*v as u8),
            P::MaximumQoS(q) => w.put_u8(*q as u8),
            P::ServerKeepAlive(v) | P::TopicAliasMaximum(v) => w.put_u16(*v),
            P::ReceiveMaximum(v) | P::TopicAlias(v) => w.put_u16(v.get()),
            P::MessageExpiryInterval(v) | P::SessionExpiryInterval(v) | P::WillDelayInterval(v) => {
                w.put_u32(*v)
            }
            P::MaximumPacketSize(v) => w.put_u32(v.get()),
            P::SubscriptionIdentifier(v) => w.put_var_int(v.get()),
            P::ContentType(s)
            | P::AssignedClientIdentifier(s)
            | P::AuthenticationMethod(s)
            | P::ResponseInformation(s)
            | P::ServerReference(s)
            | P::ReasonString(s) => w.put_prefixed(s.as_bytes()),
            P::ResponseTopic(t) => w.put_prefixed(t.as_bytes()),
            P::CorrelationData(b) | P::AuthenticationData(b) => w.put_prefixed(b.as_ref()),
            P::UserProperty(k, v) => {
                w.put_prefixed(k.as_bytes());
                w.put_prefixed(v.as_bytes());
            }
        }
    }
}

/// Reads the value of property `id` (its identifier already read). With `check`
/// false the bytes are known valid (a property block validated before), so strings
/// are not checked again.
pub(crate) fn read_value<S: Storage>(
    r: &mut Reader<'_, S>,
    id: PropertyId,
    check: bool,
) -> Result<Property<S>, DecodeError> {
    use Property as P;
    let invalid = DecodeError::InvalidPropertyValue(id);
    let flag = |v: u8| match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(invalid),
    };
    let string = |r: &mut Reader<'_, S>| -> Result<Str<S>, DecodeError> {
        if check {
            r.string() // [MQTT-1.5.4-1], [MQTT-1.5.4-2]
        } else {
            Ok(Str::trusted(r.binary()?))
        }
    };
    Ok(match id {
        PropertyId::PayloadFormatIndicator => P::PayloadFormatIndicator(match r.u8()? {
            0 => PayloadFormat::Unspecified,
            1 => PayloadFormat::Utf8,
            _ => return Err(invalid),
        }),
        PropertyId::MessageExpiryInterval => P::MessageExpiryInterval(r.u32()?),
        PropertyId::ContentType => P::ContentType(string(r)?), // [MQTT-3.3.2-19]
        PropertyId::ResponseTopic => P::ResponseTopic(if check {
            r.topic_name()? // [MQTT-3.3.2-13], [MQTT-3.3.2-14]
        } else {
            TopicName::trusted(r.binary()?)
        }),
        PropertyId::CorrelationData => P::CorrelationData(r.binary()?),
        PropertyId::SubscriptionIdentifier => {
            P::SubscriptionIdentifier(SubscriptionId::new(r.var_int()?).ok_or(invalid)?)
        }
        PropertyId::SessionExpiryInterval => P::SessionExpiryInterval(r.u32()?),
        PropertyId::AssignedClientIdentifier => P::AssignedClientIdentifier(string(r)?),
        PropertyId::ServerKeepAlive => P::ServerKeepAlive(r.u16()?),
        PropertyId::AuthenticationMethod => P::AuthenticationMethod(string(r)?),
        PropertyId::AuthenticationData => P::AuthenticationData(r.binary()?),
        PropertyId::RequestProblemInformation => P::RequestProblemInformation(flag(r.u8()?)?),
        PropertyId::WillDelayInterval => P::WillDelayInterval(r.u32()?),
        PropertyId::RequestResponseInformation => P::RequestResponseInformation(flag(r.u8()?)?),
        PropertyId::ResponseInformation => P::ResponseInformation(string(r)?),
        PropertyId::ServerReference => P::ServerReference(string(r)?),
        PropertyId::ReasonString => P::ReasonString(string(r)?),
        PropertyId::ReceiveMaximum => P::ReceiveMaximum(NonZeroU16::new(r.u16()?).ok_or(invalid)?),
        PropertyId::TopicAliasMaximum => P::TopicAliasMaximum(r.u16()?),
        // [MQTT-3.3.2-8]
        PropertyId::TopicAlias => P::TopicAlias(NonZeroU16::new(r.u16()?).ok_or(invalid)?),
        PropertyId::MaximumQoS => P::MaximumQoS(match r.u8()? {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => return Err(invalid),
        }),
        PropertyId::RetainAvailable => P::RetainAvailable(flag(r.u8()?)?),
        // [MQTT-1.5.7-1]: both strings follow the UTF-8 string rules.
        PropertyId::UserProperty => P::UserProperty(string(r)?, string(r)?),
        PropertyId::MaximumPacketSize => {
            P::MaximumPacketSize(NonZeroU32::new(r.u32()?).ok_or(invalid)?)
        }
        PropertyId::WildcardSubscriptionAvailable => {
            P::WildcardSubscriptionAvailable(flag(r.u8()?)?)
        }
        PropertyId::SubscriptionIdentifierAvailable => {
            P::SubscriptionIdentifierAvailable(flag(r.u8()?)?)
        }
        PropertyId::SharedSubscriptionAvailable => P::SharedSubscriptionAvailable(flag(r.u8()?)?),
    })
}

impl<S: Storage> fmt::Debug for Property<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Property as P;
        let id = self.id();
        match self {
            P::PayloadFormatIndicator(v) => {
                f.debug_tuple("PayloadFormatIndicator").field(v).finish()
            }
            P::MaximumQoS(v) => f.debug_tuple("MaximumQoS").field(v).finish(),
            P::MessageExpiryInterval(v) | P::SessionExpiryInterval(v) | P::WillDelayInterval(v) => {
                f.debug_tuple(name(id)).field(v).finish()
            }
            P::MaximumPacketSize(v) => f.debug_tuple(name(id)).field(v).finish(),
            P::SubscriptionIdentifier(v) => f.debug_tuple(name(id)).field(&v.get()).finish(),
            P::ServerKeepAlive(v) | P::TopicAliasMaximum(v) => {
                f.debug_tuple(name(id)).field(v).finish()
            }
            P::ReceiveMaximum(v) | P::TopicAlias(v) => f.debug_tuple(name(id)).field(v).finish(),
            P::RequestProblemInformation(v)
            | P::RequestResponseInformation(v)
            | P::RetainAvailable(v)
            | P::WildcardSubscriptionAvailable(v)
            | P::SubscriptionIdentifierAvailable(v)
            | P::SharedSubscriptionAvailable(v) => f.debug_tuple(name(id)).field(v).finish(),
            P::ContentType(s)
            | P::AssignedClientIdentifier(s)
            | P::AuthenticationMethod(s)
            | P::ResponseInformation(s)
            | P::ServerReference(s)
            | P::ReasonString(s) => f.debug_tuple(name(id)).field(s).finish(),
            P::ResponseTopic(t) => f.debug_tuple(name(id)).field(t).finish(),
            P::CorrelationData(b) => f.debug_tuple(name(id)).field(&b.as_ref()).finish(),
            // May be a credential: never shown.
            P::AuthenticationData(_) => f.debug_tuple(name(id)).field(&"<redacted>").finish(),
            P::UserProperty(k, v) => f.debug_tuple(name(id)).field(k).field(v).finish(),
        }
    }
}

/// The variant name of a property, for `Debug`.
fn name(id: PropertyId) -> &'static str {
    use PropertyId::*;
    match id {
        PayloadFormatIndicator => "PayloadFormatIndicator",
        MessageExpiryInterval => "MessageExpiryInterval",
        ContentType => "ContentType",
        ResponseTopic => "ResponseTopic",
        CorrelationData => "CorrelationData",
        SubscriptionIdentifier => "SubscriptionIdentifier",
        SessionExpiryInterval => "SessionExpiryInterval",
        AssignedClientIdentifier => "AssignedClientIdentifier",
        ServerKeepAlive => "ServerKeepAlive",
        AuthenticationMethod => "AuthenticationMethod",
        AuthenticationData => "AuthenticationData",
        RequestProblemInformation => "RequestProblemInformation",
        WillDelayInterval => "WillDelayInterval",
        RequestResponseInformation => "RequestResponseInformation",
        ResponseInformation => "ResponseInformation",
        ServerReference => "ServerReference",
        ReasonString => "ReasonString",
        ReceiveMaximum => "ReceiveMaximum",
        TopicAliasMaximum => "TopicAliasMaximum",
        TopicAlias => "TopicAlias",
        MaximumQoS => "MaximumQoS",
        RetainAvailable => "RetainAvailable",
        UserProperty => "UserProperty",
        MaximumPacketSize => "MaximumPacketSize",
        WildcardSubscriptionAvailable => "WildcardSubscriptionAvailable",
        SubscriptionIdentifierAvailable => "SubscriptionIdentifierAvailable",
        SharedSubscriptionAvailable => "SharedSubscriptionAvailable",
    }
}
