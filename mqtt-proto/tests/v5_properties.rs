//! MQTT 5.0 property tests: roundtrips, streaming at any split, hostile bytes, and
//! property blocks read back the same through every accessor.

use bytes::{Bytes, BytesMut};
use mqtt_proto::v5::{self, Packet, Property, PropertyId};
use mqtt_proto::{strategy, DecodeError, DecodeOptions, EncodeError};
use proptest::collection::vec;
use proptest::prelude::*;

fn encode_all(packets: &[Packet<Bytes>]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for p in packets {
        p.encode_to(&mut buf).unwrap();
    }
    buf.to_vec()
}

/// Every property of a block through the accessor for its identifier: the first of
/// each identifier, and all of the repeatable ones.
fn accessors_agree<S, K>(props: &v5::Properties<S, K>) -> Result<(), TestCaseError>
where
    S: mqtt_proto::Storage + PartialEq + std::fmt::Debug,
    K: v5::PropertyKind,
{
    let all: Vec<Property<S>> = props.iter().collect();
    prop_assert_eq!(all.len(), props.len());
    for id in PropertyId::ALL {
        let first = all.iter().find(|p| p.id() == id).cloned();
        prop_assert_eq!(props.get(id), first);
    }
    let users: Vec<_> = all
        .iter()
        .filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect();
    prop_assert_eq!(props.user_properties().collect::<Vec<_>>(), users);
    let ids: Vec<_> = all
        .iter()
        .filter_map(|p| match p {
            Property::SubscriptionIdentifier(v) => Some(*v),
            _ => None,
        })
        .collect();
    prop_assert_eq!(props.subscription_identifiers().collect::<Vec<_>>(), ids);
    prop_assert_eq!(
        props.topic_alias(),
        match props.get(PropertyId::TopicAlias) {
            Some(Property::TopicAlias(v)) => Some(v),
            _ => None,
        }
    );
    Ok(())
}

