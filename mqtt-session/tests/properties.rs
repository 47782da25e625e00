//! Property tests: random histories of commands, broker deliveries, connection cuts
//! (also mid-packet), reconnects, broker restarts and clock ticks, played against the
//! strict simulated broker over the simulated network (`mqtt_session::sim`), with the
//! delivery guarantees, packet identifier rules, DUP on resend, keepalive timing and
//! memory bounds checked after every step and at the end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{Packet, QoS, SubackReturnCode, TopicFilter, TopicName};
use mqtt_session::sim::{BrokerConfig, ClientIdx, CloseReason, Record, Sim, Wire};
use mqtt_session::{
    Config, DeliveryId, DisconnectReason, Error, Event, Instant, Message, OpId, Outcome, Session,
    StoredCommand,
};
use proptest::prelude::*;

const CLIENT_ID: &str = "prop-client";
/// Topic filters the client subscribes to; the broker injects on `TOPICS`.
const FILTERS: [&str; 4] = ["in/a", "in/+", "in/#", "in/b/c"];
const TOPICS: [&str; 3] = ["in/a", "in/b", "in/b/c"];

// ---- What a history is made of ------------------------------------------------------

/// Fixed for one history.
#[derive(Debug, Clone)]
struct Setup {
    /// Seconds; 0 turns keepalive off. At least 2 otherwise, so the default ping
    /// timeout (half the keep alive, at least 1 s) fits in 1.5 x keep alive.
    keep_alive: u64,
    clean_session: bool,
    max_inflight: u16,
    max_queued: usize,
    broker_inflight: u16,
    /// Deliver bytes in random chunks of at most this size.
    chunk: Option<usize>,
    seed: u64,
    /// Subscribe to `in/#` right after the first CONNACK.
    initial_sub: Option<QoS>,
    /// The application acknowledges incoming QoS 1 and 2 messages itself (`Op::Ack`).
    manual_acks: bool,
}

#[derive(Debug, Clone)]
enum Op {
    /// The client publishes a fresh payload (its identity in the checks).
    Publish {
        qos: QoS,
        len: usize,
    },
    Subscribe {
        filter: usize,
        qos: QoS,
    },
    Unsubscribe {
        filter: usize,
    },
    /// Another client publishes through the broker (a fresh payload).
    Inject {
        topic: usize,
        qos: QoS,
    },
    /// One round of the network.
    Step,
    /// The network until quiet.
    Run,
    /// Cut the connection after letting through `up / 255` and `down / 255` of the
    /// bytes in flight each way (0: a clean cut; otherwise often mid-packet).
    Cut {
        up: u8,
        down: u8,
    },
    Reconnect,
    /// A clean DISCONNECT.
    Disconnect,
    /// The broker restarts, keeping persistent sessions or losing everything.
    Restart {
        keep: bool,
    },
    Advance(u64),
    /// The broker stops forwarding to the client for this long (then resumes).
    Silence(u64),
    /// The client process dies and starts again from the state its store kept
    /// (`export_state` / `restore`).
    ProcessRestart,
    /// Manual acks: the application acknowledges one of the messages it holds.
    Ack(prop::sample::Index),
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop_oneof![Just(0u64), Just(2), 2u64..=30, Just(60)],
        prop::bool::weighted(0.15),
        prop_oneof![Just(1u16), 1u16..=4, Just(100)],
        prop_oneof![Just(3usize), 3usize..=20, Just(10_000)],
        prop_oneof![Just(1u16), 1u16..=4, Just(20)],
        prop_oneof![Just(None), (1usize..=8).prop_map(Some)],
        any::<u64>(),
        prop::option::weighted(0.7, qos()),
        prop::bool::weighted(0.3),
    )
        .prop_map(|t| Setup {
            keep_alive: t.0,
            clean_session: t.1,
            max_inflight: t.2,
            max_queued: t.3,
            broker_inflight: t.4,
            chunk: t.5,
            seed: t.6,
            initial_sub: t.7,
            manual_acks: t.8,
        })
}

