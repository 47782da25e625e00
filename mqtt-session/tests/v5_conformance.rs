//! MQTT 5.0 client-side statements of the session that no other test names, one test
//! per behaviour, each with the statements it checks: the README (MQTT 5.0, Conformance) maps
//! every client-side statement to its test.

mod common;

use bytes::{Bytes, BytesMut};
use common::v5::*;
use common::*;
use core::num::{NonZeroU16, NonZeroU32};
use mqtt_proto::v5::{self, DisconnectReasonCode, PropertyValues, PubackReasonCode};
use mqtt_proto::{QoS, QosPid, Str};
use mqtt_session::{DisconnectReason, Error, Event, Session, State};

fn none() -> PropertyValues<'static> {
    PropertyValues::default()
}

fn max_packet_size(n: u32) -> PropertyValues<'static> {
    PropertyValues {
        maximum_packet_size: NonZeroU32::new(n),
        ..PropertyValues::default()
    }
}

fn q1(id: u16) -> QosPid {
    QosPid::AtLeastOnce(pid(id))
}

fn q2(id: u16) -> QosPid {
    QosPid::ExactlyOnce(pid(id))
}

/// The payloads of the messages delivered.
fn delivered(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.payload().to_vec()),
            _ => None,
        })
        .collect()
}

/// The PUBLISH packets sent: (packet id, qos, dup).
fn publishes(packets: &[P5<Bytes>]) -> Vec<(Option<u16>, QoS, bool)> {
    packets
        .iter()
        .filter_map(|p| match p {
            P5::Publish(p) => Some((
                p.qos_pid.packet_id().map(|i| i.get()),
                p.qos_pid.qos(),
                p.dup,
            )),
            _ => None,
        })
        .collect()
}

/// The raw bytes of everything the session wants to send.
fn wire(s: &mut Session) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(tx) = s.poll_transmit() {
        out.extend_from_slice(&tx.head);
        out.extend_from_slice(&tx.payload);
    }
    out
}

fn dup(p: P5<Bytes>) -> P5<Bytes> {
    match p {
        P5::Publish(mut p) => {
            p.dup = true;
            P5::Publish(p)
        }
        other => other,
    }
}

// [MQTT-3.1.0-1]: commands given before the connection exists wait; the first packet
// on the new connection is CONNECT, and nothing follows it before CONNACK.
#[test]
fn the_first_packet_is_connect() {
    let mut s = Session::new(config5());
    s.publish(t(0), msg("a", b"x", QoS::AtLeastOnce)).unwrap();
    s.subscribe(t(0), &[(filter("b/#"), QoS::AtMostOnce)])
        .unwrap();
    assert!(s.poll_transmit().is_none(), "nothing before connect");
    s.connect(t(1)).unwrap();
    let p = sent5(&mut s);
    assert!(matches!(p[..], [P5::Connect(_)]), "{p:?}");
    feed5(&mut s, t(2), &[connack5(false, &none())]);
    let p = sent5(&mut s);
    assert!(matches!(p[..], [P5::Publish(_), P5::Subscribe(_)]), "{p:?}");
}

// [MQTT-3.1.2-4]: with Clean Start 1 the client discards its session too: an
// unacknowledged PUBLISH is not resent as a duplicate of the old one, and an incoming
// QoS 2 identifier awaiting PUBREL is forgotten, so the server's next PUBLISH with it
// is a new message.
#[test]
fn clean_start_discards_the_clients_session() {
    let mut s = connected5(config5(), &none());
    s.publish(t(1), msg("a", b"out", QoS::AtLeastOnce)).unwrap();
    assert_eq!(
        publishes(&sent5(&mut s)),
        [(Some(1), QoS::AtLeastOnce, false)]
    );
    feed5(&mut s, t(2), &[publish5("in", q2(7), b"first", &none())]);
    assert_eq!(delivered(&events(&mut s)), [b"first".to_vec()]);
    assert_eq!(sent5(&mut s), [pubrec5(7, PubackReasonCode::Success)]);
    s.handle_transport_closed(t(3));
    let _ = events(&mut s);

    s.connect(t(4)).unwrap();
    let p = sent5(&mut s);
    let [P5::Connect(c)] = &p[..] else {
        panic!("{p:?}")
    };
    assert!(c.clean_start);
    feed5(&mut s, t(5), &[connack5(false, &none())]);
    let again = sent5(&mut s);
    assert!(
        publishes(&again).iter().all(|&(_, _, dup)| !dup),
        "nothing resent as a duplicate: {again:?}"
    );
    assert!(!again.iter().any(|p| matches!(p, P5::Pubrel(_))));
    feed5(&mut s, t(6), &[publish5("in", q2(7), b"second", &none())]);
    assert_eq!(
        delivered(&events(&mut s)),
        [b"second".to_vec()],
        "identifier 7 starts a new message"
    );
}

