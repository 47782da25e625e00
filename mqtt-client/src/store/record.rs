//! The bytes of one journal entry in a [`super::FileStore`] log.
//!
//! A record is `length: u32 LE | crc32(body): u32 LE | body`, the body a tag byte and
//! the entry's fields (integers little-endian, strings and payloads length-prefixed).
//!
//! A message with MQTT 5.0 properties is written with its own tag (`PUBLISH_V5`: the
//! fields of `PUBLISH`, then the properties), so journals written before 5.0 existed
//! load unchanged, and a message without properties is written as before.

use bytes::{Buf, BufMut, Bytes};
use mqtt_proto::v5::PayloadFormat;
use mqtt_proto::{PacketId, QoS, Str, TopicName};
use mqtt_session::{Message, MessageProperties, StoreOp};

const PUBLISH: u8 = 1;
const ASSIGN: u8 = 2;
const RELEASE: u8 = 3;
const COMPLETE: u8 = 4;
const INBOUND_RECEIVED: u8 = 5;
const INBOUND_RELEASED: u8 = 6;
const INBOUND_CLEARED: u8 = 7;
const PUBLISH_V5: u8 = 8;

// Which optional properties a `PUBLISH_V5` record holds.
const HAS_FORMAT: u8 = 1;
const HAS_EXPIRY: u8 = 2;
const HAS_CONTENT_TYPE: u8 = 4;
const HAS_RESPONSE_TOPIC: u8 = 8;
const HAS_CORRELATION: u8 = 16;

/// Bytes before a record's body.
pub(crate) const HEADER: usize = 8;

/// Appends `op` as one record; false (and nothing appended) for an entry this
/// version of the format has no tag for.
pub(crate) fn encode(op: &StoreOp, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    match op {
        StoreOp::Publish { op, message } => {
            out.put_u8(if message.properties.is_some() {
                PUBLISH_V5
            } else {
                PUBLISH
            });
            out.put_u64_le(*op);
            out.put_u8(match message.qos {
                QoS::AtMostOnce => 0,
                QoS::AtLeastOnce => 1,
                QoS::ExactlyOnce => 2,
            });
            out.put_u8(u8::from(message.retain));
            let topic = message.topic.as_bytes();
            out.put_u16_le(topic.len() as u16);
            out.extend_from_slice(topic);
            out.put_u32_le(message.payload.len() as u32);
            out.extend_from_slice(&message.payload);
            if let Some(p) = &message.properties {
                put_properties(p, out);
            }
        }
        StoreOp::Assign { op, packet_id } => {
            out.put_u8(ASSIGN);
            out.put_u64_le(*op);
            out.put_u16_le(packet_id.get());
        }
        StoreOp::Release { op } => {
            out.put_u8(RELEASE);
            out.put_u64_le(*op);
        }
        StoreOp::Complete { op } => {
            out.put_u8(COMPLETE);
            out.put_u64_le(*op);
        }
        StoreOp::InboundReceived { packet_id } => {
            out.put_u8(INBOUND_RECEIVED);
            out.put_u16_le(packet_id.get());
        }
        StoreOp::InboundReleased { packet_id } => {
            out.put_u8(INBOUND_RELEASED);
            out.put_u16_le(packet_id.get());
        }
        StoreOp::InboundCleared => out.put_u8(INBOUND_CLEARED),
        // An entry of a later version needs a tag of its own: never written as another.
        _ => {
            out.truncate(start);
            return false;
        }
    }
    let body = &out[start + HEADER..];
    let (len, crc) = (body.len() as u32, crc32(body));
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
    true
}

/// What is at the front of `buf`.
pub(crate) enum Decoded {
    /// A whole, valid record: the entry and the bytes it took.
    Op(StoreOp, usize),
    /// The buffer ends inside a record (a write cut short by a crash, if last).
    Incomplete,
    /// A whole record whose checksum or contents are wrong.
    Invalid,
}