fn advance_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0u64..100,
        6 => 0u64..5_000,
        3 => 0u64..120_000,
        // Long idle periods: hours of pings.
        1 => Just(3 * 3_600_000u64),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (qos(), prop_oneof![8 => 0usize..64, 1 => 64usize..3_000])
            .prop_map(|(qos, len)| Op::Publish { qos, len }),
        2 => (0..FILTERS.len(), qos()).prop_map(|(filter, qos)| Op::Subscribe { filter, qos }),
        1 => (0..FILTERS.len()).prop_map(|filter| Op::Unsubscribe { filter }),
        5 => (0..TOPICS.len(), qos()).prop_map(|(topic, qos)| Op::Inject { topic, qos }),
        3 => Just(Op::Step),
        3 => Just(Op::Run),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(up, down)| Op::Cut { up, down }),
        4 => Just(Op::Reconnect),
        1 => Just(Op::Disconnect),
        1 => any::<bool>().prop_map(|keep| Op::Restart { keep }),
        4 => advance_ms().prop_map(Op::Advance),
        1 => (0u64..200_000).prop_map(Op::Silence),
        1 => Just(Op::ProcessRestart),
        4 => any::<prop::sample::Index>().prop_map(Op::Ack),
    ]
}

// ---- The model ----------------------------------------------------------------------

/// A publish command the session accepted.
#[derive(Debug)]
struct PubOp {
    qos: QoS,
    payload: Bytes,
    completed: u32,
    /// QoS 2: the broker session (see `World::broker_session`) it was last routed in.
    routed_in: Option<u64>,
}

/// A packet identifier in use on the wire by a client operation.
#[derive(Debug)]
struct InUse {
    /// The PUBLISH payload, or the SUBSCRIBE / UNSUBSCRIBE filters on the wire.
    key: Key,
    /// QoS 2: PUBREC received, so the PUBLISH must never be sent again.
    released: bool,
    /// The connection it was last sent on.
    conn: u32,
}

#[derive(Debug, PartialEq, Eq)]
enum Key {
    Publish(Bytes),
    Subscribe(Vec<u8>),
    Unsubscribe(Vec<u8>),
}

/// A message the broker delivered to the client.
#[derive(Debug)]
struct Injected {
    qos: QoS,
    completed: bool,
    /// The broker lost (or discarded) the session before completing it.
    exposed: bool,
    /// Its `Delivered` record has been taken in (in log order).
    seen: bool,
}

/// One client and the broker, with a model of what must hold. Checked as it happens:
/// - each command completes at most once, with the right outcome; only a full queue
///   refuses one; QoS 2 reaches the application at most once, QoS 0 too;
/// - on the wire: no packet identifier used by two operations in flight at once
///   [MQTT-2.3.1-2]; a message goes out once per connection; a resent PUBLISH keeps its
///   identifier and has DUP set exactly when the broker kept the session
///   [MQTT-3.3.1-1], [MQTT-4.4.0-1]; never a PUBLISH again after PUBREC, PUBREL only
///   after it [MQTT-4.3.3-1]; never silent for longer than the keep alive while
///   connected [MQTT-3.1.2-23];
/// - the broker never closes the client for a protocol violation or an expired keep
///   alive [MQTT-3.1.2-24], and routes a QoS 2 message once per broker session
///   [MQTT-4.3.3-2]; a QoS 2 message it completed was delivered exactly once, a QoS 1
///   one at least once [MQTT-4.3.2-2];
/// - memory: queued, in-flight and incoming QoS 2 state within their bounds.
///
/// And at the end, once connected long enough (`settle_and_check`): everything
/// completed, every QoS 1 message received, every QoS 2 one routed, in publish order,
/// and everything the broker sent while it kept the session acknowledged.
struct World {
    setup: Setup,
    config: Config,
    sim: Sim,
    /// Every event and broker record, in order (to compare histories).
    history: Vec<(Instant, Event)>,
    log: Vec<Record>,
    c: ClientIdx,
    next_payload: u64,
    pubs: Vec<PubOp>,
    pub_by_op: HashMap<OpId, usize>,
    pub_by_payload: HashMap<Bytes, usize>,
    /// Subscribe / unsubscribe commands and how often each completed.
    subs: HashMap<OpId, u32>,
    /// Manual acks: deliveries the application has not acknowledged yet.
    unacked: Vec<(DeliveryId, QoS)>,
    // The wire, as the session wrote and read it.
    conn: u32,
    established: bool,
    session_present: bool,
    last_sent: Option<Instant>,
    last_received: Option<Instant>,
    in_use: BTreeMap<u16, InUse>,
    /// Client publishes: the packet identifier of the first send.
    first_id: HashMap<Bytes, u16>,
    sent_this_conn: HashSet<Bytes>,
    // The broker's side.
    injected: HashMap<Bytes, Injected>,
    /// Times the application got each injected payload.
    got: HashMap<Bytes, u32>,
    /// Client publishes: how often the broker routed and received each, and the order
    /// of first receipts.
    routed: HashMap<Bytes, u32>,
    received: HashMap<Bytes, u32>,
    receipt_order: Vec<usize>,
    /// Counts the sessions the broker started for the client (CONNACK with session
    /// present 0): a new one means the old one, and its state, is gone.
    broker_session: u64,
}