// [MQTT-3.1.2-20]: with a Keep Alive and nothing else to send, the client sends
// PINGREQ within the Keep Alive.
#[test]
fn pingreq_when_idle() {
    let mut c = config5();
    c.keep_alive = core::time::Duration::from_secs(10);
    let mut s = connected5(c, &none());
    let due = s.poll_timeout().unwrap();
    assert!(due <= t(10_000), "{due:?}");
    s.handle_timeout(due);
    assert_eq!(sent5(&mut s), [P5::Pingreq]);
    feed5(&mut s, due, &[P5::Pingresp]);
    let next = s.poll_timeout().unwrap();
    assert!(
        next > due && next <= t(due.as_millis() + 10_000),
        "{next:?}"
    );
}

// [MQTT-3.1.2-23], [MQTT-3.1.3-2]: with a Session Expiry Interval above 0 the client
// keeps its session state after the connection closes, and identifies it by its
// Client Identifier: the next CONNECT carries the same one with Clean Start 0, and
// the state goes on (a PUBLISH resent, PUBREL resent [MQTT-4.4.0-1], an incoming QoS
// 2 still awaiting its PUBREL).
#[test]
fn session_state_outlives_the_connection() {
    let mut c = config5();
    c.clean_session = false;
    c.session_expiry_interval = Some(60);
    let mut s = connected5(c, &none());
    s.publish(t(1), msg("a", b"one", QoS::AtLeastOnce)).unwrap();
    s.publish(t(1), msg("a", b"two", QoS::ExactlyOnce)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(2),
        &[
            pubrec5(2, PubackReasonCode::Success),
            publish5("in", q2(9), b"in", &none()),
        ],
    );
    assert_eq!(delivered(&events(&mut s)), [b"in".to_vec()]);
    let _ = sent5(&mut s);
    s.handle_transport_closed(t(3));
    let _ = events(&mut s);

    s.connect(t(4)).unwrap();
    let p = sent5(&mut s);
    let [P5::Connect(c)] = &p[..] else {
        panic!("{p:?}")
    };
    assert!(!c.clean_start);
    assert_eq!(c.client_id.as_str(), "test-client");
    assert_eq!(c.properties.session_expiry_interval(), Some(60));
    feed5(&mut s, t(5), &[connack5(true, &none())]);
    let again = sent5(&mut s);
    assert_eq!(publishes(&again), [(Some(1), QoS::AtLeastOnce, true)]);
    assert!(again.contains(&pubrel5(2)), "{again:?}");
    // The server resends its PUBLISH: acknowledged, not delivered twice; then PUBREL.
    feed5(&mut s, t(6), &[dup(publish5("in", q2(9), b"in", &none()))]);
    assert!(delivered(&events(&mut s)).is_empty());
    assert_eq!(sent5(&mut s), [pubrec5(9, PubackReasonCode::Success)]);
    feed5(&mut s, t(7), &[pubrel5(9)]);
    assert_eq!(sent5(&mut s), [pubcomp5(9)]);
}