/// Decodes the record at the front of `buf`.
pub(crate) fn decode(buf: &[u8]) -> Decoded {
    if buf.len() < HEADER {
        return Decoded::Incomplete;
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let Some(body) = buf.get(HEADER..HEADER + len) else {
        return Decoded::Incomplete;
    };
    if crc32(body) != crc {
        return Decoded::Invalid;
    }
    match body_op(body) {
        Some(op) => Decoded::Op(op, HEADER + len),
        None => Decoded::Invalid,
    }
}

/// The 5.0 properties of a message: a presence byte, the optional ones, the user
/// properties (a count, then name and value pairs); strings u16-prefixed.
fn put_properties(p: &MessageProperties, out: &mut Vec<u8>) {
    let mut has = 0;
    for (bit, set) in [
        (HAS_FORMAT, p.payload_format_indicator.is_some()),
        (HAS_EXPIRY, p.message_expiry_interval.is_some()),
        (HAS_CONTENT_TYPE, p.content_type.is_some()),
        (HAS_RESPONSE_TOPIC, p.response_topic.is_some()),
        (HAS_CORRELATION, p.correlation_data.is_some()),
    ] {
        if set {
            has |= bit;
        }
    }
    out.put_u8(has);
    if let Some(f) = p.payload_format_indicator {
        out.put_u8(f as u8);
    }
    if let Some(e) = p.message_expiry_interval {
        out.put_u32_le(e);
    }
    let put_str = |b: &[u8], out: &mut Vec<u8>| {
        // Strings and binary fields of MQTT are at most 65,535 bytes (the session
        // refuses longer ones), so the prefix holds them.
        out.put_u16_le(b.len() as u16);
        out.extend_from_slice(b);
    };
    if let Some(c) = &p.content_type {
        put_str(c.as_bytes(), out);
    }
    if let Some(t) = &p.response_topic {
        put_str(t.as_bytes(), out);
    }
    if let Some(d) = &p.correlation_data {
        put_str(d, out);
    }
    out.put_u32_le(p.user_properties.len() as u32);
    for (k, v) in &p.user_properties {
        put_str(k.as_bytes(), out);
        put_str(v.as_bytes(), out);
    }
}

fn take_properties(b: &mut &[u8]) -> Option<MessageProperties> {
    let has = take_u8(b)?;
    let mut p = MessageProperties::default();
    if has & HAS_FORMAT != 0 {
        p.payload_format_indicator = Some(match take_u8(b)? {
            0 => PayloadFormat::Unspecified,
            1 => PayloadFormat::Utf8,
            _ => return None,
        });
    }
    if has & HAS_EXPIRY != 0 {
        p.message_expiry_interval = Some(take_u32(b)?);
    }
    if has & HAS_CONTENT_TYPE != 0 {
        p.content_type = Some(take_str(b)?);
    }
    if has & HAS_RESPONSE_TOPIC != 0 {
        let t = take_prefixed(b)?;
        p.response_topic = Some(TopicName::from_string(String::from_utf8(t.to_vec()).ok()?).ok()?);
    }
    if has & HAS_CORRELATION != 0 {
        p.correlation_data = Some(Bytes::copy_from_slice(take_prefixed(b)?));
    }
    let users = take_u32(b)? as usize;
    for _ in 0..users {
        let k = take_str(b)?;
        let v = take_str(b)?;
        p.user_properties.push((k, v));
    }
    Some(p)
}

fn take_prefixed<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = take_u16(b)? as usize;
    take_bytes(b, n)
}

fn take_str(b: &mut &[u8]) -> Option<Str<Bytes>> {
    let s = take_prefixed(b)?;
    Str::from_string(String::from_utf8(s.to_vec()).ok()?).ok()
}

fn body_op(mut b: &[u8]) -> Option<StoreOp> {
    let tag = take_u8(&mut b)?;
    let op = match tag {
        PUBLISH | PUBLISH_V5 => {
            let op = take_u64(&mut b)?;
            let qos = match take_u8(&mut b)? {
                1 => QoS::AtLeastOnce,
                2 => QoS::ExactlyOnce,
                _ => return None, // QoS 0 is never stored
            };
            let retain = take_u8(&mut b)? != 0;
            let topic_len = take_u16(&mut b)? as usize;
            let topic = take_bytes(&mut b, topic_len)?;
            let topic = TopicName::from_string(String::from_utf8(topic.to_vec()).ok()?).ok()?;
            let payload_len = take_u32(&mut b)? as usize;
            let payload = Bytes::copy_from_slice(take_bytes(&mut b, payload_len)?);
            let mut message = Message::new(topic, payload, qos);
            message.retain = retain;
            if tag == PUBLISH_V5 {
                message = message.with_properties(take_properties(&mut b)?);
            }
            StoreOp::Publish { op, message }
        }
        ASSIGN => StoreOp::Assign {
            op: take_u64(&mut b)?,
            packet_id: PacketId::new(take_u16(&mut b)?)?,
        },
        RELEASE => StoreOp::Release {
            op: take_u64(&mut b)?,
        },
        COMPLETE => StoreOp::Complete {
            op: take_u64(&mut b)?,
        },
        INBOUND_RECEIVED => StoreOp::InboundReceived {
            packet_id: PacketId::new(take_u16(&mut b)?)?,
        },
        INBOUND_RELEASED => StoreOp::InboundReleased {
            packet_id: PacketId::new(take_u16(&mut b)?)?,
        },
        INBOUND_CLEARED => StoreOp::InboundCleared,
        _ => return None,
    };
    b.is_empty().then_some(op)
}

fn take_bytes<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    Some(head)
}