impl World {
    fn new(setup: Setup) -> World {
        let mut sim = Sim::new(BrokerConfig {
            max_inflight: setup.broker_inflight,
            ..BrokerConfig::default()
        });
        sim.set_chunking(setup.chunk, setup.seed);
        sim.set_tracing(true);
        let mut config = Config::new(CLIENT_ID).unwrap();
        config.keep_alive = Duration::from_secs(setup.keep_alive);
        config.clean_session = setup.clean_session;
        config.max_inflight = setup.max_inflight;
        config.max_queued = setup.max_queued;
        config.manual_acks = setup.manual_acks;
        let c = sim.add_client(config.clone());
        let initial_sub = setup.initial_sub;
        let mut w = World {
            setup,
            config,
            sim,
            history: Vec::new(),
            log: Vec::new(),
            c,
            next_payload: 0,
            pubs: Vec::new(),
            pub_by_op: HashMap::new(),
            pub_by_payload: HashMap::new(),
            subs: HashMap::new(),
            unacked: Vec::new(),
            conn: 0,
            established: false,
            session_present: false,
            last_sent: None,
            last_received: None,
            in_use: BTreeMap::new(),
            first_id: HashMap::new(),
            sent_this_conn: HashSet::new(),
            injected: HashMap::new(),
            got: HashMap::new(),
            routed: HashMap::new(),
            received: HashMap::new(),
            receipt_order: Vec::new(),
            broker_session: 0,
        };
        w.sim.connect(c).unwrap();
        w.sim.run();
        w.absorb();
        if let Some(qos) = initial_sub {
            w.apply(&Op::Subscribe { filter: 2, qos });
        }
        w
    }

    fn keep_alive_ms(&self) -> u64 {
        self.setup.keep_alive * 1000
    }

    fn payload(&mut self, prefix: &str, len: usize) -> Bytes {
        self.next_payload += 1;
        let mut p = format!("{prefix}{}:", self.next_payload).into_bytes();
        p.resize(p.len().max(len), b'.');
        Bytes::from(p)
    }

    fn apply(&mut self, op: &Op) {
        let now = self.sim.now();
        let c = self.c;
        match *op {
            Op::Publish { qos, len } => {
                let payload = self.payload("pub-", len);
                let topic = TopicName::from_static("out/x").unwrap();
                let m = Message::new(topic, payload.clone(), qos);
                match self.sim.session(c).publish(now, m) {
                    Ok(op) => {
                        let i = self.pubs.len();
                        self.pubs.push(PubOp {
                            qos,
                            payload: payload.clone(),
                            completed: 0,
                            routed_in: None,
                        });
                        self.pub_by_op.insert(op, i);
                        self.pub_by_payload.insert(payload, i);
                    }
                    Err(e) => self.refused(e),
                }
            }
            Op::Subscribe { filter, qos } => {
                let f = TopicFilter::from_static(FILTERS[filter]).unwrap();
                match self.sim.session(c).subscribe(now, &[(f, qos)]) {
                    Ok(op) => drop(self.subs.insert(op, 0)),
                    Err(e) => self.refused(e),
                }
            }
            Op::Unsubscribe { filter } => {
                let f = TopicFilter::from_static(FILTERS[filter]).unwrap();
                match self.sim.session(c).unsubscribe(now, &[f]) {
                    Ok(op) => drop(self.subs.insert(op, 0)),
                    Err(e) => self.refused(e),
                }
            }
            Op::Inject { topic, qos } => {
                let payload = self.payload("inj-", 0);
                self.sim
                    .broker
                    .publish(now.as_millis(), TOPICS[topic], payload, qos, false)
                    .unwrap();
            }
            Op::Step => drop(self.sim.step()),
            Op::Run => self.sim.run(),
            Op::Cut { up, down } => {
                let (u, d) = self.sim.in_flight(c);
                self.sim
                    .cut_after(c, u * usize::from(up) / 255, d * usize::from(down) / 255);
            }
            Op::Reconnect => self.reconnect(),
            Op::Disconnect => self.sim.session(c).disconnect(now),
            Op::Restart { keep } => self.sim.restart_broker(keep),
            Op::Advance(ms) => self.sim.advance(ms),
            Op::Silence(ms) => self.silence(ms),
            Op::ProcessRestart => self.process_restart(),
            Op::Ack(i) => {
                if !self.unacked.is_empty() {
                    let (d, _) = self.unacked.swap_remove(i.index(self.unacked.len()));
                    self.ack(d);
                }
            }
        }
        self.absorb();
    }

