//! MQTT 5.0 flow control and packet sizes, both ways: the server's Receive Maximum and
//! Maximum Packet Size bind the session, ours bind the server.

mod common;

use bytes::Bytes;
use common::v5::*;
use common::*;
use core::num::{NonZeroU16, NonZeroU32};
use mqtt_proto::v5::{DisconnectReasonCode, PropertyValues, PubackReasonCode};
use mqtt_proto::{DecodeError, QoS, QosPid};
use mqtt_session::{
    DisconnectReason, Event, Incoming, Message, NotSent, Outcome, ProtocolError, Session, State,
};

fn rm(n: u16) -> PropertyValues<'static> {
    PropertyValues {
        receive_maximum: NonZeroU16::new(n),
        ..PropertyValues::default()
    }
}

fn publish_ids(packets: &[P5<Bytes>]) -> Vec<(u16, bool)> {
    packets
        .iter()
        .filter_map(|p| match p {
            P5::Publish(p) => Some((p.qos_pid.packet_id()?.get(), p.dup)),
            _ => None,
        })
        .collect()
}

// [MQTT-3.3.4-7], [MQTT-4.9.0-2]: never more QoS 1 and 2 publishes awaiting
// acknowledgement than the server's Receive Maximum; the rest wait, in order.
#[test]
fn never_more_in_flight_than_the_servers_receive_maximum() {
    let mut s = connected5(config5(), &rm(3));
    for i in 0..8u8 {
        let qos = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        s.publish(t(1), Message::new(topic("a/b"), vec![i], qos))
            .unwrap();
    }
    let first = sent5(&mut s);
    assert_eq!(publish_ids(&first), [(1, false), (2, false), (3, false)]);
    assert_eq!(s.stats().inflight, 3);
    // A released QoS 2 message still counts until PUBCOMP.
    feed5(&mut s, t(2), &[pubrec5(2, PubackReasonCode::Success)]);
    assert_eq!(sent5(&mut s), [pubrel5(2)], "no PUBLISH before PUBCOMP");
    feed5(&mut s, t(3), &[pubcomp5(2)]);
    assert_eq!(publish_ids(&sent5(&mut s)), [(4, false)]);
    feed5(&mut s, t(4), &[puback5(1, PubackReasonCode::Success)]);
    assert_eq!(publish_ids(&sent5(&mut s)), [(5, false)]);
    // A refused publish frees its place too [MQTT-3.3.4-7].
    feed5(
        &mut s,
        t(5),
        &[puback5(3, PubackReasonCode::UnspecifiedError)],
    );
    assert_eq!(publish_ids(&sent5(&mut s)), [(6, false)]);
    assert_eq!(s.stats().inflight, 3);
}

// The window is the smaller of ours (max_inflight) and the server's.
#[test]
fn the_window_is_the_smaller_of_ours_and_theirs() {
    let mut c = config5();
    c.max_inflight = 2;
    let mut s = connected5(c, &rm(10));
    for _ in 0..5 {
        s.publish(t(1), msg("a/b", b"x", QoS::AtLeastOnce)).unwrap();
    }
    assert_eq!(publish_ids(&sent5(&mut s)).len(), 2);
}

