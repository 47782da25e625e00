//! Typed errors: small, `Copy`, and each tied to the rule it enforces.

use core::fmt;

use crate::header::PacketType;
use crate::v5::PropertyId;

/// Why a string, topic name or topic filter is not acceptable.
///
/// Returned by the validating constructors ([`crate::Str`], [`crate::TopicName`],
/// [`crate::TopicFilter`]); decoding maps each case to the matching [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StrError {
    /// Not well-formed UTF-8 (including encoded surrogates) [MQTT-1.5.3-1]
    /// (5.0: [MQTT-1.5.4-1]).
    InvalidUtf8,
    /// Contains U+0000 [MQTT-1.5.3-2] (5.0: [MQTT-1.5.4-2]).
    NullCharacter,
    /// Longer than 65,535 bytes, the most a two-byte length prefix can say.
    TooLong,
    /// A topic name or filter must be at least one character long [MQTT-4.7.3-1].
    EmptyTopic,
    /// A topic name must not contain `+` or `#` [MQTT-3.3.2-2], [MQTT-4.7.1-1].
    WildcardInTopicName,
    /// `#` must be last and alone in its level; `+` must fill its level
    /// [MQTT-4.7.1-2], [MQTT-4.7.1-3].
    InvalidWildcard,
}

impl fmt::Display for StrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StrError::InvalidUtf8 => "string is not well-formed UTF-8",
            StrError::NullCharacter => "string contains U+0000",
            StrError::TooLong => "string is longer than 65535 bytes",
            StrError::EmptyTopic => "topic name or filter is empty",
            StrError::WildcardInTopicName => "topic name contains a wildcard",
            StrError::InvalidWildcard => "wildcard does not occupy a whole topic level",
        })
    }
}

