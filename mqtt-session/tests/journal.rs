//! The journal a durable session keeps for a store (`Config::durable`): write-ahead
//! ordering, replay, and crashes at any point against the simulated broker.

mod common;

use std::collections::HashMap;

use bytes::Bytes;
use common::*;
use mqtt_proto::{Packet, Publish, QoS, QosPid, TopicFilter};
use mqtt_session::sim::{BrokerConfig, Sim};
use mqtt_session::{Config, Event, MemoryStore, Message, Session, Store, StoreOp};
use proptest::prelude::*;

fn durable() -> Config {
    let mut c = config();
    c.clean_session = false;
    c.durable = true;
    c
}

fn drain(s: &mut Session) -> Vec<StoreOp> {
    std::iter::from_fn(|| s.poll_store_op()).collect()
}

/// A connected durable session (the CONNECT needs no journal entry).
fn connected_durable() -> Session {
    let mut s = Session::new(durable());
    s.connect(t(0)).unwrap();
    assert!(drain(&mut s).is_empty());
    let _ = sent(&mut s);
    feed(&mut s, t(0), &[connack(false)]);
    let _ = events(&mut s);
    s
}

/// A PUBLISH goes out only after its acceptance and its packet identifier are in the
/// journal: a crash can then never leave the broker with a message the store lacks.
#[test]
fn nothing_goes_out_before_the_journal_is_drained() {
    let mut s = connected_durable();
    let op = s.publish(t(1), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    assert_eq!(s.poll_transmit(), None, "journal entries wait");
    let m = msg("a", b"1", QoS::AtLeastOnce);
    assert_eq!(
        drain(&mut s),
        [
            StoreOp::Publish {
                op: op.get(),
                message: m
            },
            StoreOp::Assign {
                op: op.get(),
                packet_id: pid(1)
            }
        ]
    );
    assert!(matches!(&sent(&mut s)[..], [Packet::Publish(_)]));
    feed(&mut s, t(2), &[Packet::Puback(pid(1))]);
    assert_eq!(drain(&mut s), [StoreOp::Complete { op: op.get() }]);
    // QoS 0 is never journaled: at most once needs no store.
    s.publish(t(3), msg("a", b"0", QoS::AtMostOnce)).unwrap();
    assert!(drain(&mut s).is_empty());
    assert_eq!(sent(&mut s).len(), 1);
}

/// PUBREC is journaled before PUBREL goes: after a crash the restored session sends
/// PUBREL, never the PUBLISH again (to a broker that released the id, a PUBLISH is a
/// new message: a duplicate) [MQTT-4.3.3-1].
#[test]
fn release_is_durable_before_pubrel() {
    let mut s = connected_durable();
    let op = s.publish(t(1), msg("a", b"2", QoS::ExactlyOnce)).unwrap();
    let _ = drain(&mut s);
    let _ = sent(&mut s);
    feed(&mut s, t(2), &[Packet::Pubrec(pid(1))]);
    assert_eq!(s.poll_transmit(), None);
    assert_eq!(drain(&mut s), [StoreOp::Release { op: op.get() }]);
    assert_eq!(sent(&mut s), [Packet::Pubrel(pid(1))]);
    // A repeated PUBREC is answered, not journaled again.
    feed(&mut s, t(3), &[Packet::Pubrec(pid(1))]);
    assert!(drain(&mut s).is_empty());
    assert_eq!(sent(&mut s), [Packet::Pubrel(pid(1))]);
    feed(&mut s, t(4), &[Packet::Pubcomp(pid(1))]);
    assert_eq!(drain(&mut s), [StoreOp::Complete { op: op.get() }]);
}

/// An incoming QoS 2 identifier is durable before PUBREC goes, and freed on PUBREL: a
/// restored session does not deliver the broker's resend again [MQTT-4.3.3-2].
#[test]
fn inbound_qos2_ids_are_durable_before_pubrec() {
    let mut s = connected_durable();
    let p = Publish::new(
        topic("x"),
        QosPid::ExactlyOnce(pid(9)),
        Bytes::from_static(b"in"),
    );
    feed(&mut s, t(1), &[Packet::Publish(p.clone())]);
    assert_eq!(s.poll_transmit(), None);
    assert_eq!(
        drain(&mut s),
        [StoreOp::InboundReceived { packet_id: pid(9) }]
    );
    assert_eq!(sent(&mut s), [Packet::Pubrec(pid(9))]);
    let mut store = MemoryStore::new();
    store
        .persist(&[StoreOp::InboundReceived { packet_id: pid(9) }])
        .unwrap();
    // The process dies here; the new one must not deliver the resend.
    let (mut again, _) = Session::restore(durable(), store.load().unwrap());
    again.connect(t(5)).unwrap();
    let _ = sent(&mut again);
    feed(&mut again, t(5), &[connack(true)]);
    feed(
        &mut again,
        t(6),
        &[Packet::Publish(Publish { dup: true, ..p })],
    );
    assert!(!events(&mut again)
        .iter()
        .any(|e| matches!(e, Event::Message(_))));
    assert_eq!(sent(&mut again), [Packet::Pubrec(pid(9))]);
    feed(&mut again, t(7), &[Packet::Pubrel(pid(9))]);
    assert_eq!(
        drain(&mut again),
        [StoreOp::InboundReleased { packet_id: pid(9) }]
    );
    assert_eq!(sent(&mut again), [Packet::Pubcomp(pid(9))]);
}

/// Replaying the journal gives back the session's state, and the state's own entries
/// (a compacted store) replay to it again.
#[test]
fn replay_matches_the_exported_state() {
    let mut s = connected_durable();
    let mut store = MemoryStore::new();
    let mut persist = |s: &mut Session| store.persist(&drain(s)).unwrap();
    for (i, qos) in [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        s.publish(t(1), Message::new(topic("r"), vec![i as u8], qos))
            .unwrap();
    }
    persist(&mut s);
    let _ = sent(&mut s);
    feed(
        &mut s,
        t(2),
        &[Packet::Pubrec(pid(3)), Packet::Puback(pid(1))],
    );
    persist(&mut s);
    s.disconnect(t(3)); // offline: what follows waits in the queue
    let _ = sent(&mut s);
    s.publish(t(3), msg("r", b"queued", QoS::AtLeastOnce))
        .unwrap();
    persist(&mut s);
    let exported = s.export_state();
    let replayed = store.load().unwrap();
    // The replay keeps a released message whole (so the application can tell which
    // it was); the session restored from it holds what the live one holds.
    let (restored, _) = Session::restore(durable(), replayed.clone());
    let again = restored.export_state();
    assert_eq!(again.inflight, exported.inflight);
    assert_eq!(again.queued, exported.queued);
    assert!(matches!(
        &replayed.inflight[1].command,
        mqtt_session::StoredCommand::Publish(m) if m.payload[..] == [2u8]
    ));
    let mut compacted = mqtt_session::SessionState::empty();
    for op in replayed.to_ops() {
        compacted.apply(&op);
    }
    assert_eq!(compacted.inflight, replayed.inflight);
    assert_eq!(compacted.queued, replayed.queued);
    assert_eq!(compacted.inbound_qos2, replayed.inbound_qos2);
}

/// A publisher whose process crashes again and again, at random moments (connections
/// cut inside packets, journal entries of the last instant lost with the process),
/// restarting each time from its store: every message whose acceptance reached the
/// store arrives, QoS 1 at least once, QoS 2 exactly once; none arrives twice at
/// QoS 2, accepted or not [MQTT-4.3.3-2], [MQTT-4.4.0-1].
fn crash_run(plan: &[(usize, bool, usize, usize, usize)]) {
    let mut sim = Sim::new(BrokerConfig {
        max_inflight: 4,
        ..BrokerConfig::default()
    });
    let mut sc = Config::new("subscriber").unwrap();
    sc.clean_session = false;
    let sub = sim.add_client(sc);
    sim.connect(sub).unwrap();
    sim.run();
    let f = TopicFilter::from_static("j/#").unwrap();
    let now = sim.now();
    sim.session(sub)
        .subscribe(now, &[(f, QoS::ExactlyOnce)])
        .unwrap();
    sim.run();
    let mut pc = Config::new("publisher").unwrap();
    pc.clean_session = false;
    pc.durable = true;
    pc.max_inflight = 3;
    let publisher = sim.add_client(pc);
    sim.connect(publisher).unwrap();
    sim.run();

    let mut sent_qos: HashMap<u32, QoS> = HashMap::new();
    let mut next = 0u32;
    let mut publish = |sim: &mut Sim, qos2: bool| {
        let qos = if qos2 {
            QoS::ExactlyOnce
        } else {
            QoS::AtLeastOnce
        };
        let now = sim.now();
        let m = Message::new(topic("j/m"), next.to_be_bytes().to_vec(), qos);
        sim.session(publisher).publish(now, m).unwrap();
        sent_qos.insert(next, qos);
        next += 1;
    };
    for &(count, qos2, up, down, unpersisted) in plan {
        for _ in 0..count {
            publish(&mut sim, qos2);
        }
        sim.step(); // some bytes move, most are still in flight
        let (to_broker, to_client) = sim.in_flight(publisher);
        sim.cut_after(publisher, up % (to_broker + 1), down % (to_client + 1));
        // Accepted just before the crash: their journal entries die with the process.
        for _ in 0..unpersisted {
            publish(&mut sim, qos2);
        }
        sim.crash_and_restore(publisher);
        sim.connect(publisher).unwrap();
        sim.run();
    }
    sim.advance(120_000);
    let accepted: Vec<u32> = (0..next)
        .filter(|i| {
            let payload = Bytes::copy_from_slice(&i.to_be_bytes());
            sim.store(publisher).ops().iter().any(
                |op| matches!(op, StoreOp::Publish { message, .. } if message.payload == payload),
            )
        })
        .collect();
    let mut received: HashMap<u32, usize> = HashMap::new();
    for e in sim.events(sub) {
        if let Event::Message(m) = e {
            let i = u32::from_be_bytes(m.payload().try_into().unwrap());
            *received.entry(i).or_default() += 1;
        }
    }
    for i in &accepted {
        let n = received.get(i).copied().unwrap_or(0);
        match sent_qos[i] {
            QoS::ExactlyOnce => assert_eq!(n, 1, "QoS 2 message {i} arrived {n} times"),
            _ => assert!(n >= 1, "QoS 1 message {i} lost"),
        }
    }
    for (i, n) in &received {
        if sent_qos[i] == QoS::ExactlyOnce {
            assert_eq!(*n, 1, "QoS 2 message {i} arrived {n} times");
        }
    }
    let s = sim.session_ref(publisher).stats();
    assert_eq!((s.inflight, s.queued), (0, 0), "{s:?}");
    // Not vacuous: what was accepted is what the subscriber saw (QoS 1 may repeat).
    let unique = received.len();
    assert!(unique >= accepted.len(), "{unique} < {}", accepted.len());
    let planned: usize = plan.iter().map(|p| p.0).sum();
    assert!(
        accepted.len() >= planned,
        "{} of {planned} accepted",
        accepted.len()
    );
}

#[test]
fn a_crash_between_pubrec_and_its_journal_entry_resends_publish_not_a_duplicate() {
    // Deliver the PUBREC (the broker now awaits PUBREL), crash before persisting.
    crash_run(&[(1, true, 1000, 1000, 0), (0, true, 0, 0, 0)]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("JOURNAL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400)
    ))]

    #[test]
    fn a_durable_publisher_survives_crashes_at_any_point(
        plan in proptest::collection::vec(
            (0usize..6, any::<bool>(), 0usize..600, 0usize..60, 0usize..2),
            1..10,
        )
    ) {
        crash_run(&plan);
    }
}
