//! The PUBLISH fast path against the general path, on any bytes.
//!
//! `decode`, `decode_buf`, `decode_frame_buf` and `PublishFrame::decode` parse a
//! PUBLISH (first byte 0x30 to 0x3f) with one fused function. The general path is
//! `FixedHeader::decode` followed by `Packet::decode_frame`, which reads a PUBLISH
//! field by field with its own code. On every input both must give the same packet
//! (the same bytes of the input, not only equal ones), the same length, the same
//! error, and leave a read buffer in the same state.

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    decode, decode_buf, decode_frame_buf, DecodeError, DecodeOptions, FixedHeader, Frame, Packet,
    PacketType, PublishFrame,
};
use proptest::collection::vec;
use proptest::prelude::*;

type Decoded<'a> = Result<Option<(Packet<&'a [u8]>, usize)>, DecodeError>;

/// The general path: fixed header, then the packet's field-by-field parser.
fn general<'a>(buf: &'a [u8], opts: &DecodeOptions) -> Decoded<'a> {
    let Some(header) = FixedHeader::decode(buf, opts)? else {
        return Ok(None);
    };
    let len = header.packet_len();
    let Some(frame) = buf.get(..len) else {
        return Ok(None);
    };
    Packet::decode_frame(&frame, &header, opts).map(|p| Some((p, len)))
}

/// What a read buffer holds after one decode on the general path: the packet is
/// taken off once it is complete, whether or not it is valid.
fn left_after(buf: &[u8], opts: &DecodeOptions) -> usize {
    match FixedHeader::decode(buf, opts) {
        Ok(Some(h)) if buf.len() >= h.packet_len() => buf.len() - h.packet_len(),
        _ => buf.len(),
    }
}

/// Same packet and, for a PUBLISH, the very same bytes of the input.
fn same_publish_bytes(a: &Packet<&[u8]>, b: &Packet<&[u8]>) -> bool {
    match (a, b) {
        (Packet::Publish(a), Packet::Publish(b)) => {
            a.topic.as_bytes().as_ptr() == b.topic.as_bytes().as_ptr()
                && a.payload.as_ptr() == b.payload.as_ptr()
        }
        _ => true,
    }
}

