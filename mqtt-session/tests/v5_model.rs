//! Property tests of the 5.0 flows against a small 5.0 peer model written here (the
//! simulated broker of `mqtt_session::sim` speaks 3.1.1): random histories of
//! publishes, acknowledgements (successful or refusing), deliveries from the broker,
//! server DISCONNECTs, cuts, reconnects with changing CONNACK limits, clean
//! disconnects with a new session expiry, and clock ticks. Checked as it happens:
//!
//! - flow control: the peer never holds more unacknowledged QoS 1 and 2 PUBLISH from
//!   this connection than the Receive Maximum it announced, whatever the acks
//!   [MQTT-3.3.4-7], [MQTT-4.9.0-2];
//! - topic aliases: every PUBLISH resolves (name, name and alias, or a known alias) to
//!   the topic it was published to, aliases are within 1..=the announced maximum
//!   [MQTT-3.3.2-9], [MQTT-3.2.2-17], [MQTT-3.2.2-18], never carried to another
//!   connection [MQTT-3.3.2-7]; the broker's aliases resolve on the session's side;
//! - limits: no packet over the announced Maximum Packet Size [MQTT-3.2.2-15], no
//!   QoS over the Maximum QoS [MQTT-3.2.2-11];
//! - server DISCONNECT: the connection ends with its typed reason, nothing more is
//!   sent [MQTT-3.14.4-1];
//! - session expiry: the peer keeps the session for the interval in force (CONNECT's,
//!   or the last DISCONNECT's) and the session resumes (DUP on resends, [MQTT-3.3.1-1])
//!   or recovers as the CONNACK says;
//! - the session never sees a protocol violation from this well-behaved peer;
//!
//! and at the end, every publish completed exactly once, an acknowledged one having
//! reached the peer.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::{Bytes, BytesMut};
use core::num::{NonZeroU16, NonZeroU32};
use mqtt_proto::v5::{
    self, ConnackProperties, ConnectReasonCode, DisconnectReasonCode, PropertyValues,
    PubackReasonCode, PublishProperties,
};
use mqtt_proto::{DecodeOptions, PacketId, QoS, QosPid, TopicName};
use mqtt_session::{
    Config, DisconnectReason, Error, Event, Instant, Message, OpId, Outcome, Session, State,
};
use proptest::prelude::*;

type P = v5::Packet<Bytes>;

const TOPICS: [&str; 5] = [
    "t",
    "t/a",
    "topic/b/long",
    "topic/c/longer/x",
    "sensors/d/value",
];

#[derive(Debug, Clone)]
struct Limits {
    receive_maximum: u16,
    topic_alias_maximum: u16,
    maximum_packet_size: Option<u32>,
    maximum_qos: Option<QoS>,
}

#[derive(Debug, Clone)]
struct Setup {
    max_inflight: u16,
    our_receive_maximum: u16,
    our_alias_maximum: u16,
    session_expiry: u32,
    /// The CONNACK limits of successive connections, in turn.
    limits: Vec<Limits>,
}

#[derive(Debug, Clone)]
enum Op {
    Publish {
        topic: usize,
        qos: QoS,
        len: usize,
    },
    /// The peer acknowledges one unacknowledged PUBLISH of this connection (PUBACK,
    /// or PUBREC), refusing it when `fail`.
    Ack {
        which: prop::sample::Index,
        fail: bool,
    },
    /// The peer completes one released QoS 2 flow (PUBCOMP).
    Comp(prop::sample::Index),
    /// The peer delivers a message, by alias when it can and `alias`.
    Inject {
        topic: usize,
        qos: QoS,
        alias: bool,
    },
    ServerDisconnect(DisconnectReasonCode),
    Cut,
    Reconnect,
    ClientDisconnect {
        expiry: Option<u32>,
    },
    Advance(u64),
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        prop_oneof![1u16..=5, Just(u16::MAX)],
        0u16..=3,
        prop::option::weighted(0.2, Just(60u32)),
        prop::option::weighted(
            0.2,
            prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)],
        ),
    )
        .prop_map(|t| Limits {
            receive_maximum: t.0,
            topic_alias_maximum: t.1,
            maximum_packet_size: t.2,
            maximum_qos: t.3,
        })
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop_oneof![1u16..=8, Just(100)],
        1u16..=4,
        0u16..=3,
        prop_oneof![Just(0u32), Just(2), Just(30), Just(u32::MAX)],
        prop::collection::vec(limits(), 1..4),
    )
        .prop_map(|t| Setup {
            max_inflight: t.0,
            our_receive_maximum: t.1,
            our_alias_maximum: t.2,
            session_expiry: t.3,
            limits: t.4,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..TOPICS.len(), qos(), prop_oneof![4 => 0usize..16, 1 => 40usize..80])
            .prop_map(|(topic, qos, len)| Op::Publish { topic, qos, len }),
        8 => (any::<prop::sample::Index>(), prop::bool::weighted(0.15))
            .prop_map(|(which, fail)| Op::Ack { which, fail }),
        3 => any::<prop::sample::Index>().prop_map(Op::Comp),
        3 => (0..TOPICS.len(), qos(), any::<bool>())
            .prop_map(|(topic, qos, alias)| Op::Inject { topic, qos, alias }),
        1 => prop_oneof![
            Just(DisconnectReasonCode::ServerShuttingDown),
            Just(DisconnectReasonCode::SessionTakenOver),
            Just(DisconnectReasonCode::UseAnotherServer),
        ]
        .prop_map(Op::ServerDisconnect),
        1 => Just(Op::Cut),
        4 => Just(Op::Reconnect),
        1 => prop::option::of(prop_oneof![Just(0u32), Just(1), Just(60)])
            .prop_map(|expiry| Op::ClientDisconnect { expiry }),
        3 => prop_oneof![0u64..500, 0u64..5_000].prop_map(Op::Advance),
    ]
}