// [MQTT-3.3.1-1], [MQTT-4.3.1-1], [MQTT-4.3.2-2], [MQTT-4.3.3-2]: a first send has DUP
// 0 at every QoS; a QoS 1 or 2 PUBLISH sent again on a resumed session has DUP 1; a
// QoS 0 one is never sent again.
#[test]
fn dup_marks_redelivery_only() {
    let mut c = config5();
    c.clean_session = false;
    let mut s = connected5(c, &none());
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        s.publish(t(1), msg("a", b"x", qos)).unwrap();
    }
    assert_eq!(
        publishes(&sent5(&mut s)),
        [
            (None, QoS::AtMostOnce, false),
            (Some(1), QoS::AtLeastOnce, false),
            (Some(2), QoS::ExactlyOnce, false)
        ]
    );
    s.handle_transport_closed(t(2));
    s.connect(t(3)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(3), &[connack5(true, &none())]);
    assert_eq!(
        publishes(&sent5(&mut s)),
        [
            (Some(1), QoS::AtLeastOnce, true),
            (Some(2), QoS::ExactlyOnce, true)
        ]
    );
}

// [MQTT-3.3.4-1], [MQTT-4.3.2-4], [MQTT-4.3.3-8], [MQTT-4.3.3-11], [MQTT-2.2.1-5]: the
// receiver answers by the QoS: nothing for QoS 0, PUBACK for QoS 1, PUBREC for QoS 2
// and PUBCOMP for PUBREL, each with the identifier of the packet it answers.
// [MQTT-4.5.0-2]: also for a message the client never subscribed to.
#[test]
fn the_receiver_answers_by_qos_with_the_same_identifier() {
    let mut s = connected5(config5(), &none());
    feed5(
        &mut s,
        t(1),
        &[
            publish5("not/subscribed", QosPid::AtMostOnce, b"0", &none()),
            publish5("not/subscribed", q1(300), b"1", &none()),
            publish5("not/subscribed", q2(4000), b"2", &none()),
        ],
    );
    assert_eq!(delivered(&events(&mut s)).len(), 3);
    assert_eq!(
        sent5(&mut s),
        [
            puback5(300, PubackReasonCode::Success),
            pubrec5(4000, PubackReasonCode::Success)
        ]
    );
    feed5(&mut s, t(2), &[pubrel5(4000)]);
    assert_eq!(sent5(&mut s), [pubcomp5(4000)]);
}

// [MQTT-4.3.2-5]: once PUBACK went out, a PUBLISH with the same identifier is a new
// message, DUP or not.
#[test]
fn after_puback_the_same_identifier_is_a_new_message() {
    let mut s = connected5(config5(), &none());
    feed5(&mut s, t(1), &[publish5("a", q1(3), b"one", &none())]);
    assert_eq!(sent5(&mut s), [puback5(3, PubackReasonCode::Success)]);
    feed5(&mut s, t(2), &[dup(publish5("a", q1(3), b"two", &none()))]);
    assert_eq!(
        delivered(&events(&mut s)),
        [b"one".to_vec(), b"two".to_vec()]
    );
    assert_eq!(sent5(&mut s), [puback5(3, PubackReasonCode::Success)]);
}

// [MQTT-4.3.3-10]: until PUBREL, a PUBLISH with the same identifier is answered with
// PUBREC again and not delivered again; [MQTT-4.3.3-12]: after PUBCOMP it is a new
// message.
#[test]
fn qos2_duplicates_until_pubrel_and_new_messages_after_pubcomp() {
    let mut s = connected5(config5(), &none());
    feed5(&mut s, t(1), &[publish5("a", q2(5), b"one", &none())]);
    feed5(&mut s, t(2), &[dup(publish5("a", q2(5), b"one", &none()))]);
    feed5(&mut s, t(2), &[publish5("a", q2(5), b"one", &none())]);
    assert_eq!(delivered(&events(&mut s)), [b"one".to_vec()]);
    assert_eq!(
        sent5(&mut s),
        [
            pubrec5(5, PubackReasonCode::Success),
            pubrec5(5, PubackReasonCode::Success),
            pubrec5(5, PubackReasonCode::Success)
        ]
    );
    feed5(&mut s, t(3), &[pubrel5(5)]);
    assert_eq!(sent5(&mut s), [pubcomp5(5)]);
    feed5(&mut s, t(4), &[publish5("a", q2(5), b"two", &none())]);
    assert_eq!(delivered(&events(&mut s)), [b"two".to_vec()]);
    assert_eq!(sent5(&mut s), [pubrec5(5, PubackReasonCode::Success)]);
}