fn check_properties(p: &Packet<&[u8]>) -> Result<(), TestCaseError> {
    match p {
        Packet::Connect(c) => {
            accessors_agree(&c.properties)?;
            if let Some(w) = &c.will {
                accessors_agree(&w.properties)?;
            }
        }
        Packet::Connack(c) => accessors_agree(&c.properties)?,
        Packet::Publish(p) => accessors_agree(&p.properties)?,
        Packet::Puback(a) | Packet::Pubrec(a) => accessors_agree(&a.properties)?,
        Packet::Pubrel(a) | Packet::Pubcomp(a) => accessors_agree(&a.properties)?,
        Packet::Subscribe(s) => accessors_agree(&s.properties)?,
        Packet::Suback(s) => accessors_agree(&s.properties)?,
        Packet::Unsubscribe(u) => accessors_agree(&u.properties)?,
        Packet::Unsuback(u) => accessors_agree(&u.properties)?,
        Packet::Disconnect(d) => accessors_agree(&d.properties)?,
        Packet::Auth(a) => accessors_agree(&a.properties)?,
        Packet::Pingreq | Packet::Pingresp => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any valid 5.0 packet encodes, then decodes to itself, on every path.
    #[test]
    fn roundtrip(packet in strategy::v5::packet()) {
        let opts = DecodeOptions::v5();
        let len = packet.encoded_len().unwrap();
        let mut slice = vec![0u8; len];
        prop_assert_eq!(packet.encode(&mut slice), Ok(len));
        prop_assert_eq!(&slice[..], &encode_all(std::slice::from_ref(&packet))[..]);

        let (borrowed, used) = v5::decode(&slice, &opts).unwrap().unwrap();
        prop_assert_eq!(used, len);
        prop_assert_eq!(&borrowed, &packet.as_borrowed());
        check_properties(&borrowed)?;

        let mut buf = BytesMut::from(&slice[..]);
        let owned = v5::decode_buf(&mut buf, &opts).unwrap().unwrap();
        prop_assert_eq!(&owned, &packet);
        prop_assert!(buf.is_empty());
        prop_assert_eq!(borrowed.to_bytes(), owned);

        // Every strict prefix is "need more", never an error.
        for cut in 0..len {
            prop_assert_eq!(v5::decode(&slice[..cut], &opts), Ok(None));
        }
        // One byte short of room: the error names the size needed.
        let mut small = vec![0u8; len - 1];
        prop_assert_eq!(packet.encode(&mut small), Err(EncodeError::BufferTooSmall { needed: len }));

        // A PUBLISH's header-only encode is the packet without its payload.
        if let Packet::Publish(p) = &packet {
            let mut head = BytesMut::new();
            p.encode_header(&mut head).unwrap();
            prop_assert_eq!(&head[..], &slice[..len - p.payload.len()]);
            prop_assert_eq!(p.encoded_len(), Ok(len));
        }
    }

    /// A stream of valid packets cut into random chunks decodes to the same packets.
    #[test]
    fn stream_in_random_chunks(
        packets in vec(strategy::v5::packet(), 1..12),
        cuts in vec(any::<prop::sample::Index>(), 0..24),
    ) {
        let opts = DecodeOptions::v5();
        let wire = encode_all(&packets);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();

        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut from = 0;
        for to in points {
            buf.extend_from_slice(&wire[from..to]);
            from = to;
            while let Some(p) = v5::decode_buf(&mut buf, &opts).unwrap() {
                got.push(p);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, packets);
    }

    /// Arbitrary bytes never panic either decoder: each decode needs more, fails with
    /// a typed error, or yields a packet that re-encodes to one that decodes the same.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let opts = DecodeOptions { max_packet_size: 1024, ..DecodeOptions::v5() };
        let mut rest = &bytes[..];
        while let Ok(Some((packet, used))) = v5::decode(rest, &opts) {
            check_properties(&packet)?;
            let mut out = vec![0u8; packet.encoded_len().unwrap()];
            let n = packet.encode(&mut out).unwrap();
            let (again, m) = v5::decode(&out, &DecodeOptions::v5()).unwrap().unwrap();
            prop_assert_eq!((again, m), (packet, n));
            rest = &rest[used..];
        }
        let _ = mqtt_proto::decode(&bytes, &DecodeOptions::default());
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = v5::decode_buf(&mut buf, &opts) {}
    }

    /// Arbitrary bodies after every first byte, to get past the fixed header.
    #[test]
    fn arbitrary_bodies_never_panic(first in any::<u8>(), body in vec(any::<u8>(), 0..127)) {
        let mut bytes = vec![first, body.len() as u8];
        bytes.extend_from_slice(&body);
        let borrowed = v5::decode(&bytes, &DecodeOptions::v5());
        let mut buf = BytesMut::from(&bytes[..]);
        let owned = v5::decode_buf(&mut buf, &DecodeOptions::v5());
        prop_assert_eq!(
            borrowed.map(|p| p.map(|(p, _)| p.to_bytes())),
            owned
        );
    }

    /// Arbitrary property blocks in each kind of packet: no panic, and what decodes
    /// reads back the same through the accessors and re-encodes to the same block.
    #[test]
    fn arbitrary_property_blocks(
        first in prop::sample::select(vec![0x40u8, 0x50, 0x62, 0x70, 0xe0, 0xf0, 0x20, 0x30]),
        props in vec(
            prop_oneof![
                // Mostly known identifiers, with plausible values after them.
                4 => (prop::sample::select(PropertyId::ALL.to_vec()), vec(any::<u8>(), 0..6))
                    .prop_map(|(id, v)| [&[id as u8][..], &v].concat()),
                1 => vec(any::<u8>(), 1..4),
            ],
            0..6,
        ),
    ) {
        let block: Vec<u8> = props.concat();
        let head: &[u8] = match first {
            0x20 => b"\x00\x00",
            0x30 => b"\x00\x01t",
            0xe0 | 0xf0 => b"\x00",
            _ => b"\x00\x01\x00",
        };
        let head = if first == 0xf0 { &b"\x18"[..] } else { head };
        let mut body = head.to_vec();
        body.push(block.len() as u8);
        body.extend_from_slice(&block);
        let mut bytes = vec![first, body.len() as u8];
        bytes.extend_from_slice(&body);
        match v5::decode(&bytes, &DecodeOptions::v5()) {
            Ok(Some((p, _))) => {
                check_properties(&p)?;
                let mut out = vec![0u8; p.encoded_len().unwrap()];
                p.encode(&mut out).unwrap();
                prop_assert_eq!(v5::decode(&out, &DecodeOptions::v5()).unwrap().unwrap().0, p);
            }
            Ok(None) => prop_assert!(false, "complete packet"),
            Err(e) => prop_assert!(!matches!(e, DecodeError::UnexpectedPacketType(_)), "{:?}", e),
        }
    }
}

/// The two decoders are strangers to each other's packets where the versions differ,
/// and agree where they do not: a 3.1.1 packet that is also valid 5.0 (PINGREQ, or a
/// PUBACK in the two-byte form) decodes the same way.
#[test]
fn versions_meet_where_the_wire_is_the_same() {
    let opts = DecodeOptions::v5();
    assert!(matches!(
        v5::decode(b"\x40\x02\x00\x07", &opts).unwrap().unwrap().0,
        Packet::Puback(a) if a.packet_id.get() == 7 && a.properties.is_empty()
    ));
    assert_eq!(
        v5::decode(b"\xc0\x00", &opts).unwrap().unwrap().0,
        Packet::Pingreq
    );
    // A 3.1.1 PUBLISH is a malformed 5.0 one or a different one: its payload would be
    // read as properties.
    assert_eq!(
        v5::decode(b"\x30\x07\x00\x03a/bhi", &opts),
        Err(DecodeError::Truncated)
    );
}
