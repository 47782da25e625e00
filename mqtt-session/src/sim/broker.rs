//! A simulated MQTT 3.1.1 broker for tests; see [`Broker`].

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::min;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    decode_buf, Connack, Connect, ConnectReturnCode, DecodeError, DecodeOptions, Packet, PacketId,
    Publish, QoS, QosPid, StrError, Suback, SubackCodes, SubackReturnCode, Subscribe, TopicFilter,
    TopicName, Unsubscribe,
};

/// Limits of a [`Broker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Per client, how many outgoing QoS 1 and QoS 2 messages may await their
    /// acknowledgement at once; further messages wait in order. At least 1 is used.
    pub max_inflight: u16,
    /// Per session, how many messages may wait for a place in the in-flight window
    /// (while the client is offline, or online but slow to acknowledge). Beyond it the
    /// oldest is dropped and logged as [`Record::Dropped`].
    pub max_queued: usize,
    /// Largest packet accepted from a client, fixed header included. A larger packet
    /// closes the connection with [`DecodeError::PacketTooLarge`] as soon as its fixed
    /// header arrives, so a connection buffers at most about twice this much.
    pub max_packet_size: u32,
}

impl Default for BrokerConfig {
    /// 20 in flight, 10,000 queued, packets up to 1 MiB.
    fn default() -> Self {
        BrokerConfig {
            max_inflight: 20,
            max_queued: 10_000,
            max_packet_size: 1 << 20,
        }
    }
}

/// One transport connection to a [`Broker`], from [`Broker::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(u64);

/// Why the broker closed a connection, or saw it closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client broke a rule of the specification; the text says which.
    ProtocolViolation(&'static str),
    /// The client sent bytes that are not a valid packet [MQTT-4.8.0-1].
    Decode(DecodeError),
    /// The broker answered CONNECT with this refusal and closed the connection
    /// [MQTT-3.1.2-2], [MQTT-3.1.3-8].
    Refused(ConnectReturnCode),
    /// Nothing was received for one and a half times the keep alive [MQTT-3.1.2-24].
    KeepAliveTimeout,
    /// The client sent DISCONNECT.
    Disconnect,
    /// The transport broke: [`Broker::close`].
    TransportClosed,
    /// A new connection with the same client identifier took the session over
    /// [MQTT-3.1.4-2].
    TakenOver,
    /// The broker restarted: [`Broker::restart`].
    Restart,
}

/// Why a message meant for a session was not sent to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// A QoS 0 message for a persistent session whose client is offline.
    Offline,
    /// The session's queue was full ([`BrokerConfig::max_queued`]); the oldest queued
    /// message is dropped.
    QueueFull,
}

/// One event in the broker's [log](Broker::log).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    /// A CONNECT was accepted.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The client identifier (the assigned one if the client sent none).
        client_id: String,
        /// The CONNECT's clean session flag.
        clean_session: bool,
        /// The CONNACK's session present flag.
        session_present: bool,
    },
    /// A connection closed, by the broker or by the transport.
    Closed {
        /// The connection.
        conn: ConnId,
        /// The client identifier, if a CONNECT had been accepted.
        client_id: Option<String>,
        /// Why it closed.
        reason: CloseReason,
    },
    /// A PUBLISH accepted from a client.
    Received {
        /// The sender.
        client_id: String,
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS of the PUBLISH.
        qos: QoS,
        /// RETAIN flag of the PUBLISH.
        retain: bool,
        /// DUP flag of the PUBLISH.
        dup: bool,
        /// Packet identifier (QoS 1 and 2).
        packet_id: Option<u16>,
        /// Whether the message was routed to subscribers (and retained if asked). False
        /// only for a QoS 2 PUBLISH whose packet identifier was already stored: a resend
        /// that must not be delivered twice [MQTT-4.3.3-2].
        routed: bool,
    },
    /// A message injected with [`Broker::publish`], as if from another client.
    Injected {
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS.
        qos: QoS,
        /// Whether it is retained.
        retain: bool,
    },
    /// A will message published because its connection closed without DISCONNECT
    /// [MQTT-3.1.2-8].
    Will {
        /// The client whose will it is.
        client_id: String,
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS.
        qos: QoS,
        /// Whether it is retained.
        retain: bool,
    },
    /// A PUBLISH the broker sent to a client (first attempts and resends).
    Delivered {
        /// The receiver.
        client_id: String,
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS of the PUBLISH.
        qos: QoS,
        /// RETAIN flag: set only when sent because of a new subscription
        /// [MQTT-3.3.1-8], [MQTT-3.3.1-9].
        retain: bool,
        /// DUP flag: set on a resend after reconnection [MQTT-3.3.1-1].
        dup: bool,
        /// Packet identifier (QoS 1 and 2).
        packet_id: Option<u16>,
    },
    /// An outgoing QoS 1 or 2 message was acknowledged (PUBACK, or PUBCOMP) by its
    /// receiver, and forgotten.
    Completed {
        /// The receiver.
        client_id: String,
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS of the delivery.
        qos: QoS,
        /// Packet identifier.
        packet_id: u16,
    },
    /// A message meant for a session was dropped.
    Dropped {
        /// The session's client.
        client_id: String,
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS the message would have been delivered with.
        qos: QoS,
        /// Why.
        reason: DropReason,
    },
    /// [`Broker::restart`] was called (after the `Closed` records it caused).
    Restarted {
        /// Whether persistent sessions and retained messages survived.
        keep_persistent_sessions: bool,
    },
}

/// A message on its way to a session, or stored.
#[derive(Debug, Clone)]
struct Message {
    topic: TopicName<Bytes>,
    payload: Bytes,
    qos: QoS,
    retain: bool,
}

/// An outgoing QoS 1 or 2 message awaiting its acknowledgement.
#[derive(Debug)]
struct InFlight {
    pid: PacketId,
    msg: Message,
    /// QoS 2: PUBREC received and PUBREL sent, awaiting PUBCOMP.
    released: bool,
}

/// The session state of one client identifier [MQTT-3.1.2.4].
#[derive(Debug, Default)]
struct Session {
    /// Clean session flag of the current (or last) connection: a clean session ends
    /// with its connection [MQTT-3.1.2-6].
    clean: bool,
    /// The open connection of the client, if any.
    conn: Option<ConnId>,
    /// Subscriptions, each filter once [MQTT-3.8.4-3].
    subs: Vec<(TopicFilter<Bytes>, QoS)>,
    /// Outgoing QoS 1 and 2 messages sent and not yet completed, in sending order.
    inflight: VecDeque<InFlight>,
    /// Messages waiting for a place in the in-flight window, in order.
    queue: VecDeque<Message>,
    /// Packet identifiers of incoming QoS 2 messages received, not yet released.
    inbound_qos2: BTreeSet<u16>,
    /// Last packet identifier allocated for an outgoing message.
    last_pid: u16,
}

impl Session {
    /// A packet identifier not used by any in-flight message.
    fn alloc_pid(&mut self) -> Option<PacketId> {
        let mut candidate = self.last_pid;
        for _ in 0..=u16::MAX {
            candidate = candidate.wrapping_add(1);
            if let Some(pid) = PacketId::new(candidate) {
                if !self.inflight.iter().any(|f| f.pid == pid) {
                    self.last_pid = candidate;
                    return Some(pid);
                }
            }
        }
        None
    }
}

/// One transport connection.
#[derive(Debug, Default)]
struct Conn {
    /// Bytes received and not yet decoded: at most one partial packet.
    inbuf: BytesMut,
    /// Bytes for the client, drained by `poll_outgoing`.
    out: BytesMut,
    /// Set once a CONNECT is accepted.
    client_id: Option<String>,
    keep_alive: u16,
    last_rx_ms: u64,
    will: Option<Message>,
    closed: bool,
}

impl Conn {
    /// When the keep alive expires: the first instant with more than one and a half
    /// keep alive periods since the last packet [MQTT-3.1.2-24].
    fn deadline(&self) -> Option<u64> {
        if self.closed || self.client_id.is_none() || self.keep_alive == 0 {
            return None;
        }
        Some(
            self.last_rx_ms
                .saturating_add(u64::from(self.keep_alive) * 1500 + 1),
        )
    }

    fn expired(&self, now_ms: u64) -> bool {
        self.deadline().is_some_and(|d| now_ms >= d)
    }
}