fn take_u8(b: &mut &[u8]) -> Option<u8> {
    (b.remaining() >= 1).then(|| b.get_u8())
}

fn take_u16(b: &mut &[u8]) -> Option<u16> {
    (b.remaining() >= 2).then(|| b.get_u16_le())
}

fn take_u32(b: &mut &[u8]) -> Option<u32> {
    (b.remaining() >= 4).then(|| b.get_u32_le())
}

fn take_u64(b: &mut &[u8]) -> Option<u64> {
    (b.remaining() >= 8).then(|| b.get_u64_le())
}

/// CRC-32 (IEEE 802.3, reflected), bitwise over a nibble table: small and fast
/// enough for a journal whose cost is the fsync.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 16] = {
        let mut t = [0u32; 16];
        let mut i = 0;
        while i < 16 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 4 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = !0u32;
    for &byte in data {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xF) as usize] ^ (crc >> 4);
        crc = TABLE[((crc ^ (u32::from(byte) >> 4)) & 0xF) as usize] ^ (crc >> 4);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    fn ops() -> Vec<StoreOp> {
        let topic = TopicName::from_string("a/b".into()).unwrap();
        let mut m = Message::new(
            topic.clone(),
            Bytes::from_static(b"payload"),
            QoS::ExactlyOnce,
        );
        m.retain = true;
        let s = |v: &'static str| Str::from_static(v).unwrap();
        let v5 = Message::new(topic.clone(), Bytes::from_static(b"{}"), QoS::AtLeastOnce)
            .with_properties(MessageProperties {
                payload_format_indicator: Some(PayloadFormat::Utf8),
                message_expiry_interval: Some(3600),
                content_type: Some(s("application/json")),
                response_topic: Some(TopicName::from_static("re/1").unwrap()),
                correlation_data: Some(Bytes::from_static(b"\x00id")),
                user_properties: vec![(s("k"), s("v")), (s("k"), s("w"))],
            });
        let v5_empty = Message::new(topic, Bytes::new(), QoS::AtLeastOnce)
            .with_properties(MessageProperties::default());
        vec![
            StoreOp::Publish { op: 7, message: m },
            StoreOp::Publish { op: 8, message: v5 },
            StoreOp::Publish {
                op: 9,
                message: v5_empty,
            },
            StoreOp::Assign {
                op: 7,
                packet_id: PacketId::new(65_535).unwrap(),
            },
            StoreOp::Release { op: 7 },
            StoreOp::Complete { op: u64::MAX },
            StoreOp::InboundReceived {
                packet_id: PacketId::new(1).unwrap(),
            },
            StoreOp::InboundReleased {
                packet_id: PacketId::new(2).unwrap(),
            },
            StoreOp::InboundCleared,
        ]
    }

    #[test]
    fn every_entry_roundtrips() {
        let mut wire = Vec::new();
        for op in ops() {
            assert!(encode(&op, &mut wire));
        }
        let mut rest = &wire[..];
        let mut back = Vec::new();
        while !rest.is_empty() {
            match decode(rest) {
                Decoded::Op(op, n) => {
                    back.push(op);
                    rest = &rest[n..];
                }
                _ => panic!("bad record"),
            }
        }
        assert_eq!(back, ops());
    }

    /// A record in the format written before 5.0 (a message without properties) still
    /// loads, and a message without properties is still written that way.
    #[test]
    fn records_of_the_first_format_still_load() {
        let body: &[u8] = b"\x01\x07\0\0\0\0\0\0\0\x02\x01\x03\0a/b\x02\0\0\0hi";
        let mut wire = (body.len() as u32).to_le_bytes().to_vec();
        wire.extend_from_slice(&crc32(body).to_le_bytes());
        wire.extend_from_slice(body);
        let mut m = Message::new(
            TopicName::from_static("a/b").unwrap(),
            Bytes::from_static(b"hi"),
            QoS::ExactlyOnce,
        );
        m.retain = true;
        let op = StoreOp::Publish { op: 7, message: m };
        match decode(&wire) {
            Decoded::Op(got, n) => assert_eq!((got, n), (op.clone(), wire.len())),
            _ => panic!("not loaded"),
        }
        let mut again = Vec::new();
        assert!(encode(&op, &mut again));
        assert_eq!(again, wire);
    }

    #[test]
    fn a_cut_record_is_incomplete_and_a_flipped_bit_invalid() {
        let mut wire = Vec::new();
        assert!(encode(&ops()[0], &mut wire));
        for cut in 0..wire.len() {
            assert!(matches!(decode(&wire[..cut]), Decoded::Incomplete), "{cut}");
        }
        for i in HEADER..wire.len() {
            let mut bad = wire.clone();
            bad[i] ^= 0x10;
            assert!(matches!(decode(&bad), Decoded::Invalid), "{i}");
        }
    }
}
