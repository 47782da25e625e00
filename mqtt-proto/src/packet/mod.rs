//! The fourteen MQTT 3.1.1 control packets, decoded and encoded in one place.

mod connack;
pub(crate) mod connect;
#[cfg(feature = "bytes")]
mod head;
pub(crate) mod list;
mod publish;

pub use connack::{Connack, ConnectReturnCode};
pub use connect::{Connect, LastWill};
pub use list::{
    Iter, List, ListKind, SubackCodes, SubackEntry, SubackReturnCode, SubscribeEntry,
    SubscribeFilters, UnsubscribeEntry, UnsubscribeFilters,
};
pub use publish::Publish;
#[cfg(feature = "bytes")]
pub(crate) use publish::{parse as parse_publish, parse_body as parse_publish_body, Parsed};

use crate::header::{FixedHeader, PacketType};
use crate::wire::{Reader, Sink, SliceSink};
use crate::{varint, DecodeError, DecodeOptions, EncodeError, PacketId, Storage};

/// A SUBSCRIBE packet [MQTT-3.8].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscribe<S: Storage> {
    /// Packet identifier, echoed by the SUBACK.
    pub packet_id: PacketId,
    /// One or more filters with their requested QoS [MQTT-3.8.3-3].
    pub filters: SubscribeFilters<S>,
}

/// A SUBACK packet [MQTT-3.9].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Suback<S: Storage> {
    /// Packet identifier of the SUBSCRIBE answered [MQTT-3.8.4-2].
    pub packet_id: PacketId,
    /// One return code per filter, in order [MQTT-3.8.4-5], [MQTT-3.9.3-1].
    pub codes: SubackCodes<S>,
}

/// An UNSUBSCRIBE packet [MQTT-3.10].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unsubscribe<S: Storage> {
    /// Packet identifier, echoed by the UNSUBACK.
    pub packet_id: PacketId,
    /// One or more filters [MQTT-3.10.3-2].
    pub filters: UnsubscribeFilters<S>,
}

/// Any MQTT 3.1.1 control packet, its bytes held in `S` (`&[u8]` or `Bytes`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Packet<S: Storage> {
    /// Client request to connect.
    Connect(Connect<S>),
    /// Connect acknowledgment.
    Connack(Connack),
    /// Application message.
    Publish(Publish<S>),
    /// QoS 1 acknowledgment.
    Puback(PacketId),
    /// QoS 2, part 1: publish received.
    Pubrec(PacketId),
    /// QoS 2, part 2: publish release.
    Pubrel(PacketId),
    /// QoS 2, part 3: publish complete.
    Pubcomp(PacketId),
    /// Subscribe request.
    Subscribe(Subscribe<S>),
    /// Subscribe acknowledgment.
    Suback(Suback<S>),
    /// Unsubscribe request.
    Unsubscribe(Unsubscribe<S>),
    /// Unsubscribe acknowledgment.
    Unsuback(PacketId),
    /// Ping request.
    Pingreq,
    /// Ping response.
    Pingresp,
    /// Client is disconnecting.
    Disconnect,
}

/// A packet borrowed from the input, and how many bytes of the input it used.
pub type Decoded<'a> = (Packet<&'a [u8]>, usize);

/// Decodes one packet from the start of `buf`, borrowing from it.
///
/// Returns `Ok(None)` when `buf` holds only part of a packet (never an error), or the
/// packet and the number of bytes it used. An oversized packet is refused as soon as
/// its fixed header is complete.
///
/// ```
/// use mqtt_proto::{decode, DecodeOptions, Packet};
///
/// let bytes = [0x40, 0x02, 0x00, 0x07, 0xd0]; // PUBACK 7, then a partial packet
/// let opts = DecodeOptions::default();
/// let (packet, used) = decode(&bytes, &opts).unwrap().unwrap();
/// assert!(matches!(packet, Packet::Puback(id) if id.get() == 7));
/// assert_eq!(decode(&bytes[used..], &opts), Ok(None));
/// ```
#[inline]
pub fn decode<'a>(buf: &'a [u8], opts: &DecodeOptions) -> Result<Option<Decoded<'a>>, DecodeError> {
    if matches!(buf.first(), Some(b) if b >> 4 == PacketType::Publish as u8) {
        // PUBLISH, the packet that matters for throughput, has its own fused path.
        return match publish::parse(buf, opts) {
            Ok(Some(p)) => Ok(Some((Packet::Publish(p.borrow(buf)), p.len))),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
    }
    decode_general(buf, opts)
}

