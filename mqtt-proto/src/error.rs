//! Typed errors: small, `Copy`, and each tied to the rule it enforces.

use core::fmt;

use crate::header::PacketType;

/// Why a string, topic name or topic filter is not acceptable.
///
/// Returned by the validating constructors ([`crate::Str`], [`crate::TopicName`],
/// [`crate::TopicFilter`]); decoding maps each case to the matching [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StrError {
    /// Not well-formed UTF-8 (including encoded surrogates) [MQTT-1.5.3-1].
    InvalidUtf8,
    /// Contains U+0000 [MQTT-1.5.3-2].
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
/// the network connection on a malformed packet. Partial input is never an error
/// (decoding returns `Ok(None)` for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// The remaining length uses more than four bytes [MQTT-2.2.3].
    MalformedRemainingLength,
    /// The packet is larger than the configured maximum, known from the fixed header
    /// alone, before its body was read.
    PacketTooLarge {
        /// Total packet size announced by the fixed header.
        size: u32,
        /// The configured maximum.
        max: u32,
    },
    /// Packet type 0 or 15, reserved in MQTT 3.1.1.
    ReservedPacketType(u8),
    /// Fixed-header flag bits differ from the values the spec fixes for this packet
    /// type [MQTT-2.2.2-1], [MQTT-2.2.2-2].
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
    /// A packet identifier of zero [MQTT-2.3.1-1].
    ZeroPacketId,
    /// A string is not well-formed UTF-8 [MQTT-1.5.3-1].
    InvalidUtf8,
    /// A string contains U+0000 [MQTT-1.5.3-2].
    NullCharacter,
    /// A topic name contains a wildcard [MQTT-3.3.2-2].
    WildcardInTopicName,
    /// A wildcard in a topic filter does not occupy a whole level
    /// [MQTT-4.7.1-2], [MQTT-4.7.1-3].
    InvalidWildcard,
    /// An empty topic name or topic filter [MQTT-4.7.3-1].
    EmptyTopic,
    /// A SUBSCRIBE or UNSUBSCRIBE without any topic filter [MQTT-3.8.3-3],
    /// [MQTT-3.10.3-2]; or a SUBACK without any return code.
    EmptyList,
    /// A reserved bit set in a SUBSCRIBE's requested-QoS byte [MQTT-3-8.3-4].
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
    /// Password flag set without the User Name flag [MQTT-3.1.2-22].
    PasswordWithoutUsername,
    /// CONNACK acknowledge flags with reserved bits 7-1 set, or session present set
    /// with a non-zero return code [MQTT-3.2.2-4].
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
    /// A binary field (will message, password) is longer than 65,535 bytes.
    FieldTooLong,
    /// A SUBSCRIBE, UNSUBSCRIBE or SUBACK needs at least one entry [MQTT-3.8.3-3],
    /// [MQTT-3.10.3-2].
    EmptyList,
    /// A refusing CONNACK must not claim a session [MQTT-3.2.2-4].
    SessionPresentOnRefusal,
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
        }
    }
}

impl core::error::Error for StrError {}
impl core::error::Error for DecodeError {}
impl core::error::Error for EncodeError {}