// [MQTT-4.3.3-13]: the receiver completes the QoS 2 exchange even when the message's
// Message Expiry Interval has long passed.
#[test]
fn qos2_completes_after_the_message_expired() {
    let mut s = connected5(config5(), &none());
    let expiring = PropertyValues {
        message_expiry_interval: Some(1),
        ..PropertyValues::default()
    };
    feed5(&mut s, t(1), &[publish5("a", q2(6), b"x", &expiring)]);
    assert_eq!(sent5(&mut s), [pubrec5(6, PubackReasonCode::Success)]);
    // Answer pings meanwhile so the connection stays up.
    let mut now = t(1);
    while now < t(120_000) {
        now = s.poll_timeout().unwrap();
        s.handle_timeout(now);
        let _ = sent5(&mut s);
        feed5(&mut s, now, &[P5::Pingresp]);
    }
    assert_eq!(s.state(), State::Connected);
    feed5(&mut s, now, &[pubrel5(6)]);
    assert_eq!(sent5(&mut s), [pubcomp5(6)]);
}

// [MQTT-2.2.1-3], [MQTT-4.3.2-1], [MQTT-4.3.3-1]: every new SUBSCRIBE, UNSUBSCRIBE and
// QoS 1 or 2 PUBLISH gets a non-zero identifier not in use: one held by an
// unacknowledged PUBLISH is skipped while the identifiers wrap around twice.
#[test]
fn identifiers_are_non_zero_and_unused() {
    let mut s = connected5(config5(), &none());
    s.publish(t(1), msg("held", b"x", QoS::ExactlyOnce))
        .unwrap();
    let held = publishes(&sent5(&mut s))[0].0.unwrap();
    for i in 0..140_000u32 {
        let id = match i % 4 {
            0 => {
                s.subscribe(t(2), &[(filter("f"), QoS::AtMostOnce)])
                    .unwrap();
                let p = sent5(&mut s);
                let [P5::Subscribe(sub)] = &p[..] else {
                    panic!("{p:?}")
                };
                sub.packet_id.get()
            }
            1 => {
                s.unsubscribe(t(2), &[filter("f")]).unwrap();
                let p = sent5(&mut s);
                let [P5::Unsubscribe(u)] = &p[..] else {
                    panic!("{p:?}")
                };
                u.packet_id.get()
            }
            _ => {
                let qos = if i % 4 == 2 {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                s.publish(t(2), msg("a", b"y", qos)).unwrap();
                publishes(&sent5(&mut s))[0].0.unwrap()
            }
        };
        assert_ne!(id, 0);
        assert_ne!(id, held, "identifier {held} is in use");
        // Acknowledge it, freeing the identifier.
        let ack = match i % 4 {
            0 => P5::Suback(v5::Suback {
                packet_id: pid(id),
                properties: Default::default(),
                reason_codes: v5::SubackReasonCodes::from_reason_codes(&[
                    v5::SubackReasonCode::GrantedQoS0,
                ])
                .unwrap(),
            }),
            1 => P5::Unsuback(v5::Unsuback {
                packet_id: pid(id),
                properties: Default::default(),
                reason_codes: v5::UnsubackReasonCodes::from_reason_codes(&[
                    v5::UnsubackReasonCode::Success,
                ])
                .unwrap(),
            }),
            2 => puback5(id, PubackReasonCode::Success),
            _ => {
                feed5(&mut s, t(2), &[pubrec5(id, PubackReasonCode::Success)]);
                assert_eq!(sent5(&mut s), [pubrel5(id)]);
                pubcomp5(id)
            }
        };
        feed5(&mut s, t(2), &[ack]);
        let _ = events(&mut s);
    }
    assert_eq!(s.state(), State::Connected);
    assert_eq!(s.stats().inflight, 1);
}

// [MQTT-4.3.2-3]: a QoS 1 PUBLISH stays unacknowledged until its PUBACK, across
// connections; [MQTT-4.3.3-3], [MQTT-4.3.3-5]: a QoS 2 one until PUBREC, and its
// PUBREL until PUBCOMP: only then does the publish complete; [MQTT-4.3.3-6]: once
// PUBREL went out the PUBLISH is never sent again.
#[test]
fn unacknowledged_until_the_acknowledgement() {
    let mut c = config5();
    c.clean_session = false;
    let mut s = connected5(c, &none());
    let op1 = s.publish(t(1), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    let op2 = s.publish(t(1), msg("a", b"2", QoS::ExactlyOnce)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(2), &[pubrec5(2, PubackReasonCode::Success)]);
    assert_eq!(sent5(&mut s), [pubrel5(2)]);
    assert!(events(&mut s).is_empty(), "nothing complete yet");
    assert_eq!(s.stats().inflight, 2);
    // A new connection: the PUBLISH again, and the PUBREL (not the PUBLISH) again.
    s.handle_transport_closed(t(3));
    s.connect(t(4)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(4), &[connack5(true, &none())]);
    let again = sent5(&mut s);
    assert_eq!(
        publishes(&again),
        [(Some(1), QoS::AtLeastOnce, true)],
        "not the released PUBLISH 2"
    );
    assert!(again.contains(&pubrel5(2)), "{again:?}");
    assert!(!events(&mut s)
        .iter()
        .any(|e| matches!(e, Event::Completed { .. })));
    feed5(&mut s, t(5), &[puback5(1, PubackReasonCode::Success)]);
    feed5(&mut s, t(5), &[pubcomp5(2)]);
    assert_eq!(acknowledged(events(&mut s)), [op1, op2]);
    assert_eq!(s.stats().inflight, 0);
}

// [MQTT-4.6.0-2], [MQTT-4.6.0-3]: PUBACK and PUBREC go out in the order the PUBLISH
// packets came; [MQTT-4.6.0-4]: PUBREL in the order the PUBREC packets came.
#[test]
fn acknowledgements_keep_the_order_of_arrival() {
    let mut s = connected5(config5(), &none());
    feed5(
        &mut s,
        t(1),
        &[
            publish5("a", q1(5), b"", &none()),
            publish5("a", q2(8), b"", &none()),
            publish5("a", q1(3), b"", &none()),
            publish5("a", q2(2), b"", &none()),
            publish5("a", q1(9), b"", &none()),
        ],
    );
    assert_eq!(
        sent5(&mut s),
        [
            puback5(5, PubackReasonCode::Success),
            pubrec5(8, PubackReasonCode::Success),
            puback5(3, PubackReasonCode::Success),
            pubrec5(2, PubackReasonCode::Success),
            puback5(9, PubackReasonCode::Success),
        ]
    );
    for _ in 0..3 {
        s.publish(t(2), msg("a", b"", QoS::ExactlyOnce)).unwrap();
    }
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(3),
        &[
            pubrec5(3, PubackReasonCode::Success),
            pubrec5(1, PubackReasonCode::Success),
            pubrec5(2, PubackReasonCode::Success),
        ],
    );
    assert_eq!(sent5(&mut s), [pubrel5(3), pubrel5(1), pubrel5(2)]);
}

// [MQTT-4.6.0-2], [MQTT-4.6.0-3] with manual acknowledgements: the application may
// acknowledge in any order, the PUBACK and PUBREC packets still go out in the order
// the PUBLISH packets came.
#[test]
fn manual_acknowledgements_keep_the_order_of_arrival() {
    let mut c = config5();
    c.manual_acks = true;
    let mut s = connected5(c, &none());
    feed5(
        &mut s,
        t(1),
        &[
            publish5("a", q1(5), b"", &none()),
            publish5("a", q2(8), b"", &none()),
            publish5("a", q1(3), b"", &none()),
        ],
    );
    let deliveries: Vec<_> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => m.delivery,
            _ => None,
        })
        .collect();
    assert_eq!(deliveries.len(), 3);
    assert!(
        sent5(&mut s).is_empty(),
        "nothing before the application acks"
    );
    // The last first: held back behind the two earlier ones.
    s.ack(t(2), deliveries[2]).unwrap();
    s.ack(t(2), deliveries[0]).unwrap();
    let first = sent5(&mut s);
    s.ack(t(3), deliveries[1]).unwrap();
    let all = [first, sent5(&mut s)].concat();
    assert_eq!(
        all,
        [
            puback5(5, PubackReasonCode::Success),
            pubrec5(8, PubackReasonCode::Success),
            puback5(3, PubackReasonCode::Success),
        ]
    );
}