/// [`decode`] for every packet type: the fixed header, then the packet's own parser.
pub(crate) fn decode_general<'a>(
    buf: &'a [u8],
    opts: &DecodeOptions,
) -> Result<Option<Decoded<'a>>, DecodeError> {
    let Some(header) = FixedHeader::decode(buf, opts)? else {
        return Ok(None);
    };
    let len = header.packet_len();
    let Some(frame) = buf.get(..len) else {
        return Ok(None);
    };
    Ok(Some((Packet::decode_frame(&frame, &header, opts)?, len)))
}

impl<S: Storage> Packet<S> {
    /// Decodes a complete packet: `frame` holds exactly the packet whose fixed header
    /// is `header` (as [`FixedHeader::decode`] returned it).
    pub fn decode_frame(
        frame: &S,
        header: &FixedHeader,
        _opts: &DecodeOptions,
    ) -> Result<Packet<S>, DecodeError> {
        let mut r = Reader::new(frame, header.header_len);
        if r.remaining() != header.remaining_length as usize {
            return Err(DecodeError::Truncated);
        }
        let packet = match header.packet_type {
            PacketType::Connect => return Connect::read(&mut r).map(Packet::Connect),
            PacketType::Connack => return Connack::read(&mut r).map(Packet::Connack),
            PacketType::Publish => return Publish::read(header.flags, &mut r).map(Packet::Publish),
            PacketType::Subscribe => Packet::Subscribe(Subscribe {
                packet_id: r.packet_id()?,
                filters: List::read(&mut r)?,
            }),
            PacketType::Suback => Packet::Suback(Suback {
                packet_id: r.packet_id()?,
                codes: List::read(&mut r)?,
            }),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe {
                packet_id: r.packet_id()?,
                filters: List::read(&mut r)?,
            }),
            PacketType::Puback => Packet::Puback(r.packet_id()?),
            PacketType::Pubrec => Packet::Pubrec(r.packet_id()?),
            PacketType::Pubrel => Packet::Pubrel(r.packet_id()?),
            PacketType::Pubcomp => Packet::Pubcomp(r.packet_id()?),
            PacketType::Unsuback => Packet::Unsuback(r.packet_id()?),
            PacketType::Pingreq => Packet::Pingreq,
            PacketType::Pingresp => Packet::Pingresp,
            PacketType::Disconnect => Packet::Disconnect,
            // AUTH exists only in 5.0 ([`crate::v5`]).
            PacketType::Auth => return Err(DecodeError::ReservedPacketType(15)),
        };
        r.finish()?;
        Ok(packet)
    }

    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::Connack(_) => PacketType::Connack,
            Packet::Publish(_) => PacketType::Publish,
            Packet::Puback(_) => PacketType::Puback,
            Packet::Pubrec(_) => PacketType::Pubrec,
            Packet::Pubrel(_) => PacketType::Pubrel,
            Packet::Pubcomp(_) => PacketType::Pubcomp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::Suback(_) => PacketType::Suback,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::Unsuback(_) => PacketType::Unsuback,
            Packet::Pingreq => PacketType::Pingreq,
            Packet::Pingresp => PacketType::Pingresp,
            Packet::Disconnect => PacketType::Disconnect,
        }
    }

    fn first_byte(&self) -> u8 {
        let t = self.packet_type();
        let flags = match self {
            Packet::Publish(p) => p.flags(),
            _ => t.fixed_flags().unwrap_or(0),
        };
        ((t as u8) << 4) | flags
    }

    /// Length of variable header plus payload; checks what the types cannot.
    fn body_len(&self) -> Result<usize, EncodeError> {
        let n = match self {
            Packet::Connect(c) => c.body_len()?,
            Packet::Connack(c) => {
                c.check()?;
                2
            }
            Packet::Publish(p) => p.body_len()?,
            Packet::Subscribe(s) => 2 + s.filters.wire_len(),
            Packet::Suback(s) => 2 + s.codes.wire_len(),
            Packet::Unsubscribe(u) => 2 + u.filters.wire_len(),
            Packet::Puback(_)
            | Packet::Pubrec(_)
            | Packet::Pubrel(_)
            | Packet::Pubcomp(_)
            | Packet::Unsuback(_) => 2,
            Packet::Pingreq | Packet::Pingresp | Packet::Disconnect => 0,
        };
        if n > varint::MAX_REMAINING_LENGTH as usize {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok(n)
    }

    fn write_body<W: Sink>(&self, w: &mut W) {
        match self {
            Packet::Connect(c) => c.write_body(w),
            Packet::Connack(c) => c.write_body(w),
            Packet::Publish(p) => p.write_body(w),
            Packet::Subscribe(s) => {
                w.put_u16(s.packet_id.get());
                s.filters.write(w);
            }
            Packet::Suback(s) => {
                w.put_u16(s.packet_id.get());
                s.codes.write(w);
            }
            Packet::Unsubscribe(u) => {
                w.put_u16(u.packet_id.get());
                u.filters.write(w);
            }
            Packet::Puback(id)
            | Packet::Pubrec(id)
            | Packet::Pubrel(id)
            | Packet::Pubcomp(id)
            | Packet::Unsuback(id) => w.put_u16(id.get()),
            Packet::Pingreq | Packet::Pingresp | Packet::Disconnect => {}
        }
    }

    /// The full encoded size in bytes, or why it cannot be encoded.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        let body = self.body_len()?;
        Ok(1 + varint::len(body as u32) + body)
    }

    /// Encodes the whole packet at the start of `out`, without an allocator, and
    /// returns its length. A too-small `out` gives
    /// [`EncodeError::BufferTooSmall`] with the size needed, and is left untouched.
    #[inline]
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        if let Packet::Publish(p) = self {
            return p.encode_slice(out);
        }
        self.encode_general(out)
    }

    fn encode_general(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let body = self.body_len()?;
        let needed = 1 + varint::len(body as u32) + body;
        if out.len() < needed {
            return Err(EncodeError::BufferTooSmall { needed });
        }
        let mut sink = SliceSink { buf: out, pos: 0 };
        write_fixed_header(&mut sink, self.first_byte(), body);
        self.write_body(&mut sink);
        debug_assert_eq!(sink.pos, needed);
        Ok(needed)
    }

    /// Encodes the whole packet into a `BufMut`, payload included.
    #[cfg(feature = "bytes")]
    #[inline]
    pub fn encode_to<B: bytes::BufMut>(&self, out: &mut B) -> Result<(), EncodeError> {
        if let Packet::Publish(p) = self {
            let body = p.checked_body_len()?;
            p.put_head(body, out);
            out.put_slice(p.payload.as_ref());
            return Ok(());
        }
        self.encode_to_general(out)
    }

    #[cfg(feature = "bytes")]
    fn encode_to_general<B: bytes::BufMut>(&self, out: &mut B) -> Result<(), EncodeError> {
        let body = self.body_len()?;
        // Small packets are assembled on the stack and written with one call: a
        // `BufMut` call per one- or two-byte field costs more than the bytes.
        let mut stack = [0u8; STACK_HEAD];
        if 5 + body <= STACK_HEAD {
            let mut sink = SliceSink {
                buf: &mut stack,
                pos: 0,
            };
            write_fixed_header(&mut sink, self.first_byte(), body);
            self.write_body(&mut sink);
            let n = sink.pos;
            out.put_slice(&stack[..n]);
            return Ok(());
        }
        let mut sink = crate::wire::BufSink(out);
        write_fixed_header(&mut sink, self.first_byte(), body);
        self.write_body(&mut sink);
        Ok(())
    }

    /// A view of this packet that borrows its bytes.
    pub fn as_borrowed(&self) -> Packet<&[u8]> {
        match self {
            Packet::Connect(c) => Packet::Connect(Connect {
                protocol: c.protocol,
                clean_session: c.clean_session,
                keep_alive: c.keep_alive,
                client_id: c.client_id.as_borrowed(),
                will: c.will.as_ref().map(|w| LastWill {
                    topic: w.topic.as_borrowed(),
                    message: w.message.as_ref(),
                    qos: w.qos,
                    retain: w.retain,
                }),
                username: c.username.as_ref().map(|u| u.as_borrowed()),
                password: c.password.as_ref().map(|p| p.as_ref()),
            }),
            Packet::Connack(c) => Packet::Connack(*c),
            Packet::Publish(p) => Packet::Publish(p.as_borrowed()),
            Packet::Puback(id) => Packet::Puback(*id),
            Packet::Pubrec(id) => Packet::Pubrec(*id),
            Packet::Pubrel(id) => Packet::Pubrel(*id),
            Packet::Pubcomp(id) => Packet::Pubcomp(*id),
            Packet::Subscribe(s) => Packet::Subscribe(Subscribe {
                packet_id: s.packet_id,
                filters: s.filters.as_borrowed(),
            }),
            Packet::Suback(s) => Packet::Suback(Suback {
                packet_id: s.packet_id,
                codes: s.codes.as_borrowed(),
            }),
            Packet::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
                packet_id: u.packet_id,
                filters: u.filters.as_borrowed(),
            }),
            Packet::Unsuback(id) => Packet::Unsuback(*id),
            Packet::Pingreq => Packet::Pingreq,
            Packet::Pingresp => Packet::Pingresp,
            Packet::Disconnect => Packet::Disconnect,
        }
    }
}

