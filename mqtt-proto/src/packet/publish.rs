//! PUBLISH [MQTT-3.3]: an application message, in either direction.

use core::fmt;

use crate::wire::{Reader, Sink};
use crate::{
    topic, varint, DecodeError, DecodeOptions, EncodeError, PacketId, QoS, QosPid, Storage,
    TopicName,
};

/// A PUBLISH packet. With `S = Bytes` the topic and payload are views of the read
/// buffer, and encoding can leave the payload out so it is written without a copy.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Publish<S: Storage> {
    /// Re-delivery of an earlier attempt [MQTT-3.3.1-1]; never set at QoS 0
    /// [MQTT-3.3.1-2].
    pub dup: bool,
    /// QoS and, for QoS 1 and 2, the packet identifier.
    pub qos_pid: QosPid,
    /// Retain flag [MQTT-3.3.1-5].
    pub retain: bool,
    /// Topic name; never holds wildcards [MQTT-3.3.2-2].
    pub topic: TopicName<S>,
    /// Application payload, any bytes.
    pub payload: S,
}

const DUP: u8 = 0b1000;
const RETAIN: u8 = 0b0001;

impl<S: Storage> Publish<S> {
    /// A first-attempt PUBLISH (DUP clear, retain off).
    pub fn new(topic: TopicName<S>, qos_pid: QosPid, payload: S) -> Self {
        Publish {
            dup: false,
            qos_pid,
            retain: false,
            topic,
            payload,
        }
    }

    /// The QoS level.
    pub fn qos(&self) -> QoS {
        self.qos_pid.qos()
    }

    pub(crate) fn read(flags: u8, r: &mut Reader<'_, S>) -> Result<Self, DecodeError> {
        let dup = flags & DUP != 0;
        let retain = flags & RETAIN != 0;
        let qos = QoS::from_u8((flags >> 1) & 0b11)?; // [MQTT-3.3.1-4]
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQos0); // [MQTT-3.3.1-2]
        }
        let topic = r.topic_name()?; // [MQTT-3.3.2-1], [MQTT-3.3.2-2]
        let qos_pid = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(r.packet_id()?),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(r.packet_id()?),
        };
        let payload = r.rest();
        Ok(Publish {
            dup,
            qos_pid,
            retain,
            topic,
            payload,
        })
    }

    pub(crate) fn flags(&self) -> u8 {
        let mut f = (self.qos() as u8) << 1;
        if self.dup {
            f |= DUP;
        }
        if self.retain {
            f |= RETAIN;
        }
        f
    }

    /// Length of everything but the payload in the body.
    pub(crate) fn head_len(&self) -> usize {
        2 + self.topic.as_bytes().len()
            + if self.qos_pid.packet_id().is_some() {
                2
            } else {
                0
            }
    }

    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        if self.dup && self.qos() == QoS::AtMostOnce {
            return Err(EncodeError::DupWithQos0); // [MQTT-3.3.1-2]
        }
        Ok(self.head_len() + self.payload.as_ref().len())
    }

    pub(crate) fn write_head<W: Sink>(&self, w: &mut W) {
        w.put_prefixed(self.topic.as_bytes());
        if let Some(pid) = self.qos_pid.packet_id() {
            w.put_u16(pid.get());
        }
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        self.write_head(w);
        w.put(self.payload.as_ref());
    }
}

/// A validated PUBLISH found by [`parse`] or [`parse_body`]: where its fields are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parsed {
    /// Length of the whole packet, fixed header included.
    pub len: usize,
    pub topic_start: usize,
    pub topic_end: usize,
    pub payload_start: usize,
    pub qos_pid: QosPid,
    pub dup: bool,
    pub retain: bool,
}

impl Parsed {
    /// The PUBLISH as a borrowed packet; `frame` is the buffer it was parsed from.
    #[inline(always)]
    pub fn borrow<'a>(&self, frame: &'a [u8]) -> Publish<&'a [u8]> {
        Publish {
            dup: self.dup,
            qos_pid: self.qos_pid,
            retain: self.retain,
            topic: TopicName::trusted(&frame[self.topic_start..self.topic_end]),
            payload: &frame[self.payload_start..self.len],
        }
    }
}

/// The PUBLISH fast path: fixed header, remaining length, size limit, topic and packet
/// identifier in one function with the fewest bounds checks. `buf` starts with a
/// PUBLISH's first byte (0x30 to 0x3f); `Ok(None)` means it holds only part of the
/// packet.
///
/// It makes every check, in the same order and with the same errors, as the general
/// path ([`crate::FixedHeader::decode`], then [`Publish::read`]); a property test holds
/// the two to it.
#[inline(always)]
pub(crate) fn parse(buf: &[u8], opts: &DecodeOptions) -> Result<Option<Parsed>, DecodeError> {
    let (remaining, header_len) = match *buf {
        [_, b, ..] if b < 0x80 => (u32::from(b), 2),
        [] | [_] => return Ok(None),
        _ => match varint::decode(&buf[1..])? {
            Some((v, n)) => (v, 1 + n),
            None => return Ok(None),
        },
    };
    let size = remaining + header_len as u32;
    if size > opts.max_packet_size {
        return Err(DecodeError::PacketTooLarge {
            size,
            max: opts.max_packet_size,
        });
    }
    let Some(frame) = buf.get(..size as usize) else {
        return Ok(None);
    };
    parse_body(frame[0], frame, header_len).map(Some)
}

/// Validates a complete PUBLISH: `frame` is exactly the packet, `first` its first byte
/// and `header_len` the length of its fixed header.
#[inline(always)]
pub(crate) fn parse_body(
    first: u8,
    frame: &[u8],
    header_len: usize,
) -> Result<Parsed, DecodeError> {
    let qos = (first >> 1) & 0b11;
    if qos == 3 {
        return Err(DecodeError::InvalidQos); // [MQTT-3.3.1-4]
    }
    let dup = first & DUP != 0;
    if dup && qos == 0 {
        return Err(DecodeError::DupWithQos0); // [MQTT-3.3.1-2]
    }
    let Some([hi, lo, rest @ ..]) = frame.get(header_len..) else {
        return Err(DecodeError::Truncated);
    };
    let topic_len = usize::from(u16::from_be_bytes([*hi, *lo]));
    let Some(topic) = rest.get(..topic_len) else {
        return Err(DecodeError::Truncated);
    };
    // [MQTT-4.7.3-1], [MQTT-1.5.3-1], [MQTT-1.5.3-2], [MQTT-3.3.2-2]
    topic::check_name(topic)?;
    let topic_start = header_len + 2;
    let topic_end = topic_start + topic_len;
    let (qos_pid, payload_start) = if qos == 0 {
        (QosPid::AtMostOnce, topic_end)
    } else {
        let Some(&[hi, lo]) = frame.get(topic_end..topic_end + 2) else {
            return Err(DecodeError::Truncated);
        };
        let id = PacketId::decode(u16::from_be_bytes([hi, lo]))?; // [MQTT-2.3.1-1]
        let qos_pid = if qos == 1 {
            QosPid::AtLeastOnce(id)
        } else {
            QosPid::ExactlyOnce(id)
        };
        (qos_pid, topic_end + 2)
    };
    Ok(Parsed {
        len: frame.len(),
        topic_start,
        topic_end,
        payload_start,
        qos_pid,
        dup,
        retain: first & RETAIN != 0,
    })
}

impl<S: Storage> fmt::Debug for Publish<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos_pid", &self.qos_pid)
            .field("retain", &self.retain)
            .field("topic", &self.topic)
            .field("payload_len", &self.payload.as_ref().len())
            .finish()
    }
}