    /// Only a full queue may refuse a command.
    fn refused(&mut self, e: Error) {
        assert_eq!(e, Error::QueueFull, "unexpected refusal");
        let queued = self.sim.session_ref(self.c).stats().queued;
        assert_eq!(queued, self.setup.max_queued, "QueueFull below max_queued");
    }

    fn reconnect(&mut self) {
        self.absorb();
        if self.sim.conn(self.c).is_none() {
            self.sim.connect(self.c).unwrap();
        }
    }

    /// The process dies (its connection with it) and a new one restores the session
    /// from the state the store kept: everything not yet completed must be in it, and
    /// every guarantee still holds afterwards.
    fn process_restart(&mut self) {
        let c = self.c;
        // The application dies too, with the deliveries it had not acknowledged: the
        // broker sends QoS 1 ones again. QoS 2 ones it acknowledges before dying, which
        // keeps this model's exactly-once count simple (a restored session forgets
        // never-acked QoS 2 ids and has them delivered again: `findings.rs`).
        for (d, qos) in std::mem::take(&mut self.unacked) {
            if qos == QoS::ExactlyOnce {
                self.ack(d);
            }
        }
        self.sim.cut(c);
        self.absorb();
        let state = self.sim.session_ref(c).export_state();
        let (session, ops) = Session::restore(self.config.clone(), state.clone());
        drop(self.sim.replace_session(c, session));
        let commands: Vec<_> = (state.inflight.iter())
            .map(|s| (Some(s.packet_id), &s.command))
            .chain(state.queued.iter().map(|c| (None, &c.command)))
            .collect();
        assert_eq!(commands.len(), ops.len());
        // Only the restored operations count now (they keep their handles).
        let outstanding_subs = self.subs.values().filter(|n| **n == 0).count();
        self.pub_by_op.clear();
        self.subs.clear();
        for ((packet_id, command), op) in commands.into_iter().zip(ops) {
            match command {
                StoredCommand::Publish(m) => {
                    // A released QoS 2 message is stored without its payload.
                    let i = if m.payload.is_empty() {
                        let id = packet_id.expect("released, so in flight").get();
                        match &self.in_use.get(&id).expect("released, so sent").key {
                            Key::Publish(p) => self.pub_by_payload[p],
                            other => panic!("{other:?}"),
                        }
                    } else {
                        self.pub_by_payload[&m.payload]
                    };
                    assert_eq!(self.pubs[i].completed, 0, "a completed publish stored");
                    self.pub_by_op.insert(op, i);
                }
                _ => drop(self.subs.insert(op, 0)),
            }
        }
        // Nothing the application still waits for is missing from the store.
        let restored: HashSet<usize> = self.pub_by_op.values().copied().collect();
        for (i, p) in self.pubs.iter().enumerate() {
            assert!(
                p.completed > 0 || restored.contains(&i),
                "not stored: {p:?}"
            );
        }
        assert!(
            self.subs.len() >= outstanding_subs,
            "a subscribe not stored"
        );
    }

    /// The broker goes silent towards a connected client: with keepalive on, the
    /// session finds the connection dead within 1.5 x keep alive of the last packet it
    /// received [MQTT-3.1.2-24] (as the broker would), by a PINGREQ left unanswered.
    fn silence(&mut self, ms: u64) {
        self.sim.run();
        self.absorb();
        let c = self.c;
        if !self.sim.is_connected(c) || self.setup.keep_alive == 0 {
            self.sim.advance(ms);
            return;
        }
        let start = self.sim.now();
        let last = self.last_received.expect("connected without CONNACK");
        self.sim.set_stalled(c, true);
        self.sim.advance(ms);
        self.sim.set_stalled(c, false);
        let events = self.absorb();
        let limit = last.as_millis() + self.keep_alive_ms() * 3 / 2;
        let closed = events.iter().find_map(|(at, e)| match e {
            Event::Disconnected { reason } => Some((*at, *reason)),
            _ => None,
        });
        match closed {
            Some((at, reason)) => {
                assert_eq!(reason, DisconnectReason::PingTimeout, "silence");
                assert!(
                    at.as_millis() <= limit,
                    "PingTimeout at {at:?}, last packet received at {last:?}"
                );
            }
            None => assert!(
                start.as_millis() + ms < limit,
                "no PingTimeout after {ms} ms of silence (last received {last:?})"
            ),
        }
    }