impl<S: Storage> Publish<S> {
    /// A view of this PUBLISH that borrows its bytes.
    pub fn as_borrowed(&self) -> Publish<&[u8]> {
        Publish {
            dup: self.dup,
            qos_pid: self.qos_pid,
            retain: self.retain,
            topic: self.topic.as_borrowed(),
            payload: self.payload.as_ref(),
        }
    }

    /// Size of the whole packet, payload included.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        let body = self.checked_body_len()?;
        Ok(1 + varint::len(body as u32) + body)
    }

    /// Length of the body, or why the packet cannot be encoded.
    #[inline]
    fn checked_body_len(&self) -> Result<usize, EncodeError> {
        let body = self.body_len()?;
        if body > varint::MAX_REMAINING_LENGTH as usize {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok(body)
    }

    /// Writes everything but the payload: fixed header, topic and packet identifier.
    /// The caller sends the payload after it, e.g. with a vectored write, so the
    /// payload is never copied.
    #[cfg(feature = "bytes")]
    #[inline]
    pub fn encode_header<B: bytes::BufMut>(&self, out: &mut B) -> Result<(), EncodeError> {
        let body = self.checked_body_len()?;
        self.put_head(body, out);
        Ok(())
    }

    /// [`Publish::encode_header`] into a `BytesMut`, the buffer the session writes:
    /// the same bytes, with no call to `memcpy` when the topic is at most 64 bytes,
    /// the remaining length below 16 KiB and the buffer has 80 bytes to spare (about
    /// a third faster for a 64 B payload). Otherwise it is `encode_header`.
    #[cfg(feature = "bytes")]
    #[inline]
    pub fn encode_header_buf(&self, out: &mut bytes::BytesMut) -> Result<(), EncodeError> {
        let body = self.checked_body_len()?;
        let first = (PacketType::Publish as u8) << 4 | self.flags();
        let id = self.qos_pid.packet_id().map(PacketId::get);
        if !head::put_short_head(out, first, body, self.topic.as_bytes(), id) {
            self.put_head(body, out);
        }
        Ok(())
    }

    /// Fixed header, topic and packet identifier, in as few `BufMut` calls as
    /// possible: the fixed header and topic length go as one small array (one
    /// capacity check, one store), then the topic, then the packet identifier.
    #[cfg(feature = "bytes")]
    #[inline(always)]
    fn put_head<B: bytes::BufMut>(&self, body: usize, out: &mut B) {
        let topic = self.topic.as_bytes();
        let first = (PacketType::Publish as u8) << 4 | self.flags();
        let [th, tl] = (topic.len() as u16).to_be_bytes();
        if body < 128 {
            out.put_slice(&[first, body as u8, th, tl]);
        } else if body < 16_384 {
            out.put_slice(&[first, body as u8 | 0x80, (body >> 7) as u8, th, tl]);
        } else {
            put_long_head(first, body, [th, tl], out);
        }
        out.put_slice(topic);
        if let Some(id) = self.qos_pid.packet_id() {
            out.put_slice(&id.get().to_be_bytes());
        }
    }

    /// [`Packet::encode`] for a PUBLISH: the fields copied straight into `out`.
    #[inline]
    fn encode_slice(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let body = self.checked_body_len()?;
        let needed = 1 + varint::len(body as u32) + body;
        let Some(out) = out.get_mut(..needed) else {
            return Err(EncodeError::BufferTooSmall { needed });
        };
        let mut len = [0u8; 4];
        let n = varint::write(body as u32, &mut len);
        let topic = self.topic.as_bytes();
        let (header, rest) = out.split_at_mut(1 + n);
        header[0] = (PacketType::Publish as u8) << 4 | self.flags();
        header[1..].copy_from_slice(&len[..n]);
        let (topic_len, rest) = rest.split_at_mut(2);
        topic_len.copy_from_slice(&(topic.len() as u16).to_be_bytes());
        let (topic_out, rest) = rest.split_at_mut(topic.len());
        topic_out.copy_from_slice(topic);
        let payload_out = match self.qos_pid.packet_id() {
            Some(id) => {
                let (id_out, rest) = rest.split_at_mut(2);
                id_out.copy_from_slice(&id.get().to_be_bytes());
                rest
            }
            None => rest,
        };
        payload_out.copy_from_slice(self.payload.as_ref());
        Ok(needed)
    }
}