/// Why bytes from the peer are not a valid MQTT packet.
///
/// Every variant is fatal for the connection: the spec says the receiver must close
/// the network connection on a malformed packet (5.0: a Malformed Packet or a Protocol
/// Error, [MQTT-4.13.1-1]). Partial input is never an error (decoding returns
/// `Ok(None)` for it).
///
/// One type for both versions: the rules they share (fixed header, strings, topics,
/// packet identifiers) fail the same way, and a connection needs one error type
/// whichever version it speaks. The variants after [`DecodeError::UnexpectedPacketType`]
/// are raised by the [`crate::v5`] decoders only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// The remaining length uses more than four bytes [MQTT-2.2.3]; in 5.0 also a
    /// remaining length not in its shortest form [MQTT-1.5.5-1].
    MalformedRemainingLength,
    /// The packet is larger than the configured maximum, known from the fixed header
    /// alone, before its body was read.
    PacketTooLarge {
        /// Total packet size announced by the fixed header.
        size: u32,
        /// The configured maximum.
        max: u32,
    },
    /// Packet type 0, or 15 (AUTH) outside of 5.0.
    ReservedPacketType(u8),
    /// Fixed-header flag bits differ from the values the spec fixes for this packet
    /// type [MQTT-2.2.2-1], [MQTT-2.2.2-2] (5.0: [MQTT-2.1.3-1]).
    InvalidFlags {
        /// The packet type.
        packet_type: PacketType,
        /// The low four bits of the first byte.
        flags: u8,
    },
    /// A QoS field holds 3 [MQTT-3.3.1-4], [MQTT-3.1.2-14].
    InvalidQos,
    /// A QoS 0 PUBLISH with the DUP flag set [MQTT-3.3.1-2].
    DupWithQos0,
    /// A packet identifier of zero [MQTT-2.3.1-1] (5.0: [MQTT-2.2.1-3],
    /// [MQTT-2.2.1-4]).
    ZeroPacketId,
    /// A string is not well-formed UTF-8 [MQTT-1.5.3-1] (5.0: [MQTT-1.5.4-1]).
    InvalidUtf8,
    /// A string contains U+0000 [MQTT-1.5.3-2] (5.0: [MQTT-1.5.4-2]).
    NullCharacter,
    /// A topic name contains a wildcard [MQTT-3.3.2-2].
    WildcardInTopicName,
    /// A wildcard in a topic filter does not occupy a whole level
    /// [MQTT-4.7.1-2], [MQTT-4.7.1-3].
    InvalidWildcard,
    /// An empty topic name or topic filter [MQTT-4.7.3-1].
    EmptyTopic,
    /// A SUBSCRIBE or UNSUBSCRIBE without any topic filter [MQTT-3.8.3-3],
    /// [MQTT-3.10.3-2] (5.0: [MQTT-3.8.3-2], [MQTT-3.10.3-2]); or a SUBACK (or 5.0
    /// UNSUBACK) without any return code.
    EmptyList,
    /// A reserved bit set in a SUBSCRIBE's requested-QoS byte [MQTT-3-8.3-4]; in 5.0,
    /// a reserved bit of the Subscription Options [MQTT-3.8.3-5] or Retain Handling 3.
    InvalidSubscriptionOptions,
    /// The CONNECT protocol name is not `MQTT` [MQTT-3.1.2-1].
    InvalidProtocolName,
    /// The CONNECT protocol level is not one this codec speaks [MQTT-3.1.2-2].
    UnsupportedProtocolLevel(u8),
    /// The CONNECT reserved flag is set [MQTT-3.1.2-3].
    ConnectReservedFlag,
    /// Will QoS or Will Retain set without the Will Flag [MQTT-3.1.2-11],
    /// [MQTT-3.1.2-13], [MQTT-3.1.2-15].
    InvalidWillFlags,
    /// Password flag set without the User Name flag [MQTT-3.1.2-22] (3.1.1 only: 5.0
    /// allows a password alone).
    PasswordWithoutUsername,
    /// CONNACK acknowledge flags with reserved bits 7-1 set, or session present set
    /// with a non-zero return code [MQTT-3.2.2-4] (5.0: [MQTT-3.2.2-1],
    /// [MQTT-3.2.2-6]).
    InvalidConnackFlags,
    /// A CONNACK return code above 5 (reserved).
    InvalidConnectReturnCode(u8),
    /// A SUBACK return code other than 0x00, 0x01, 0x02 or 0x80 [MQTT-3.9.3-2].
    InvalidSubackReturnCode(u8),
    /// A field runs past the end of the packet the remaining length announced.
    Truncated,
    /// Bytes are left over inside the packet after its last field.
    TrailingBytes,
    /// A packet of another type than the one a decoder was asked for (e.g.
    /// [`crate::PublishFrame::decode`] given a PUBACK).
    UnexpectedPacketType(PacketType),
    /// 5.0: a Property Length or a Subscription Identifier longer than four bytes, or
    /// not in its shortest form [MQTT-1.5.5-1].
    MalformedVariableByteInteger,
    /// 5.0: a property identifier the specification does not define (section
    /// 2.2.2.2).
    UnknownProperty(u8),
    /// 5.0: a property that this packet may not carry (section 2.2.2.2).
    PropertyNotAllowed {
        /// The packet.
        packet_type: PacketType,
        /// The property.
        property: PropertyId,
    },
    /// 5.0: a property that the Will Properties of a CONNECT may not carry
    /// (section 3.1.3.2).
    PropertyNotAllowedInWill(PropertyId),
    /// 5.0: a property given twice where it may appear only once (every property but
    /// User Property, and Subscription Identifier in PUBLISH).
    DuplicateProperty(PropertyId),
    /// 5.0: a property value outside its range: a Subscription Identifier, Receive
    /// Maximum, Topic Alias [MQTT-3.3.2-8] or Maximum Packet Size of 0, a Maximum QoS
    /// above 1, a Payload Format Indicator or a yes/no property other than 0 or 1.
    InvalidPropertyValue(PropertyId),
    /// 5.0: Authentication Data without an Authentication Method (section
    /// 3.1.2.11.10).
    AuthenticationDataWithoutMethod,
    /// 5.0: a reason code that this packet may not carry ([MQTT-3.2.2-8],
    /// [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1], [MQTT-3.9.3-2],
    /// [MQTT-3.11.3-2], [MQTT-3.14.2-1], [MQTT-3.15.2-1]).
    InvalidReasonCode {
        /// The packet.
        packet_type: PacketType,
        /// The byte on the wire.
        code: u8,
    },
    /// 5.0: a PUBLISH with an empty topic name and no Topic Alias (section 3.3.2.1:
    /// "It is a Protocol Error if the Topic Name is zero length and there is no Topic
    /// Alias").
    EmptyTopicWithoutAlias,
    /// 5.0: a topic filter that starts with `$share/` but is not
    /// `$share/{ShareName}/{filter}` with a non-empty ShareName free of `/`, `+`, `#`
    /// [MQTT-4.8.2-1], [MQTT-4.8.2-2].
    InvalidSharedSubscription,
    /// 5.0: No Local set on a shared subscription [MQTT-3.8.3-4].
    NoLocalOnSharedSubscription,
}