    /// Takes in everything new: events, the wire trace and the broker log, checking
    /// invariants as it goes. Returns the events.
    fn absorb(&mut self) -> Vec<(Instant, Event)> {
        let log = self.sim.broker.take_log();
        // What the broker sent first, so the application's messages are known...
        for r in &log {
            if let Record::Delivered { payload, qos, .. } = r {
                self.injected.entry(payload.clone()).or_insert(Injected {
                    qos: *qos,
                    completed: false,
                    exposed: false,
                    seen: false,
                });
            }
        }
        let events = self.sim.timed_events(self.c);
        for (_, e) in &events {
            self.on_event(e);
        }
        self.history.extend(events.iter().cloned());
        self.log.extend(log.iter().cloned());
        for w in self.sim.wire(self.c) {
            self.on_wire(w);
        }
        // ...and the rest of the log once the application's side is known.
        for r in log {
            self.on_record(r);
        }
        self.check_bounds();
        events
    }

    fn on_event(&mut self, e: &Event) {
        match e {
            Event::Completed { op, outcome } => {
                if let Some(&i) = self.pub_by_op.get(op) {
                    let p = &mut self.pubs[i];
                    p.completed += 1;
                    // QoS 0 completes when handed out; QoS 1 and 2 on PUBACK / PUBCOMP
                    // (or PUBREC before a lost session), exactly once.
                    let want = if p.qos == QoS::AtMostOnce {
                        Outcome::Sent
                    } else {
                        Outcome::Acknowledged
                    };
                    assert_eq!(*outcome, want, "{p:?}");
                    assert_eq!(p.completed, 1, "completed twice: {p:?}");
                } else {
                    let n = self.subs.get_mut(op).expect("completion of an unknown op");
                    *n += 1;
                    assert_eq!(*n, 1, "subscribe / unsubscribe completed twice");
                    match outcome {
                        Outcome::Subscribed(codes) => assert!(codes
                            .iter()
                            .all(|c| matches!(c, SubackReturnCode::Success(_)))),
                        Outcome::Unsubscribed => {}
                        other => panic!("{other:?}"),
                    }
                }
            }
            Event::Message(m) => {
                assert_eq!(
                    m.delivery.is_some(),
                    self.setup.manual_acks && m.qos() != QoS::AtMostOnce,
                    "{m:?}"
                );
                self.unacked.extend(m.delivery.map(|d| (d, m.qos())));
                let payload = m.payload_bytes();
                assert!(m.topic().starts_with("in/"), "{m:?}");
                let n = self.got.entry(payload.clone()).or_default();
                *n += 1;
                let inj = self.injected.get(&payload).expect("not delivered");
                assert_eq!(m.qos(), inj.qos, "delivered at another QoS");
                match inj.qos {
                    // [MQTT-4.3.1-1] at most once, [MQTT-4.3.3-2] exactly once.
                    QoS::AtMostOnce | QoS::ExactlyOnce => {
                        assert_eq!(*n, 1, "delivered twice: {m:?}")
                    }
                    QoS::AtLeastOnce => {}
                }
            }
            _ => {}
        }
    }

    fn on_wire(&mut self, w: Wire) {
        match w {
            Wire::Opened { .. } => {
                self.conn += 1;
                self.established = false;
                self.last_sent = None;
                self.sent_this_conn.clear();
            }
            Wire::Closed { .. } => self.established = false,
            Wire::Undecodable { sent, error, .. } => panic!("undecodable (sent {sent}): {error:?}"),
            Wire::Sent { at, packet } => {
                // [MQTT-3.1.2-23]: never silent for longer than the keep alive.
                if let (Some(last), true) = (self.last_sent, self.setup.keep_alive > 0) {
                    if self.established {
                        let gap = at.as_millis() - last.as_millis();
                        assert!(gap <= self.keep_alive_ms(), "silent for {gap} ms");
                    }
                }
                self.last_sent = Some(at);
                self.on_sent(packet);
            }
            Wire::Received { at, packet } => {
                self.last_received = Some(at);
                self.on_received(packet);
            }
            other => panic!("{other:?}"),
        }
    }

