//! A strict, zero-copy MQTT 3.1.1 and 5.0 codec for `no_std`.
//!
//! Decode a packet from borrowed bytes with no allocator, and encode one into a slice:
//!
//! ```
//! use mqtt_proto::{decode, DecodeOptions, Packet, Publish, QosPid, PacketId, TopicName};
//!
//! // Encode a QoS 1 PUBLISH into a stack buffer.
//! let publish = Publish::new(
//!     TopicName::new("sensors/temp").unwrap(),
//!     QosPid::AtLeastOnce(PacketId::new(1).unwrap()),
//!     &b"21.5"[..],
//! );
//! let mut buf = [0u8; 64];
//! let n = Packet::Publish(publish.clone()).encode(&mut buf).unwrap();
//!
//! // Decode it back: topic and payload borrow from `buf`.
//! let (packet, used) = decode(&buf[..n], &DecodeOptions::default()).unwrap().unwrap();
//! assert_eq!(used, n);
//! assert_eq!(packet, Packet::Publish(publish));
//!
//! // Partial input is not an error: it needs more bytes.
//! assert_eq!(decode(&buf[..n - 1], &DecodeOptions::default()), Ok(None));
//! ```
//!
//! With the `bytes` feature (on by default), [`decode_buf`] takes packets off a
//! `BytesMut` read buffer so that each PUBLISH's topic and payload are `Bytes` views of
//! that buffer, and [`Publish::encode_header`] writes a PUBLISH without its payload,
//! so the payload goes to the socket in a vectored write without a copy
//! ([`Publish::encode_header_buf`] does it into a `BytesMut` without a `memcpy` call).
//! [`decode_frame_buf`] goes one step further: a PUBLISH comes as a
//! [`PublishFrame`], the whole packet as one `Bytes` (one reference count per
//! message), and the packets of at most four bytes as a [`ShortPacket`], decoded in
//! place.
//!
//! Every packet type is generic over its [`Storage`]: `&[u8]` (borrowed) or `Bytes`
//! (owned, shared). Everything the peer sends is validated against the rules of the
//! MQTT 3.1.1 specification, and each failure is a typed [`DecodeError`].
//!
//! MQTT 5.0 lives in [`v5`], the same API over the same fixed header, strings,
//! topics, packet identifiers and errors, with properties (validated once, read in
//! place) and a reason code type per packet:
//!
//! ```
//! use mqtt_proto::v5::{self, DisconnectReasonCode, PropertyValues, PubackReasonCode};
//! use mqtt_proto::{DecodeOptions, PacketId, Str};
//!
//! // A PUBACK refusing a message, with a Reason String, encoded without an allocator.
//! let mut scratch = [0u8; 32];
//! let values = PropertyValues {
//!     reason_string: Some(Str::new("quota").unwrap()),
//!     ..PropertyValues::default()
//! };
//! let ack = v5::Puback {
//!     packet_id: PacketId::new(7).unwrap(),
//!     reason_code: PubackReasonCode::QuotaExceeded,
//!     properties: v5::AckProperties::write_into(&values, &mut scratch).unwrap(),
//! };
//! let mut buf = [0u8; 32];
//! let n = v5::Packet::Puback(ack).encode(&mut buf).unwrap();
//! assert_eq!(&buf[..n], b"\x40\x0c\x00\x07\x97\x08\x1f\x00\x05quota");
//!
//! // Decoding: a DISCONNECT from the server in its one-byte form.
//! let (packet, _) = v5::decode(b"\xe0\x01\x8b", &DecodeOptions::v5()).unwrap().unwrap();
//! let v5::Packet::Disconnect(d) = packet else { unreachable!() };
//! assert_eq!(d.reason_code, DisconnectReasonCode::ServerShuttingDown);
//! ```
//!
//! Features:
//! - `bytes` (default): `Bytes` storage, [`decode_buf`], [`v5::decode_buf`], `BufMut`
//!   encoding.
//! - `arbitrary`: `arbitrary::Arbitrary` for `Packet<Bytes>` and `v5::Packet<Bytes>`,
//!   for fuzzing.
//! - `proptest`: the `strategy` module (and `strategy::v5`), proptest strategies for
//!   valid packets.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "bytes")]
extern crate alloc;
#[cfg(feature = "proptest")]
extern crate std;

mod error;
mod header;
mod packet;
mod qos;
mod storage;
mod string;
mod topic;
pub mod v5;
pub mod varint;
mod wire;

#[cfg(feature = "arbitrary")]
mod arbitrary;
#[cfg(feature = "bytes")]
mod buf;
#[cfg(feature = "bytes")]
mod frame;
#[cfg(feature = "proptest")]
pub mod strategy;
#[cfg(any(feature = "arbitrary", feature = "proptest"))]
mod valid;

pub use error::{DecodeError, EncodeError, StrError};
#[cfg(feature = "bytes")]
pub use frame::{decode_buf, decode_frame_buf, take_packet, Frame, PublishFrame, ShortPacket};
pub use header::{DecodeOptions, FixedHeader, PacketType, ProtocolVersion};
pub use packet::{
    decode, Connack, Connect, ConnectReturnCode, Decoded, Iter, LastWill, List, ListKind, Packet,
    Publish, Suback, SubackCodes, SubackEntry, SubackReturnCode, Subscribe, SubscribeEntry,
    SubscribeFilters, Unsubscribe, UnsubscribeEntry, UnsubscribeFilters,
};
pub use qos::{PacketId, QoS, QosPid};
pub use storage::Storage;
pub use string::Str;
pub use topic::{TopicFilter, TopicName};