// [MQTT-3.3.4-7], [MQTT-4.6.0-1], [MQTT-3.3.4-8]: a resumed session holding more than
// a new, smaller Receive Maximum allows sends PUBREL at once, and the PUBLISHes (DUP)
// only as acknowledgements free the window, in their original order.
#[test]
fn resends_stay_within_a_smaller_receive_maximum() {
    let mut c = config5();
    c.clean_session = false;
    let mut s = connected5(c, &rm(10));
    let q2 = s
        .publish(t(1), msg("a/b", b"q2", QoS::ExactlyOnce))
        .unwrap();
    for _ in 0..4 {
        s.publish(t(1), msg("a/b", b"q1", QoS::AtLeastOnce))
            .unwrap();
    }
    assert_eq!(publish_ids(&sent5(&mut s)).len(), 5);
    feed5(&mut s, t(2), &[pubrec5(1, PubackReasonCode::Success)]);
    let _ = sent5(&mut s);
    s.handle_transport_closed(t(3));
    let _ = events(&mut s);

    s.connect(t(4)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(4), &[connack5(true, &rm(2))]);
    let again = sent5(&mut s);
    assert_eq!(again[0], pubrel5(1), "PUBREL is never held back");
    assert_eq!(
        publish_ids(&again),
        [(2, true)],
        "PUBREL and one PUBLISH: 2"
    );
    feed5(&mut s, t(5), &[puback5(2, PubackReasonCode::Success)]);
    assert_eq!(publish_ids(&sent5(&mut s)), [(3, true)]);
    feed5(&mut s, t(6), &[pubcomp5(1)]);
    assert_eq!(publish_ids(&sent5(&mut s)), [(4, true)]);
    feed5(
        &mut s,
        t(7),
        &[
            puback5(3, PubackReasonCode::Success),
            puback5(4, PubackReasonCode::Success),
        ],
    );
    assert_eq!(publish_ids(&sent5(&mut s)), [(5, true)]);
    // New publishes follow the held-back resends.
    s.publish(t(8), msg("a/b", b"new", QoS::AtLeastOnce))
        .unwrap();
    assert_eq!(publish_ids(&sent5(&mut s)), [(6, false)]);
    assert!(events(&mut s).contains(&Event::Completed {
        op: q2,
        outcome: Outcome::Acknowledged
    }));
}

fn incoming(id: u16, qos: QoS) -> P5<Bytes> {
    let qos_pid = match qos {
        QoS::AtLeastOnce => QosPid::AtLeastOnce(pid(id)),
        _ => QosPid::ExactlyOnce(pid(id)),
    };
    publish5("in/x", qos_pid, b"m", &PropertyValues::default())
}

fn closed_with(s: &mut Session) -> ProtocolError {
    assert_eq!(s.state(), State::Disconnected);
    match events(s).last() {
        Some(Event::Disconnected {
            reason: DisconnectReason::Protocol(p),
        }) => *p,
        other => panic!("{other:?}"),
    }
}

// [MQTT-3.3.4-9]: the server may leave at most our Receive Maximum QoS 1 and 2
// messages unacknowledged; one more is answered with DISCONNECT 0x93.
#[test]
fn our_receive_maximum_binds_the_server() {
    let mut c = config5();
    c.receive_maximum = 2;
    let mut s = Session::new(c.clone());
    s.connect(t(0)).unwrap();
    let p = sent5(&mut s);
    let [P5::Connect(connect)] = &p[..] else {
        panic!()
    };
    assert_eq!(connect.properties.receive_maximum(), NonZeroU16::new(2));
    feed5(&mut s, t(0), &[connack5(false, &PropertyValues::default())]);
    let _ = events(&mut s);
    // Two, acknowledged as they come: always within the limit.
    for round in 0..3u16 {
        feed5(
            &mut s,
            t(1),
            &[
                incoming(2 * round + 1, QoS::AtLeastOnce),
                incoming(2 * round + 2, QoS::AtLeastOnce),
            ],
        );
        assert_eq!(sent5(&mut s).len(), 2);
    }
    assert_eq!(s.state(), State::Connected);
    // Three before any ack could have reached the server: too many.
    feed5(
        &mut s,
        t(2),
        &[
            incoming(10, QoS::AtLeastOnce),
            incoming(11, QoS::ExactlyOnce),
            incoming(12, QoS::AtLeastOnce),
        ],
    );
    assert_eq!(closed_with(&mut s), ProtocolError::ReceiveMaximumExceeded);
    assert_eq!(
        disconnect_code(&sent5(&mut s)),
        Some(DisconnectReasonCode::ReceiveMaximumExceeded)
    );
}

