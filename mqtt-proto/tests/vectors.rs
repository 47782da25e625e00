//! Byte-exact vectors for every MQTT 3.1.1 packet type, both directions: the packet
//! encodes to exactly these bytes, and these bytes decode to exactly the packet, on
//! the borrowed path and on the `BytesMut` path.

use bytes::{Bytes, BytesMut};
use mqtt_proto::*;

fn pid(v: u16) -> PacketId {
    PacketId::new(v).unwrap()
}

fn check(packet: Packet<&[u8]>, bytes: &[u8]) {
    let opts = DecodeOptions::default();
    // Encode into a slice, exactly sized.
    let mut out = vec![0u8; bytes.len()];
    assert_eq!(packet.encode(&mut out), Ok(bytes.len()), "{packet:?}");
    assert_eq!(out, bytes, "encode {packet:?}");
    assert_eq!(packet.encoded_len(), Ok(bytes.len()));
    // Encode into a BufMut.
    let mut buf = BytesMut::new();
    packet.encode_to(&mut buf).unwrap();
    assert_eq!(&buf[..], bytes);
    // Decode, borrowed.
    let (decoded, used) = decode(bytes, &opts).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(decoded, packet, "decode {bytes:02x?}");
    // Decode from BytesMut into Bytes storage.
    let mut rb = BytesMut::from(bytes);
    let owned = decode_buf(&mut rb, &opts).unwrap().unwrap();
    assert!(rb.is_empty());
    assert_eq!(owned.as_borrowed(), packet);
    // And the copying conversion agrees.
    assert_eq!(packet.to_bytes(), owned);
    // The one-reference-per-packet path agrees too.
    let mut rb = BytesMut::from(bytes);
    match decode_frame_buf(&mut rb, &opts).unwrap().unwrap() {
        Frame::Publish(f) => {
            assert_eq!(Packet::Publish(f.as_publish()), packet);
            assert_eq!(Packet::Publish(f.to_publish()), owned);
            assert_eq!(f.payload_bytes(), owned_payload(&owned));
        }
        Frame::Short(p) => assert_eq!(Packet::from(p), owned),
        Frame::Packet(p) => {
            assert!(matches!(
                *p,
                Packet::Connect(_)
                    | Packet::Subscribe(_)
                    | Packet::Suback(_)
                    | Packet::Unsubscribe(_)
            ));
            assert_eq!(*p, owned)
        }
    }
    assert!(rb.is_empty());
}

fn owned_payload(p: &Packet<Bytes>) -> Bytes {
    match p {
        Packet::Publish(p) => p.payload.clone(),
        _ => Bytes::new(),
    }
}

#[test]
fn connect_minimal() {
    let c = Connect::new(Str::new("abc").unwrap(), 60, true);
    check(
        Packet::Connect(c),
        b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03abc",
    );
}

#[test]
fn connect_with_will_and_credentials() {
    let c = Connect {
        protocol: ProtocolVersion::V311,
        clean_session: false,
        keep_alive: 10,
        client_id: Str::new("c").unwrap(),
        will: Some(LastWill {
            topic: TopicName::new("w").unwrap(),
            message: &b"bye"[..],
            qos: QoS::AtLeastOnce,
            retain: true,
        }),
        username: Some(Str::new("u").unwrap()),
        password: Some(&b"p"[..]),
    };
    check(
        Packet::Connect(c),
        b"\x10\x1b\x00\x04MQTT\x04\xec\x00\x0a\x00\x01c\x00\x01w\x00\x03bye\x00\x01u\x00\x01p",
    );
}

#[test]
fn connect_will_qos2_without_retain() {
    let c = Connect {
        will: Some(LastWill {
            topic: TopicName::new("w").unwrap(),
            message: &b""[..],
            qos: QoS::ExactlyOnce,
            retain: false,
        }),
        ..Connect::new(Str::new("").unwrap(), 0, true)
    };
    // flags: will 0x04 | will QoS 2 0x10 | clean 0x02
    check(
        Packet::Connect(c),
        b"\x10\x11\x00\x04MQTT\x04\x16\x00\x00\x00\x00\x00\x01w\x00\x00",
    );
}

#[test]
fn connack() {
    check(
        Packet::Connack(Connack {
            session_present: true,
            code: ConnectReturnCode::Accepted,
        }),
        b"\x20\x02\x01\x00",
    );
    let codes = [
        (ConnectReturnCode::UnacceptableProtocolVersion, 1u8),
        (ConnectReturnCode::IdentifierRejected, 2),
        (ConnectReturnCode::ServerUnavailable, 3),
        (ConnectReturnCode::BadUserNameOrPassword, 4),
        (ConnectReturnCode::NotAuthorized, 5),
    ];
    for (code, byte) in codes {
        check(
            Packet::Connack(Connack {
                session_present: false,
                code,
            }),
            &[0x20, 2, 0, byte],
        );
    }
}

#[test]
fn publish_qos0() {
    let p = Publish::new(
        TopicName::new("a/b").unwrap(),
        QosPid::AtMostOnce,
        &b"hi"[..],
    );
    check(Packet::Publish(p), b"\x30\x07\x00\x03a/bhi");
}