// [MQTT-4.1.0-1]: the session state stays while the connection is open, however long:
// with a Session Expiry Interval of 0 an unacknowledged publish and an incoming QoS 2
// message still complete minutes later.
#[test]
fn session_state_stays_while_connected() {
    let mut c = config5();
    c.session_expiry_interval = Some(0);
    let mut s = connected5(c, &none());
    let op = s.publish(t(1), msg("a", b"x", QoS::AtLeastOnce)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(1), &[publish5("in", q2(4), b"in", &none())]);
    let _ = sent5(&mut s);
    let _ = events(&mut s);
    let mut now = t(1);
    while now < t(600_000) {
        now = s.poll_timeout().unwrap();
        s.handle_timeout(now);
        let _ = sent5(&mut s);
        feed5(&mut s, now, &[P5::Pingresp]);
    }
    feed5(
        &mut s,
        now,
        &[puback5(1, PubackReasonCode::Success), pubrel5(4)],
    );
    assert_eq!(sent5(&mut s), [pubcomp5(4)]);
    assert_eq!(acknowledged(events(&mut s)), [op]);
}

// [MQTT-4.9.0-1]: the send quota starts non-zero and at most the server's Receive
// Maximum: even with `max_inflight` 0 a QoS 1 publish goes out, and with a Receive
// Maximum of 1 only one.
#[test]
fn the_initial_send_quota() {
    let mut c = config5();
    c.max_inflight = 0;
    let mut s = connected5(c, &none());
    s.publish(t(1), msg("a", b"x", QoS::AtLeastOnce)).unwrap();
    assert_eq!(publishes(&sent5(&mut s)).len(), 1);
    let mut s = connected5(
        config5(),
        &PropertyValues {
            receive_maximum: NonZeroU16::new(1),
            ..PropertyValues::default()
        },
    );
    for _ in 0..3 {
        s.publish(t(1), msg("a", b"x", QoS::ExactlyOnce)).unwrap();
    }
    assert_eq!(publishes(&sent5(&mut s)).len(), 1);
}