/// A simulated MQTT 3.1.1 broker for tests: strict, deterministic, sans-IO, and with a
/// log.
///
/// The broker speaks bytes: [`Broker::handle_bytes`] takes what a client wrote (in any
/// chunking), [`Broker::poll_outgoing`] gives what the broker writes back. There is no
/// clock: every call that depends on time takes `now_ms`. Every protocol violation the
/// MQTT 3.1.1 specification lets a server detect closes the connection, with the
/// reason kept in [`Broker::close_reason`], so a client bug shows up as a closed
/// connection instead of being papered over.
///
/// Everything that matters for delivery guarantees is appended to [`Broker::log`]:
/// each PUBLISH accepted from a client, each PUBLISH sent to a client, each
/// acknowledgement that completes an outgoing message, each message dropped, each
/// connection and each close.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::{decode_buf, Connect, DecodeOptions, Packet, Str};
/// use mqtt_session::sim::{Broker, BrokerConfig};
///
/// let mut broker = Broker::new(BrokerConfig::default());
/// let conn = broker.open();
/// let mut bytes = BytesMut::new();
/// Packet::Connect(Connect::new(Str::from_static("c1").unwrap(), 30, true))
///     .encode_to(&mut bytes)
///     .unwrap();
/// broker.handle_bytes(0, conn, &bytes);
/// let mut reply = BytesMut::from(&broker.poll_outgoing(conn).unwrap()[..]);
/// let connack = decode_buf(&mut reply, &DecodeOptions::default()).unwrap();
/// assert!(matches!(connack, Some(Packet::Connack(c)) if !c.session_present));
/// ```
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    /// Open connections, and closed ones whose last bytes are not drained yet.
    conns: BTreeMap<ConnId, Conn>,
    /// Why each closed connection closed.
    closed: BTreeMap<ConnId, CloseReason>,
    sessions: BTreeMap<String, Session>,
    retained: BTreeMap<String, Message>,
    log: Vec<Record>,
    next_conn: u64,
    next_auto_id: u64,
}

impl Default for Broker {
    fn default() -> Self {
        Broker::new(BrokerConfig::default())
    }
}

impl Broker {
    /// A broker with no connections, sessions or retained messages.
    pub fn new(config: BrokerConfig) -> Broker {
        Broker {
            config,
            conns: BTreeMap::new(),
            closed: BTreeMap::new(),
            sessions: BTreeMap::new(),
            retained: BTreeMap::new(),
            log: Vec::new(),
            next_conn: 0,
            next_auto_id: 0,
        }
    }

    /// A new transport connection; the client's first packet must be CONNECT.
    pub fn open(&mut self) -> ConnId {
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        self.conns.insert(id, Conn::default());
        id
    }

    /// Bytes the client wrote on `conn`, in any chunking. Bytes for a connection that
    /// is not open are ignored. If the connection's keep alive expired by `now_ms`, it
    /// is closed first and the bytes are ignored.
    pub fn handle_bytes(&mut self, now_ms: u64, conn: ConnId, bytes: &[u8]) {
        if !self.is_open(conn) {
            return;
        }
        if self.conns.get(&conn).is_some_and(|c| c.expired(now_ms)) {
            self.close_conn(conn, CloseReason::KeepAliveTimeout);
            return;
        }
        let opts = DecodeOptions::with_max_packet_size(self.config.max_packet_size);
        // Appending at most one maximal packet at a time bounds the buffer: what stays
        // in it after decoding is a single partial packet, checked against the limit as
        // soon as its fixed header is complete.
        let piece_len = usize::try_from(self.config.max_packet_size)
            .unwrap_or(usize::MAX)
            .max(1);
        for piece in bytes.chunks(piece_len) {
            match self.conns.get_mut(&conn) {
                Some(c) if !c.closed => c.inbuf.extend_from_slice(piece),
                _ => return,
            }
            loop {
                let Some(c) = self.conns.get_mut(&conn).filter(|c| !c.closed) else {
                    return;
                };
                let packet = match decode_buf(&mut c.inbuf, &opts) {
                    Ok(Some(packet)) => packet,
                    Ok(None) => break,
                    Err(e) => {
                        self.on_decode_error(conn, e);
                        return;
                    }
                };
                c.last_rx_ms = now_ms;
                // Own copies, so stored messages do not pin the read buffer.
                let packet = packet.as_borrowed().to_bytes();
                self.handle_packet(now_ms, conn, packet);
            }
        }
    }

    /// Bytes the broker wrote to `conn`, if any. Drain after every call. After the
    /// broker closed a connection, this still gives what it wrote before closing (e.g.
    /// a refusing CONNACK).
    pub fn poll_outgoing(&mut self, conn: ConnId) -> Option<Bytes> {
        let c = self.conns.get_mut(&conn)?;
        let bytes = (!c.out.is_empty()).then(|| c.out.split().freeze());
        if c.closed {
            self.conns.remove(&conn);
        }
        bytes
    }

    /// The transport of `conn` broke. Unless the client sent DISCONNECT, its will is
    /// published [MQTT-3.1.2-8]. Bytes not yet polled are lost. Does nothing for a
    /// connection already closed.
    pub fn close(&mut self, conn: ConnId) {
        self.close_conn(conn, CloseReason::TransportClosed);
    }