#[test]
fn publish_qos1_dup_retain() {
    let p = Publish {
        dup: true,
        qos_pid: QosPid::AtLeastOnce(pid(10)),
        retain: true,
        topic: TopicName::new("a/b").unwrap(),
        payload: &b"x"[..],
    };
    check(Packet::Publish(p), b"\x3b\x08\x00\x03a/b\x00\x0ax");
}

#[test]
fn publish_qos2_empty_payload() {
    let p = Publish::new(
        TopicName::new("t").unwrap(),
        QosPid::ExactlyOnce(pid(0x1234)),
        &b""[..],
    );
    check(Packet::Publish(p), b"\x34\x05\x00\x01t\x12\x34");
}

#[test]
fn publish_with_two_byte_remaining_length() {
    let payload = [0xabu8; 200];
    let p = Publish::new(
        TopicName::new("t").unwrap(),
        QosPid::AtMostOnce,
        &payload[..],
    );
    let mut expected = vec![0x30, 0xcb, 0x01, 0x00, 0x01, b't']; // 203 = 0xcb 0x01
    expected.extend_from_slice(&payload);
    check(Packet::Publish(p), &expected);
}

#[test]
fn acks() {
    check(Packet::Puback(pid(7)), b"\x40\x02\x00\x07");
    check(Packet::Pubrec(pid(0x0102)), b"\x50\x02\x01\x02");
    check(Packet::Pubrel(pid(0xffff)), b"\x62\x02\xff\xff");
    check(Packet::Pubcomp(pid(1)), b"\x70\x02\x00\x01");
    check(Packet::Unsuback(pid(2)), b"\xb0\x02\x00\x02");
}

#[test]
fn subscribe() {
    let items = [
        (TopicFilter::new("a/+").unwrap(), QoS::AtLeastOnce),
        (TopicFilter::new("#").unwrap(), QoS::ExactlyOnce),
    ];
    let mut scratch = [0u8; 32];
    let filters = SubscribeFilters::write_into(&items, &mut scratch).unwrap();
    let s = Subscribe {
        packet_id: pid(1),
        filters,
    };
    check(
        Packet::Subscribe(s.clone()),
        b"\x82\x0c\x00\x01\x00\x03a/+\x01\x00\x01#\x02",
    );
    let listed: Vec<_> = s.filters.iter().collect();
    assert_eq!(listed, items.to_vec());
}

#[test]
fn suback() {
    let codes = [
        SubackReturnCode::Success(QoS::AtMostOnce),
        SubackReturnCode::Success(QoS::AtLeastOnce),
        SubackReturnCode::Success(QoS::ExactlyOnce),
        SubackReturnCode::Failure,
    ];
    let owned = SubackCodes::from_codes(&codes).unwrap();
    let s = Suback {
        packet_id: pid(1),
        codes: owned.as_borrowed(),
    };
    check(Packet::Suback(s), b"\x90\x06\x00\x01\x00\x01\x02\x80");
    assert_eq!(owned.iter().collect::<Vec<_>>(), codes.to_vec());
}

#[test]
fn unsubscribe() {
    let items = [
        TopicFilter::new("a/b").unwrap(),
        TopicFilter::new("c/#").unwrap(),
    ];
    let owned: UnsubscribeFilters<Bytes> = UnsubscribeFilters::from_items(&items).unwrap();
    let u = Unsubscribe {
        packet_id: pid(2),
        filters: owned.as_borrowed(),
    };
    check(
        Packet::Unsubscribe(u),
        b"\xa2\x0c\x00\x02\x00\x03a/b\x00\x03c/#",
    );
}

#[test]
fn empty_packets() {
    check(Packet::Pingreq, b"\xc0\x00");
    check(Packet::Pingresp, b"\xd0\x00");
    check(Packet::Disconnect, b"\xe0\x00");
}

#[test]
fn publish_header_only_leaves_the_payload_out() {
    let payload = Bytes::from_static(b"payload bytes");
    let p = Publish::new(
        TopicName::from_static("a/b").unwrap(),
        QosPid::AtLeastOnce(pid(5)),
        payload.clone(),
    );
    let mut head = BytesMut::new();
    p.encode_header(&mut head).unwrap();
    let mut whole = BytesMut::new();
    Packet::Publish(p.clone()).encode_to(&mut whole).unwrap();
    assert_eq!(&whole[..head.len()], &head[..]);
    assert_eq!(&whole[head.len()..], &payload[..]);
    assert_eq!(p.encoded_len(), Ok(whole.len()));
}

#[test]
fn decoded_publish_shares_the_read_buffer() {
    let mut buf = BytesMut::from(&b"\x30\x07\x00\x03a/bhi"[..]);
    let base = buf.as_ptr() as usize;
    let Some(Packet::Publish(p)) = decode_buf(&mut buf, &DecodeOptions::default()).unwrap() else {
        panic!("not a publish");
    };
    // Views into the original allocation: topic at offset 4, payload at 7.
    assert_eq!(p.topic.as_bytes().as_ptr() as usize, base + 4);
    assert_eq!(p.payload.as_ptr() as usize, base + 7);
}

#[test]
fn debug_never_shows_the_password() {
    let c = Connect {
        username: Some(Str::new("user").unwrap()),
        password: Some(&b"hunter2"[..]),
        ..Connect::new(Str::new("id").unwrap(), 30, true)
    };
    let shown = format!("{c:?} {:?}", Packet::Connect(c.clone()));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("redacted"));
}
