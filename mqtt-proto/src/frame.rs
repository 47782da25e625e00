//! Incoming packets held as one shared `Bytes` each (feature `bytes`): the fastest
//! owned decode, one reference count per packet whatever its fields.

use core::fmt;

use alloc::boxed::Box;

use bytes::{Buf, Bytes, BytesMut};

use crate::header::PacketType;
use crate::packet::{parse_publish, parse_publish_body, Parsed};
use crate::v5::PublishProperties;
use crate::{
    Connack, DecodeError, DecodeOptions, FixedHeader, Packet, PacketId, Publish, QoS, QosPid,
    Storage, TopicName,
};

/// A PUBLISH taken off a read buffer: the whole packet as one `Bytes` (a view of the
/// buffer, not a copy) and where its fields are.
///
/// It costs one reference count, against one per field for `Publish<Bytes>`; the
/// topic and payload are read through it, and [`PublishFrame::payload_bytes`] hands
/// the payload out as its own `Bytes` when the application keeps it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublishFrame {
    frame: Bytes,
    at: Layout,
}

/// Where a PUBLISH's fields are inside its packet, and its flags.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Layout {
    topic_start: u32,
    topic_end: u32,
    /// Where the MQTT 5.0 properties start (after their length); they end where the
    /// payload starts. Equal to `payload_start` for 3.1.1.
    props_start: u32,
    payload_start: u32,
    qos_pid: QosPid,
    dup: bool,
    retain: bool,
}

impl Layout {
    #[inline(always)]
    fn from_parsed(p: &Parsed) -> Layout {
        Layout {
            topic_start: p.topic_start as u32,
            topic_end: p.topic_end as u32,
            props_start: p.payload_start as u32,
            payload_start: p.payload_start as u32,
            qos_pid: p.qos_pid,
            dup: p.dup,
            retain: p.retain,
        }
    }
}

impl PublishFrame {
    /// Validates a whole PUBLISH packet, `frame`, whose fixed header is `header` (as
    /// [`FixedHeader::decode`] returned it), and keeps it as it is: no copy.
    ///
    /// For readers that look at the fixed header themselves; [`decode_frame_buf`] does
    /// both steps.
    pub fn decode(frame: Bytes, header: &FixedHeader) -> Result<PublishFrame, DecodeError> {
        if header.packet_type != PacketType::Publish {
            return Err(DecodeError::UnexpectedPacketType(header.packet_type));
        }
        if frame.len() != header.packet_len() {
            return Err(DecodeError::Truncated);
        }
        // The fixed header was checked by the caller's `FixedHeader::decode`.
        let first = (PacketType::Publish as u8) << 4 | header.flags;
        let p = parse_publish_body(first, &frame, header.header_len)?;
        Ok(PublishFrame {
            frame,
            at: Layout::from_parsed(&p),
        })
    }

    /// Validates a whole MQTT 5.0 PUBLISH packet, `frame`, whose fixed header is
    /// `header` (as [`FixedHeader::decode`] returned it), and keeps it as it is: no
    /// copy. The properties are read with [`PublishFrame::properties`].
    ///
    /// A 5.0 PUBLISH may carry an empty topic name and a Topic Alias instead (section
    /// 3.3.2.1): [`PublishFrame::topic`] is then empty, and the receiver resolves the
    /// alias.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use mqtt_proto::{DecodeOptions, FixedHeader, PublishFrame};
    ///
    /// // PUBLISH QoS 0 "a/b", Content Type "t", payload "hi".
    /// let bytes = Bytes::from_static(b"\x30\x0c\x00\x03a/b\x04\x03\x00\x01thi");
    /// let header = FixedHeader::decode(&bytes, &DecodeOptions::v5()).unwrap().unwrap();
    /// let p = PublishFrame::decode_v5(bytes, &header).unwrap();
    /// assert_eq!((p.topic_str(), p.payload()), ("a/b", &b"hi"[..]));
    /// assert_eq!(p.properties().content_type().unwrap().as_str(), "t");
    /// ```
    pub fn decode_v5(frame: Bytes, header: &FixedHeader) -> Result<PublishFrame, DecodeError> {
        if header.packet_type != PacketType::Publish {
            return Err(DecodeError::UnexpectedPacketType(header.packet_type));
        }
        if frame.len() != header.packet_len() {
            return Err(DecodeError::Truncated);
        }
        let opts = DecodeOptions::v5();
        let at = match crate::v5::Packet::<&[u8]>::decode_frame(&&frame[..], header, &opts)? {
            crate::v5::Packet::Publish(p) => {
                let topic_start = header.header_len + 2;
                let topic_end = topic_start + p.topic.as_ref().map_or(0, |t| t.as_bytes().len());
                let payload_start = frame.len() - p.payload.len();
                Layout {
                    topic_start: topic_start as u32,
                    topic_end: topic_end as u32,
                    props_start: (payload_start - p.properties.as_wire().len()) as u32,
                    payload_start: payload_start as u32,
                    qos_pid: p.qos_pid,
                    dup: p.dup,
                    retain: p.retain,
                }
            }
            other => return Err(DecodeError::UnexpectedPacketType(other.packet_type())),
        };
        Ok(PublishFrame { frame, at })
    }