fn check(bytes: &[u8], opts: &DecodeOptions) -> Result<(), TestCaseError> {
    let expected = general(bytes, opts);

    // Borrowed.
    let fast = decode(bytes, opts);
    prop_assert_eq!(&fast, &expected, "decode {:02x?}", bytes);
    if let (Ok(Some((a, _))), Ok(Some((b, _)))) = (&fast, &expected) {
        prop_assert!(same_publish_bytes(a, b), "decode {:02x?}", bytes);
    }
    let left = left_after(bytes, opts);

    // `BytesMut` -> `Packet<Bytes>`.
    let mut buf = BytesMut::from(bytes);
    let owned = decode_buf(&mut buf, opts);
    prop_assert_eq!(
        owned.as_ref().map(|p| p.as_ref().map(Packet::as_borrowed)),
        expected
            .as_ref()
            .map(|p| p.as_ref().map(|(p, _)| p.clone())),
        "decode_buf {:02x?}",
        bytes
    );
    prop_assert_eq!(&buf[..], &bytes[bytes.len() - left..], "decode_buf left");

    // `BytesMut` -> `Frame`.
    let mut buf = BytesMut::from(bytes);
    let framed = decode_frame_buf(&mut buf, opts).map(|f| {
        f.map(|f| match f {
            Frame::Publish(p) => {
                prop_assert_eq!(p.frame().len(), bytes.len() - left);
                Ok(Packet::Publish(p.to_publish()))
            }
            Frame::Short(p) => Ok(p.into()),
            Frame::Packet(p) => {
                // Only the packets that do not fit in a `ShortPacket` are boxed.
                prop_assert!(matches!(
                    *p,
                    Packet::Connect(_)
                        | Packet::Subscribe(_)
                        | Packet::Suback(_)
                        | Packet::Unsubscribe(_)
                ));
                Ok(*p)
            }
        })
    });
    let framed = match framed {
        Ok(Some(r)) => Ok(Some(r?)),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    prop_assert_eq!(
        framed.as_ref().map(|p| p.as_ref().map(Packet::as_borrowed)),
        expected
            .as_ref()
            .map(|p| p.as_ref().map(|(p, _)| p.clone())),
        "decode_frame_buf {:02x?}",
        bytes
    );
    prop_assert_eq!(
        &buf[..],
        &bytes[bytes.len() - left..],
        "decode_frame_buf left"
    );

    // `PublishFrame::decode` after the caller's own `FixedHeader::decode`.
    if let Ok(Some(header)) = FixedHeader::decode(bytes, opts) {
        if let Some(frame) = bytes.get(..header.packet_len()) {
            let got = PublishFrame::decode(Bytes::copy_from_slice(frame), &header)
                .map(|p| Packet::Publish(p.to_publish()));
            let want = Packet::<&[u8]>::decode_frame(&frame, &header, opts);
            if header.packet_type == PacketType::Publish {
                prop_assert_eq!(
                    got.as_ref().map(Packet::as_borrowed).map_err(|e| *e),
                    want,
                    "PublishFrame::decode {:02x?}",
                    bytes
                );
            } else {
                prop_assert_eq!(
                    got,
                    Err(DecodeError::UnexpectedPacketType(header.packet_type))
                );
            }
        }
    }
    Ok(())
}

/// Topic bytes from an alphabet that hits every rule: ASCII, the wildcards, U+0000,
/// bytes next to those (0x22, 0x2a, 0x2c, 0x03, 0x0b, 0xa3, 0xab), well-formed
/// multi-byte UTF-8 and stray high bytes.
fn topic_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        8 => (b'a'..=b'z').prop_map(|b| vec![b]),
        2 => Just(vec![b'/']),
        1 => Just(vec![b'+']),
        1 => Just(vec![b'#']),
        1 => Just(vec![0]),
        2 => prop::sample::select(vec![0x22u8, 0x2a, 0x2c, 0x03, 0x0b, 0xa3, 0xab, 0x7f])
            .prop_map(|b| vec![b]),
        2 => Just("é".as_bytes().to_vec()),
        1 => Just("😀".as_bytes().to_vec()),
        1 => any::<u8>().prop_map(|b| vec![b | 0x80]),
    ];
    // Mostly valid-looking names; up to 40 pieces crosses the 8- and 16-byte words.
    prop_oneof![
        6 => vec((b'a'..=b'z').prop_map(|b| vec![b]), 0..40),
        4 => vec(piece, 0..40),
    ]
    .prop_map(|pieces| pieces.concat())
}

/// The remaining length, encoded in one of several ways.
fn remaining_length(len: usize, how: u8, noise: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut v = len as u32;
    loop {
        let mut b = (v & 0x7f) as u8;
        v >>= 7;
        if v > 0 {
            b |= 0x80;
        }
        out.push(b);
        if v == 0 {
            break;
        }
    }
    match how {
        // Minimal.
        0..=5 => out,
        // Non-minimal: a continuation byte and a zero group, legal up to 4 bytes.
        6 => {
            if let Some(last) = out.last_mut() {
                *last |= 0x80;
            }
            out.push(0);
            out
        }
        // Five bytes.
        7 => vec![0xff, 0xff, 0xff, 0xff, 0x01],
        // Anything.
        _ => noise,
    }
}

/// Bytes shaped like a PUBLISH with every field possibly wrong.
fn publish_like() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..16,
        topic_bytes(),
        prop_oneof![4 => Just(0i32), 1 => -3i32..4],
        prop_oneof![1 => Just(0u16), 4 => any::<u16>()],
        vec(any::<u8>(), 0..24),
        (
            0u8..9,
            vec(any::<u8>(), 0..5),
            prop_oneof![4 => Just(0i32), 1 => -3i32..4],
        ),
        (any::<prop::sample::Index>(), 0u8..4, vec(any::<u8>(), 0..8)),
    )
        .prop_map(
            |(
                flags,
                topic,
                topic_delta,
                pid,
                payload,
                (how, noise, len_delta),
                (cut, ending, tail),
            )| {
                let mut body = Vec::new();
                let topic_len = (topic.len() as i32 + topic_delta).clamp(0, 65_535) as u16;
                body.extend_from_slice(&topic_len.to_be_bytes());
                body.extend_from_slice(&topic);
                if (flags >> 1) & 3 != 0 {
                    body.extend_from_slice(&pid.to_be_bytes());
                }
                body.extend_from_slice(&payload);
                let announced = (body.len() as i32 + len_delta).max(0) as usize;
                let mut bytes = vec![0x30 | flags];
                bytes.extend(remaining_length(announced, how, noise));
                bytes.extend_from_slice(&body);
                match ending {
                    // Cut anywhere: partial packets.
                    0 => bytes.truncate(cut.index(bytes.len() + 1)),
                    // More bytes after the packet (the next packet, or garbage).
                    1 => bytes.extend_from_slice(&tail),
                    _ => {}
                }
                bytes
            },
        )
}

