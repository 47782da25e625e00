//! The property identifiers of MQTT 5.0 (section 2.2.2.2, table 2-4): each one's data
//! type, the packets it may appear in, and whether it may appear more than once.

use crate::PacketType;

/// A property identifier (section 2.2.2.2).
///
/// Although the spec encodes an identifier as a variable byte integer, every
/// identifier of 5.0 fits in one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[allow(missing_docs)] // the names are the spec's; each has its own accessor documented
pub enum PropertyId {
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0b,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1a,
    ServerReference = 0x1c,
    ReasonString = 0x1f,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQoS = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifierAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2a,
}

/// The data type of a property's value (section 1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// One byte.
    Byte,
    /// A big-endian 16-bit integer (section 1.5.2).
    TwoByteInteger,
    /// A big-endian 32-bit integer (section 1.5.3).
    FourByteInteger,
    /// One to four bytes, seven bits each (section 1.5.5).
    VariableByteInteger,
    /// A length-prefixed UTF-8 string (section 1.5.4).
    Utf8String,
    /// Length-prefixed bytes (section 1.5.6).
    BinaryData,
    /// Two UTF-8 strings, name then value (section 1.5.7).
    Utf8StringPair,
}

/// Bit of the Will Properties of a CONNECT in a packet mask (bit `n` for packet type
/// `n`; type 0 is reserved, so its bit is free).
pub(crate) const WILL: u16 = 1;

const fn bit(t: PacketType) -> u16 {
    1 << t as u8
}

const CONNECT: u16 = bit(PacketType::Connect);
const CONNACK: u16 = bit(PacketType::Connack);
const PUBLISH: u16 = bit(PacketType::Publish);
const PUBACK: u16 = bit(PacketType::Puback);
const PUBREC: u16 = bit(PacketType::Pubrec);
const PUBREL: u16 = bit(PacketType::Pubrel);
const PUBCOMP: u16 = bit(PacketType::Pubcomp);
const SUBSCRIBE: u16 = bit(PacketType::Subscribe);
const SUBACK: u16 = bit(PacketType::Suback);
const UNSUBSCRIBE: u16 = bit(PacketType::Unsubscribe);
const UNSUBACK: u16 = bit(PacketType::Unsuback);
const DISCONNECT: u16 = bit(PacketType::Disconnect);
const AUTH: u16 = bit(PacketType::Auth);
/// The acknowledgements, which all carry Reason String and User Property only.
pub(crate) const ACKS: u16 = PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK;

impl PropertyId {
    /// Every identifier, in ascending order.
    pub const ALL: [PropertyId; 27] = [
        PropertyId::PayloadFormatIndicator,
        PropertyId::MessageExpiryInterval,
        PropertyId::ContentType,
        PropertyId::ResponseTopic,
        PropertyId::CorrelationData,
        PropertyId::SubscriptionIdentifier,
        PropertyId::SessionExpiryInterval,
        PropertyId::AssignedClientIdentifier,
        PropertyId::ServerKeepAlive,
        PropertyId::AuthenticationMethod,
        PropertyId::AuthenticationData,
        PropertyId::RequestProblemInformation,
        PropertyId::WillDelayInterval,
        PropertyId::RequestResponseInformation,
        PropertyId::ResponseInformation,
        PropertyId::ServerReference,
        PropertyId::ReasonString,
        PropertyId::ReceiveMaximum,
        PropertyId::TopicAliasMaximum,
        PropertyId::TopicAlias,
        PropertyId::MaximumQoS,
        PropertyId::RetainAvailable,
        PropertyId::UserProperty,
        PropertyId::MaximumPacketSize,
        PropertyId::WildcardSubscriptionAvailable,
        PropertyId::SubscriptionIdentifierAvailable,
        PropertyId::SharedSubscriptionAvailable,
    ];

