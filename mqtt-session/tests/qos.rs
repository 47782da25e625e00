//! QoS flows both ways, packet identifiers, the in-flight window, manual acks.

mod common;

use std::collections::HashSet;

use bytes::Bytes;
use common::*;
use mqtt_proto::{Packet, Publish, QoS, QosPid, Suback, SubackCodes, SubackReturnCode};
use mqtt_session::{Error, Event, Incoming, Outcome, Session};

#[test]
fn qos0_out_completes_when_handed_to_the_transport() {
    let mut s = connected(config());
    let op = s.publish(t(1), msg("a/b", b"hi", QoS::AtMostOnce)).unwrap();
    assert!(events(&mut s).is_empty());
    let tx = s.poll_transmit().unwrap();
    assert_eq!(
        &tx.payload[..],
        b"hi",
        "payload handed out as its own Bytes"
    );
    assert_eq!(
        events(&mut s),
        [Event::Completed {
            op,
            outcome: Outcome::Sent
        }]
    );
}

#[test]
fn payload_is_never_copied() {
    let mut s = connected(config());
    let payload = Bytes::from(vec![7u8; 4096]);
    let m = mqtt_session::Message::new(topic("t"), payload.clone(), QoS::AtLeastOnce);
    s.publish(t(1), m).unwrap();
    let tx = s.poll_transmit().unwrap();
    assert_eq!(
        tx.payload.as_ptr(),
        payload.as_ptr(),
        "same memory as the caller's Bytes"
    );
}