// [MQTT-3.3.4-9]: a QoS 2 message counts until our PUBCOMP, a manually acked QoS 1
// one until our PUBACK; the count starts again on every connection [MQTT-4.9.0-1].
#[test]
fn our_receive_maximum_counts_until_the_final_ack() {
    let mut c = config5();
    c.receive_maximum = 2;
    c.manual_acks = true;
    c.clean_session = false;
    let mut s = connected5(c, &PropertyValues::default());
    feed5(&mut s, t(1), &[incoming(1, QoS::ExactlyOnce)]);
    feed5(&mut s, t(1), &[incoming(2, QoS::AtLeastOnce)]);
    let deliveries: Vec<_> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(Incoming {
                delivery: Some(d), ..
            }) => Some(d),
            _ => None,
        })
        .collect();
    s.ack(t(2), deliveries[0]).unwrap();
    s.ack(t(2), deliveries[1]).unwrap();
    let p = sent5(&mut s);
    assert_eq!(p.len(), 2, "PUBREC 1 and PUBACK 2: {p:?}");
    // PUBACK went out: one place free; the QoS 2 message still holds one.
    feed5(&mut s, t(3), &[incoming(3, QoS::AtLeastOnce)]);
    assert_eq!(s.state(), State::Connected);
    // PUBREL 1, PUBCOMP 1 out: another place.
    feed5(&mut s, t(4), &[pubrel5(1)]);
    let _ = sent5(&mut s);
    feed5(&mut s, t(4), &[incoming(4, QoS::AtLeastOnce)]);
    assert_eq!(s.state(), State::Connected);
    feed5(&mut s, t(5), &[incoming(5, QoS::AtLeastOnce)]);
    assert_eq!(closed_with(&mut s), ProtocolError::ReceiveMaximumExceeded);
    // A new connection starts from nothing, whatever the old one held.
    s.connect(t(6)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(6), &[connack5(true, &PropertyValues::default())]);
    let _ = events(&mut s);
    feed5(
        &mut s,
        t(7),
        &[incoming(3, QoS::AtLeastOnce), incoming(4, QoS::AtLeastOnce)],
    );
    assert_eq!(s.state(), State::Connected);
}

// [MQTT-3.1.2-24]: the server must not send a packet larger than our Maximum Packet
// Size (announced in CONNECT); one is refused from its fixed header, with DISCONNECT
// 0x95.
#[test]
fn our_maximum_packet_size_binds_the_server() {
    let mut c = config5();
    c.max_packet_size = 64;
    let mut s = Session::new(c);
    s.connect(t(0)).unwrap();
    let p = sent5(&mut s);
    let [P5::Connect(connect)] = &p[..] else {
        panic!()
    };
    assert_eq!(
        connect.properties.maximum_packet_size(),
        NonZeroU32::new(64)
    );
    feed5(&mut s, t(0), &[connack5(false, &PropertyValues::default())]);
    let _ = events(&mut s);
    let fits = publish5(
        "t",
        QosPid::AtMostOnce,
        &[b'x'; 58],
        &PropertyValues::default(),
    );
    let mut buf = bytes::BytesMut::new();
    fits.encode_to(&mut buf).unwrap();
    assert_eq!(buf.len(), 64);
    feed5(&mut s, t(1), &[fits]);
    assert_eq!(s.state(), State::Connected);
    // One byte more: only its fixed header is needed to refuse it.
    feed_raw(&mut s, t(2), &[0x30, 63]);
    assert_eq!(
        closed_with(&mut s),
        ProtocolError::Decode(DecodeError::PacketTooLarge { size: 65, max: 64 })
    );
    assert_eq!(
        disconnect_code(&sent5(&mut s)),
        Some(DisconnectReasonCode::PacketTooLarge)
    );
}