    /// Packet identifier rules on what the session sends.
    fn on_sent(&mut self, packet: Packet<Bytes>) {
        let (id, key) = match &packet {
            Packet::Publish(p) => {
                let Some(id) = p.qos_pid.packet_id() else {
                    assert!(!p.dup, "DUP on QoS 0 [MQTT-3.3.1-2]");
                    assert!(
                        self.sent_this_conn.insert(p.payload.clone()),
                        "QoS 0 sent twice"
                    );
                    return;
                };
                let id = id.get();
                let payload = p.payload.clone();
                // Each message goes out once per connection, and again only on a new
                // one [MQTT-4.4.0-1].
                assert!(
                    self.sent_this_conn.insert(payload.clone()),
                    "PUBLISH sent twice on one connection: {p:?}"
                );
                match self.first_id.get(&payload) {
                    None => {
                        assert!(!p.dup, "DUP on a first send: {p:?}");
                        self.first_id.insert(payload.clone(), id);
                    }
                    // A resend: its original packet identifier, and DUP exactly when the
                    // broker kept the session [MQTT-3.3.1-1], [MQTT-4.4.0-1] (after a
                    // lost session it is published again as new).
                    Some(&first) => {
                        assert_eq!(id, first, "resend with another packet id: {p:?}");
                        assert_eq!(p.dup, self.session_present, "DUP on resend: {p:?}");
                    }
                }
                (id, Key::Publish(payload))
            }
            Packet::Subscribe(s) => (s.packet_id.get(), Key::Subscribe(wire(&packet))),
            Packet::Unsubscribe(u) => (u.packet_id.get(), Key::Unsubscribe(wire(&packet))),
            Packet::Pingreq | Packet::Connect(_) | Packet::Disconnect => return,
            // Answers to the broker's PUBLISH and PUBREL: the broker checks them.
            Packet::Puback(_) | Packet::Pubrec(_) | Packet::Pubrel(_) | Packet::Pubcomp(_) => {
                if let Packet::Pubrel(id) = &packet {
                    let f = self.in_use.get(&id.get()).expect("PUBREL for no PUBLISH");
                    assert!(f.released, "PUBREL before PUBREC");
                }
                return;
            }
            other => panic!("a client never sends {other:?}"),
        };
        let conn = self.conn;
        match self.in_use.get_mut(&id) {
            // [MQTT-2.3.1-2]: an identifier in use by another operation.
            Some(f) if f.key != key => {
                panic!("packet id {id} reused while in flight: {f:?} then {key:?}")
            }
            Some(f) => {
                // [MQTT-4.3.3-1]: after PUBREC only PUBREL, never PUBLISH.
                assert!(!f.released, "PUBLISH sent again after PUBREC: {key:?}");
                assert_ne!(f.conn, conn, "sent twice on one connection: {key:?}");
                f.conn = conn;
            }
            None => {
                self.in_use.insert(
                    id,
                    InUse {
                        key,
                        released: false,
                        conn,
                    },
                );
            }
        }
    }

    fn on_received(&mut self, packet: Packet<Bytes>) {
        match packet {
            Packet::Connack(c) => {
                self.established = true;
                self.session_present = c.session_present;
                if !c.session_present {
                    // The broker has nothing of ours: released QoS 2 messages are done.
                    self.in_use.retain(|_, f| !f.released);
                }
            }
            Packet::Puback(id) | Packet::Pubcomp(id) => {
                let f = self.in_use.remove(&id.get()).expect("ack for nothing");
                assert!(matches!(f.key, Key::Publish(_)));
            }
            Packet::Pubrec(id) => {
                self.in_use.get_mut(&id.get()).expect("PUBREC").released = true;
            }
            Packet::Suback(s) => {
                let f = self.in_use.remove(&s.packet_id.get()).expect("SUBACK");
                assert!(matches!(f.key, Key::Subscribe(_)));
            }
            Packet::Unsuback(id) => {
                let f = self.in_use.remove(&id.get()).expect("UNSUBACK");
                assert!(matches!(f.key, Key::Unsubscribe(_)));
            }
            _ => {}
        }
    }