    /// The MQTT 5.0 properties (validated on arrival); empty for a 3.1.1 PUBLISH.
    pub fn properties(&self) -> PublishProperties<&[u8]> {
        PublishProperties::trusted(
            &self.frame[self.at.props_start as usize..self.at.payload_start as usize],
        )
    }

    /// The topic name. For a 5.0 PUBLISH sent with a Topic Alias alone it is empty,
    /// which is no valid topic name: the receiver resolves the alias.
    pub fn topic(&self) -> TopicName<&[u8]> {
        TopicName::trusted_or_empty(
            &self.frame[self.at.topic_start as usize..self.at.topic_end as usize],
        )
    }

    /// The topic name as a string.
    pub fn topic_str(&self) -> &str {
        // Validated on arrival; the check is repeated to stay free of `unsafe`.
        core::str::from_utf8(self.topic_bytes()).unwrap_or_default()
    }

    /// The topic name's bytes.
    pub fn topic_bytes(&self) -> &[u8] {
        &self.frame[self.at.topic_start as usize..self.at.topic_end as usize]
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.frame[self.at.payload_start as usize..]
    }

    /// The payload as its own `Bytes`, sharing the read buffer's memory.
    pub fn payload_bytes(&self) -> Bytes {
        self.frame.slice(self.at.payload_start as usize..)
    }

    /// QoS and packet identifier.
    pub fn qos_pid(&self) -> QosPid {
        self.at.qos_pid
    }

    /// The QoS level.
    pub fn qos(&self) -> QoS {
        self.at.qos_pid.qos()
    }

    /// The DUP flag [MQTT-3.3.1-1].
    pub fn dup(&self) -> bool {
        self.at.dup
    }

    /// The RETAIN flag.
    pub fn retain(&self) -> bool {
        self.at.retain
    }

    /// A borrowed view as a [`Publish`] (of a 5.0 frame: without its properties).
    pub fn as_publish(&self) -> Publish<&[u8]> {
        Publish {
            dup: self.at.dup,
            qos_pid: self.at.qos_pid,
            retain: self.at.retain,
            topic: self.topic(),
            payload: self.payload(),
        }
    }

    /// An owned [`Publish`] whose topic and payload share the frame's memory (of a 5.0
    /// frame: without its properties).
    pub fn to_publish(&self) -> Publish<Bytes> {
        Publish {
            dup: self.at.dup,
            qos_pid: self.at.qos_pid,
            retain: self.at.retain,
            topic: TopicName::trusted_or_empty(
                self.frame
                    .slice(self.at.topic_start as usize..self.at.topic_end as usize),
            ),
            payload: self.payload_bytes(),
        }
    }

    /// The whole packet as received.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }
}

impl fmt::Debug for PublishFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Publish");
        d.field("dup", &self.at.dup)
            .field("qos_pid", &self.at.qos_pid)
            .field("retain", &self.at.retain)
            .field("topic", &self.topic_str());
        if self.at.props_start != self.at.payload_start {
            d.field("properties", &self.properties());
        }
        d.field("payload_len", &self.payload().len()).finish()
    }
}

/// A packet taken off a read buffer by [`decode_frame_buf`]. Small (64 bytes, where a
/// `Packet<Bytes>` takes 176 for its CONNECT variant), since every packet read is moved
/// through one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A PUBLISH, held as one `Bytes`.
    Publish(PublishFrame),
    /// A packet of at most four bytes, decoded in place: no reference count.
    Short(ShortPacket),
    /// CONNECT, SUBSCRIBE, SUBACK or UNSUBSCRIBE: boxed, so that a `Frame` stays
    /// small (one allocation each; a client receives one SUBACK per subscribe).
    Packet(Box<Packet<Bytes>>),
}

