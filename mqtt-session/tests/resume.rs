//! Session resumption across transports, lost sessions, durable state.

mod common;

use bytes::Bytes;
use common::*;
use mqtt_proto::{Packet, Publish, QoS, QosPid, Suback, SubackCodes, SubackReturnCode};
use mqtt_session::{DisconnectReason, Event, Incoming, Outcome, Session, State};

fn persistent() -> mqtt_session::Config {
    let mut c = config();
    c.clean_session = false;
    c
}

/// Connect again on a new transport; the broker answers with `session_present`.
fn reconnect(s: &mut Session, now: u64, session_present: bool) -> Vec<Packet<Bytes>> {
    s.connect(t(now)).unwrap();
    let p = sent(s);
    assert!(
        matches!(&p[..], [Packet::Connect(c)] if !c.clean_session),
        "{p:?}"
    );
    feed(s, t(now), &[connack(session_present)]);
    sent(s)
}

// [MQTT-4.4.0-1], [MQTT-3.3.1-1]: unacked PUBLISH re-sent with DUP, PUBREL re-sent,
// original ids, original order.
#[test]
fn resume_resends_in_order_with_dup_and_original_ids() {
    let mut s = connected(persistent());
    let a = s.publish(t(1), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    let b = s.publish(t(1), msg("a", b"2", QoS::ExactlyOnce)).unwrap();
    let c = s.publish(t(1), msg("a", b"3", QoS::ExactlyOnce)).unwrap();
    let first = sent(&mut s);
    assert_eq!(first.len(), 3);
    feed(&mut s, t(2), &[Packet::Pubrec(pid(2))]); // b released
    assert_eq!(sent(&mut s), [Packet::Pubrel(pid(2))]);
    s.handle_transport_closed(t(3));
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::TransportClosed
        }]
    );
    // Published while offline: waits, sent after the resends.
    let d = s.publish(t(4), msg("a", b"4", QoS::AtLeastOnce)).unwrap();

    let again = reconnect(&mut s, 5, true);
    let expect_dup = |p: &Packet<Bytes>, id: u16, payload: &[u8]| match p {
        Packet::Publish(p) => {
            assert!(p.dup, "DUP on resend");
            assert_eq!(p.qos_pid.packet_id(), Some(pid(id)));
            assert_eq!(&p.payload[..], payload);
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(again.len(), 4, "{again:?}");
    expect_dup(&again[0], 1, b"1");
    assert_eq!(
        again[1],
        Packet::Pubrel(pid(2)),
        "after PUBREC only PUBREL, never PUBLISH"
    );
    expect_dup(&again[2], 3, b"3");
    assert!(matches!(&again[3], Packet::Publish(p) if !p.dup && &p.payload[..] == b"4"));
    assert_eq!(s.stats().resends, 3);

    feed(
        &mut s,
        t(6),
        &[
            Packet::Puback(pid(1)),
            Packet::Pubcomp(pid(2)),
            Packet::Pubrec(pid(3)),
            Packet::Puback(pid(4)),
        ],
    );
    let _ = sent(&mut s);
    feed(&mut s, t(7), &[Packet::Pubcomp(pid(3))]);
    let done = acknowledged(events(&mut s));
    assert_eq!(done, [a, b, d, c]);
}

#[test]
fn incoming_qos2_ids_survive_a_resumed_session() {
    let mut s = connected(persistent());
    let p = Publish::new(
        topic("x"),
        QosPid::ExactlyOnce(pid(4)),
        Bytes::from_static(b"m"),
    );
    feed(&mut s, t(1), &[Packet::Publish(p.clone())]);
    assert_eq!(events(&mut s).len(), 1);
    let _ = sent(&mut s); // the PUBREC is lost with the connection
    s.handle_transport_closed(t(2));
    reconnect(&mut s, 3, true);
    let _ = events(&mut s);
    // The broker re-sends the PUBLISH: not delivered again [MQTT-4.3.3-2].
    feed(&mut s, t(4), &[Packet::Publish(Publish { dup: true, ..p })]);
    assert!(events(&mut s).is_empty());
    assert_eq!(sent(&mut s), [Packet::Pubrec(pid(4))]);
}

#[test]
fn lost_session_republishes_as_new_and_resubscribes() {
    let mut s = connected(persistent());
    let sub = s
        .subscribe(t(1), &[(filter("in/#"), QoS::AtLeastOnce)])
        .unwrap();
    let _ = sent(&mut s);
    let codes = SubackCodes::from_codes(&[SubackReturnCode::Success(QoS::AtLeastOnce)]).unwrap();
    feed(
        &mut s,
        t(1),
        &[Packet::Suback(Suback {
            packet_id: pid(1),
            codes: codes.clone(),
        })],
    );
    assert_eq!(
        events(&mut s),
        [Event::Completed {
            op: sub,
            outcome: Outcome::Subscribed(codes)
        }]
    );
    let q1 = s.publish(t(2), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    let q2 = s.publish(t(2), msg("a", b"2", QoS::ExactlyOnce)).unwrap();
    let _ = sent(&mut s);
    feed(&mut s, t(3), &[Packet::Pubrec(pid(3))]); // q2 owned by the broker now
    let _ = sent(&mut s);
    s.handle_transport_closed(t(4));
    let _ = events(&mut s);

    let again = reconnect(&mut s, 5, false);
    let e = events(&mut s);
    assert!(
        e.contains(&Event::Completed {
            op: q2,
            outcome: Outcome::Acknowledged
        }),
        "{e:?}"
    );
    assert!(
        e.contains(&Event::SessionLost {
            republished: 1,
            failed: 0,
            resubscribed: 1
        }),
        "{e:?}"
    );
    assert!(
        matches!(&again[0], Packet::Subscribe(s) if s.filters.iter().next().unwrap().0.as_str() == "in/#")
    );
    assert!(
        matches!(&again[1], Packet::Publish(p) if !p.dup && &p.payload[..] == b"1"),
        "{again:?}"
    );
    assert_eq!(again.len(), 2);
    let Packet::Publish(p) = &again[1] else {
        unreachable!()
    };
    feed(
        &mut s,
        t(6),
        &[Packet::Puback(p.qos_pid.packet_id().unwrap())],
    );
    assert!(events(&mut s).contains(&Event::Completed {
        op: q1,
        outcome: Outcome::Acknowledged
    }));
}

#[test]
fn lost_session_can_fail_pending_publishes_instead() {
    let mut cfg = persistent();
    cfg.republish_on_session_loss = false;
    let mut s = connected(cfg);
    let q1 = s.publish(t(1), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    let _ = sent(&mut s);
    s.handle_transport_closed(t(2));
    let again = reconnect(&mut s, 3, false);
    assert!(again.is_empty(), "{again:?}");
    let e = events(&mut s);
    assert!(
        e.contains(&Event::Completed {
            op: q1,
            outcome: Outcome::SessionLost
        }),
        "{e:?}"
    );
    assert!(e.contains(&Event::SessionLost {
        republished: 0,
        failed: 1,
        resubscribed: 0
    }));
}

#[test]
fn qos0_not_yet_handed_out_survives_a_drop() {
    let mut s = connected(config());
    let op = s.publish(t(1), msg("a", b"0", QoS::AtMostOnce)).unwrap();
    s.handle_transport_closed(t(2)); // before the transmit was polled
    assert_eq!(s.stats().queued, 1);
    let again = reconnect_clean(&mut s);
    assert!(matches!(&again[..], [Packet::Publish(p)] if &p.payload[..] == b"0"));
    assert!(events(&mut s).contains(&Event::Completed {
        op,
        outcome: Outcome::Sent
    }));
}

fn reconnect_clean(s: &mut Session) -> Vec<Packet<Bytes>> {
    s.connect(t(10)).unwrap();
    let _ = sent(s);
    feed(s, t(10), &[connack(false)]);
    sent(s)
}

#[test]
fn exported_state_restores_and_completes_its_flows() {
    let mut s = connected(persistent());
    let a = s.publish(t(1), msg("a", b"q1", QoS::AtLeastOnce)).unwrap();
    let b = s.publish(t(1), msg("a", b"q2", QoS::ExactlyOnce)).unwrap();
    let c = s
        .publish(t(1), msg("a", b"q2-released", QoS::ExactlyOnce))
        .unwrap();
    let _ = sent(&mut s);
    feed(&mut s, t(2), &[Packet::Pubrec(pid(3))]);
    let incoming = Publish::new(
        topic("x"),
        QosPid::ExactlyOnce(pid(40)),
        Bytes::from_static(b"in"),
    );
    feed(&mut s, t(2), &[Packet::Publish(incoming.clone())]);
    let _ = sent(&mut s);
    let _ = events(&mut s);
    let state = s.export_state();
    let _ = (a, b, c);
    drop(s); // the process dies

    let (mut s, ops) = Session::restore(persistent(), state.clone());
    assert_eq!(ops.len(), 3);
    assert_eq!(s.state(), State::Disconnected);
    assert_eq!(
        s.export_state(),
        state,
        "restore then export is the identity"
    );
    let again = reconnect(&mut s, 100, true);
    assert!(
        matches!(&again[0], Packet::Publish(p) if p.dup && p.qos_pid == QosPid::AtLeastOnce(pid(1)))
    );
    assert!(
        matches!(&again[1], Packet::Publish(p) if p.dup && p.qos_pid == QosPid::ExactlyOnce(pid(2)))
    );
    assert_eq!(again[2], Packet::Pubrel(pid(3)));
    // The incoming QoS 2 id is still reserved: a re-sent PUBLISH is not delivered.
    feed(
        &mut s,
        t(101),
        &[Packet::Publish(Publish {
            dup: true,
            ..incoming
        })],
    );
    assert!(!events(&mut s)
        .iter()
        .any(|e| matches!(e, Event::Message(Incoming { .. }))));
    feed(
        &mut s,
        t(102),
        &[
            Packet::Puback(pid(1)),
            Packet::Pubrec(pid(2)),
            Packet::Pubcomp(pid(3)),
            Packet::Pubrel(pid(40)),
        ],
    );
    feed(&mut s, t(103), &[Packet::Pubcomp(pid(2))]);
    let done = acknowledged(events(&mut s));
    assert_eq!(done, [ops[0], ops[2], ops[1]]);
    assert_eq!(s.stats().inflight, 0);
    assert_eq!(s.stats().inbound_qos2, 0);
}
