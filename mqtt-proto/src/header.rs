//! The fixed header: packet type, flags and remaining length.

use crate::{varint, DecodeError};

/// The MQTT control packet types: the fourteen of 3.1.1, and AUTH, which 5.0 adds
/// (type 15, reserved in 3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)] // the names are the spec's
pub enum PacketType {
    Connect = 1,
    Connack = 2,
    Publish = 3,
    Puback = 4,
    Pubrec = 5,
    Pubrel = 6,
    Pubcomp = 7,
    Subscribe = 8,
    Suback = 9,
    Unsubscribe = 10,
    Unsuback = 11,
    Pingreq = 12,
    Pingresp = 13,
    Disconnect = 14,
    /// MQTT 5.0 only: authentication exchange [MQTT-3.15].
    Auth = 15,
}

impl PacketType {
    /// The type in the high four bits of a first byte; 0 is reserved, and 15 is
    /// reserved unless `version` is 5.0.
    fn from_u8(v: u8, version: ProtocolVersion) -> Result<PacketType, DecodeError> {
        Ok(match v {
            1 => PacketType::Connect,
            2 => PacketType::Connack,
            3 => PacketType::Publish,
            4 => PacketType::Puback,
            5 => PacketType::Pubrec,
            6 => PacketType::Pubrel,
            7 => PacketType::Pubcomp,
            8 => PacketType::Subscribe,
            9 => PacketType::Suback,
            10 => PacketType::Unsubscribe,
            11 => PacketType::Unsuback,
            12 => PacketType::Pingreq,
            13 => PacketType::Pingresp,
            14 => PacketType::Disconnect,
            15 if version == ProtocolVersion::V5 => PacketType::Auth,
            other => return Err(DecodeError::ReservedPacketType(other)),
        })
    }

    /// The flag bits the spec fixes for this type; `None` for PUBLISH, whose flags
    /// carry DUP, QoS and RETAIN [MQTT-2.2.2-1] (5.0: [MQTT-2.1.3-1]).
    pub const fn fixed_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::Pubrel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

/// The protocol version the bytes are decoded as.
///
/// The packets of 3.1.1 live at the crate root ([`crate::decode`], [`crate::Packet`]),
/// those of 5.0 in [`crate::v5`]. Both share the fixed header, so the version is also
/// an input to [`FixedHeader::decode`]: packet type 15 (AUTH) exists only in 5.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// MQTT 3.1.1, protocol level 4.
    #[default]
    V311,
    /// MQTT 5.0, protocol level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }
}

/// Limits and version for decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The protocol version negotiated on this connection.
    pub version: ProtocolVersion,
    /// Largest accepted packet, fixed header included. A larger packet is refused from
    /// its fixed header alone, before any of its body is buffered.
    pub max_packet_size: u32,
}

impl DecodeOptions {
    /// The largest packet MQTT can express: 268,435,455 bytes of body plus five of
    /// fixed header.
    pub const MAX_PACKET_SIZE: u32 = varint::MAX_REMAINING_LENGTH + 5;

    /// MQTT 3.1.1 with the given maximum packet size.
    pub const fn with_max_packet_size(max_packet_size: u32) -> DecodeOptions {
        DecodeOptions {
            version: ProtocolVersion::V311,
            max_packet_size,
        }
    }

    /// MQTT 5.0 with the largest packet MQTT can express. The [`crate::v5`] decoders
    /// decode as 5.0 whatever `version` says; the version matters to callers of
    /// [`FixedHeader::decode`], which accepts AUTH only for 5.0.
    pub const fn v5() -> DecodeOptions {
        DecodeOptions {
            version: ProtocolVersion::V5,
            max_packet_size: DecodeOptions::MAX_PACKET_SIZE,
        }
    }

    /// The same options with another protocol version.
    pub const fn with_version(self, version: ProtocolVersion) -> DecodeOptions {
        DecodeOptions {
            version,
            max_packet_size: self.max_packet_size,
        }
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions::with_max_packet_size(DecodeOptions::MAX_PACKET_SIZE)
    }
}

/// A decoded fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The control packet type.
    pub packet_type: PacketType,
    /// The low four bits of the first byte.
    pub flags: u8,
    /// Length of the variable header plus payload.
    pub remaining_length: u32,
    /// Length of the fixed header itself (2 to 5 bytes).
    pub header_len: usize,
}

impl FixedHeader {
    /// Total size of the packet: fixed header plus remaining length.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_length as usize
    }

    /// Decodes and checks the fixed header at the start of `buf`.
    ///
    /// `Ok(None)` means more bytes are needed to finish the header. The packet type
    /// (AUTH only when `opts.version` is 5.0), the fixed flags and the size limit are
    /// checked here, so a bad or oversized packet is refused before its body is read.
    pub fn decode(buf: &[u8], opts: &DecodeOptions) -> Result<Option<FixedHeader>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let packet_type = PacketType::from_u8(first >> 4, opts.version)?;
        let flags = first & 0x0f;
        if let Some(expected) = packet_type.fixed_flags() {
            if flags != expected {
                // [MQTT-2.2.2-1], [MQTT-2.2.2-2]; 5.0: [MQTT-2.1.3-1]
                return Err(DecodeError::InvalidFlags { packet_type, flags });
            }
        }
        let Some((remaining_length, n)) = varint::decode(&buf[1..])? else {
            return Ok(None);
        };
        let header_len = 1 + n;
        let size = remaining_length + header_len as u32;
        if size > opts.max_packet_size {
            return Err(DecodeError::PacketTooLarge {
                size,
                max: opts.max_packet_size,
            });
        }
        Ok(Some(FixedHeader {
            packet_type,
            flags,
            remaining_length,
            header_len,
        }))
    }
}