// [MQTT-3.2.2-15]: never a packet larger than the server's Maximum Packet Size; the
// command completes with a typed failure instead (not a hang, not a violation).
#[test]
fn the_servers_maximum_packet_size_binds_the_session() {
    let mut s = connected5(
        config5(),
        &PropertyValues {
            maximum_packet_size: NonZeroU32::new(100),
            ..PropertyValues::default()
        },
    );
    let big = Message::new(topic("a/b"), vec![0u8; 200], QoS::AtLeastOnce);
    let op = s.publish(t(1), big).unwrap();
    let small = s.publish(t(1), msg("a/b", b"x", QoS::AtLeastOnce)).unwrap();
    let qos0 = Message::new(topic("a/b"), vec![0u8; 95], QoS::AtMostOnce);
    let op0 = s.publish(t(1), qos0).unwrap();
    let e = events(&mut s);
    assert!(e.contains(&Event::Completed {
        op,
        outcome: Outcome::NotSent(NotSent::PacketTooLarge {
            size: 211,
            maximum: 100
        })
    }));
    assert!(e.contains(&Event::Completed {
        op: op0,
        outcome: Outcome::NotSent(NotSent::PacketTooLarge {
            size: 103,
            maximum: 100
        })
    }));
    let p = sent5(&mut s);
    assert_eq!(publish_ids(&p), [(1, false)], "the small one, as packet 1");
    let mut wire = bytes::BytesMut::new();
    for p in &p {
        p.encode_to(&mut wire).unwrap();
    }
    assert!(wire.len() <= 100);
    feed5(&mut s, t(2), &[puback5(1, PubackReasonCode::Success)]);
    assert!(events(&mut s).contains(&Event::Completed {
        op: small,
        outcome: Outcome::Acknowledged
    }));
    // A subscribe too large for the server fails the same way.
    let long = "f/".repeat(60);
    let sub = s
        .subscribe(t(3), &[(filter(&long), QoS::AtMostOnce)])
        .unwrap();
    assert!(matches!(
        &events(&mut s)[..],
        [Event::Completed { op, outcome: Outcome::NotSent(NotSent::PacketTooLarge { .. }) }] if *op == sub
    ));
    assert!(sent5(&mut s).is_empty());
}

// [MQTT-3.2.2-15] to the letter: a server may announce a Maximum Packet Size below
// what even an acknowledgement (4 bytes) or a DISCONNECT with a reason (3) takes; such
// a packet is then not sent, and a command that would send one is refused.
#[test]
fn nothing_goes_out_over_a_tiny_maximum_packet_size() {
    let mut s = connected5(
        config5(),
        &PropertyValues {
            maximum_packet_size: NonZeroU32::new(3),
            ..PropertyValues::default()
        },
    );
    feed5(&mut s, t(1), &[incoming(1, QoS::AtLeastOnce)]);
    assert!(sent5(&mut s).is_empty(), "no PUBACK (4 bytes)");
    assert_eq!(
        s.disconnect_with(
            t(2),
            DisconnectReasonCode::DisconnectWithWillMessage,
            &PropertyValues {
                reason_string: Some(mqtt_proto::Str::new("bye").unwrap()),
                ..PropertyValues::default()
            }
        ),
        Err(mqtt_session::Error::PacketTooLarge)
    );
    // A protocol violation: DISCONNECT 0x82 takes 3 bytes, which fit.
    feed5(&mut s, t(3), &[puback5(9, PubackReasonCode::Success)]);
    assert_eq!(
        sent5(&mut s),
        [P5::Disconnect(mqtt_proto::v5::Disconnect::new(
            DisconnectReasonCode::ProtocolError
        ))]
    );
    let mut s = connected5(
        config5(),
        &PropertyValues {
            maximum_packet_size: NonZeroU32::new(2),
            ..PropertyValues::default()
        },
    );
    feed5(&mut s, t(1), &[puback5(9, PubackReasonCode::Success)]);
    assert_eq!(s.state(), State::Disconnected);
    assert!(sent5(&mut s).is_empty(), "the DISCONNECT does not fit");
}