impl Frame {
    /// The packet as a [`Packet`]: a PUBLISH's topic and payload share the frame.
    pub fn into_packet(self) -> Packet<Bytes> {
        match self {
            Frame::Publish(p) => Packet::Publish(p.to_publish()),
            Frame::Short(p) => p.into(),
            Frame::Packet(p) => *p,
        }
    }
}

/// The packets of at most four bytes, whose fields are copied out: CONNACK, the
/// acknowledgements that carry only a packet identifier, PINGREQ, PINGRESP and
/// DISCONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShortPacket {
    /// Connect acknowledgment.
    Connack(Connack),
    /// QoS 1 acknowledgment.
    Puback(PacketId),
    /// QoS 2, part 1: publish received.
    Pubrec(PacketId),
    /// QoS 2, part 2: publish release.
    Pubrel(PacketId),
    /// QoS 2, part 3: publish complete.
    Pubcomp(PacketId),
    /// Unsubscribe acknowledgment.
    Unsuback(PacketId),
    /// Ping request.
    Pingreq,
    /// Ping response.
    Pingresp,
    /// Client is disconnecting.
    Disconnect,
}

impl ShortPacket {
    /// Whether packets of this type are short ones.
    fn is_short(t: PacketType) -> bool {
        use PacketType::*;
        matches!(
            t,
            Connack
                | Puback
                | Pubrec
                | Pubrel
                | Pubcomp
                | Unsuback
                | Pingreq
                | Pingresp
                | Disconnect
        )
    }

    /// The short packet `p` is, or `p` itself.
    fn of<S: Storage>(p: Packet<S>) -> Result<ShortPacket, Packet<S>> {
        Ok(match p {
            Packet::Connack(c) => ShortPacket::Connack(c),
            Packet::Puback(id) => ShortPacket::Puback(id),
            Packet::Pubrec(id) => ShortPacket::Pubrec(id),
            Packet::Pubrel(id) => ShortPacket::Pubrel(id),
            Packet::Pubcomp(id) => ShortPacket::Pubcomp(id),
            Packet::Unsuback(id) => ShortPacket::Unsuback(id),
            Packet::Pingreq => ShortPacket::Pingreq,
            Packet::Pingresp => ShortPacket::Pingresp,
            Packet::Disconnect => ShortPacket::Disconnect,
            other => return Err(other),
        })
    }
}

impl<S: Storage> From<ShortPacket> for Packet<S> {
    fn from(p: ShortPacket) -> Packet<S> {
        match p {
            ShortPacket::Connack(c) => Packet::Connack(c),
            ShortPacket::Puback(id) => Packet::Puback(id),
            ShortPacket::Pubrec(id) => Packet::Pubrec(id),
            ShortPacket::Pubrel(id) => Packet::Pubrel(id),
            ShortPacket::Pubcomp(id) => Packet::Pubcomp(id),
            ShortPacket::Unsuback(id) => Packet::Unsuback(id),
            ShortPacket::Pingreq => Packet::Pingreq,
            ShortPacket::Pingresp => Packet::Pingresp,
            ShortPacket::Disconnect => Packet::Disconnect,
        }
    }
}

/// Cuts the first `len` bytes off a read buffer as one `Bytes`, without copying.
///
/// When they are the whole buffer and it has no spare capacity (a read that ended
/// on a packet boundary, into a buffer sized for it), the buffer itself is handed
/// over: no reference count is taken, no shared state is allocated, and the emptied
/// buffer no longer pins the memory. Otherwise it is `buf.split_to(len).freeze()`,
/// which leaves the spare capacity to the next read.
///
/// # Panics
///
/// When `len > buf.len()`, as `split_to` does.
///
/// ```
/// use bytes::BytesMut;
///
/// let mut buf = BytesMut::from(&b"\xc0\x00\xd0\x00"[..]); // PINGREQ, PINGRESP
/// assert_eq!(&mqtt_proto::take_packet(&mut buf, 2)[..], b"\xc0\x00");
/// assert_eq!(&mqtt_proto::take_packet(&mut buf, 2)[..], b"\xd0\x00");
/// assert!(buf.is_empty());
/// ```
#[inline(always)]
pub fn take_packet(buf: &mut BytesMut, len: usize) -> Bytes {
    if len == buf.capacity() && len == buf.len() {
        return take_whole(buf);
    }
    buf.split_to(len).freeze()
}