    /// Whether `conn` is open: false once either side closed it.
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_some_and(|c| !c.closed)
    }

    /// Why `conn` closed, or `None` while it is open.
    pub fn close_reason(&self, conn: ConnId) -> Option<CloseReason> {
        self.closed.get(&conn).copied()
    }

    /// The client identifier of `conn` once its CONNECT was accepted (the assigned one
    /// if the client sent an empty identifier), while it is open.
    pub fn client_id(&self, conn: ConnId) -> Option<&str> {
        self.conns
            .get(&conn)
            .filter(|c| !c.closed)?
            .client_id
            .as_deref()
    }

    /// Whether the broker holds a session for `client_id` (a persistent one, or the
    /// session of a connected client).
    pub fn has_session(&self, client_id: &str) -> bool {
        self.sessions.contains_key(client_id)
    }

    /// Closes every connection whose keep alive expired: nothing received for more
    /// than one and a half times its keep alive [MQTT-3.1.2-24]. Their wills are
    /// published.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let expired: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.expired(now_ms))
            .map(|(id, _)| *id)
            .collect();
        for conn in expired {
            self.close_conn(conn, CloseReason::KeepAliveTimeout);
        }
    }

    /// The earliest `now_ms` at which [`Broker::handle_timeout`] would close a
    /// connection, if any has a keep alive.
    pub fn next_deadline(&self) -> Option<u64> {
        self.conns.values().filter_map(Conn::deadline).min()
    }

    /// A broker crash and restart: every connection is closed with
    /// [`CloseReason::Restart`], without publishing wills, and bytes not yet polled are
    /// lost. With `keep_persistent_sessions`, sessions of clients that connected with
    /// clean session 0 (subscriptions, queued and in-flight outgoing messages,
    /// incoming QoS 2 packet identifiers) and retained messages survive; without, the
    /// broker forgets everything.
    pub fn restart(&mut self, keep_persistent_sessions: bool) {
        let open: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.closed)
            .map(|(id, _)| *id)
            .collect();
        for conn in open {
            self.close_conn(conn, CloseReason::Restart);
        }
        self.conns.clear();
        if !keep_persistent_sessions {
            self.sessions.clear();
            self.retained.clear();
        }
        self.log.push(Record::Restarted {
            keep_persistent_sessions,
        });
    }

    /// Publishes a message as if another client had sent it: routed to matching
    /// subscriptions, and retained if `retain` (an empty payload clears the retained
    /// message of the topic). Connections whose keep alive expired by `now_ms` are
    /// closed first, as by [`Broker::handle_timeout`]. Fails only for an invalid topic
    /// name.
    pub fn publish(
        &mut self,
        now_ms: u64,
        topic: &str,
        payload: Bytes,
        qos: QoS,
        retain: bool,
    ) -> Result<(), StrError> {
        let topic = TopicName::from_storage(Bytes::copy_from_slice(topic.as_bytes()))?;
        self.handle_timeout(now_ms);
        let msg = Message {
            topic,
            payload,
            qos,
            retain,
        };
        self.log.push(Record::Injected {
            topic: msg.topic.as_str().to_string(),
            payload: msg.payload.clone(),
            qos,
            retain,
        });
        self.route(&msg);
        Ok(())
    }

    /// Everything that happened, in order.
    pub fn log(&self) -> &[Record] {
        &self.log
    }

    /// Takes the log, leaving it empty (to check invariants step by step).
    pub fn take_log(&mut self) -> Vec<Record> {
        core::mem::take(&mut self.log)
    }

    // ---- Incoming packets ------------------------------------------------------

    fn on_decode_error(&mut self, conn: ConnId, e: DecodeError) {
        let connected = self.conns.get(&conn).is_some_and(|c| c.client_id.is_some());
        if !connected && matches!(e, DecodeError::UnsupportedProtocolLevel(_)) {
            // [MQTT-3.1.2-2]: CONNACK 0x01, then close.
            self.refuse(conn, ConnectReturnCode::UnacceptableProtocolVersion);
        } else {
            // [MQTT-4.8.0-1]
            self.close_conn(conn, CloseReason::Decode(e));
        }
    }

    fn handle_packet(&mut self, now_ms: u64, conn: ConnId, packet: Packet<Bytes>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(client_id) = c.client_id.clone() else {
            match packet {
                Packet::Connect(connect) => self.on_connect(now_ms, conn, connect),
                _ => self.violation(conn, "the first packet must be CONNECT [MQTT-3.1.0-1]"),
            }
            return;
        };
        match packet {
            Packet::Connect(_) => self.violation(conn, "a second CONNECT [MQTT-3.1.0-2]"),
            Packet::Connack(_) => self.violation(conn, "CONNACK from a client"),
            Packet::Suback(_) => self.violation(conn, "SUBACK from a client"),
            Packet::Unsuback(_) => self.violation(conn, "UNSUBACK from a client"),
            Packet::Pingresp => self.violation(conn, "PINGRESP from a client"),
            Packet::Publish(p) => self.on_publish(conn, &client_id, p),
            Packet::Puback(pid) => self.on_puback(conn, &client_id, pid),
            Packet::Pubrec(pid) => self.on_pubrec(conn, &client_id, pid),
            Packet::Pubrel(pid) => {
                // [MQTT-4.3.3-2]: forget the identifier, then PUBCOMP, also for an
                // identifier not (or no longer) stored.
                if let Some(s) = self.sessions.get_mut(&client_id) {
                    s.inbound_qos2.remove(&pid.get());
                }
                self.send(conn, &Packet::Pubcomp(pid));
            }
            Packet::Pubcomp(pid) => self.on_pubcomp(conn, &client_id, pid),
            Packet::Subscribe(s) => self.on_subscribe(conn, &client_id, s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(conn, &client_id, u),
            // [MQTT-3.12.4-1]
            Packet::Pingreq => self.send(conn, &Packet::Pingresp),
            Packet::Disconnect => {
                // [MQTT-3.1.2-10], [MQTT-3.14.4-3]: the will is discarded.
                c.will = None;
                self.close_conn(conn, CloseReason::Disconnect);
            }
        }
    }

    fn on_connect(&mut self, now_ms: u64, conn: ConnId, connect: Connect<Bytes>) {
        let clean = connect.clean_session;
        let mut client_id = connect.client_id.as_str().to_string();
        if client_id.is_empty() {
            if !clean {
                // [MQTT-3.1.3-8]: CONNACK 0x02, then close.
                self.refuse(conn, ConnectReturnCode::IdentifierRejected);
                return;
            }
            // [MQTT-3.1.3-6]: assign a unique identifier.
            client_id = self.assign_client_id();
        }
        // [MQTT-3.1.4-2]: an existing connection of the same client is closed (its will
        // is published).
        if let Some(old) = self.sessions.get(&client_id).and_then(|s| s.conn) {
            if old != conn {
                self.close_conn(old, CloseReason::TakenOver);
            }
        }
        if clean {
            // [MQTT-3.1.2-6]: discard any previous session.
            self.sessions.remove(&client_id);
        }
        // [MQTT-3.2.2-1], [MQTT-3.2.2-2], [MQTT-3.2.2-3]
        let session_present = !clean && self.sessions.contains_key(&client_id);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let session = self.sessions.entry(client_id.clone()).or_default();
        session.clean = clean;
        session.conn = Some(conn);
        c.client_id = Some(client_id.clone());
        c.keep_alive = connect.keep_alive;
        c.last_rx_ms = now_ms;
        c.will = connect.will.map(|w| Message {
            topic: w.topic,
            payload: w.message,
            qos: w.qos,
            retain: w.retain,
        });
        let connack = Connack {
            session_present,
            code: ConnectReturnCode::Accepted,
        };
        write(&mut c.out, &Packet::Connack(connack));
        self.log.push(Record::Connected {
            conn,
            client_id: client_id.clone(),
            clean_session: clean,
            session_present,
        });
        if session_present {
            // [MQTT-4.4.0-1]: resend unacknowledged PUBLISH (DUP, same identifier) and
            // PUBREL, in their original order.
            for f in &session.inflight {
                if f.released {
                    write(&mut c.out, &Packet::Pubrel(f.pid));
                } else {
                    let qos_pid = match f.msg.qos {
                        QoS::ExactlyOnce => QosPid::ExactlyOnce(f.pid),
                        _ => QosPid::AtLeastOnce(f.pid),
                    };
                    send_publish(&mut c.out, &mut self.log, &client_id, &f.msg, qos_pid, true);
                }
            }
        }
        pump(session, &client_id, &mut c.out, &mut self.log, &self.config);
    }

    fn on_publish(&mut self, conn: ConnId, client_id: &str, p: Publish<Bytes>) {
        let pid = p.qos_pid.packet_id();
        if let (Some(pid), Some(s)) = (pid, self.sessions.get(client_id)) {
            let stored = s.inbound_qos2.contains(&pid.get());
            // A resend of a stored QoS 2 message carries DUP [MQTT-3.3.1-1]; anything
            // else with that identifier reuses one still in use [MQTT-2.3.1-2].
            if stored && (p.qos() != QoS::ExactlyOnce || !p.dup) {
                self.violation(
                    conn,
                    "PUBLISH reuses the packet identifier of a QoS 2 PUBLISH not yet released [MQTT-2.3.1-2]",
                );
                return;
            }
        }
        let (qos, dup, qos_pid) = (p.qos(), p.dup, p.qos_pid);
        let msg = Message {
            topic: p.topic,
            payload: p.payload,
            qos,
            retain: p.retain,
        };
        let routed = match qos_pid {
            QosPid::ExactlyOnce(pid) => self
                .sessions
                .get_mut(client_id)
                .is_some_and(|s| s.inbound_qos2.insert(pid.get())),
            _ => true,
        };
        self.log.push(Record::Received {
            client_id: client_id.to_string(),
            topic: msg.topic.as_str().to_string(),
            payload: msg.payload.clone(),
            qos: msg.qos,
            retain: msg.retain,
            dup,
            packet_id: pid.map(PacketId::get),
            routed,
        });
        // QoS 2 "method B": deliver onward on first receipt, never again for a resend
        // [MQTT-4.3.3-2].
        if routed {
            self.route(&msg);
        }
        match qos_pid {
            QosPid::AtMostOnce => {}
            // [MQTT-4.3.2-2]
            QosPid::AtLeastOnce(pid) => self.send(conn, &Packet::Puback(pid)),
            // [MQTT-4.3.3-2]
            QosPid::ExactlyOnce(pid) => self.send(conn, &Packet::Pubrec(pid)),
        }
    }

    fn on_puback(&mut self, conn: ConnId, client_id: &str, pid: PacketId) {
        // [MQTT-2.3.1-6]: a PUBACK names a QoS 1 PUBLISH the broker sent.
        if !self.complete(conn, client_id, |f| {
            f.pid == pid && f.msg.qos == QoS::AtLeastOnce
        }) {
            self.violation(
                conn,
                "PUBACK for a packet identifier with no QoS 1 PUBLISH in flight",
            );
        }
    }

    fn on_pubrec(&mut self, conn: ConnId, client_id: &str, pid: PacketId) {
        let found = self.sessions.get_mut(client_id).and_then(|s| {
            s.inflight
                .iter_mut()
                .find(|f| f.pid == pid && f.msg.qos == QoS::ExactlyOnce)
        });
        match found {
            // [MQTT-4.3.3-1]: PUBREL after PUBREC. A repeated PUBREC gets PUBREL again.
            Some(f) => {
                f.released = true;
                self.send(conn, &Packet::Pubrel(pid));
            }
            // [MQTT-2.3.1-6]
            None => self.violation(
                conn,
                "PUBREC for a packet identifier with no QoS 2 PUBLISH in flight",
            ),
        }
    }

    fn on_pubcomp(&mut self, conn: ConnId, client_id: &str, pid: PacketId) {
        if !self.complete(conn, client_id, |f| f.pid == pid && f.released) {
            self.violation(
                conn,
                "PUBCOMP for a packet identifier with no PUBREL outstanding",
            );
        }
    }

    /// Completes the in-flight message `which` selects: forgets it and fills the
    /// window. False if there is none.
    fn complete(
        &mut self,
        conn: ConnId,
        client_id: &str,
        which: impl Fn(&InFlight) -> bool,
    ) -> bool {
        let Broker {
            sessions,
            conns,
            log,
            config,
            ..
        } = self;
        let Some(session) = sessions.get_mut(client_id) else {
            return false;
        };
        let Some(done) = session
            .inflight
            .iter()
            .position(which)
            .and_then(|i| session.inflight.remove(i))
        else {
            return false;
        };
        log.push(Record::Completed {
            client_id: client_id.to_string(),
            topic: done.msg.topic.as_str().to_string(),
            payload: done.msg.payload,
            qos: done.msg.qos,
            packet_id: done.pid.get(),
        });
        if let Some(c) = conns.get_mut(&conn) {
            pump(session, client_id, &mut c.out, log, config);
        }
        true
    }

    fn on_subscribe(&mut self, conn: ConnId, client_id: &str, s: Subscribe<Bytes>) {
        let Broker {
            sessions,
            conns,
            log,
            config,
            retained,
            ..
        } = self;
        let (Some(session), Some(c)) = (sessions.get_mut(client_id), conns.get_mut(&conn)) else {
            return;
        };
        let mut codes = Vec::new();
        let mut granted = Vec::new();
        for (filter, qos) in s.filters.iter() {
            // [MQTT-3.8.4-3]: an identical filter is replaced.
            match session
                .subs
                .iter_mut()
                .find(|(f, _)| f.as_bytes() == filter.as_bytes())
            {
                Some(existing) => existing.1 = qos,
                None => session.subs.push((filter.clone(), qos)),
            }
            // [MQTT-3.8.4-5]: every filter is granted the QoS asked for.
            codes.push(SubackReturnCode::Success(qos));
            granted.push((filter, qos));
        }
        // [MQTT-3.8.4-1], [MQTT-3.8.4-2]
        if let Ok(codes) = SubackCodes::from_codes(&codes) {
            write(
                &mut c.out,
                &Packet::Suback(Suback {
                    packet_id: s.packet_id,
                    codes,
                }),
            );
        }
        // [MQTT-3.3.1-6], [MQTT-3.3.1-8], [MQTT-3.8.4-3]: matching retained messages,
        // RETAIN set, once each at the highest QoS of the new filters it matches.
        for msg in retained.values() {
            let Some(max) = granted
                .iter()
                .filter(|(f, _)| f.matches(&msg.topic))
                .map(|(_, q)| *q)
                .max()
            else {
                continue;
            };
            let out = Message {
                qos: min(msg.qos, max),
                retain: true,
                ..msg.clone()
            };
            enqueue(session, client_id, out, Some(&mut c.out), log, config);
        }
    }

    fn on_unsubscribe(&mut self, conn: ConnId, client_id: &str, u: Unsubscribe<Bytes>) {
        if let Some(session) = self.sessions.get_mut(client_id) {
            for filter in u.filters.iter() {
                session
                    .subs
                    .retain(|(f, _)| f.as_bytes() != filter.as_bytes());
            }
        }
        // [MQTT-3.10.4-4], [MQTT-3.10.4-5]: UNSUBACK, even for filters not subscribed.
        self.send(conn, &Packet::Unsuback(u.packet_id));
    }

    // ---- Routing and closing ---------------------------------------------------

    /// Retains `msg` if asked, and queues a copy for every session with a matching
    /// subscription.
    fn route(&mut self, msg: &Message) {
        if msg.retain {
            let topic = msg.topic.as_str().to_string();
            if msg.payload.is_empty() {
                // [MQTT-3.3.1-10], [MQTT-3.3.1-11]
                self.retained.remove(&topic);
            } else {
                // [MQTT-3.3.1-5], [MQTT-3.3.1-7]
                self.retained.insert(topic, msg.clone());
            }
        }
        let Broker {
            sessions,
            conns,
            log,
            config,
            ..
        } = self;
        for (client_id, session) in sessions.iter_mut() {
            // [MQTT-3.3.5-1]: one copy, at the highest QoS of the matching subscriptions.
            let Some(max) = session
                .subs
                .iter()
                .filter(|(f, _)| f.matches(&msg.topic))
                .map(|(_, q)| *q)
                .max()
            else {
                continue;
            };
            // [MQTT-3.3.1-9]: RETAIN is cleared for established subscriptions.
            let out = Message {
                qos: min(msg.qos, max),
                retain: false,
                ..msg.clone()
            };
            let conn_out = session
                .conn
                .and_then(|c| conns.get_mut(&c))
                .filter(|c| !c.closed)
                .map(|c| &mut c.out);
            enqueue(session, client_id, out, conn_out, log, config);
        }
    }

    fn assign_client_id(&mut self) -> String {
        loop {
            self.next_auto_id += 1;
            let id = format!("sim-auto-{}", self.next_auto_id);
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    fn send(&mut self, conn: ConnId, packet: &Packet<Bytes>) {
        if let Some(c) = self.conns.get_mut(&conn).filter(|c| !c.closed) {
            write(&mut c.out, packet);
        }
    }

    fn violation(&mut self, conn: ConnId, why: &'static str) {
        // [MQTT-4.8.0-1]
        self.close_conn(conn, CloseReason::ProtocolViolation(why));
    }

    fn refuse(&mut self, conn: ConnId, code: ConnectReturnCode) {
        self.send(
            conn,
            &Packet::Connack(Connack {
                session_present: false,
                code,
            }),
        );
        self.close_conn(conn, CloseReason::Refused(code));
    }

    fn close_conn(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(c) = self.conns.get_mut(&conn).filter(|c| !c.closed) else {
            return;
        };
        c.closed = true;
        c.inbuf = BytesMut::new();
        let will = c.will.take();
        let client_id = c.client_id.take();
        if matches!(reason, CloseReason::TransportClosed | CloseReason::Restart) || c.out.is_empty()
        {
            self.conns.remove(&conn);
        }
        self.closed.insert(conn, reason);
        self.log.push(Record::Closed {
            conn,
            client_id: client_id.clone(),
            reason,
        });
        let Some(client_id) = client_id else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&client_id) {
            if s.conn == Some(conn) {
                s.conn = None;
                if s.clean {
                    // [MQTT-3.1.2-6]: a clean session lasts as long as its connection.
                    self.sessions.remove(&client_id);
                }
            }
        }
        // [MQTT-3.1.2-8]: the will is published when the connection closes without
        // DISCONNECT (which discarded it). A crash publishes nothing.
        if let Some(will) = will.filter(|_| reason != CloseReason::Restart) {
            self.log.push(Record::Will {
                client_id,
                topic: will.topic.as_str().to_string(),
                payload: will.payload.clone(),
                qos: will.qos,
                retain: will.retain,
            });
            self.route(&will);
        }
    }
}

/// Encodes `packet` at the end of `out`. Only an injected PUBLISH over 256 MiB can
/// fail to encode; it is then not sent.
fn write(out: &mut BytesMut, packet: &Packet<Bytes>) -> bool {
    packet.encode_to(out).is_ok()
}

fn send_publish(
    out: &mut BytesMut,
    log: &mut Vec<Record>,
    client_id: &str,
    msg: &Message,
    qos_pid: QosPid,
    dup: bool,
) {
    let publish = Publish {
        dup,
        qos_pid,
        retain: msg.retain,
        topic: msg.topic.clone(),
        payload: msg.payload.clone(),
    };
    if write(out, &Packet::Publish(publish)) {
        log.push(Record::Delivered {
            client_id: client_id.to_string(),
            topic: msg.topic.as_str().to_string(),
            payload: msg.payload.clone(),
            qos: qos_pid.qos(),
            retain: msg.retain,
            dup,
            packet_id: qos_pid.packet_id().map(PacketId::get),
        });
    }
}

/// Sends queued messages in order while the in-flight window has room. A QoS 0
/// message waits behind QoS 1 and 2 ones, so a topic's order is kept
/// [MQTT-4.6.0-5], [MQTT-4.6.0-6].
fn pump(
    session: &mut Session,
    client_id: &str,
    out: &mut BytesMut,
    log: &mut Vec<Record>,
    config: &BrokerConfig,
) {
    let window = usize::from(config.max_inflight.max(1));
    while let Some(front) = session.queue.front() {
        let qos = front.qos;
        let pid = if qos == QoS::AtMostOnce {
            None
        } else if session.inflight.len() >= window {
            break;
        } else {
            // [MQTT-2.3.1-4]: an identifier not in use by this session.
            match session.alloc_pid() {
                Some(pid) => Some(pid),
                None => break,
            }
        };
        let Some(msg) = session.queue.pop_front() else {
            break;
        };
        let qos_pid = match (qos, pid) {
            (QoS::AtLeastOnce, Some(pid)) => QosPid::AtLeastOnce(pid),
            (QoS::ExactlyOnce, Some(pid)) => QosPid::ExactlyOnce(pid),
            _ => QosPid::AtMostOnce,
        };
        send_publish(out, log, client_id, &msg, qos_pid, false);
        if let Some(pid) = pid {
            session.inflight.push_back(InFlight {
                pid,
                msg,
                released: false,
            });
        }
    }
}

/// Queues `msg` for a session: sent at once if its client is online (`out`) and the
/// window allows, kept if it is a persistent session offline (QoS 1 and 2 only).
fn enqueue(
    session: &mut Session,
    client_id: &str,
    msg: Message,
    out: Option<&mut BytesMut>,
    log: &mut Vec<Record>,
    config: &BrokerConfig,
) {
    let dropped = |msg: Message, reason| Record::Dropped {
        client_id: client_id.to_string(),
        topic: msg.topic.as_str().to_string(),
        payload: msg.payload,
        qos: msg.qos,
        reason,
    };
    match out {
        Some(out) => {
            session.queue.push_back(msg);
            pump(session, client_id, out, log, config);
        }
        // A QoS 0 message for an offline client is not kept (3.1.2.4).
        None if msg.qos == QoS::AtMostOnce => {
            log.push(dropped(msg, DropReason::Offline));
            return;
        }
        None => session.queue.push_back(msg),
    }
    while session.queue.len() > config.max_queued {
        if let Some(old) = session.queue.pop_front() {
            log.push(dropped(old, DropReason::QueueFull));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use mqtt_proto::{LastWill, Str, SubscribeFilters, UnsubscribeFilters};

    fn pid(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    fn enc(p: &Packet<Bytes>) -> Vec<u8> {
        let mut b = BytesMut::new();
        p.encode_to(&mut b).unwrap();
        b.to_vec()
    }

    fn connect_pkt(id: &'static str, clean: bool, keep_alive: u16) -> Packet<Bytes> {
        Packet::Connect(Connect::new(
            Str::from_static(id).unwrap(),
            keep_alive,
            clean,
        ))
    }

    fn with_will(p: Packet<Bytes>, topic: &'static str, qos: QoS, retain: bool) -> Packet<Bytes> {
        let Packet::Connect(mut c) = p else {
            unreachable!()
        };
        c.will = Some(LastWill {
            topic: TopicName::from_static(topic).unwrap(),
            message: Bytes::from_static(b"gone"),
            qos,
            retain,
        });
        Packet::Connect(c)
    }

    fn publish_pkt(
        topic: &'static str,
        qos: QoS,
        id: u16,
        dup: bool,
        payload: &'static str,
    ) -> Packet<Bytes> {
        let qos_pid = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(pid(id)),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(pid(id)),
        };
        let mut p = Publish::new(
            TopicName::from_static(topic).unwrap(),
            qos_pid,
            Bytes::from_static(payload.as_bytes()),
        );
        p.dup = dup;
        Packet::Publish(p)
    }

    fn subscribe_pkt(id: u16, filters: &[(&str, QoS)]) -> Packet<Bytes> {
        let items: Vec<(TopicFilter<&[u8]>, QoS)> = filters
            .iter()
            .map(|(f, q)| (TopicFilter::new(f).unwrap(), *q))
            .collect();
        Packet::Subscribe(Subscribe {
            packet_id: pid(id),
            filters: SubscribeFilters::from_items::<&[u8], _>(&items).unwrap(),
        })
    }

    fn unsubscribe_pkt(id: u16, filters: &[&str]) -> Packet<Bytes> {
        let items: Vec<TopicFilter<&[u8]>> = filters
            .iter()
            .map(|f| TopicFilter::new(f).unwrap())
            .collect();
        Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(id),
            filters: UnsubscribeFilters::from_items::<&[u8], _>(&items).unwrap(),
        })
    }

    fn send(b: &mut Broker, conn: ConnId, p: &Packet<Bytes>) {
        b.handle_bytes(0, conn, &enc(p));
    }

    /// Everything the broker wrote to `conn`, decoded.
    fn recv(b: &mut Broker, conn: ConnId) -> Vec<Packet<Bytes>> {
        let mut buf = BytesMut::new();
        while let Some(bytes) = b.poll_outgoing(conn) {
            buf.extend_from_slice(&bytes);
        }
        let mut packets = Vec::new();
        while let Some(p) = decode_buf(&mut buf, &DecodeOptions::default()).unwrap() {
            packets.push(p);
        }
        assert!(buf.is_empty());
        packets
    }

    /// Opens a connection and connects; returns it, the session present flag and the
    /// packets that followed the CONNACK.
    fn resume(b: &mut Broker, p: Packet<Bytes>) -> (ConnId, bool, Vec<Packet<Bytes>>) {
        let conn = b.open();
        send(b, conn, &p);
        let mut packets = recv(b, conn);
        assert!(!packets.is_empty());
        match packets.remove(0) {
            Packet::Connack(Connack {
                session_present,
                code: ConnectReturnCode::Accepted,
            }) => (conn, session_present, packets),
            other => panic!("{other:?}"),
        }
    }

    /// Like `resume`, for a connection where nothing follows the CONNACK.
    fn connect(b: &mut Broker, p: Packet<Bytes>) -> (ConnId, bool) {
        let (conn, present, rest) = resume(b, p);
        assert!(rest.is_empty(), "{rest:?}");
        (conn, present)
    }

    fn client(b: &mut Broker, id: &'static str, clean: bool) -> ConnId {
        connect(b, connect_pkt(id, clean, 0)).0
    }

    fn subscribe(b: &mut Broker, conn: ConnId, filters: &[(&str, QoS)]) {
        send(b, conn, &subscribe_pkt(1, filters));
        let packets = recv(b, conn);
        let Some(Packet::Suback(s)) = packets.first() else {
            panic!("{packets:?}")
        };
        assert_eq!(s.packet_id, pid(1));
        let codes: Vec<_> = s.codes.iter().collect();
        let want: Vec<_> = filters
            .iter()
            .map(|(_, q)| SubackReturnCode::Success(*q))
            .collect();
        assert_eq!(codes, want);
    }

    /// (topic, payload, qos, dup, retain, packet id) of each PUBLISH.
    fn publishes(packets: &[Packet<Bytes>]) -> Vec<(String, Bytes, QoS, bool, bool, Option<u16>)> {
        packets
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some((
                    p.topic.as_str().to_string(),
                    p.payload.clone(),
                    p.qos(),
                    p.dup,
                    p.retain,
                    p.qos_pid.packet_id().map(PacketId::get),
                )),
                _ => None,
            })
            .collect()
    }

    fn violation(b: &Broker, conn: ConnId) -> bool {
        !b.is_open(conn)
            && matches!(
                b.close_reason(conn),
                Some(CloseReason::ProtocolViolation(_))
            )
    }

    #[test]
    fn connack_session_present_follows_clean_session() {
        let mut b = Broker::default();
        // No session yet [MQTT-3.2.2-3].
        let (c, present) = connect(&mut b, connect_pkt("a", false, 0));
        assert!(!present);
        assert_eq!(b.client_id(c), Some("a"));
        send(&mut b, c, &Packet::Disconnect);
        assert_eq!(b.close_reason(c), Some(CloseReason::Disconnect));
        assert!(b.has_session("a"));
        // Resumed [MQTT-3.2.2-2].
        let (c, present) = connect(&mut b, connect_pkt("a", false, 0));
        assert!(present);
        b.close(c);
        // Clean session: never present, and discards the stored one [MQTT-3.1.2-6].
        let (c, present) = connect(&mut b, connect_pkt("a", true, 0));
        assert!(!present);
        b.close(c);
        assert!(!b.has_session("a"));
        let (_, present) = connect(&mut b, connect_pkt("a", false, 0));
        assert!(!present);
        assert!(b.log().iter().any(|r| matches!(
            r,
            Record::Connected { client_id, clean_session: true, session_present: false, .. } if client_id == "a"
        )));
    }

    #[test]
    fn empty_client_id() {
        let mut b = Broker::default();
        // [MQTT-3.1.3-8]: without clean session, CONNACK 0x02 then close. The codec
        // refuses to encode it, so it is written by hand.
        let conn = b.open();
        b.handle_bytes(
            0,
            conn,
            &[0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0, 0, 60, 0, 0],
        );
        assert!(!b.is_open(conn));
        assert_eq!(
            b.close_reason(conn),
            Some(CloseReason::Refused(ConnectReturnCode::IdentifierRejected))
        );
        let packets = recv(&mut b, conn);
        assert_eq!(
            packets,
            vec![Packet::Connack(Connack {
                session_present: false,
                code: ConnectReturnCode::IdentifierRejected
            })]
        );
        // With clean session, an identifier is assigned, unique.
        let (c1, _) = connect(&mut b, connect_pkt("", true, 0));
        let (c2, _) = connect(&mut b, connect_pkt("", true, 0));
        let (id1, id2) = (b.client_id(c1).unwrap(), b.client_id(c2).unwrap());
        assert!(!id1.is_empty() && id1 != id2);
        assert!(b.is_open(c1) && b.is_open(c2));
    }

    #[test]
    fn unsupported_protocol_level_is_refused_with_0x01() {
        let mut b = Broker::default();
        let conn = b.open();
        let mut bytes = enc(&connect_pkt("a", true, 0));
        bytes[8] = 3; // protocol level
        b.handle_bytes(0, conn, &bytes);
        assert_eq!(
            recv(&mut b, conn),
            vec![Packet::Connack(Connack {
                session_present: false,
                code: ConnectReturnCode::UnacceptableProtocolVersion
            })]
        );
        assert!(!b.is_open(conn));
    }

    #[test]
    fn violations_close_the_connection() {
        let mut b = Broker::default();
        // [MQTT-3.1.0-1]
        let conn = b.open();
        send(&mut b, conn, &Packet::Pingreq);
        assert!(violation(&b, conn));
        assert!(recv(&mut b, conn).is_empty());
        // [MQTT-3.1.0-2]
        let conn = client(&mut b, "a", true);
        send(&mut b, conn, &connect_pkt("a", true, 0));
        assert!(violation(&b, conn));
        // Packets only a server sends.
        for p in [
            Packet::Pingresp,
            Packet::Unsuback(pid(1)),
            Packet::Connack(Connack {
                session_present: false,
                code: ConnectReturnCode::Accepted,
            }),
            Packet::Suback(Suback {
                packet_id: pid(1),
                codes: SubackCodes::from_codes(&[SubackReturnCode::Failure]).unwrap(),
            }),
        ] {
            let conn = client(&mut b, "a", true);
            send(&mut b, conn, &p);
            assert!(violation(&b, conn), "{p:?}");
        }
        // Acknowledgements for identifiers the broker never sent.
        for p in [
            Packet::Puback(pid(9)),
            Packet::Pubrec(pid(9)),
            Packet::Pubcomp(pid(9)),
        ] {
            let conn = client(&mut b, "a", true);
            send(&mut b, conn, &p);
            assert!(violation(&b, conn), "{p:?}");
        }
        // Malformed bytes: a QoS 0 PUBLISH with DUP.
        let conn = client(&mut b, "a", true);
        b.handle_bytes(0, conn, &[0x38, 0x03, 0x00, 0x01, b'a']);
        assert_eq!(
            b.close_reason(conn),
            Some(CloseReason::Decode(DecodeError::DupWithQos0))
        );
        // Bytes after the close are ignored.
        b.handle_bytes(0, conn, &enc(&Packet::Pingreq));
        assert!(recv(&mut b, conn).is_empty());
    }

    #[test]
    fn oversized_packet_is_refused_from_its_header() {
        let mut b = Broker::new(BrokerConfig {
            max_packet_size: 64,
            ..BrokerConfig::default()
        });
        let conn = client(&mut b, "a", true);
        // A PUBLISH announcing 1000 bytes: refused before its body.
        b.handle_bytes(0, conn, &[0x30, 0xe8, 0x07]);
        assert!(matches!(
            b.close_reason(conn),
            Some(CloseReason::Decode(DecodeError::PacketTooLarge { .. }))
        ));
    }

    #[test]
    fn any_chunking_works() {
        let mut b = Broker::default();
        let sub = client(&mut b, "sub", true);
        subscribe(&mut b, sub, &[("t", QoS::AtLeastOnce)]);
        let conn = b.open();
        let mut bytes = enc(&connect_pkt("pub", true, 0));
        bytes.extend(enc(&publish_pkt("t", QoS::AtLeastOnce, 1, false, "x")));
        bytes.extend(enc(&Packet::Pingreq));
        for byte in &bytes {
            b.handle_bytes(0, conn, core::slice::from_ref(byte));
        }
        assert_eq!(recv(&mut b, conn).len(), 3); // CONNACK, PUBACK, PINGRESP
        assert_eq!(publishes(&recv(&mut b, sub)).len(), 1);
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut b = Broker::new(BrokerConfig {
            max_packet_size: 256,
            ..BrokerConfig::default()
        });
        let sub = client(&mut b, "sub", false);
        subscribe(&mut b, sub, &[("#", QoS::ExactlyOnce)]);
        for round in 0..2000 {
            let conn = b.open();
            // Half the time a valid CONNECT first, so later packet types are reached.
            if round % 2 == 0 {
                send(&mut b, conn, &connect_pkt("x", round % 4 == 0, 1));
            }
            for _ in 0..(next() % 8) {
                let len = (next() % 40) as usize;
                let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if let Some(first) = bytes.first_mut() {
                    // Favour valid packet types and flags.
                    *first = (*first & 0xf0).max(0x10) | if next() % 2 == 0 { 0 } else { 2 };
                }
                b.handle_bytes(round, conn, &bytes);
            }
            let _ = recv(&mut b, conn);
            if next() % 3 == 0 {
                b.close(conn);
            }
            b.handle_timeout(round * 1000);
            let _ = recv(&mut b, sub);
        }
    }

    #[test]
    fn routing_at_each_qos() {
        let mut b = Broker::default();
        let s0 = client(&mut b, "s0", true);
        let s1 = client(&mut b, "s1", true);
        let s2 = client(&mut b, "s2", true);
        subscribe(&mut b, s0, &[("a/+", QoS::AtMostOnce)]);
        subscribe(&mut b, s1, &[("a/#", QoS::AtLeastOnce)]);
        subscribe(
            &mut b,
            s2,
            &[("a/b", QoS::ExactlyOnce), ("#", QoS::AtMostOnce)],
        );
        let p = client(&mut b, "p", true);

        // QoS 0: no answer.
        send(
            &mut b,
            p,
            &publish_pkt("a/b", QoS::AtMostOnce, 0, false, "m0"),
        );
        assert!(recv(&mut b, p).is_empty());
        // QoS 1: PUBACK.
        send(
            &mut b,
            p,
            &publish_pkt("a/b", QoS::AtLeastOnce, 7, false, "m1"),
        );
        assert_eq!(recv(&mut b, p), vec![Packet::Puback(pid(7))]);
        // QoS 2: PUBREC.
        send(
            &mut b,
            p,
            &publish_pkt("a/b", QoS::ExactlyOnce, 8, false, "m2"),
        );
        assert_eq!(recv(&mut b, p), vec![Packet::Pubrec(pid(8))]);

        // Delivered QoS = min(publish QoS, granted QoS).
        let got0: Vec<_> = publishes(&recv(&mut b, s0))
            .into_iter()
            .map(|p| p.2)
            .collect();
        assert_eq!(got0, [QoS::AtMostOnce; 3]);
        let got1: Vec<_> = publishes(&recv(&mut b, s1))
            .into_iter()
            .map(|p| p.2)
            .collect();
        assert_eq!(got1, [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::AtLeastOnce]);
        // Overlapping subscriptions: one copy at the highest QoS [MQTT-3.3.5-1].
        let got2 = publishes(&recv(&mut b, s2));
        let qos2: Vec<_> = got2.iter().map(|p| p.2).collect();
        assert_eq!(qos2, [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]);
        let payloads: Vec<_> = got2.iter().map(|p| p.1.clone()).collect();
        assert_eq!(payloads, [&b"m0"[..], b"m1", b"m2"]);
        // Identifiers are non-zero and distinct while in flight.
        assert_ne!(got2[1].5, got2[2].5);
        assert!(got2[1].5.is_some() && got2[2].5.is_some());
    }

    #[test]
    fn qos2_inbound_duplicate_is_not_routed_again() {
        let mut b = Broker::default();
        let sub = client(&mut b, "sub", true);
        subscribe(&mut b, sub, &[("t", QoS::ExactlyOnce)]);
        let (p, _) = connect(&mut b, connect_pkt("p", false, 0));
        send(
            &mut b,
            p,
            &publish_pkt("t", QoS::ExactlyOnce, 5, false, "once"),
        );
        assert_eq!(recv(&mut b, p), vec![Packet::Pubrec(pid(5))]);
        // The connection drops before the PUBREC arrives: the client resends with DUP.
        b.close(p);
        let (p, present) = connect(&mut b, connect_pkt("p", false, 0));
        assert!(present);
        send(
            &mut b,
            p,
            &publish_pkt("t", QoS::ExactlyOnce, 5, true, "once"),
        );
        assert_eq!(recv(&mut b, p), vec![Packet::Pubrec(pid(5))]);
        // Delivered once [MQTT-4.3.3-2].
        assert_eq!(publishes(&recv(&mut b, sub)).len(), 1);
        send(&mut b, p, &Packet::Pubrel(pid(5)));
        assert_eq!(recv(&mut b, p), vec![Packet::Pubcomp(pid(5))]);
        // PUBCOMP also for an identifier not stored.
        send(&mut b, p, &Packet::Pubrel(pid(5)));
        assert_eq!(recv(&mut b, p), vec![Packet::Pubcomp(pid(5))]);
        // After PUBCOMP the identifier is free: a new message.
        send(
            &mut b,
            p,
            &publish_pkt("t", QoS::ExactlyOnce, 5, false, "twice"),
        );
        assert_eq!(recv(&mut b, p), vec![Packet::Pubrec(pid(5))]);
        let got: Vec<_> = publishes(&recv(&mut b, sub))
            .into_iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(got, [&b"twice"[..]]);

        let received: Vec<_> = b
            .log()
            .iter()
            .filter_map(|r| match r {
                Record::Received {
                    dup,
                    routed,
                    packet_id,
                    ..
                } => Some((*dup, *routed, *packet_id)),
                _ => None,
            })
            .collect();
        assert_eq!(
            received,
            [
                (false, true, Some(5)),
                (true, false, Some(5)),
                (false, true, Some(5))
            ]
        );

        // Reuse of a stored identifier without DUP, or at QoS 1, is a violation.
        let (p, _) = connect(&mut b, connect_pkt("p", false, 0));
        send(
            &mut b,
            p,
            &publish_pkt("t", QoS::ExactlyOnce, 5, false, "x"),
        );
        assert!(violation(&b, p));
        let (p, _) = connect(&mut b, connect_pkt("p", false, 0));
        send(
            &mut b,
            p,
            &publish_pkt("t", QoS::AtLeastOnce, 5, false, "x"),
        );
        assert!(violation(&b, p));
    }

    #[test]
    fn outgoing_qos2_flow() {
        let mut b = Broker::default();
        let sub = client(&mut b, "sub", true);
        subscribe(&mut b, sub, &[("t", QoS::ExactlyOnce)]);
        b.publish(0, "t", Bytes::from_static(b"x"), QoS::ExactlyOnce, false)
            .unwrap();
        let got = publishes(&recv(&mut b, sub));
        let id = pid(got[0].5.unwrap());
        send(&mut b, sub, &Packet::Pubrec(id));
        assert_eq!(recv(&mut b, sub), vec![Packet::Pubrel(id)]);
        send(&mut b, sub, &Packet::Pubcomp(id));
        assert!(recv(&mut b, sub).is_empty());
        assert!(b.is_open(sub));
        assert!(b.log().iter().any(|r| matches!(
            r,
            Record::Completed {
                qos: QoS::ExactlyOnce,
                ..
            }
        )));
        // The identifier is forgotten: a second PUBCOMP is a violation.
        send(&mut b, sub, &Packet::Pubcomp(id));
        assert!(violation(&b, sub));

        // PUBACK for a QoS 2 message, and PUBCOMP before PUBREL was sent: violations.
        for puback in [true, false] {
            let sub = client(&mut b, "sub", true);
            subscribe(&mut b, sub, &[("t", QoS::ExactlyOnce)]);
            b.publish(0, "t", Bytes::from_static(b"x"), QoS::ExactlyOnce, false)
                .unwrap();
            let id = pid(publishes(&recv(&mut b, sub))[0].5.unwrap());
            let bad = if puback {
                Packet::Puback(id)
            } else {
                Packet::Pubcomp(id)
            };
            send(&mut b, sub, &bad);
            assert!(violation(&b, sub), "{bad:?}");
        }
    }

    #[test]
    fn inflight_window_and_order() {
        let mut b = Broker::new(BrokerConfig {
            max_inflight: 2,
            ..BrokerConfig::default()
        });
        let sub = client(&mut b, "sub", true);
        subscribe(&mut b, sub, &[("t", QoS::AtLeastOnce)]);
        for payload in ["1", "2", "3"] {
            b.publish(0, "t", Bytes::from(payload), QoS::AtLeastOnce, false)
                .unwrap();
        }
        // A QoS 0 message waits behind the QoS 1 ones: order is kept.
        b.publish(0, "t", Bytes::from_static(b"4"), QoS::AtMostOnce, false)
            .unwrap();
        let got = publishes(&recv(&mut b, sub));
        assert_eq!(
            got.iter().map(|p| p.1.clone()).collect::<Vec<_>>(),
            [&b"1"[..], b"2"]
        );
        send(&mut b, sub, &Packet::Puback(pid(got[0].5.unwrap())));
        let more = publishes(&recv(&mut b, sub));
        assert_eq!(
            more.iter().map(|p| p.1.clone()).collect::<Vec<_>>(),
            [&b"3"[..], b"4"]
        );
        // The identifier of the third is not the one still in flight.
        assert_ne!(more[0].5, got[1].5);
    }

    #[test]
    fn persistent_session_queues_offline_and_resends_with_dup() {
        let mut b = Broker::default();
        let sub = client(&mut b, "sub", false);
        subscribe(
            &mut b,
            sub,
            &[("q1", QoS::AtLeastOnce), ("q2", QoS::ExactlyOnce)],
        );
        b.publish(0, "q1", Bytes::from_static(b"a"), QoS::AtLeastOnce, false)
            .unwrap();
        b.publish(0, "q2", Bytes::from_static(b"b"), QoS::ExactlyOnce, false)
            .unwrap();
        b.publish(0, "q2", Bytes::from_static(b"c"), QoS::ExactlyOnce, false)
            .unwrap();
        let first = publishes(&recv(&mut b, sub));
        assert_eq!(first.len(), 3);
        // "a" unacknowledged; "b" past PUBREC; "c" unacknowledged.
        send(&mut b, sub, &Packet::Pubrec(pid(first[1].5.unwrap())));
        assert_eq!(
            recv(&mut b, sub),
            vec![Packet::Pubrel(pid(first[1].5.unwrap()))]
        );
        b.close(sub);

        // Offline: QoS 1 and 2 queued, QoS 0 dropped.
        b.publish(0, "q1", Bytes::from_static(b"d"), QoS::AtLeastOnce, false)
            .unwrap();
        b.publish(0, "q1", Bytes::from_static(b"e"), QoS::AtMostOnce, false)
            .unwrap();
        assert!(b.log().iter().any(|r| matches!(
            r,
            Record::Dropped {
                reason: DropReason::Offline,
                ..
            }
        )));

        let (sub, present, packets) = resume(&mut b, connect_pkt("sub", false, 0));
        assert!(present);
        // [MQTT-4.4.0-1]: resends in original order, then the queued message.
        assert_eq!(packets.len(), 4, "{packets:?}");
        let pub_a = publishes(&packets[0..1]);
        assert_eq!(
            pub_a,
            vec![(
                "q1".into(),
                Bytes::from_static(b"a"),
                QoS::AtLeastOnce,
                true,
                false,
                first[0].5
            )]
        );
        assert_eq!(packets[1], Packet::Pubrel(pid(first[1].5.unwrap())));
        let rest = publishes(&packets[2..]);
        assert_eq!(
            rest[0],
            (
                "q2".into(),
                Bytes::from_static(b"c"),
                QoS::ExactlyOnce,
                true,
                false,
                first[2].5
            )
        );
        assert_eq!(
            (rest[1].1.clone(), rest[1].3),
            (Bytes::from_static(b"d"), false)
        );
        // The queued message got an identifier not in flight.
        assert!(![first[0].5, first[1].5, first[2].5].contains(&rest[1].5));
        // Subscriptions survived.
        b.publish(0, "q1", Bytes::from_static(b"f"), QoS::AtLeastOnce, false)
            .unwrap();
        assert_eq!(publishes(&recv(&mut b, sub)).len(), 1);
    }

    #[test]
    fn offline_queue_is_bounded() {
        let mut b = Broker::new(BrokerConfig {
            max_queued: 2,
            ..BrokerConfig::default()
        });
        let sub = client(&mut b, "sub", false);
        subscribe(&mut b, sub, &[("t", QoS::AtLeastOnce)]);
        send(&mut b, sub, &Packet::Disconnect);
        for payload in ["1", "2", "3"] {
            b.publish(0, "t", Bytes::from(payload), QoS::AtLeastOnce, false)
                .unwrap();
        }
        let (_, _, packets) = resume(&mut b, connect_pkt("sub", false, 0));
        let got: Vec<_> = publishes(&packets).into_iter().map(|p| p.1).collect();
        assert_eq!(got, [&b"2"[..], b"3"]);
        assert!(b.log().iter().any(
            |r| matches!(r, Record::Dropped { reason: DropReason::QueueFull, payload, .. } if payload == "1")
        ));
    }

    #[test]
    fn will_on_close_not_on_disconnect() {
        let mut b = Broker::default();
        let sub = client(&mut b, "sub", true);
        subscribe(&mut b, sub, &[("will", QoS::AtLeastOnce)]);

        let (c, _) = connect(
            &mut b,
            with_will(connect_pkt("w", true, 0), "will", QoS::AtLeastOnce, false),
        );
        send(&mut b, c, &Packet::Disconnect);
        assert!(publishes(&recv(&mut b, sub)).is_empty());

        // [MQTT-3.1.2-8]: transport closed, protocol violation, takeover.
        let (c, _) = connect(
            &mut b,
            with_will(connect_pkt("w", true, 0), "will", QoS::AtLeastOnce, false),
        );
        b.close(c);
        assert_eq!(publishes(&recv(&mut b, sub)).len(), 1);
        let (c, _) = connect(
            &mut b,
            with_will(connect_pkt("w", true, 0), "will", QoS::AtLeastOnce, false),
        );
        send(&mut b, c, &Packet::Pingresp);
        assert!(violation(&b, c));
        assert_eq!(publishes(&recv(&mut b, sub)).len(), 1);
        let (old, _) = connect(
            &mut b,
            with_will(connect_pkt("w", true, 0), "will", QoS::AtLeastOnce, false),
        );
        let (new, _) = connect(&mut b, connect_pkt("w", true, 0));
        // [MQTT-3.1.4-2]
        assert_eq!(b.close_reason(old), Some(CloseReason::TakenOver));
        assert!(b.is_open(new));
        assert_eq!(publishes(&recv(&mut b, sub)).len(), 1);
        assert_eq!(
            b.log()
                .iter()
                .filter(|r| matches!(r, Record::Will { .. }))
                .count(),
            3
        );

        // A retained will is kept for later subscribers.
        let (c, _) = connect(
            &mut b,
            with_will(connect_pkt("r", true, 0), "will/r", QoS::AtMostOnce, true),
        );
        b.close(c);
        let late = client(&mut b, "late", true);
        send(
            &mut b,
            late,
            &subscribe_pkt(1, &[("will/#", QoS::AtLeastOnce)]),
        );
        let got = publishes(&recv(&mut b, late));
        assert_eq!(
            got,
            vec![(
                "will/r".into(),
                Bytes::from_static(b"gone"),
                QoS::AtMostOnce,
                false,
                true,
                None
            )]
        );
    }

    #[test]
    fn keep_alive_timeout() {
        let mut b = Broker::default();
        let sub = client(&mut b, "sub", true);
        subscribe(&mut b, sub, &[("will", QoS::AtMostOnce)]);
        let conn = b.open();
        b.handle_bytes(
            1000,
            conn,
            &enc(&with_will(
                connect_pkt("k", true, 10),
                "will",
                QoS::AtMostOnce,
                false,
            )),
        );
        let _ = recv(&mut b, conn);
        assert_eq!(b.next_deadline(), Some(1000 + 15_000 + 1));
        b.handle_timeout(16_000);
        assert!(b.is_open(conn));
        // A PINGREQ resets the timer and gets a PINGRESP [MQTT-3.12.4-1].
        b.handle_bytes(16_000, conn, &enc(&Packet::Pingreq));
        assert_eq!(recv(&mut b, conn), vec![Packet::Pingresp]);
        b.handle_timeout(31_000);
        assert!(b.is_open(conn));
        b.handle_timeout(31_001);
        assert_eq!(b.close_reason(conn), Some(CloseReason::KeepAliveTimeout));
        assert_eq!(publishes(&recv(&mut b, sub)).len(), 1);

        // Checked on arrival too: late bytes are not processed.
        let conn = b.open();
        b.handle_bytes(0, conn, &enc(&connect_pkt("k", true, 1)));
        let _ = recv(&mut b, conn);
        b.handle_bytes(1501, conn, &enc(&Packet::Pingreq));
        assert_eq!(b.close_reason(conn), Some(CloseReason::KeepAliveTimeout));
        assert!(recv(&mut b, conn).is_empty());

        // Keep alive 0: never.
        let conn = client(&mut b, "z", true);
        b.handle_timeout(u64::MAX);
        assert!(b.is_open(conn));
    }

    #[test]
    fn retained_messages() {
        let mut b = Broker::default();
        let live = client(&mut b, "live", true);
        subscribe(&mut b, live, &[("r/#", QoS::ExactlyOnce)]);
        let p = client(&mut b, "p", true);
        let mut retained = publish_pkt("r/1", QoS::AtLeastOnce, 1, false, "v1");
        if let Packet::Publish(p) = &mut retained {
            p.retain = true;
        }
        send(&mut b, p, &retained);
        // Established subscriptions get RETAIN 0 [MQTT-3.3.1-9].
        let got = publishes(&recv(&mut b, live));
        assert!(!got[0].4);
        b.publish(0, "r/2", Bytes::from_static(b"v2"), QoS::ExactlyOnce, true)
            .unwrap();
        let _ = recv(&mut b, live);

        // A new subscription gets them with RETAIN 1, once each, at min QoS
        // [MQTT-3.3.1-6], [MQTT-3.3.1-8].
        let s = client(&mut b, "s", true);
        send(
            &mut b,
            s,
            &subscribe_pkt(3, &[("r/+", QoS::AtLeastOnce), ("r/#", QoS::AtMostOnce)]),
        );
        let packets = recv(&mut b, s);
        assert!(matches!(packets[0], Packet::Suback(_)));
        let got = publishes(&packets);
        let got: Vec<_> = got.iter().map(|p| (p.0.as_str(), p.2, p.4)).collect();
        assert_eq!(
            got,
            [
                ("r/1", QoS::AtLeastOnce, true),
                ("r/2", QoS::AtLeastOnce, true)
            ]
        );

        // An empty retained payload clears [MQTT-3.3.1-10].
        b.publish(0, "r/1", Bytes::new(), QoS::AtMostOnce, true)
            .unwrap();
        let s = client(&mut b, "s2", true);
        send(&mut b, s, &subscribe_pkt(3, &[("r/#", QoS::AtLeastOnce)]));
        let got: Vec<_> = publishes(&recv(&mut b, s))
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(got, ["r/2"]);
    }

    #[test]
    fn subscribe_replaces_and_unsubscribe() {
        let mut b = Broker::default();
        let sub = client(&mut b, "sub", true);
        subscribe(&mut b, sub, &[("t", QoS::AtLeastOnce)]);
        subscribe(&mut b, sub, &[("t", QoS::AtMostOnce)]); // [MQTT-3.8.4-3]
        b.publish(0, "t", Bytes::from_static(b"x"), QoS::ExactlyOnce, false)
            .unwrap();
        let got: Vec<_> = publishes(&recv(&mut b, sub))
            .into_iter()
            .map(|p| p.2)
            .collect();
        assert_eq!(got, [QoS::AtMostOnce]);
        send(&mut b, sub, &unsubscribe_pkt(4, &["t", "never/subscribed"]));
        assert_eq!(recv(&mut b, sub), vec![Packet::Unsuback(pid(4))]);
        b.publish(0, "t", Bytes::from_static(b"x"), QoS::AtLeastOnce, false)
            .unwrap();
        assert!(recv(&mut b, sub).is_empty());
        assert!(b
            .publish(0, "bad/#", Bytes::new(), QoS::AtMostOnce, false)
            .is_err());
    }

    #[test]
    fn restart_keeps_or_forgets() {
        let mut b = Broker::default();
        let sub = client(&mut b, "sub", false);
        subscribe(&mut b, sub, &[("t", QoS::AtLeastOnce)]);
        b.publish(
            0,
            "t",
            Bytes::from_static(b"inflight"),
            QoS::AtLeastOnce,
            false,
        )
        .unwrap();
        b.publish(0, "keep", Bytes::from_static(b"r"), QoS::AtMostOnce, true)
            .unwrap();
        let id = publishes(&recv(&mut b, sub))[0].5;
        let (w, _) = connect(
            &mut b,
            with_will(connect_pkt("w", true, 0), "t", QoS::AtLeastOnce, false),
        );

        b.restart(true);
        assert_eq!(b.close_reason(sub), Some(CloseReason::Restart));
        assert_eq!(b.close_reason(w), Some(CloseReason::Restart));
        assert!(!b.log().iter().any(|r| matches!(r, Record::Will { .. })));
        let (_, present, packets) = resume(&mut b, connect_pkt("sub", false, 0));
        assert!(present);
        let got = publishes(&packets);
        assert_eq!(
            (got[0].1.clone(), got[0].3, got[0].5),
            (Bytes::from_static(b"inflight"), true, id)
        );
        let s = client(&mut b, "s", true);
        send(&mut b, s, &subscribe_pkt(1, &[("keep", QoS::AtMostOnce)]));
        assert_eq!(publishes(&recv(&mut b, s)).len(), 1);

        b.restart(false);
        let (sub, present) = connect(&mut b, connect_pkt("sub", false, 0));
        assert!(!present);
        assert!(recv(&mut b, sub).is_empty());
        send(&mut b, sub, &subscribe_pkt(1, &[("keep", QoS::AtMostOnce)]));
        assert!(publishes(&recv(&mut b, sub)).is_empty());
        assert!(matches!(
            b.log().last(),
            Some(Record::Connected { .. }) | Some(Record::Restarted { .. })
        ));
    }
}