// ---- The peer ---------------------------------------------------------------------

/// A client PUBLISH the peer has not finished with.
#[derive(Debug, Clone)]
struct Unacked {
    payload: Bytes,
    qos: QoS,
    /// QoS 2: PUBREC sent (and PUBREL awaited or received).
    recd: bool,
    /// QoS 2: PUBREL received on this connection (PUBCOMP may go).
    released: bool,
}

/// The broker's session for the client.
#[derive(Debug, Default)]
struct BrokerSession {
    expiry: u32,
    disconnected_at: Option<u64>,
    unacked: BTreeMap<u16, Unacked>,
    /// Messages to the client awaiting PUBACK (QoS 1) or PUBREC / PUBCOMP (QoS 2).
    out: BTreeMap<u16, (Bytes, QoS, bool)>,
    next_out: u16,
}

/// One connection, from the peer's side.
#[derive(Debug, Default)]
struct Conn {
    connected: bool,
    limits: Option<Limits>,
    session_present: bool,
    /// Aliases the client set on this connection.
    aliases: HashMap<u16, String>,
    /// PUBLISH (QoS 1, 2) received on this connection, not yet finally acknowledged.
    counted: HashSet<u16>,
    /// Our aliases towards the client.
    out_aliases: HashMap<String, u16>,
    /// Packet ids the client sent PUBLISH with on this connection.
    seen: HashSet<u16>,
}

struct World {
    setup: Setup,
    s: Session,
    now: u64,
    connections: usize,
    conn: Option<Conn>,
    session: Option<BrokerSession>,
    /// Client publishes: (topic, qos, completions, times received).
    pubs: Vec<(String, QoS, Vec<Outcome>, u32)>,
    by_op: HashMap<OpId, usize>,
    by_payload: HashMap<Bytes, usize>,
    next_payload: u64,
    /// Broker deliveries: topic by payload, and how often the application got it.
    injected: HashMap<Bytes, (String, u32)>,
}

fn encode(packets: &[P]) -> BytesMut {
    let mut buf = BytesMut::new();
    for p in packets {
        p.encode_to(&mut buf).unwrap();
    }
    buf
}

impl World {
    fn new(setup: Setup) -> World {
        let mut c = Config::v5("model").unwrap();
        c.clean_session = false;
        c.session_expiry_interval = Some(setup.session_expiry);
        c.max_inflight = setup.max_inflight;
        c.receive_maximum = setup.our_receive_maximum;
        c.topic_alias_maximum = setup.our_alias_maximum;
        c.keep_alive = core::time::Duration::from_secs(30);
        let mut w = World {
            setup,
            s: Session::new(c),
            now: 0,
            connections: 0,
            conn: None,
            session: None,
            pubs: Vec::new(),
            by_op: HashMap::new(),
            by_payload: HashMap::new(),
            next_payload: 0,
            injected: HashMap::new(),
        };
        w.reconnect();
        w
    }

