//! proptest strategies for valid packets (feature `proptest`).
//!
//! Every value is a valid packet: encoding it and decoding the bytes gives it back.
//! Use them to property-test code that consumes or produces MQTT packets.
//!
//! ```
//! use proptest::prelude::*;
//! use mqtt_proto::{decode_buf, strategy, DecodeOptions};
//!
//! proptest!(|(packet in strategy::packet())| {
//!     let mut buf = bytes::BytesMut::new();
//!     packet.encode_to(&mut buf).unwrap();
//!     let decoded = decode_buf(&mut buf, &DecodeOptions::default()).unwrap().unwrap();
//!     prop_assert_eq!(decoded, packet);
//! });
//! ```

pub mod v5;

use alloc::string::String;
#[allow(unused_imports)] // prop_oneof! expands to vec![]
use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use crate::packet::{List, Suback, Subscribe, Unsubscribe};
use crate::valid::{self, ConnectParts};
use crate::{
    Connack, Connect, Packet, PacketId, Publish, QoS, QosPid, Str, SubackReturnCode, TopicFilter,
    TopicName,
};

/// Text that exercises the string rules: ASCII, topic punctuation, multi-byte
/// characters, U+FEFF; U+0000 is removed afterwards.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9_]{0,12}",
        1 => "[a-z/+#$ ]{0,8}",
        1 => "\\PC{0,6}",
        1 => Just(String::from("\u{feff}é中😀")),
    ]
}

/// A valid MQTT string.
pub fn string() -> impl Strategy<Value = Str<Bytes>> {
    text().prop_map(|s| valid::string(&s))
}

/// A valid topic name (no wildcards, not empty).
pub fn topic_name() -> impl Strategy<Value = TopicName<Bytes>> {
    vec(text(), 1..5).prop_map(|l| valid::topic_name(&l))
}

/// A valid topic filter, with `+` and `#` in allowed places.
pub fn topic_filter() -> impl Strategy<Value = TopicFilter<Bytes>> {
    (vec((any::<u8>(), text()), 0..5), any::<bool>())
        .prop_map(|(l, multi)| valid::topic_filter(&l, multi))
}

/// A packet identifier (never zero).
pub fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(valid::packet_id)
}

/// A QoS level.
pub fn qos() -> impl Strategy<Value = QoS> {
    (0u8..3).prop_map(valid::qos)
}

/// A QoS with a packet identifier where it needs one.
pub fn qos_pid() -> impl Strategy<Value = QosPid> {
    (0u8..3, any::<u16>()).prop_map(|(q, p)| valid::qos_pid(q, p))
}

fn payload(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// A PUBLISH with a payload of up to 1 KiB.
pub fn publish() -> impl Strategy<Value = Publish<Bytes>> {
    (
        any::<bool>(),
        qos_pid(),
        any::<bool>(),
        topic_name(),
        payload(1024),
    )
        .prop_map(|(dup, qos_pid, retain, topic, payload)| Publish {
            dup: valid::dup(dup, qos_pid),
            qos_pid,
            retain,
            topic,
            payload,
        })
}

/// A CONNECT, with or without will and credentials.
pub fn connect() -> impl Strategy<Value = Connect<Bytes>> {
    let will = option::of((
        vec(text(), 1..4),
        vec(any::<u8>(), 0..64),
        0u8..3,
        any::<bool>(),
    ));
    (
        any::<bool>(),
        any::<u16>(),
        text(),
        will,
        option::of(text()),
        option::of(vec(any::<u8>(), 0..32)),
    )
        .prop_map(
            |(clean_session, keep_alive, client_id, will, username, password)| {
                valid::connect(ConnectParts {
                    clean_session,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                })
            },
        )
}

/// A CONNACK that obeys [MQTT-3.2.2-4].
pub fn connack() -> impl Strategy<Value = Connack> {
    (any::<bool>(), 0u8..6).prop_map(|(sp, code)| valid::connack(sp, code))
}

/// A SUBSCRIBE with one to four filters.
pub fn subscribe() -> impl Strategy<Value = Subscribe<Bytes>> {
    (packet_id(), vec((topic_filter(), qos()), 1..5)).prop_map(|(packet_id, items)| Subscribe {
        packet_id,
        filters: List::from_items(&items).expect("non-empty"),
    })
}

/// A SUBACK with one to eight return codes.
pub fn suback() -> impl Strategy<Value = Suback<Bytes>> {
    (
        packet_id(),
        vec(any::<u8>().prop_map(valid::suback_code), 1..9),
    )
        .prop_map(
            |(packet_id, codes): (PacketId, Vec<SubackReturnCode>)| Suback {
                packet_id,
                codes: List::from_codes(&codes).expect("non-empty"),
            },
        )
}

/// An UNSUBSCRIBE with one to four filters.
pub fn unsubscribe() -> impl Strategy<Value = Unsubscribe<Bytes>> {
    (packet_id(), vec(topic_filter(), 1..5)).prop_map(|(packet_id, items)| Unsubscribe {
        packet_id,
        filters: List::from_items(&items).expect("non-empty"),
    })
}

/// Any valid MQTT 3.1.1 packet.
pub fn packet() -> impl Strategy<Value = Packet<Bytes>> {
    prop_oneof![
        1 => connect().prop_map(Packet::Connect),
        1 => connack().prop_map(Packet::Connack),
        3 => publish().prop_map(Packet::Publish),
        1 => packet_id().prop_map(Packet::Puback),
        1 => packet_id().prop_map(Packet::Pubrec),
        1 => packet_id().prop_map(Packet::Pubrel),
        1 => packet_id().prop_map(Packet::Pubcomp),
        1 => subscribe().prop_map(Packet::Subscribe),
        1 => suback().prop_map(Packet::Suback),
        1 => unsubscribe().prop_map(Packet::Unsubscribe),
        1 => packet_id().prop_map(Packet::Unsuback),
        1 => Just(Packet::Pingreq),
        1 => Just(Packet::Pingresp),
        1 => Just(Packet::Disconnect),
    ]
}