    fn on_record(&mut self, r: Record) {
        match r {
            Record::Closed {
                client_id: Some(_),
                reason,
                ..
            } => assert!(
                matches!(
                    reason,
                    CloseReason::TransportClosed | CloseReason::Disconnect | CloseReason::Restart
                ),
                // A protocol violation, or a keep alive expired [MQTT-3.1.2-24].
                "the broker closed the client: {reason:?}"
            ),
            Record::Closed { reason, .. } => assert!(
                matches!(reason, CloseReason::TransportClosed | CloseReason::Restart),
                "closed before CONNECT: {reason:?}"
            ),
            Record::Received {
                payload,
                routed,
                qos,
                ..
            } => {
                let i = *self
                    .pub_by_payload
                    .get(&payload)
                    .expect("received a message nobody published");
                assert_eq!(self.pubs[i].qos, qos);
                let n = self.received.entry(payload.clone()).or_default();
                *n += 1;
                if *n == 1 {
                    self.receipt_order.push(i);
                }
                if routed {
                    *self.routed.entry(payload).or_default() += 1;
                    // [MQTT-4.3.3-2]: a QoS 2 message is routed once per broker session.
                    // Only a broker that lost the session while the message was in
                    // flight can route it again (3.1.1 cannot prevent that: the CONNACK
                    // telling the client may itself be lost, and the next one says
                    // "session present" for the new, empty session).
                    let p = &mut self.pubs[i];
                    if qos == QoS::ExactlyOnce {
                        assert_ne!(
                            p.routed_in,
                            Some(self.broker_session),
                            "routed twice: {p:?}"
                        );
                        p.routed_in = Some(self.broker_session);
                    }
                }
            }
            Record::Delivered {
                payload,
                qos,
                client_id,
                ..
            } => {
                assert_eq!(client_id, CLIENT_ID);
                let inj = self.injected.get_mut(&payload).expect("registered");
                assert_eq!(inj.qos, qos, "one copy, one QoS [MQTT-3.3.5-1]");
                assert!(!inj.completed, "delivered after completion");
                inj.seen = true;
            }
            Record::Completed { payload, .. } => {
                let inj = self.injected.get_mut(&payload).expect("completed unknown");
                assert!(!inj.completed);
                inj.completed = true;
                let got = self.got.get(&payload).copied().unwrap_or(0);
                match inj.qos {
                    // PUBCOMP: the application had it exactly once [MQTT-4.3.3-2].
                    QoS::ExactlyOnce => assert_eq!(got, 1, "QoS 2 delivered {got} times"),
                    // PUBACK: at least once [MQTT-4.3.2-2].
                    _ => assert!(got >= 1, "QoS 1 acknowledged, never delivered"),
                }
            }
            Record::Connected {
                session_present: false,
                ..
            } => {
                // A new broker session: what the old one had in flight is gone.
                self.broker_session += 1;
                for inj in self.injected.values_mut() {
                    inj.exposed |= inj.seen && !inj.completed;
                }
            }
            _ => {}
        }
    }

    /// Memory stays bounded whatever happens.
    fn check_bounds(&self) {
        let s = self.sim.session_ref(self.c).stats();
        assert!(s.queued <= self.setup.max_queued, "{s:?}");
        assert!(s.inflight <= usize::from(self.setup.max_inflight), "{s:?}");
        // Incoming QoS 2 ids awaiting PUBREL: within the broker's in-flight window.
        assert!(
            s.inbound_qos2 <= usize::from(self.setup.broker_inflight),
            "{s:?}"
        );
        // While connected, never silent for longer than the keep alive [MQTT-3.1.2-23].
        if let (Some(last), true) = (self.last_sent, self.established) {
            if self.setup.keep_alive > 0 && self.sim.is_connected(self.c) {
                let gap = self.sim.now().as_millis() - last.as_millis();
                assert!(gap <= self.keep_alive_ms(), "silent for {gap} ms");
            }
        }
    }

    /// Connected for long enough, everything completes; then the end-to-end checks.
    /// Acknowledging each delivery once always works, whatever happened since: a
    /// QoS 1 ack from an earlier connection is dropped (the broker sends it again), a
    /// QoS 2 one still releases the message.
    fn ack(&mut self, d: DeliveryId) {
        let now = self.sim.now();
        self.sim.session(self.c).ack(now, d).unwrap();
    }

