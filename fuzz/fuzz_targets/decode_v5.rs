//! Arbitrary bytes through both MQTT 5.0 decoders: no panic, the two agree, the
//! properties read back the same through iteration and accessors, and whatever
//! decodes re-encodes to a packet that decodes to the same thing.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::v5::{self, Packet, Properties, PropertyId, PropertyKind};
use mqtt_proto::{DecodeOptions, Storage};

fn read_back<S: Storage + PartialEq + std::fmt::Debug, K: PropertyKind>(p: &Properties<S, K>) {
    let all: Vec<_> = p.iter().collect();
    for id in PropertyId::ALL {
        assert_eq!(p.get(id), all.iter().find(|q| q.id() == id).cloned());
    }
    assert_eq!(
        p.user_properties().count(),
        all.iter()
            .filter(|q| q.id() == PropertyId::UserProperty)
            .count()
    );
    assert_eq!(
        p.subscription_identifiers().count(),
        all.iter()
            .filter(|q| q.id() == PropertyId::SubscriptionIdentifier)
            .count()
    );
}

fn properties(p: &Packet<&[u8]>) {
    match p {
        Packet::Connect(c) => {
            read_back(&c.properties);
            if let Some(w) = &c.will {
                read_back(&w.properties);
            }
        }
        Packet::Connack(c) => read_back(&c.properties),
        Packet::Publish(p) => read_back(&p.properties),
        Packet::Puback(a) | Packet::Pubrec(a) => read_back(&a.properties),
        Packet::Pubrel(a) | Packet::Pubcomp(a) => read_back(&a.properties),
        Packet::Subscribe(s) => {
            read_back(&s.properties);
            assert!(s.filters.iter().count() > 0);
        }
        Packet::Suback(s) => read_back(&s.properties),
        Packet::Unsubscribe(u) => read_back(&u.properties),
        Packet::Unsuback(u) => read_back(&u.properties),
        Packet::Disconnect(d) => read_back(&d.properties),
        Packet::Auth(a) => read_back(&a.properties),
        Packet::Pingreq | Packet::Pingresp => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let opts = DecodeOptions {
        max_packet_size: 64 * 1024,
        ..DecodeOptions::v5()
    };
    let mut rest = data;
    let mut buf = BytesMut::from(data);
    loop {
        let borrowed = v5::decode(rest, &opts);
        let owned = v5::decode_buf(&mut buf, &opts);
        match (borrowed, owned) {
            (Ok(Some((p, used))), Ok(Some(o))) => {
                assert_eq!(p, o.as_borrowed());
                assert_eq!(p.to_bytes(), o);
                rest = &rest[used..];
                properties(&p);
                let len = p.encoded_len().expect("a decoded packet encodes");
                let mut out = vec![0u8; len];
                assert_eq!(p.encode(&mut out), Ok(len));
                let (again, n) = v5::decode(&out, &opts).unwrap().unwrap();
                assert_eq!(n, out.len());
                assert_eq!(again, p);
            }
            (Ok(None), Ok(None)) => break,
            (Err(a), Err(b)) => {
                assert_eq!(a, b);
                break;
            }
            (a, b) => panic!("decoders disagree: {a:?} vs {b:?}"),
        }
    }
});