impl From<StrError> for DecodeError {
    fn from(e: StrError) -> Self {
        match e {
            StrError::InvalidUtf8 => DecodeError::InvalidUtf8,
            StrError::NullCharacter => DecodeError::NullCharacter,
            // A length that came off the wire is a u16, so it cannot be too long.
            StrError::TooLong => DecodeError::Truncated,
            StrError::EmptyTopic => DecodeError::EmptyTopic,
            StrError::WildcardInTopicName => DecodeError::WildcardInTopicName,
            StrError::InvalidWildcard => DecodeError::InvalidWildcard,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::MalformedRemainingLength => {
                f.write_str("remaining length is longer than four bytes")
            }
            DecodeError::PacketTooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the maximum of {max}")
            }
            DecodeError::ReservedPacketType(t) => write!(f, "reserved packet type {t}"),
            DecodeError::InvalidFlags { packet_type, flags } => {
                write!(
                    f,
                    "invalid fixed header flags {flags:#06b} for {packet_type:?}"
                )
            }
            DecodeError::InvalidQos => f.write_str("QoS 3 is not a valid QoS"),
            DecodeError::DupWithQos0 => f.write_str("DUP set on a QoS 0 PUBLISH"),
            DecodeError::ZeroPacketId => f.write_str("packet identifier is zero"),
            DecodeError::InvalidUtf8 => f.write_str("string is not well-formed UTF-8"),
            DecodeError::NullCharacter => f.write_str("string contains U+0000"),
            DecodeError::WildcardInTopicName => f.write_str("topic name contains a wildcard"),
            DecodeError::InvalidWildcard => f.write_str("misplaced wildcard in topic filter"),
            DecodeError::EmptyTopic => f.write_str("empty topic name or filter"),
            DecodeError::EmptyList => f.write_str("packet carries no topic filter or return code"),
            DecodeError::InvalidSubscriptionOptions => {
                f.write_str("reserved bits set in requested QoS")
            }
            DecodeError::InvalidProtocolName => f.write_str("protocol name is not MQTT"),
            DecodeError::UnsupportedProtocolLevel(l) => {
                write!(f, "unsupported protocol level {l}")
            }
            DecodeError::ConnectReservedFlag => f.write_str("CONNECT reserved flag is set"),
            DecodeError::InvalidWillFlags => {
                f.write_str("will QoS or retain set without the will flag")
            }
            DecodeError::PasswordWithoutUsername => f.write_str("password without user name"),
            DecodeError::InvalidConnackFlags => f.write_str("invalid CONNACK flags"),
            DecodeError::InvalidConnectReturnCode(c) => {
                write!(f, "reserved CONNACK return code {c}")
            }
            DecodeError::InvalidSubackReturnCode(c) => {
                write!(f, "invalid SUBACK return code {c:#04x}")
            }
            DecodeError::Truncated => f.write_str("field runs past the end of the packet"),
            DecodeError::TrailingBytes => f.write_str("trailing bytes inside the packet"),
            DecodeError::UnexpectedPacketType(t) => write!(f, "unexpected packet type {t:?}"),
            DecodeError::MalformedVariableByteInteger => {
                f.write_str("malformed variable byte integer")
            }
            DecodeError::UnknownProperty(id) => write!(f, "unknown property identifier {id:#04x}"),
            DecodeError::PropertyNotAllowed {
                packet_type,
                property,
            } => write!(f, "property {property:?} is not allowed in {packet_type:?}"),
            DecodeError::PropertyNotAllowedInWill(p) => {
                write!(f, "property {p:?} is not allowed in Will Properties")
            }
            DecodeError::DuplicateProperty(p) => write!(f, "property {p:?} given more than once"),
            DecodeError::InvalidPropertyValue(p) => write!(f, "invalid value of property {p:?}"),
            DecodeError::AuthenticationDataWithoutMethod => {
                f.write_str("authentication data without an authentication method")
            }
            DecodeError::InvalidReasonCode { packet_type, code } => {
                write!(
                    f,
                    "reason code {code:#04x} is not allowed in {packet_type:?}"
                )
            }
            DecodeError::EmptyTopicWithoutAlias => {
                f.write_str("empty topic name without a topic alias")
            }
            DecodeError::InvalidSharedSubscription => {
                f.write_str("malformed shared subscription topic filter")
            }
            DecodeError::NoLocalOnSharedSubscription => {
                f.write_str("No Local set on a shared subscription")
            }
        }
    }
}