/// Packets up to this size are assembled on the stack.
#[cfg(feature = "bytes")]
pub(crate) const STACK_HEAD: usize = 128;

pub(crate) fn write_fixed_header<W: Sink>(w: &mut W, first: u8, body: usize) {
    let mut len = [0u8; 4];
    let n = varint::write(body as u32, &mut len);
    w.put_u8(first);
    w.put(&len[..n]);
}

#[cfg(all(test, feature = "bytes"))]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use bytes::BytesMut;

    use super::*;
    use crate::{QosPid, TopicName};

    /// The field-by-field writer every other packet uses, as the reference.
    fn reference(p: &Publish<&[u8]>) -> Vec<u8> {
        let body = p.body_len().unwrap();
        let mut out = vec![0u8; 5 + body];
        let mut sink = SliceSink {
            buf: &mut out,
            pos: 0,
        };
        write_fixed_header(&mut sink, 0x30 | p.flags(), body);
        p.write_body(&mut sink);
        let n = sink.pos;
        out.truncate(n);
        out
    }

    // The PUBLISH writers agree with the reference on each side of every
    // remaining-length size (1 to 4 bytes), at every QoS.
    #[test]
    fn publish_writers_agree_at_remaining_length_boundaries() {
        let topic = TopicName::new("a/b").unwrap();
        let big = vec![7u8; 2_097_152];
        let id = PacketId::new(0x1234).unwrap();
        for qos_pid in [
            QosPid::AtMostOnce,
            QosPid::AtLeastOnce(id),
            QosPid::ExactlyOnce(id),
        ] {
            for body in [127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
                let mut p = Publish::new(topic.clone(), qos_pid, &big[..0]);
                p.payload = &big[..body - p.head_len()];
                p.retain = body % 2 == 0;
                p.dup = qos_pid != QosPid::AtMostOnce;
                let want = reference(&p);
                let packet = Packet::Publish(p.clone());
                assert_eq!(packet.encoded_len(), Ok(want.len()));

                let mut slice = vec![0u8; want.len()];
                assert_eq!(packet.encode(&mut slice), Ok(want.len()));
                assert!(slice == want, "encode, body {body}");
                let mut short = vec![0u8; want.len() - 1];
                assert_eq!(
                    packet.encode(&mut short),
                    Err(EncodeError::BufferTooSmall { needed: want.len() })
                );
                assert!(short.iter().all(|&b| b == 0), "left untouched");

                let mut buf = BytesMut::new();
                packet.encode_to(&mut buf).unwrap();
                assert!(buf[..] == want[..], "encode_to, body {body}");

                let mut head = BytesMut::new();
                p.encode_header(&mut head).unwrap();
                assert!(
                    head[..] == want[..want.len() - p.payload.len()],
                    "encode_header, body {body}"
                );
                let mut head = BytesMut::with_capacity(128);
                p.encode_header_buf(&mut head).unwrap();
                assert!(
                    head[..] == want[..want.len() - p.payload.len()],
                    "encode_header_buf, body {body}"
                );
            }
        }
    }

    #[test]
    fn publish_writers_refuse_dup_at_qos_0() {
        let mut p = Publish::new(TopicName::new("t").unwrap(), QosPid::AtMostOnce, &b""[..]);
        p.dup = true;
        let mut buf = BytesMut::new();
        assert_eq!(p.encode_header(&mut buf), Err(EncodeError::DupWithQos0));
        assert_eq!(p.encode_header_buf(&mut buf), Err(EncodeError::DupWithQos0));
        let packet = Packet::Publish(p);
        assert_eq!(packet.encode_to(&mut buf), Err(EncodeError::DupWithQos0));
        assert_eq!(packet.encode(&mut [0u8; 16]), Err(EncodeError::DupWithQos0));
        assert!(buf.is_empty());
    }
}

/// A PUBLISH fixed header with a remaining length of 16 KiB or more (three or four
/// length bytes), and the topic length: out of line, to keep the common path small.
#[cfg(feature = "bytes")]
#[inline(never)]
fn put_long_head<B: bytes::BufMut>(first: u8, body: usize, topic_len: [u8; 2], out: &mut B) {
    let mut len = [0u8; 4];
    let n = varint::write(body as u32, &mut len);
    out.put_u8(first);
    out.put_slice(&len[..n]);
    out.put_slice(&topic_len);
}