/// The whole of `buf` as one `Bytes`: the buffer itself when it has no spare
/// capacity, else split off (leaving the capacity to the next read). Out of line, so
/// that a loop over a buffer of many packets carries only the length comparison.
#[inline(never)]
fn take_rest(buf: &mut BytesMut) -> Bytes {
    let len = buf.len();
    take_packet(buf, len)
}

/// Out of line: keeps the splitting path of [`take_packet`] small.
#[inline(never)]
fn take_whole(buf: &mut BytesMut) -> Bytes {
    core::mem::take(buf).freeze()
}

/// The fixed header of the next packet, validated, once the buffer holds all of it;
/// `Ok(None)` while it holds only part.
fn whole_packet(buf: &[u8], opts: &DecodeOptions) -> Result<Option<FixedHeader>, DecodeError> {
    Ok(FixedHeader::decode(buf, opts)?.filter(|h| buf.len() >= h.packet_len()))
}

/// Cuts the next whole packet off a read buffer (zero-copy), validated;
/// `Ok(None)` when the buffer holds only part of one.
pub(crate) fn take_frame(
    buf: &mut BytesMut,
    opts: &DecodeOptions,
) -> Result<Option<(FixedHeader, Bytes)>, DecodeError> {
    let Some(header) = whole_packet(buf, opts)? else {
        return Ok(None);
    };
    Ok(Some((header, buf.split_to(header.packet_len()).freeze())))
}

/// Like [`crate::decode_buf`], but a PUBLISH comes as a [`PublishFrame`]: one
/// reference count per packet instead of one per field. A PUBLISH that is the
/// whole buffer, in a buffer with no spare capacity, takes the buffer itself (as
/// [`take_packet`] does): no reference count, no allocation.
#[inline]
pub fn decode_frame_buf(
    buf: &mut BytesMut,
    opts: &DecodeOptions,
) -> Result<Option<Frame>, DecodeError> {
    if is_publish(buf) {
        let p = match parse_publish(buf, opts) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None),
            Err(e) => return Err(discard(buf, opts, e)),
        };
        if p.len == buf.len() {
            return Ok(Some(Frame::Publish(PublishFrame {
                frame: take_rest(buf),
                at: Layout::from_parsed(&p),
            })));
        }
        let frame = buf.split_to(p.len).freeze();
        return Ok(Some(Frame::Publish(PublishFrame {
            frame,
            at: Layout::from_parsed(&p),
        })));
    }
    decode_frame_buf_general(buf, opts)
}

fn decode_frame_buf_general(
    buf: &mut BytesMut,
    opts: &DecodeOptions,
) -> Result<Option<Frame>, DecodeError> {
    let Some(header) = whole_packet(buf, opts)? else {
        return Ok(None);
    };
    let len = header.packet_len();
    if ShortPacket::is_short(header.packet_type) {
        // Decoded in place, then consumed (also when invalid, as the other paths do).
        let decoded = Packet::<&[u8]>::decode_frame(&&buf[..len], &header, opts);
        let frame = decoded.map(|p| match ShortPacket::of(p) {
            Ok(short) => Frame::Short(short),
            Err(other) => Frame::Packet(Box::new(other.to_bytes())),
        });
        buf.advance(len);
        return frame.map(Some);
    }
    let frame = buf.split_to(len).freeze();
    Packet::decode_frame(&frame, &header, opts).map(|p| Some(Frame::Packet(Box::new(p))))
}

/// Whether the buffer starts with a PUBLISH, which takes the fast path.
#[inline(always)]
fn is_publish(buf: &[u8]) -> bool {
    matches!(buf.first(), Some(b) if b >> 4 == PacketType::Publish as u8)
}