    /// The identifier for a byte, or `None` if 5.0 defines no such property.
    pub const fn from_u8(v: u8) -> Option<PropertyId> {
        use PropertyId::*;
        Some(match v {
            0x01 => PayloadFormatIndicator,
            0x02 => MessageExpiryInterval,
            0x03 => ContentType,
            0x08 => ResponseTopic,
            0x09 => CorrelationData,
            0x0b => SubscriptionIdentifier,
            0x11 => SessionExpiryInterval,
            0x12 => AssignedClientIdentifier,
            0x13 => ServerKeepAlive,
            0x15 => AuthenticationMethod,
            0x16 => AuthenticationData,
            0x17 => RequestProblemInformation,
            0x18 => WillDelayInterval,
            0x19 => RequestResponseInformation,
            0x1a => ResponseInformation,
            0x1c => ServerReference,
            0x1f => ReasonString,
            0x21 => ReceiveMaximum,
            0x22 => TopicAliasMaximum,
            0x23 => TopicAlias,
            0x24 => MaximumQoS,
            0x25 => RetainAvailable,
            0x26 => UserProperty,
            0x27 => MaximumPacketSize,
            0x28 => WildcardSubscriptionAvailable,
            0x29 => SubscriptionIdentifierAvailable,
            0x2a => SharedSubscriptionAvailable,
            _ => return None,
        })
    }

    /// The data type of the value.
    pub const fn data_type(self) -> DataType {
        use PropertyId::*;
        match self {
            PayloadFormatIndicator
            | RequestProblemInformation
            | RequestResponseInformation
            | MaximumQoS
            | RetainAvailable
            | WildcardSubscriptionAvailable
            | SubscriptionIdentifierAvailable
            | SharedSubscriptionAvailable => DataType::Byte,
            ServerKeepAlive | ReceiveMaximum | TopicAliasMaximum | TopicAlias => {
                DataType::TwoByteInteger
            }
            MessageExpiryInterval
            | SessionExpiryInterval
            | WillDelayInterval
            | MaximumPacketSize => DataType::FourByteInteger,
            SubscriptionIdentifier => DataType::VariableByteInteger,
            ContentType
            | ResponseTopic
            | AssignedClientIdentifier
            | AuthenticationMethod
            | ResponseInformation
            | ServerReference
            | ReasonString => DataType::Utf8String,
            CorrelationData | AuthenticationData => DataType::BinaryData,
            UserProperty => DataType::Utf8StringPair,
        }
    }

    /// The packets (and, bit 0, the Will Properties) that may carry the property:
    /// table 2-4.
    pub(crate) const fn packets(self) -> u16 {
        use PropertyId::*;
        match self {
            PayloadFormatIndicator
            | MessageExpiryInterval
            | ContentType
            | ResponseTopic
            | CorrelationData => PUBLISH | WILL,
            SubscriptionIdentifier => PUBLISH | SUBSCRIBE,
            SessionExpiryInterval => CONNECT | CONNACK | DISCONNECT,
            AssignedClientIdentifier
            | ServerKeepAlive
            | ResponseInformation
            | MaximumQoS
            | RetainAvailable
            | WildcardSubscriptionAvailable
            | SubscriptionIdentifierAvailable
            | SharedSubscriptionAvailable => CONNACK,
            AuthenticationMethod | AuthenticationData => CONNECT | CONNACK | AUTH,
            RequestProblemInformation | RequestResponseInformation => CONNECT,
            WillDelayInterval => WILL,
            ServerReference => CONNACK | DISCONNECT,
            ReasonString => CONNACK | ACKS | DISCONNECT | AUTH,
            ReceiveMaximum | TopicAliasMaximum | MaximumPacketSize => CONNECT | CONNACK,
            TopicAlias => PUBLISH,
            UserProperty => {
                CONNECT
                    | WILL
                    | CONNACK
                    | PUBLISH
                    | ACKS
                    | SUBSCRIBE
                    | UNSUBSCRIBE
                    | DISCONNECT
                    | AUTH
            }
        }
    }

    /// Whether a packet of this type may carry the property.
    pub const fn allowed_in(self, packet_type: PacketType) -> bool {
        self.packets() & bit(packet_type) != 0
    }

    /// Whether the Will Properties of a CONNECT may carry the property.
    pub const fn allowed_in_will(self) -> bool {
        self.packets() & WILL != 0
    }

    /// Whether the property may appear more than once in a packet of this type: User
    /// Property anywhere, Subscription Identifier in PUBLISH (section 3.3.4); every
    /// other property at most once.
    pub const fn repeatable_in(self, packet_type: PacketType) -> bool {
        match self {
            PropertyId::UserProperty => true,
            PropertyId::SubscriptionIdentifier => matches!(packet_type, PacketType::Publish),
            _ => false,
        }
    }

    /// Bit of this property in a 64-bit set of identifiers.
    pub(crate) const fn mask(self) -> u64 {
        1 << self as u8
    }
}
