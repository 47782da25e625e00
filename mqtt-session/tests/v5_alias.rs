//! MQTT 5.0 topic aliases both ways: automatic outgoing aliases within the server's
//! maximum, the server's aliases resolved, each table living for one connection.

mod common;

use std::collections::HashMap;

use bytes::Bytes;
use common::v5::*;
use common::*;
use core::num::{NonZeroU16, NonZeroU32};
use mqtt_proto::v5::{DisconnectReasonCode, PropertyId, PropertyValues, PubackReasonCode};
use mqtt_proto::{DecodeError, QoS, QosPid};
use mqtt_session::{DisconnectReason, Event, ProtocolError, Session, State};

fn aliases(n: u16) -> PropertyValues<'static> {
    PropertyValues {
        topic_alias_maximum: Some(n),
        ..PropertyValues::default()
    }
}

/// The broker's side of the outgoing aliases: resolves every PUBLISH, checking the
/// rules as it goes, and returns (resolved topic, alias used, topic name sent).
#[derive(Default)]
struct Resolver {
    max: u16,
    map: HashMap<u16, String>,
}

impl Resolver {
    fn resolve(&mut self, packets: &[P5<Bytes>]) -> Vec<(String, Option<u16>, bool)> {
        packets
            .iter()
            .filter_map(|p| match p {
                P5::Publish(p) => Some(p),
                _ => None,
            })
            .map(|p| {
                let alias = p.properties.topic_alias().map(|a| a.get());
                let topic = match (&p.topic, alias) {
                    (Some(t), Some(a)) => {
                        // [MQTT-3.3.2-9], [MQTT-3.2.2-17]: 1 to the server's maximum.
                        assert!(a >= 1 && a <= self.max, "alias {a} above {}", self.max);
                        self.map.insert(a, t.as_str().to_owned());
                        t.as_str().to_owned()
                    }
                    (Some(t), None) => t.as_str().to_owned(),
                    (None, Some(a)) => self.map.get(&a).expect("alias never set").clone(),
                    (None, None) => panic!("no topic"),
                };
                (topic, alias, p.topic.is_some())
            })
            .collect()
    }
}

fn publish(s: &mut Session, topic_name: &str) {
    s.publish(t(1), msg(topic_name, b"x", QoS::AtMostOnce))
        .unwrap();
}

// Section 3.3.2.3.4, [MQTT-3.3.2-9], [MQTT-3.2.2-17]: a topic's first message
// assigns an alias (name and alias), later ones send the alias alone; once all are
// taken the least recently used one is reassigned.
#[test]
fn outgoing_aliases_are_assigned_reused_and_replaced() {
    let mut s = connected5(config5(), &aliases(2));
    let mut broker = Resolver {
        max: 2,
        ..Resolver::default()
    };
    for topic_name in [
        "sensors/a",
        "sensors/a",
        "sensors/b",
        "sensors/c",
        "sensors/a",
        "sensors/c",
    ] {
        publish(&mut s, topic_name);
    }
    let got = broker.resolve(&sent5(&mut s));
    let expect = [
        ("sensors/a", Some(1), true),
        ("sensors/a", Some(1), false),
        ("sensors/b", Some(2), true),
        // "sensors/a" was used last before "sensors/b": "sensors/a" is the LRU one.
        ("sensors/c", Some(1), true),
        ("sensors/a", Some(2), true),
        ("sensors/c", Some(1), false),
    ];
    let got: Vec<_> = got.iter().map(|(t, a, n)| (t.as_str(), *a, *n)).collect();
    assert_eq!(got, expect);
}

// [MQTT-3.2.2-18]: no aliases when the server allows none (or we want none); never for
// a topic too short to gain from one.
#[test]
fn no_aliases_without_room_or_gain() {
    let mut s = connected5(config5(), &PropertyValues::default());
    publish(&mut s, "sensors/a");
    publish(&mut s, "sensors/a");
    let mut c = config5();
    c.max_outgoing_topic_aliases = 0;
    let mut ours = connected5(c, &aliases(10));
    publish(&mut ours, "sensors/a");
    publish(&mut ours, "sensors/a");
    let mut short = connected5(config5(), &aliases(10));
    publish(&mut short, "abc");
    publish(&mut short, "abc");
    for s in [&mut s, &mut ours, &mut short] {
        for p in sent5(s) {
            let P5::Publish(p) = p else { panic!() };
            assert!(p.topic.is_some() && p.properties.topic_alias().is_none());
        }
    }
}

// [MQTT-3.3.2-7]: no alias carried from one connection to the next: after a
// reconnect a topic is named again, and a resent message too.
#[test]
fn outgoing_aliases_start_again_on_each_connection() {
    let mut c = config5();
    c.clean_session = false;
    let mut s = connected5(c, &aliases(5));
    publish(&mut s, "sensors/a");
    s.publish(t(1), msg("sensors/a", b"q1", QoS::AtLeastOnce))
        .unwrap();
    let mut broker = Resolver {
        max: 5,
        ..Resolver::default()
    };
    let first = broker.resolve(&sent5(&mut s));
    assert_eq!(first[1], ("sensors/a".to_owned(), Some(1), false));
    s.handle_transport_closed(t(2));
    s.connect(t(3)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(3), &[connack5(true, &aliases(5))]);
    let mut broker = Resolver {
        max: 5,
        ..Resolver::default()
    };
    let again = broker.resolve(&sent5(&mut s));
    assert_eq!(
        again,
        [("sensors/a".to_owned(), Some(1), true)],
        "resent with its name"
    );
    feed5(&mut s, t(4), &[puback5(1, PubackReasonCode::Success)]);
    publish(&mut s, "sensors/a");
    assert_eq!(
        broker.resolve(&sent5(&mut s)),
        [("sensors/a".to_owned(), Some(1), false)]
    );
}