// [MQTT-4.9.0-3], [MQTT-3.3.4-8]: at a send quota of zero every other packet still
// flows: SUBSCRIBE and UNSUBSCRIBE (even when queued behind the waiting publishes),
// acknowledgements of incoming messages, PINGREQ. (A PUBLISH may wait, QoS 0 too:
// the session keeps publishes in order.)
#[test]
fn other_packets_flow_at_zero_quota() {
    let mut c = config5();
    c.keep_alive = core::time::Duration::from_secs(5);
    let mut s = connected5(
        c,
        &PropertyValues {
            receive_maximum: NonZeroU16::new(1),
            ..PropertyValues::default()
        },
    );
    s.publish(t(1), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    s.publish(t(1), msg("a", b"2", QoS::AtLeastOnce)).unwrap();
    assert_eq!(publishes(&sent5(&mut s)).len(), 1, "the quota is used up");
    s.subscribe(t(2), &[(filter("f"), QoS::AtLeastOnce)])
        .unwrap();
    s.unsubscribe(t(2), &[filter("g")]).unwrap();
    feed5(
        &mut s,
        t(2),
        &[
            publish5("in", q1(7), b"", &none()),
            publish5("in", q2(8), b"", &none()),
            pubrel5(8),
        ],
    );
    let p = sent5(&mut s);
    assert!(matches!(p[0], P5::Subscribe(_)), "{p:?}");
    assert!(matches!(p[1], P5::Unsubscribe(_)), "{p:?}");
    assert_eq!(
        p[2..],
        [
            puback5(7, PubackReasonCode::Success),
            pubrec5(8, PubackReasonCode::Success),
            pubcomp5(8)
        ]
    );
    let due = s.poll_timeout().unwrap();
    s.handle_timeout(due);
    assert_eq!(sent5(&mut s), [P5::Pingreq]);
}

// [MQTT-3.4.2-2], [MQTT-3.4.2-3], [MQTT-3.5.2-2], [MQTT-3.5.2-3], [MQTT-3.6.2-2],
// [MQTT-3.6.2-3], [MQTT-3.7.2-2], [MQTT-3.7.2-3]: the session's PUBACK, PUBREC, PUBREL
// and PUBCOMP carry no Reason String or User Property that could take them past the
// server's Maximum Packet Size: at the smallest maximum they still go out, 4 bytes
// each.
#[test]
fn acknowledgements_fit_the_smallest_maximum_packet_size() {
    let mut s = connected5(config5(), &max_packet_size(4));
    feed5(&mut s, t(1), &[publish5("a", q1(1), b"", &none())]);
    assert_eq!(wire(&mut s), b"\x40\x02\x00\x01");
    feed5(&mut s, t(1), &[publish5("a", q2(2), b"", &none())]);
    assert_eq!(wire(&mut s), b"\x50\x02\x00\x02");
    feed5(&mut s, t(1), &[pubrel5(2)]);
    assert_eq!(wire(&mut s), b"\x70\x02\x00\x02");
    // PUBREL: the smallest QoS 2 PUBLISH to "a" is 8 bytes.
    let mut s = connected5(config5(), &max_packet_size(8));
    s.publish(t(1), msg("a", b"", QoS::ExactlyOnce)).unwrap();
    assert_eq!(wire(&mut s).len(), 8);
    feed5(&mut s, t(2), &[pubrec5(1, PubackReasonCode::Success)]);
    assert_eq!(wire(&mut s), b"\x62\x02\x00\x01");
}

// [MQTT-3.14.2-3], [MQTT-3.14.2-4]: a DISCONNECT whose Reason String or User Property
// would take it past the server's Maximum Packet Size is never sent; within the
// maximum it is.
#[test]
fn disconnect_properties_stay_within_the_maximum_packet_size() {
    let mut s = connected5(config5(), &max_packet_size(32));
    let long = "r".repeat(40);
    let reason = PropertyValues {
        reason_string: Some(Str::new(&long).unwrap()),
        ..PropertyValues::default()
    };
    assert_eq!(
        s.disconnect_with(t(1), DisconnectReasonCode::NormalDisconnection, &reason),
        Err(Error::PacketTooLarge)
    );
    let user = [(Str::new("k").unwrap(), Str::new(&long).unwrap())];
    let user = PropertyValues {
        user_properties: &user,
        ..PropertyValues::default()
    };
    assert_eq!(
        s.disconnect_with(t(1), DisconnectReasonCode::NormalDisconnection, &user),
        Err(Error::PacketTooLarge)
    );
    assert!(s.poll_transmit().is_none());
    assert_eq!(s.state(), State::Connected);
    let short = PropertyValues {
        reason_string: Some(Str::new("bye").unwrap()),
        ..PropertyValues::default()
    };
    s.disconnect_with(t(2), DisconnectReasonCode::NormalDisconnection, &short)
        .unwrap();
    let bytes = wire(&mut s);
    assert!(bytes.len() <= 32);
    let p = v5::decode(&bytes, &mqtt_proto::DecodeOptions::v5())
        .unwrap()
        .unwrap()
        .0;
    let v5::Packet::Disconnect(d) = p else {
        panic!("{p:?}")
    };
    assert_eq!(d.properties.reason_string().unwrap().as_str(), "bye");
}

// [MQTT-3.14.4-1], [MQTT-3.14.4-2]: after DISCONNECT nothing more goes out on the
// connection, and the session tells the caller to close it (Disconnected, no timer
// left); later commands wait for the next connection.
#[test]
fn nothing_after_disconnect_and_the_connection_closes() {
    let mut c = config5();
    c.keep_alive = core::time::Duration::from_secs(5);
    let mut s = connected5(c, &none());
    s.disconnect(t(1));
    assert_eq!(
        sent5(&mut s),
        [P5::Disconnect(v5::Disconnect::new(
            DisconnectReasonCode::NormalDisconnection
        ))]
    );
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Local
        }]
    );
    assert_eq!(s.state(), State::Disconnected);
    s.publish(t(2), msg("a", b"x", QoS::AtLeastOnce)).unwrap();
    feed5(&mut s, t(2), &[publish5("a", q1(1), b"late", &none())]);
    s.handle_timeout(t(60_000));
    assert!(s.poll_transmit().is_none());
    assert!(delivered(&events(&mut s)).is_empty());
    assert_eq!(s.poll_timeout(), None);
}