/// A PUBLISH failed validation: consume it if it was complete, as the general path
/// does (it splits the packet off before validating its body), and pass the error on.
#[cold]
#[inline(never)]
fn discard(buf: &mut BytesMut, opts: &DecodeOptions, e: DecodeError) -> DecodeError {
    if let Ok(Some(header)) = FixedHeader::decode(buf, opts) {
        if buf.len() >= header.packet_len() {
            buf.advance(header.packet_len());
        }
    }
    e
}

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
#[inline]
pub fn decode_buf(
    buf: &mut BytesMut,
    opts: &DecodeOptions,
) -> Result<Option<Packet<Bytes>>, DecodeError> {
    if is_publish(buf) {
        let p = match parse_publish(buf, opts) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None),
            Err(e) => return Err(discard(buf, opts, e)),
        };
        // The frame itself becomes the payload, so the topic is the only extra
        // reference taken.
        let mut frame = buf.split_to(p.len).freeze();
        let topic = frame.slice(p.topic_start..p.topic_end);
        frame.advance(p.payload_start);
        return Ok(Some(Packet::Publish(Publish {
            dup: p.dup,
            qos_pid: p.qos_pid,
            retain: p.retain,
            topic: TopicName::trusted(topic),
            payload: frame,
        })));
    }
    decode_buf_general(buf, opts)
}

/// [`decode_buf`] for every packet type.
fn decode_buf_general(
    buf: &mut BytesMut,
    opts: &DecodeOptions,
) -> Result<Option<Packet<Bytes>>, DecodeError> {
    let Some((header, frame)) = take_frame(buf, opts)? else {
        return Ok(None);
    };
    Packet::decode_frame(&frame, &header, opts).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(bytes: &[u8]) -> FixedHeader {
        FixedHeader::decode(bytes, &DecodeOptions::default())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn publish_frame_decode_checks_type_and_length() {
        let publish = Bytes::from_static(b"\x30\x07\x00\x03a/bhi");
        let p = PublishFrame::decode(publish.clone(), &header_of(&publish)).unwrap();
        assert_eq!((p.topic_str(), p.payload()), ("a/b", &b"hi"[..]));
        // The frame must be exactly the packet the header describes.
        assert_eq!(
            PublishFrame::decode(publish.slice(..8), &header_of(&publish)),
            Err(DecodeError::Truncated)
        );
        let puback = Bytes::from_static(b"\x40\x02\x00\x01");
        assert_eq!(
            PublishFrame::decode(puback.clone(), &header_of(&puback)),
            Err(DecodeError::UnexpectedPacketType(PacketType::Puback))
        );
        // A wildcard in the topic name is refused as by every decoder [MQTT-3.3.2-2].
        let bad = Bytes::from_static(b"\x30\x07\x00\x03a/#hi");
        assert_eq!(
            PublishFrame::decode(bad.clone(), &header_of(&bad)),
            Err(DecodeError::WildcardInTopicName)
        );
    }

    #[test]
    fn publish_frame_decode_v5_finds_properties_and_an_aliased_topic() {
        let v5 = |b: &[u8]| {
            FixedHeader::decode(b, &DecodeOptions::v5())
                .unwrap()
                .unwrap()
        };
        // QoS 1, id 7, "a/b", no properties, payload "hi".
        let p = Bytes::from_static(b"\x32\x0a\x00\x03a/b\x00\x07\x00hi");
        let f = PublishFrame::decode_v5(p.clone(), &v5(&p)).unwrap();
        assert_eq!((f.topic_str(), f.payload()), ("a/b", &b"hi"[..]));
        assert!(f.properties().is_empty());
        assert_eq!(f.qos_pid().packet_id().map(|i| i.get()), Some(7));
        // QoS 0, empty topic with Topic Alias 5 (section 3.3.2.1), payload "x".
        let p = Bytes::from_static(b"\x30\x07\x00\x00\x03\x23\x00\x05x");
        let f = PublishFrame::decode_v5(p.clone(), &v5(&p)).unwrap();
        assert_eq!((f.topic_str(), f.payload()), ("", &b"x"[..]));
        assert_eq!(f.properties().topic_alias().map(|a| a.get()), Some(5));
        // An empty topic without an alias is refused.
        let p = Bytes::from_static(b"\x30\x04\x00\x00\x00x");
        assert_eq!(
            PublishFrame::decode_v5(p.clone(), &v5(&p)),
            Err(DecodeError::EmptyTopicWithoutAlias)
        );
        // A 3.1.1 frame has no properties.
        let p = Bytes::from_static(b"\x30\x07\x00\x03a/bhi");
        assert!(PublishFrame::decode(p.clone(), &header_of(&p))
            .unwrap()
            .properties()
            .is_empty());
    }
}