    fn t(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// Everything the session hands out goes to the peer; its answers come back.
    fn flush(&mut self) {
        loop {
            let mut wire = BytesMut::new();
            while let Some(tx) = self.s.poll_transmit() {
                wire.extend_from_slice(&tx.head);
                wire.extend_from_slice(&tx.payload);
            }
            let mut replies = Vec::new();
            while let Some(p) = v5::decode_buf(&mut wire, &DecodeOptions::v5()).unwrap() {
                self.check_size(&p);
                if let Some(r) = self.on_client_packet(p) {
                    replies.extend(r);
                }
            }
            assert!(wire.is_empty(), "a partial packet");
            self.absorb();
            if replies.is_empty() || self.conn.is_none() {
                return;
            }
            self.feed(&replies);
        }
    }

    fn feed(&mut self, packets: &[P]) {
        let mut buf = encode(packets);
        let now = self.t();
        self.s.handle_read(now, &mut buf);
        self.absorb();
    }

    fn check_size(&self, p: &P) {
        let Some(Some(max)) = self
            .conn
            .as_ref()
            .filter(|c| c.connected)
            .and_then(|c| c.limits.as_ref())
            .map(|l| l.maximum_packet_size)
        else {
            return;
        };
        let len = p.encoded_len().unwrap();
        assert!(
            len <= max as usize,
            "{len} bytes over {max} [MQTT-3.2.2-15]: {p:?}"
        );
    }

    fn absorb(&mut self) {
        while let Some(e) = self.s.poll_event() {
            match e {
                Event::Completed { op, outcome } => {
                    if let Some(&i) = self.by_op.get(&op) {
                        self.pubs[i].2.push(outcome);
                        assert_eq!(
                            self.pubs[i].2.len(),
                            1,
                            "completed twice: {:?}",
                            self.pubs[i]
                        );
                    }
                }
                Event::Message(m) => {
                    let payload = m.payload_bytes();
                    let (topic, n) = self.injected.get_mut(&payload).expect("injected");
                    assert_eq!(m.topic(), topic, "resolved topic");
                    *n += 1;
                }
                Event::Disconnected { reason } => {
                    assert!(
                        !matches!(reason, DisconnectReason::Protocol(_)),
                        "a well-behaved peer: {reason:?}"
                    );
                    self.close_conn();
                }
                _ => {}
            }
        }
    }

    fn close_conn(&mut self) {
        if self.conn.take().is_some() {
            if let Some(s) = &mut self.session {
                s.disconnected_at = Some(self.now);
                for u in s.unacked.values_mut() {
                    u.released = false;
                }
            }
        }
    }

    fn on_client_packet(&mut self, p: P) -> Option<Vec<P>> {
        let conn = self.conn.as_mut().expect("bytes on a closed connection");
        if !conn.connected {
            let P::Connect(c) = p else {
                panic!("CONNECT first [MQTT-3.1.0-1]: {p:?}")
            };
            return Some(vec![self.on_connect(c)]);
        }
        let limits = conn.limits.clone().unwrap();
        let session = self.session.as_mut().expect("a session while connected");
        match p {
            P::Publish(p) => {
                if let Some(max) = limits.maximum_qos {
                    assert!(p.qos() <= max, "QoS over the maximum [MQTT-3.2.2-11]");
                }
                // Topic aliases [MQTT-3.3.2-9], [MQTT-3.2.2-17], [MQTT-3.2.2-18].
                let topic = match (p.topic.as_ref(), p.properties.topic_alias()) {
                    (Some(t), None) => t.as_str().to_owned(),
                    (Some(t), Some(a)) => {
                        assert!(a.get() <= limits.topic_alias_maximum, "alias {a}");
                        conn.aliases.insert(a.get(), t.as_str().to_owned());
                        t.as_str().to_owned()
                    }
                    (None, Some(a)) => conn
                        .aliases
                        .get(&a.get())
                        .expect("an alias never set on this connection")
                        .clone(),
                    (None, None) => panic!("no topic"),
                };
                let i = self.by_payload[&p.payload];
                assert_eq!(topic, self.pubs[i].0, "the topic it was published to");
                assert_eq!(p.qos(), self.pubs[i].1);
                self.pubs[i].3 += 1;
                if let Some(id) = p.qos_pid.packet_id() {
                    let id = id.get();
                    assert!(conn.seen.insert(id), "PUBLISH {id} twice on a connection");
                    let known = session.unacked.get(&id);
                    match known {
                        Some(u) => {
                            assert_eq!(u.payload, p.payload, "id {id} reused while in flight");
                            assert!(!u.recd, "PUBLISH after PUBREC [MQTT-4.3.3-6]");
                            assert!(
                                p.dup && conn.session_present,
                                "a resend has DUP [MQTT-3.3.1-1]"
                            );
                        }
                        None => assert!(!p.dup, "DUP on a first send: {p:?}"),
                    }
                    session.unacked.insert(
                        id,
                        Unacked {
                            payload: p.payload.clone(),
                            qos: p.qos(),
                            recd: false,
                            released: false,
                        },
                    );
                    conn.counted.insert(id);
                    // [MQTT-3.3.4-7], [MQTT-4.9.0-2]
                    assert!(
                        conn.counted.len() <= usize::from(limits.receive_maximum),
                        "{} unacknowledged over a Receive Maximum of {}",
                        conn.counted.len(),
                        limits.receive_maximum
                    );
                } else {
                    assert!(!p.dup);
                }
                None
            }
            P::Pubrel(r) => {
                let u = session.unacked.get_mut(&r.packet_id.get());
                match u {
                    Some(u) if u.recd => u.released = true,
                    Some(_) => panic!("PUBREL before PUBREC"),
                    // Already completed (a PUBCOMP lost with a connection).
                    None => return Some(vec![P::Pubcomp(v5::Pubcomp::new(r.packet_id))]),
                }
                None
            }
            P::Puback(a) => {
                let done = session.out.remove(&a.packet_id.get());
                assert!(
                    matches!(done, Some((_, QoS::AtLeastOnce, _))),
                    "PUBACK {a:?}"
                );
                None
            }
            P::Pubrec(a) => {
                let e = session.out.get_mut(&a.packet_id.get()).expect("PUBREC");
                e.2 = true;
                Some(vec![P::Pubrel(v5::Pubrel::new(a.packet_id))])
            }
            P::Pubcomp(a) => {
                let done = session.out.remove(&a.packet_id.get());
                assert!(
                    matches!(done, Some((_, QoS::ExactlyOnce, true))),
                    "PUBCOMP {a:?}"
                );
                None
            }
            P::Pingreq => Some(vec![P::Pingresp]),
            P::Disconnect(d) => {
                if let Some(e) = d.properties.session_expiry_interval() {
                    session.expiry = e;
                }
                self.close_conn();
                None
            }
            other => panic!("unexpected from the client: {other:?}"),
        }
    }

    fn on_connect(&mut self, c: v5::Connect<Bytes>) -> P {
        assert!(!c.clean_start);
        let expiry = c.properties.session_expiry_interval().unwrap_or(0);
        assert_eq!(expiry, self.setup.session_expiry);
        let limits = self.setup.limits[self.connections % self.setup.limits.len()].clone();
        self.connections += 1;
        // The session survives the interval in force since the last disconnect.
        let alive = self.session.as_ref().is_some_and(|s| {
            let gone_for = s.disconnected_at.map_or(0, |at| self.now - at);
            u64::from(s.expiry).saturating_mul(1000) >= gone_for && s.expiry > 0
        });
        if !alive {
            self.session = Some(BrokerSession::default());
        }
        let session = self.session.as_mut().unwrap();
        session.expiry = expiry;
        session.disconnected_at = None;
        let conn = self.conn.as_mut().unwrap();
        conn.connected = true;
        conn.session_present = alive;
        conn.limits = Some(limits.clone());
        let props = ConnackProperties::from_values(&PropertyValues {
            receive_maximum: (limits.receive_maximum < u16::MAX)
                .then(|| NonZeroU16::new(limits.receive_maximum).unwrap()),
            topic_alias_maximum: Some(limits.topic_alias_maximum),
            maximum_packet_size: limits.maximum_packet_size.and_then(NonZeroU32::new),
            maximum_qos: limits.maximum_qos,
            ..PropertyValues::default()
        })
        .unwrap();
        P::Connack(v5::Connack {
            session_present: alive,
            reason_code: ConnectReasonCode::Success,
            properties: props,
        })
    }

    fn reconnect(&mut self) {
        if self.s.state() != State::Disconnected {
            return;
        }
        self.conn = Some(Conn::default());
        let now = self.t();
        self.s.connect(now).unwrap();
        self.flush();
        // A resumed session: the peer resends what the client has not acknowledged.
        let Some(session) = self.session.as_ref() else {
            return;
        };
        if !self.conn.as_ref().is_some_and(|c| c.session_present) {
            return;
        }
        let mut resend = Vec::new();
        for (id, (payload, qos, recd)) in &session.out {
            let pid = PacketId::new(*id).unwrap();
            if *recd {
                resend.push(P::Pubrel(v5::Pubrel::new(pid)));
            } else {
                let topic = self.injected[payload].0.clone();
                let qos_pid = if *qos == QoS::AtLeastOnce {
                    QosPid::AtLeastOnce(pid)
                } else {
                    QosPid::ExactlyOnce(pid)
                };
                let mut p = v5::Publish::new(
                    TopicName::from_string(topic).unwrap(),
                    qos_pid,
                    payload.clone(),
                );
                p.dup = true;
                resend.push(P::Publish(p));
            }
        }
        if !resend.is_empty() {
            self.feed(&resend);
            self.flush();
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Publish { topic, qos, len } => {
                self.next_payload += 1;
                let mut payload = format!("p{}:", self.next_payload).into_bytes();
                payload.resize(payload.len().max(*len), b'.');
                let payload = Bytes::from(payload);
                let m = Message::new(
                    TopicName::from_static(TOPICS[*topic]).unwrap(),
                    payload.clone(),
                    *qos,
                );
                let now = self.t();
                match self.s.publish(now, m) {
                    Ok(op) => {
                        self.by_op.insert(op, self.pubs.len());
                        self.by_payload.insert(payload, self.pubs.len());
                        self.pubs
                            .push((TOPICS[*topic].to_owned(), *qos, Vec::new(), 0));
                    }
                    Err(e) => assert_eq!(e, Error::QueueFull),
                }
                self.flush();
            }
            Op::Ack { which, fail } => self.ack(|n| which.index(n), *fail),
            Op::Comp(which) => self.comp(|n| which.index(n)),
            Op::Inject { topic, qos, alias } => {
                let Some(conn) = self.conn.as_mut().filter(|c| c.connected) else {
                    return;
                };
                let session = self.session.as_mut().unwrap();
                // A well-behaved server: within our Receive Maximum [MQTT-3.3.4-9].
                let outstanding = session.out.len();
                if *qos != QoS::AtMostOnce
                    && outstanding >= usize::from(self.setup.our_receive_maximum)
                {
                    return;
                }
                self.next_payload += 1;
                let payload = Bytes::from(format!("in{}", self.next_payload));
                let name = TOPICS[*topic].to_owned();
                self.injected.insert(payload.clone(), (name.clone(), 0));
                let qos_pid = match qos {
                    QoS::AtMostOnce => QosPid::AtMostOnce,
                    q => {
                        session.next_out = session.next_out % 60_000 + 1;
                        let id = session.next_out;
                        session.out.insert(id, (payload.clone(), *q, false));
                        let pid = PacketId::new(id).unwrap();
                        if *q == QoS::AtLeastOnce {
                            QosPid::AtLeastOnce(pid)
                        } else {
                            QosPid::ExactlyOnce(pid)
                        }
                    }
                };
                let max = self.setup.our_alias_maximum;
                let (topic_field, alias_prop) = match conn.out_aliases.get(&name) {
                    Some(&a) if *alias => (None, Some(a)),
                    _ if *alias && conn.out_aliases.len() < usize::from(max) => {
                        let a = conn.out_aliases.len() as u16 + 1;
                        conn.out_aliases.insert(name.clone(), a);
                        (Some(name.clone()), Some(a))
                    }
                    _ => (Some(name.clone()), None),
                };
                let properties = PublishProperties::from_values(&PropertyValues {
                    topic_alias: alias_prop.and_then(NonZeroU16::new),
                    ..PropertyValues::default()
                })
                .unwrap();
                let p = v5::Publish {
                    dup: false,
                    qos_pid,
                    retain: false,
                    topic: topic_field.map(|t| TopicName::from_string(t).unwrap()),
                    properties,
                    payload,
                };
                self.feed(&[P::Publish(p)]);
                self.flush();
            }
            Op::ServerDisconnect(code) => {
                if !self.conn.as_ref().is_some_and(|c| c.connected) {
                    return;
                }
                self.feed(&[P::Disconnect(v5::Disconnect::new(*code))]);
                assert_eq!(self.s.state(), State::Disconnected);
                assert!(self.s.poll_transmit().is_none(), "nothing after DISCONNECT");
                assert_eq!(
                    self.s.server_disconnect().map(|d| d.reason_code),
                    Some(*code)
                );
                self.close_conn();
            }
            Op::Cut => {
                let now = self.t();
                self.s.handle_transport_closed(now);
                self.absorb();
                self.close_conn();
            }
            Op::Reconnect => self.reconnect(),
            Op::ClientDisconnect { expiry } => {
                if self.s.state() != State::Connected {
                    return;
                }
                let now = self.t();
                let r = self.s.disconnect_with(
                    now,
                    DisconnectReasonCode::NormalDisconnection,
                    &PropertyValues {
                        session_expiry_interval: *expiry,
                        ..PropertyValues::default()
                    },
                );
                if self.setup.session_expiry == 0 && expiry.is_some_and(|e| e != 0) {
                    assert_eq!(r, Err(Error::SessionExpiryWasZero));
                    return;
                }
                r.unwrap();
                self.flush();
                self.absorb();
                self.close_conn();
            }
            Op::Advance(ms) => {
                self.now += ms;
                let now = self.t();
                self.s.handle_timeout(now);
                self.absorb();
                self.flush();
            }
        }
        let s = self.s.stats();
        assert!(s.inflight <= usize::from(self.setup.max_inflight));
    }

    fn ack(&mut self, pick: impl Fn(usize) -> usize, fail: bool) {
        let Some(conn) = self.conn.as_ref().filter(|c| c.connected) else {
            return;
        };
        let session = self.session.as_ref().unwrap();
        let ids: Vec<u16> = session
            .unacked
            .iter()
            .filter(|(id, u)| !u.recd && conn.counted.contains(id))
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return;
        }
        let id = ids[pick(ids.len())];
        let pid = PacketId::new(id).unwrap();
        let code = if fail {
            PubackReasonCode::QuotaExceeded
        } else {
            PubackReasonCode::Success
        };
        let session = self.session.as_mut().unwrap();
        let conn = self.conn.as_mut().unwrap();
        let u = session.unacked.get_mut(&id).unwrap();
        let packet = if u.qos == QoS::AtLeastOnce {
            session.unacked.remove(&id);
            conn.counted.remove(&id);
            P::Puback(v5::Puback {
                packet_id: pid,
                reason_code: code,
                properties: Default::default(),
            })
        } else {
            if fail {
                session.unacked.remove(&id);
                conn.counted.remove(&id);
            } else {
                u.recd = true;
            }
            P::Pubrec(v5::Pubrec {
                packet_id: pid,
                reason_code: code,
                properties: Default::default(),
            })
        };
        self.feed(&[packet]);
        self.flush();
    }