/// Why a packet cannot be encoded. Raised by local misuse, never by the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small; `needed` is the packet's full size.
    BufferTooSmall {
        /// Bytes the whole packet needs.
        needed: usize,
    },
    /// The remaining length would exceed 268,435,455 bytes, the most four bytes of
    /// variable-length integer can say.
    PacketTooLarge,
    /// A QoS 0 PUBLISH must not have DUP set [MQTT-3.3.1-2].
    DupWithQos0,
    /// A password requires a user name [MQTT-3.1.2-22].
    PasswordWithoutUsername,
    /// An empty client identifier requires clean session [MQTT-3.1.3-7].
    EmptyClientIdWithoutCleanSession,
    /// A binary field (will message, password; in 5.0 also Correlation Data and
    /// Authentication Data) is longer than 65,535 bytes.
    FieldTooLong,
    /// A SUBSCRIBE, UNSUBSCRIBE or SUBACK needs at least one entry [MQTT-3.8.3-3],
    /// [MQTT-3.10.3-2].
    EmptyList,
    /// A refusing CONNACK must not claim a session [MQTT-3.2.2-4] (5.0:
    /// [MQTT-3.2.2-6]).
    SessionPresentOnRefusal,
    /// A 3.1.1 [`crate::Connect`] whose `protocol` is not 3.1.1: 5.0 packets are built
    /// with [`crate::v5`].
    UnsupportedProtocolVersion,
    /// 5.0: a property that this packet may not carry.
    PropertyNotAllowed(PropertyId),
    /// 5.0: a property given more than once where it may appear once (e.g. two
    /// Subscription Identifiers outside PUBLISH).
    DuplicateProperty(PropertyId),
    /// 5.0: a property value outside its range (a Maximum QoS of 2).
    InvalidPropertyValue(PropertyId),
    /// 5.0: Authentication Data needs an Authentication Method.
    AuthenticationDataWithoutMethod,
    /// 5.0: a PUBLISH without a topic name needs a Topic Alias.
    EmptyTopicWithoutAlias,
    /// 5.0: a `$share/` topic filter that is not `$share/{ShareName}/{filter}`
    /// [MQTT-4.8.2-1], [MQTT-4.8.2-2].
    InvalidSharedSubscription,
    /// 5.0: No Local on a shared subscription [MQTT-3.8.3-4].
    NoLocalOnSharedSubscription,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            EncodeError::PacketTooLarge => f.write_str("packet exceeds 268435455 bytes"),
            EncodeError::DupWithQos0 => f.write_str("DUP set on a QoS 0 PUBLISH"),
            EncodeError::PasswordWithoutUsername => f.write_str("password without user name"),
            EncodeError::EmptyClientIdWithoutCleanSession => {
                f.write_str("empty client identifier needs clean session")
            }
            EncodeError::FieldTooLong => f.write_str("binary field longer than 65535 bytes"),
            EncodeError::EmptyList => f.write_str("list needs at least one entry"),
            EncodeError::SessionPresentOnRefusal => {
                f.write_str("session present set on a refusing CONNACK")
            }
            EncodeError::UnsupportedProtocolVersion => {
                f.write_str("a 3.1.1 CONNECT must say protocol level 4")
            }
            EncodeError::PropertyNotAllowed(p) => {
                write!(f, "property {p:?} is not allowed in this packet")
            }
            EncodeError::DuplicateProperty(p) => write!(f, "property {p:?} given more than once"),
            EncodeError::InvalidPropertyValue(p) => write!(f, "invalid value of property {p:?}"),
            EncodeError::AuthenticationDataWithoutMethod => {
                f.write_str("authentication data without an authentication method")
            }
            EncodeError::EmptyTopicWithoutAlias => {
                f.write_str("empty topic name without a topic alias")
            }
            EncodeError::InvalidSharedSubscription => {
                f.write_str("malformed shared subscription topic filter")
            }
            EncodeError::NoLocalOnSharedSubscription => {
                f.write_str("No Local set on a shared subscription")
            }
        }
    }
}

impl core::error::Error for StrError {}
impl core::error::Error for DecodeError {}
impl core::error::Error for EncodeError {}