#[test]
fn qos1_out() {
    let mut s = connected(config());
    let op = s.publish(t(1), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    let p = sent(&mut s);
    let Packet::Publish(p) = &p[0] else { panic!() };
    assert_eq!(p.qos_pid, QosPid::AtLeastOnce(pid(1)));
    assert!(!p.dup);
    feed(&mut s, t(2), &[Packet::Puback(pid(1))]);
    assert_eq!(
        events(&mut s),
        [Event::Completed {
            op,
            outcome: Outcome::Acknowledged
        }]
    );
    assert_eq!(s.stats().inflight, 0);
}

// [MQTT-4.3.3-1]: PUBLISH, PUBREC, PUBREL, PUBCOMP.
#[test]
fn qos2_out() {
    let mut s = connected(config());
    let op = s.publish(t(1), msg("a", b"2", QoS::ExactlyOnce)).unwrap();
    let p = sent(&mut s);
    assert!(matches!(&p[0], Packet::Publish(p) if p.qos_pid == QosPid::ExactlyOnce(pid(1))));
    feed(&mut s, t(2), &[Packet::Pubrec(pid(1))]);
    assert_eq!(sent(&mut s), [Packet::Pubrel(pid(1))]);
    assert!(events(&mut s).is_empty(), "not complete before PUBCOMP");
    feed(&mut s, t(3), &[Packet::Pubcomp(pid(1))]);
    assert_eq!(
        events(&mut s),
        [Event::Completed {
            op,
            outcome: Outcome::Acknowledged
        }]
    );
}

#[test]
fn qos1_in_is_delivered_and_acked() {
    let mut s = connected(config());
    let p = Publish::new(
        topic("x"),
        QosPid::AtLeastOnce(pid(9)),
        Bytes::from_static(b"m"),
    );
    feed(&mut s, t(1), &[Packet::Publish(p.clone())]);
    let e = events(&mut s);
    let [Event::Message(m)] = &e[..] else {
        panic!("{e:?}")
    };
    assert_eq!(m.to_publish(), p);
    assert_eq!(
        (m.topic(), m.payload(), m.qos(), m.delivery),
        ("x", &b"m"[..], QoS::AtLeastOnce, None)
    );
    assert_eq!(sent(&mut s), [Packet::Puback(pid(9))]);
}

// [MQTT-4.3.3-2]: exactly once, whatever the broker re-sends.
#[test]
fn qos2_in_is_delivered_exactly_once() {
    let mut s = connected(config());
    let p = Publish::new(
        topic("x"),
        QosPid::ExactlyOnce(pid(5)),
        Bytes::from_static(b"once"),
    );
    feed(&mut s, t(1), &[Packet::Publish(p.clone())]);
    assert_eq!(events(&mut s).len(), 1);
    assert_eq!(sent(&mut s), [Packet::Pubrec(pid(5))]);
    // The broker did not see PUBREC and re-sends with DUP: answered, not delivered.
    let dup = Publish {
        dup: true,
        ..p.clone()
    };
    feed(&mut s, t(2), &[Packet::Publish(dup)]);
    assert!(events(&mut s).is_empty());
    assert_eq!(sent(&mut s), [Packet::Pubrec(pid(5))]);
    feed(&mut s, t(3), &[Packet::Pubrel(pid(5))]);
    assert_eq!(sent(&mut s), [Packet::Pubcomp(pid(5))]);
    assert_eq!(s.stats().inbound_qos2, 0);
    // After PUBREL the id is free: the same id is a new message.
    feed(&mut s, t(4), &[Packet::Publish(p)]);
    assert_eq!(events(&mut s).len(), 1);
}

#[test]
fn pubrel_for_an_unknown_id_is_still_completed() {
    let mut s = connected(config());
    feed(&mut s, t(1), &[Packet::Pubrel(pid(77))]);
    assert_eq!(sent(&mut s), [Packet::Pubcomp(pid(77))]);
    assert!(events(&mut s).is_empty());
}

#[test]
fn manual_acks_hold_puback_and_pubrec_until_the_application_acks() {
    let mut cfg = config();
    cfg.manual_acks = true;
    let mut s = connected(cfg);
    let q1 = Publish::new(
        topic("x"),
        QosPid::AtLeastOnce(pid(1)),
        Bytes::from_static(b"a"),
    );
    let q2 = Publish::new(
        topic("x"),
        QosPid::ExactlyOnce(pid(2)),
        Bytes::from_static(b"b"),
    );
    feed(
        &mut s,
        t(1),
        &[Packet::Publish(q1), Packet::Publish(q2.clone())],
    );
    let deliveries: Vec<_> = events(&mut s)
        .into_iter()
        .map(|e| match e {
            Event::Message(Incoming {
                delivery: Some(d), ..
            }) => d,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(sent(&mut s).is_empty(), "nothing acked yet");
    // A re-sent QoS 2 message is neither delivered again nor answered before the ack.
    feed(
        &mut s,
        t(2),
        &[Packet::Publish(Publish { dup: true, ..q2 })],
    );
    assert!(events(&mut s).is_empty() && sent(&mut s).is_empty());
    // Acked out of order, answered in the order the PUBLISH packets came
    // [MQTT-4.6.0-2], [MQTT-4.6.0-3]: PUBREC 2 waits for PUBACK 1.
    s.ack(t(3), deliveries[1]).unwrap();
    assert!(sent(&mut s).is_empty());
    s.ack(t(3), deliveries[0]).unwrap();
    assert_eq!(
        sent(&mut s),
        [Packet::Puback(pid(1)), Packet::Pubrec(pid(2))]
    );
    assert_eq!(s.ack(t(4), deliveries[0]), Err(Error::UnknownDelivery));
    assert_eq!(s.ack(t(4), deliveries[1]), Err(Error::UnknownDelivery));
}

#[test]
fn ack_without_manual_acks_is_refused() {
    let mut cfg = config();
    cfg.manual_acks = true;
    let mut m = connected(cfg);
    let q1 = Publish::new(
        topic("x"),
        QosPid::AtLeastOnce(pid(1)),
        Bytes::from_static(b"a"),
    );
    feed(&mut m, t(1), &[Packet::Publish(q1)]);
    let Some(Event::Message(Incoming {
        delivery: Some(d), ..
    })) = m.poll_event()
    else {
        panic!()
    };
    let mut s = connected(config());
    assert_eq!(s.ack(t(1), d), Err(Error::ManualAcksDisabled));
}

#[test]
fn inflight_window_holds_later_publishes_in_order() {
    let mut cfg = config();
    cfg.max_inflight = 2;
    let mut s = connected(cfg);
    for i in 0..5u8 {
        s.publish(
            t(1),
            mqtt_session::Message::new(topic("a"), vec![i], QoS::AtLeastOnce),
        )
        .unwrap();
    }
    assert_eq!(sent(&mut s).len(), 2);
    assert_eq!(s.stats().queued, 3);
    feed(&mut s, t(2), &[Packet::Puback(pid(2))]);
    let p = sent(&mut s);
    assert!(
        matches!(&p[..], [Packet::Publish(p)] if p.payload[..] == [2]),
        "{p:?}"
    );
    feed(
        &mut s,
        t(3),
        &[Packet::Puback(pid(1)), Packet::Puback(pid(3))],
    );
    let p = sent(&mut s);
    let payloads: Vec<u8> = p
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => p.payload[0],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(payloads, [3, 4], "order kept [MQTT-4.6.0-2]");
}

// [MQTT-2.3.1-1], [MQTT-2.3.1-2]: non-zero, unique among operations in flight; when
// all 65,535 are in use the next command waits instead of colliding.
#[test]
fn packet_ids_are_unique_and_exhaustion_queues() {
    let mut cfg = config();
    cfg.max_inflight = u16::MAX;
    cfg.max_queued = 70_000;
    let mut s = connected(cfg);
    for _ in 0..65_535 {
        s.publish(t(1), msg("a", b"", QoS::AtLeastOnce)).unwrap();
    }
    let ids: HashSet<u16> = sent(&mut s)
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => p.qos_pid.packet_id().unwrap().get(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 65_535);
    assert!(!ids.contains(&0));
    let late = s
        .subscribe(t(2), &[(filter("f"), QoS::AtMostOnce)])
        .unwrap();
    assert!(sent(&mut s).is_empty(), "no free id: waits");
    feed(&mut s, t(3), &[Packet::Puback(pid(300))]);
    let p = sent(&mut s);
    let [Packet::Subscribe(sub)] = &p[..] else {
        panic!("{p:?}")
    };
    assert_eq!(
        sub.packet_id,
        pid(300),
        "the freed id, reused only after its final ack"
    );
    let codes = SubackCodes::from_codes(&[SubackReturnCode::Success(QoS::AtMostOnce)]).unwrap();
    feed(
        &mut s,
        t(4),
        &[Packet::Suback(Suback {
            packet_id: pid(300),
            codes: codes.clone(),
        })],
    );
    assert!(events(&mut s).contains(&Event::Completed {
        op: late,
        outcome: Outcome::Subscribed(codes)
    }));
}

#[test]
fn subscribe_and_unsubscribe_complete_with_the_brokers_answer() {
    let mut s = connected(config());
    let op = s
        .subscribe(
            t(1),
            &[
                (filter("a/+"), QoS::ExactlyOnce),
                (filter("b/#"), QoS::AtLeastOnce),
            ],
        )
        .unwrap();
    let p = sent(&mut s);
    let [Packet::Subscribe(sub)] = &p[..] else {
        panic!("{p:?}")
    };
    let codes = SubackCodes::from_codes(&[
        SubackReturnCode::Success(QoS::AtLeastOnce),
        SubackReturnCode::Failure,
    ])
    .unwrap();
    feed(
        &mut s,
        t(2),
        &[Packet::Suback(Suback {
            packet_id: sub.packet_id,
            codes: codes.clone(),
        })],
    );
    assert_eq!(
        events(&mut s),
        [Event::Completed {
            op,
            outcome: Outcome::Subscribed(codes)
        }]
    );
    let subs: Vec<_> = s
        .subscriptions()
        .map(|(f, q)| (f.as_str().to_owned(), q))
        .collect();
    assert_eq!(subs, [("a/+".to_owned(), QoS::AtLeastOnce)]);

    let op = s.unsubscribe(t(3), &[filter("a/+")]).unwrap();
    let p = sent(&mut s);
    let [Packet::Unsubscribe(u)] = &p[..] else {
        panic!("{p:?}")
    };
    feed(&mut s, t(4), &[Packet::Unsuback(u.packet_id)]);
    assert_eq!(
        events(&mut s),
        [Event::Completed {
            op,
            outcome: Outcome::Unsubscribed
        }]
    );
    assert_eq!(s.subscriptions().count(), 0);
}

#[test]
fn empty_filter_lists_are_refused_at_the_call() {
    let mut s = connected(config());
    assert_eq!(s.subscribe(t(1), &[]), Err(Error::NoFilters));
    assert_eq!(s.unsubscribe(t(1), &[]), Err(Error::NoFilters));
}

#[test]
fn the_queue_is_bounded() {
    let mut cfg = config();
    cfg.max_queued = 3;
    let mut s = Session::new(cfg);
    for _ in 0..3 {
        s.publish(t(0), msg("a", b"", QoS::AtLeastOnce)).unwrap();
    }
    assert_eq!(
        s.publish(t(0), msg("a", b"", QoS::AtLeastOnce)),
        Err(Error::QueueFull)
    );
    assert_eq!(s.stats().queued, 3);
}

/// A slot freed in a full in-flight window is used at once: waiting for several
/// acknowledgements first stalls against a broker with Nagle's algorithm on, which
/// holds its next PUBACKs until our TCP ACK, itself delayed while we send nothing.
/// Order is kept [MQTT-4.6.0-6] and nothing waits forever.
#[test]
fn a_slot_freed_in_a_full_window_is_used_at_once() {
    let mut c = config();
    c.max_inflight = 16;
    let mut s = connected(c);
    for i in 0..40u8 {
        s.publish(
            t(1),
            mqtt_session::Message::new(topic("w"), vec![i], QoS::AtLeastOnce),
        )
        .unwrap();
    }
    let first = sent(&mut s);
    assert_eq!(first.len(), 16, "the window fills at once");
    assert!(sent(&mut s).is_empty(), "a full window sends nothing more");
    feed(&mut s, t(2), &[Packet::Puback(pid(1))]);
    let batch = sent(&mut s);
    assert_eq!(batch.len(), 1, "one free slot, one publish");
    assert_eq!(s.stats().inflight, 16);
    // Acknowledge everything as it comes: all 40 go out, in order.
    let mut payloads: Vec<u8> = Vec::new();
    for p in first.iter().chain(batch.iter()) {
        if let Packet::Publish(p) = p {
            payloads.push(p.payload[0]);
        }
    }
    let mut next_ack = 2u16;
    while payloads.len() < 40 || next_ack as usize <= payloads.len() {
        if next_ack as usize > payloads.len() {
            panic!("stalled with {} sent", payloads.len());
        }
        feed(&mut s, t(3), &[Packet::Puback(pid(next_ack))]);
        next_ack += 1;
        for p in sent(&mut s) {
            if let Packet::Publish(p) = p {
                payloads.push(p.payload[0]);
            }
        }
    }
    assert_eq!(payloads, (0..40).collect::<Vec<u8>>());
    assert_eq!(s.stats().inflight, 0);
}