    fn comp(&mut self, pick: impl Fn(usize) -> usize) {
        let Some(_) = self.conn.as_ref().filter(|c| c.connected) else {
            return;
        };
        let session = self.session.as_mut().unwrap();
        let ids: Vec<u16> = session
            .unacked
            .iter()
            .filter(|(_, u)| u.released)
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return;
        }
        let id = ids[pick(ids.len())];
        session.unacked.remove(&id);
        self.conn.as_mut().unwrap().counted.remove(&id);
        self.feed(&[P::Pubcomp(v5::Pubcomp::new(PacketId::new(id).unwrap()))]);
        self.flush();
    }

    /// Connected with room, the peer acknowledging everything: all completes.
    fn settle(&mut self) {
        self.setup.limits = vec![Limits {
            receive_maximum: u16::MAX,
            topic_alias_maximum: 2,
            maximum_packet_size: None,
            maximum_qos: None,
        }];
        for _ in 0..2_000 {
            if self.s.state() == State::Disconnected {
                self.reconnect();
            }
            let pending = self.pubs.iter().any(|p| p.2.is_empty());
            if !pending {
                break;
            }
            let before = self.pubs.iter().filter(|p| !p.2.is_empty()).count();
            self.ack(|_| 0, false);
            self.comp(|_| 0);
            let after = self.pubs.iter().filter(|p| !p.2.is_empty()).count();
            if after == before {
                self.apply(&Op::Advance(1_000));
            }
        }
        for p in &self.pubs {
            assert_eq!(p.2.len(), 1, "never completed: {p:?}");
            if p.2[0] == Outcome::Acknowledged {
                assert!(p.3 >= 1, "acknowledged, never received: {p:?}");
            }
        }
    }
}

fn cases(n: u32) -> ProptestConfig {
    let soak = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig {
        cases: soak.unwrap_or(n),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(3_000))]

    /// Random 5.0 histories keep every rule listed at the top of this file.
    #[test]
    fn random_5_0_histories_keep_the_rules(
        setup in setup(),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut w = World::new(setup);
        for op in &ops {
            w.apply(op);
        }
        w.settle();
    }
}