    fn settle_and_check(&mut self) {
        self.sim.set_stalled(self.c, false);
        for _ in 0..20 {
            self.reconnect();
            for (d, _) in std::mem::take(&mut self.unacked) {
                self.ack(d);
            }
            self.sim.advance(1_000);
            self.absorb();
            let s = self.sim.session_ref(self.c).stats();
            let idle = s.inflight == 0 && s.queued == 0 && self.unacked.is_empty();
            if self.sim.is_connected(self.c) && idle {
                break;
            }
        }
        self.sim.advance(1_000);
        self.absorb();
        assert!(self.sim.is_connected(self.c));
        for p in &self.pubs {
            assert_eq!(p.completed, 1, "never completed: {p:?}");
            let received = self.received.get(&p.payload).copied().unwrap_or(0);
            let routed = self.routed.get(&p.payload).copied().unwrap_or(0);
            match p.qos {
                QoS::AtMostOnce => assert!(received <= 1, "QoS 0 received {received} times"),
                // [MQTT-4.3.2]: acknowledged, so received at least once.
                QoS::AtLeastOnce => assert!(received >= 1, "QoS 1 never received: {p:?}"),
                // [MQTT-4.3.3]: routed, once per broker session (checked as it happened).
                QoS::ExactlyOnce => assert!(routed >= 1, "QoS 2 never routed: {p:?}"),
            }
        }
        // [MQTT-4.6.0-1], [MQTT-4.6.0-5]: the broker gets messages in publish order.
        assert!(
            self.receipt_order.windows(2).all(|w| w[0] < w[1]),
            "out of order: {:?}",
            self.receipt_order
        );
        for (op, n) in &self.subs {
            assert_eq!(*n, 1, "{op:?} never completed");
        }
        // Every QoS 1 and 2 message the broker sent while it kept the session was
        // acknowledged, so delivered (checked at completion).
        for (payload, inj) in &self.injected {
            if inj.qos != QoS::AtMostOnce && !inj.exposed {
                assert!(inj.completed, "never acknowledged: {payload:?} {inj:?}");
            }
        }
        assert!(self.in_use.is_empty(), "{:?}", self.in_use);
    }
}

fn wire(packet: &Packet<Bytes>) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    packet.encode_to(&mut b).unwrap();
    b.to_vec()
}

// ---- The properties -----------------------------------------------------------------

/// `cases` cases (`PROPTEST_CASES` overrides it, for a longer soak); failures are saved
/// next to this file (`tests/properties.proptest-regressions`).
fn config(cases: u32) -> ProptestConfig {
    let soak = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig {
        cases: soak.unwrap_or(cases),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(8_000))]

    /// Random histories keep every guarantee (see `World`).
    #[test]
    fn random_histories_keep_the_guarantees(
        setup in setup(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut w = World::new(setup);
        for op in &ops {
            w.apply(op);
        }
        w.settle_and_check();
    }
}

proptest! {
    #![proptest_config(config(2_500))]

    /// A broker that stops answering is found dead by the session within 1.5 x keep
    /// alive of the last packet received [MQTT-3.1.2-24], while the broker, which
    /// still hears the session, never closes it for keepalive [MQTT-3.1.2-23]: after any
    /// traffic, with any keep alive.
    #[test]
    fn a_silent_broker_is_found_dead_in_time(
        keep_alive in 2u64..=900,
        traffic in prop::collection::vec(
            prop_oneof![
                (qos(), 0usize..32).prop_map(|(qos, len)| Op::Publish { qos, len }),
                (0..TOPICS.len(), qos()).prop_map(|(topic, qos)| Op::Inject { topic, qos }),
                (0u64..2_000_000).prop_map(Op::Advance),
                Just(Op::Run),
            ],
            0..12,
        ),
        chunk in prop_oneof![Just(None), (1usize..=4).prop_map(Some)],
        seed in any::<u64>(),
        initial_sub in prop::option::of(qos()),
    ) {
        let setup = Setup {
            keep_alive,
            clean_session: false,
            max_inflight: 20,
            max_queued: 100,
            broker_inflight: 20,
            chunk,
            seed,
            initial_sub,
            manual_acks: false,
        };
        let mut w = World::new(setup);
        for op in &traffic {
            w.apply(op);
        }
        w.sim.run();
        prop_assert!(w.sim.is_connected(w.c));
        w.apply(&Op::Silence(keep_alive * 2_000));
        prop_assert!(!w.sim.is_connected(w.c));
        w.settle_and_check();
    }

    /// Delivering bytes in one piece or in small random chunks makes no difference to
    /// what the application and the broker see.
    #[test]
    fn chunking_changes_nothing(
        setup in setup(),
        ops in prop::collection::vec(op(), 1..40),
        chunk in 1usize..=6,
    ) {
        let mut whole = World::new(Setup { chunk: None, ..setup.clone() });
        let mut chunked = World::new(Setup { chunk: Some(chunk), ..setup });
        for op in &ops {
            whole.apply(op);
            chunked.apply(op);
        }
        prop_assert_eq!(&whole.history, &chunked.history);
        prop_assert_eq!(&whole.log, &chunked.log);
    }
}