// [MQTT-4.2.0-1], [MQTT-6.0.0-2]: the session reads an ordered byte stream, not
// packets: the same bytes split anywhere (one byte at a time, or at every point in
// two) give the same output and events as read at once.
#[test]
fn packets_need_no_alignment_with_reads() {
    let mut stream = BytesMut::new();
    for p in [
        connack5(false, &none()),
        publish5("a/b", q1(1), b"one", &none()),
        publish5("a/b", q2(2), b"two", &none()),
        pubrel5(2),
        publish5("a/b", QosPid::AtMostOnce, b"three", &none()),
    ] {
        p.encode_to(&mut stream).unwrap();
    }
    let run = |splits: &[usize]| {
        let mut s = Session::new(config5());
        s.connect(t(0)).unwrap();
        let _ = sent5(&mut s);
        let mut buf = BytesMut::new();
        let mut at = 0;
        for &end in splits.iter().chain([stream.len()].iter()) {
            buf.extend_from_slice(&stream[at..end]);
            s.handle_read(t(1), &mut buf);
            at = end;
        }
        (sent5(&mut s), events(&mut s))
    };
    let whole = run(&[]);
    assert_eq!(delivered(&whole.1).len(), 3);
    let bytewise: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(run(&bytewise), whole);
    for cut in 1..stream.len() {
        assert_eq!(run(&[cut]), whole, "split at {cut}");
    }
}

