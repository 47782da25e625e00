//! Zero-copy decoding from a `BytesMut` read buffer (feature `bytes`).

use bytes::{Bytes, BytesMut};

use crate::packet::{Connect, LastWill, List, ListKind, Suback, Subscribe, Unsubscribe};
use crate::{DecodeError, DecodeOptions, FixedHeader, Packet, Publish, Str, TopicName};

/// Decodes one packet from the front of a read buffer and removes it.
///
/// The packet's strings and payload are `Bytes` views of the buffer: nothing is
/// copied, and the buffer's memory is reused once every view is dropped. `Ok(None)`
/// means the buffer holds only part of a packet; it is left as it is. An oversized
/// packet is refused from its fixed header, before its body arrives.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::{decode_buf, DecodeOptions, Packet};
///
/// let mut buf = BytesMut::from(&b"\x30\x07\x00\x03a/bhi"[..]); // PUBLISH a/b "hi"
/// match decode_buf(&mut buf, &DecodeOptions::default()).unwrap() {
///     Some(Packet::Publish(p)) => {
///         assert_eq!(p.topic.as_str(), "a/b");
///         assert_eq!(&p.payload[..], b"hi");
///     }
///     other => panic!("{other:?}"),
/// }
/// assert!(buf.is_empty());
/// ```
pub fn decode_buf(
    buf: &mut BytesMut,
    opts: &DecodeOptions,
) -> Result<Option<Packet<Bytes>>, DecodeError> {
    let Some(header) = FixedHeader::decode(buf, opts)? else {
        return Ok(None);
    };
    let len = header.packet_len();
    if buf.len() < len {
        return Ok(None);
    }
    let frame = buf.split_to(len).freeze();
    Packet::decode_frame(&frame, &header, opts).map(Some)
}

impl Packet<&[u8]> {
    /// Copies a borrowed packet into an owned one.
    pub fn to_bytes(&self) -> Packet<Bytes> {
        match self {
            Packet::Connect(c) => Packet::Connect(Connect {
                protocol: c.protocol,
                clean_session: c.clean_session,
                keep_alive: c.keep_alive,
                client_id: Str::copy_from(&c.client_id),
                will: c.will.as_ref().map(|w| LastWill {
                    topic: TopicName::trusted(copy(w.topic.as_bytes())),
                    message: copy(w.message),
                    qos: w.qos,
                    retain: w.retain,
                }),
                username: c.username.as_ref().map(Str::copy_from),
                password: c.password.map(copy),
            }),
            Packet::Connack(c) => Packet::Connack(*c),
            Packet::Publish(p) => Packet::Publish(p.to_bytes()),
            Packet::Puback(id) => Packet::Puback(*id),
            Packet::Pubrec(id) => Packet::Pubrec(*id),
            Packet::Pubrel(id) => Packet::Pubrel(*id),
            Packet::Pubcomp(id) => Packet::Pubcomp(*id),
            Packet::Subscribe(s) => Packet::Subscribe(Subscribe {
                packet_id: s.packet_id,
                filters: copy_list(&s.filters),
            }),
            Packet::Suback(s) => Packet::Suback(Suback {
                packet_id: s.packet_id,
                codes: copy_list(&s.codes),
            }),
            Packet::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
                packet_id: u.packet_id,
                filters: copy_list(&u.filters),
            }),
            Packet::Unsuback(id) => Packet::Unsuback(*id),
            Packet::Pingreq => Packet::Pingreq,
            Packet::Pingresp => Packet::Pingresp,
            Packet::Disconnect => Packet::Disconnect,
        }
    }
}

impl Publish<&[u8]> {
    /// Copies a borrowed PUBLISH into an owned one.
    pub fn to_bytes(&self) -> Publish<Bytes> {
        Publish {
            dup: self.dup,
            qos_pid: self.qos_pid,
            retain: self.retain,
            topic: TopicName::trusted(copy(self.topic.as_bytes())),
            payload: copy(self.payload),
        }
    }
}

fn copy(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

fn copy_list<K: ListKind>(l: &List<&[u8], K>) -> List<Bytes, K> {
    List::trusted(copy(l.as_wire()))
}