fn options() -> impl Strategy<Value = DecodeOptions> {
    prop_oneof![
        3 => Just(DecodeOptions::default()),
        1 => (0u32..80).prop_map(DecodeOptions::with_max_packet_size),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn publish_like_bytes(bytes in publish_like(), opts in options()) {
        check(&bytes, &opts)?;
    }

    #[test]
    fn any_bytes(bytes in vec(any::<u8>(), 0..64), opts in options()) {
        check(&bytes, &opts)?;
    }

    #[test]
    fn any_bytes_after_a_publish_byte(
        first in 0x30u8..0x40,
        bytes in vec(any::<u8>(), 0..64),
        opts in options(),
    ) {
        let mut b = vec![first];
        b.extend_from_slice(&bytes);
        check(&b, &opts)?;
    }
}

/// Every error the fast path can give, each reached on purpose, on every path.
#[test]
fn each_publish_error_agrees() {
    let opts = DecodeOptions::default();
    let cases: &[(&[u8], DecodeError)] = &[
        (b"\x36\x05\x00\x01t\x00\x01", DecodeError::InvalidQos), // [MQTT-3.3.1-4]
        (b"\x38\x03\x00\x01t", DecodeError::DupWithQos0),        // [MQTT-3.3.1-2]
        (b"\x30\x01\x00", DecodeError::Truncated),               // topic length cut
        (b"\x30\x03\x00\x05t", DecodeError::Truncated),          // topic past the end
        (b"\x30\x02\x00\x00", DecodeError::EmptyTopic),          // [MQTT-4.7.3-1]
        (b"\x30\x04\x00\x02\xc3\x28", DecodeError::InvalidUtf8), // [MQTT-1.5.3-1]
        (b"\x30\x04\x00\x02a\x00", DecodeError::NullCharacter),  // [MQTT-1.5.3-2]
        (b"\x30\x04\x00\x02a+", DecodeError::WildcardInTopicName), // [MQTT-3.3.2-2]
        (b"\x30\x04\x00\x02#a", DecodeError::WildcardInTopicName),
        (b"\x32\x04\x00\x01tx", DecodeError::Truncated), // packet id cut
        (b"\x32\x05\x00\x01t\x00\x00", DecodeError::ZeroPacketId), // [MQTT-2.3.1-1]
        (b"\x34\x05\x00\x01t\x00\x00", DecodeError::ZeroPacketId),
        (
            b"\x30\xff\xff\xff\xff\x01",
            DecodeError::MalformedRemainingLength,
        ), // [MQTT-2.2.3]
    ];
    for &(bytes, e) in cases {
        assert_eq!(decode(bytes, &opts), Err(e), "{bytes:02x?}");
        assert_eq!(general(bytes, &opts), Err(e), "{bytes:02x?}");
        let mut buf = BytesMut::from(bytes);
        assert_eq!(decode_buf(&mut buf, &opts), Err(e), "{bytes:02x?}");
        let mut buf = BytesMut::from(bytes);
        assert_eq!(decode_frame_buf(&mut buf, &opts), Err(e), "{bytes:02x?}");
        check(bytes, &opts).unwrap();
    }
    // An invalid UTF-8 sequence is reported before a U+0000 or a wildcard after it.
    assert_eq!(
        decode(b"\x30\x05\x00\x03\xff\x00+", &opts),
        Err(DecodeError::InvalidUtf8)
    );
    // The size limit, from the fixed header alone.
    let small = DecodeOptions::with_max_packet_size(10);
    assert_eq!(
        decode(b"\x32\x7f", &small),
        Err(DecodeError::PacketTooLarge { size: 129, max: 10 })
    );
    check(b"\x32\x7f", &small).unwrap();
}