// [MQTT-3.2.2-15]: an alias is not added where it would push the packet over the
// server's Maximum Packet Size.
#[test]
fn no_alias_where_it_would_exceed_the_maximum_packet_size() {
    let mut s = connected5(
        config5(),
        &PropertyValues {
            topic_alias_maximum: Some(5),
            maximum_packet_size: NonZeroU32::new(20),
            ..PropertyValues::default()
        },
    );
    // 1 + 1 + (2 + 9 + 1 + 6) = 20 bytes without an alias, 23 with one.
    s.publish(t(1), msg("sensors/a", b"123456", QoS::AtMostOnce))
        .unwrap();
    let p = sent5(&mut s);
    let [P5::Publish(p)] = &p[..] else { panic!() };
    assert!(p.properties.topic_alias().is_none());
    assert_eq!(events(&mut s).len(), 1, "sent");
}

fn incoming_alias(topic_name: &str, alias: u16) -> P5<Bytes> {
    publish5(
        topic_name,
        QosPid::AtMostOnce,
        b"m",
        &PropertyValues {
            topic_alias: NonZeroU16::new(alias),
            ..PropertyValues::default()
        },
    )
}

fn topics(s: &mut Session) -> Vec<String> {
    events(s)
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => {
                assert_eq!(m.to_publish().topic.as_str(), m.topic());
                Some(m.topic().to_owned())
            }
            _ => None,
        })
        .collect()
}

// [MQTT-3.3.2-10]: the server's aliases from 1 to our maximum are accepted; a message
// sent by alias alone comes with the topic resolved.
#[test]
fn incoming_aliases_are_resolved() {
    let mut c = config5();
    c.topic_alias_maximum = 3;
    let mut s = Session::new(c);
    s.connect(t(0)).unwrap();
    let p = sent5(&mut s);
    let [P5::Connect(connect)] = &p[..] else {
        panic!()
    };
    assert_eq!(connect.properties.topic_alias_maximum(), Some(3));
    feed5(&mut s, t(0), &[connack5(false, &PropertyValues::default())]);
    let _ = events(&mut s);
    feed5(
        &mut s,
        t(1),
        &[
            incoming_alias("in/a", 1),
            incoming_alias("", 1),
            incoming_alias("in/b", 3),
            incoming_alias("", 3),
            incoming_alias("in/c", 1),
            incoming_alias("", 1),
        ],
    );
    assert_eq!(
        topics(&mut s),
        ["in/a", "in/a", "in/b", "in/b", "in/c", "in/c"]
    );
    assert_eq!(s.state(), State::Connected);
}

fn closed_with(s: &mut Session) -> (ProtocolError, Option<DisconnectReasonCode>) {
    assert_eq!(s.state(), State::Disconnected);
    let e = match events(s).last() {
        Some(Event::Disconnected {
            reason: DisconnectReason::Protocol(p),
        }) => *p,
        other => panic!("{other:?}"),
    };
    (e, disconnect_code(&sent5(s)))
}

// [MQTT-3.3.2-10], [MQTT-3.3.2-8]: an alias above our maximum, or 0, is DISCONNECT
// 0x94; an empty topic with an alias never set is DISCONNECT 0x82 (section 3.3.2.3.4).
#[test]
fn invalid_incoming_aliases_end_the_connection() {
    let mut s = connected5(config5(), &PropertyValues::default());
    feed5(&mut s, t(1), &[incoming_alias("in/a", 17)]);
    assert_eq!(
        closed_with(&mut s),
        (
            ProtocolError::TopicAliasInvalid(17),
            Some(DisconnectReasonCode::TopicAliasInvalid)
        )
    );
    let mut s = connected5(config5(), &PropertyValues::default());
    // PUBLISH QoS 0 "a" with Topic Alias 0.
    feed_raw(&mut s, t(1), b"\x30\x07\x00\x01a\x03\x23\x00\x00");
    assert_eq!(
        closed_with(&mut s),
        (
            ProtocolError::Decode(DecodeError::InvalidPropertyValue(PropertyId::TopicAlias)),
            Some(DisconnectReasonCode::TopicAliasInvalid)
        )
    );
    let mut s = connected5(config5(), &PropertyValues::default());
    feed5(&mut s, t(1), &[incoming_alias("", 2)]);
    assert_eq!(
        closed_with(&mut s),
        (
            ProtocolError::UnknownTopicAlias(2),
            Some(DisconnectReasonCode::ProtocolError)
        )
    );
    let mut c = config5();
    c.topic_alias_maximum = 0;
    let mut s = connected5(c, &PropertyValues::default());
    feed5(&mut s, t(1), &[incoming_alias("in/a", 1)]);
    assert_eq!(closed_with(&mut s).0, ProtocolError::TopicAliasInvalid(1));
}

// [MQTT-3.3.2-7]: the server's aliases end with the connection.
#[test]
fn incoming_aliases_end_with_the_connection() {
    let mut s = connected5(config5(), &PropertyValues::default());
    feed5(&mut s, t(1), &[incoming_alias("in/a", 1)]);
    assert_eq!(topics(&mut s), ["in/a"]);
    s.handle_transport_closed(t(2));
    s.connect(t(3)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(3), &[connack5(false, &PropertyValues::default())]);
    let _ = events(&mut s);
    feed5(&mut s, t(4), &[incoming_alias("", 1)]);
    assert_eq!(closed_with(&mut s).0, ProtocolError::UnknownTopicAlias(1));
}