// [MQTT-3.3.2-8]: the session's outgoing Topic Aliases start at 1, never 0.
#[test]
fn outgoing_topic_aliases_are_never_0() {
    let mut s = connected5(
        config5(),
        &PropertyValues {
            topic_alias_maximum: Some(3),
            ..PropertyValues::default()
        },
    );
    for i in 0..10 {
        let name = format!("topic/{}", i % 5);
        s.publish(
            t(1),
            mqtt_session::Message::new(
                mqtt_proto::TopicName::from_string(name).unwrap(),
                Bytes::from_static(b"x"),
                QoS::AtMostOnce,
            ),
        )
        .unwrap();
    }
    let aliases: Vec<u16> = sent5(&mut s)
        .iter()
        .filter_map(|p| match p {
            P5::Publish(p) => p.properties.topic_alias().map(|a| a.get()),
            _ => None,
        })
        .collect();
    assert!(!aliases.is_empty());
    assert!(aliases.iter().all(|&a| (1..=3).contains(&a)), "{aliases:?}");
}

// [MQTT-3.2.2-5]: a client holding session state that gets Session Present 0 discards
// it: no resend as a duplicate, no PUBREL, and an incoming QoS 2 identifier that was
// awaiting PUBREL starts a new message; the unacknowledged publish goes again as a
// new one (`republish_on_session_loss`).
#[test]
fn session_present_0_discards_the_clients_session() {
    let mut c = config5();
    c.clean_session = false;
    let mut s = connected5(c, &none());
    s.publish(t(1), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    s.publish(t(1), msg("a", b"2", QoS::ExactlyOnce)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(2),
        &[
            pubrec5(2, PubackReasonCode::Success),
            publish5("in", q2(7), b"first", &none()),
        ],
    );
    let _ = sent5(&mut s);
    let _ = events(&mut s);
    s.handle_transport_closed(t(3));
    s.connect(t(4)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(4), &[connack5(false, &none())]);
    assert!(events(&mut s)
        .iter()
        .any(|e| matches!(e, Event::SessionLost { .. })));
    let again = sent5(&mut s);
    assert!(
        !again.iter().any(|p| matches!(p, P5::Pubrel(_))),
        "{again:?}"
    );
    assert!(
        publishes(&again).iter().all(|&(_, _, dup)| !dup),
        "{again:?}"
    );
    feed5(&mut s, t(5), &[publish5("in", q2(7), b"second", &none())]);
    assert_eq!(delivered(&events(&mut s)), [b"second".to_vec()]);
}
