//! The session: its state, getters and outputs. Inputs and commands live in
//! `inbound.rs`, `commands.rs` and `timers.rs`.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};
use mqtt_proto::v5::{self as v5p, SubscriptionId, SubscriptionOptions};
use mqtt_proto::{
    Packet, PacketId, ProtocolVersion, Publish, QoS, SubscribeFilters, TopicFilter,
    UnsubscribeFilters,
};

use crate::idmap::{id_map, id_set, IdMap, IdSet};
use crate::v5::{OpProps, V5};
use crate::{Config, DisconnectReason, Event, Instant, Message, OpId, Outcome, StoreOp};

/// Connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No connection; commands queue until [`Session::connect`].
    Disconnected,
    /// CONNECT sent, waiting for CONNACK.
    Connecting,
    /// CONNACK accepted; packets flow.
    Connected,
}

/// Counters and gauges, for status and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Accepted connections (CONNACK 0) so far.
    pub connects: u64,
    /// Packets decoded from the broker.
    pub packets_received: u64,
    /// Bytes of those packets.
    pub bytes_received: u64,
    /// Bytes handed out by `poll_transmit`.
    pub bytes_sent: u64,
    /// PUBLISH packets handed out (resends included).
    pub publishes_sent: u64,
    /// PUBLISH packets received.
    pub publishes_received: u64,
    /// PUBLISH and PUBREL packets re-sent on session resumption.
    pub resends: u64,
    /// Outgoing QoS 1/2 publishes awaiting acknowledgement.
    pub inflight: usize,
    /// Commands waiting to be sent.
    pub queued: usize,
    /// Incoming QoS 2 packet identifiers awaiting PUBREL.
    pub inbound_qos2: usize,
}

/// Bytes to write to the transport, in order: `head`, then `payload`.
///
/// `head` holds whole control packets and at most one PUBLISH header; `payload` is
/// that PUBLISH's payload, the application's own `Bytes`, never copied. Write both
/// with one vectored write (and batch several transmits into it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transmit {
    /// Encoded packets, ending with a PUBLISH header when `payload` is not empty.
    pub head: Bytes,
    /// The payload of the PUBLISH whose header ends `head`; often empty.
    pub payload: Bytes,
}

impl Transmit {
    /// Total bytes.
    pub fn len(&self) -> usize {
        self.head.len() + self.payload.len()
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where an outgoing QoS 1/2 publish stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitAck,
    /// PUBREC received, PUBREL sent; waiting for PUBCOMP. Never re-sent as PUBLISH.
    AwaitComp,
}

/// An operation holding a packet identifier.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub(crate) op: OpId,
    /// Position in the order operations were first sent (resends keep it).
    pub(crate) seq: u64,
    pub(crate) kind: OpKind,
}

#[derive(Debug, Clone)]
pub(crate) enum OpKind {
    /// The PUBLISH fields every version has, and the 5.0 properties (`None` under
    /// 3.1.1 and for a message without any).
    Publish {
        publish: Publish<Bytes>,
        props: Option<Box<OpProps>>,
        stage: Stage,
    },
    /// `internal`: a resubscription the session made itself (not reported).
    Subscribe {
        filters: Subs,
        internal: bool,
    },
    Unsubscribe {
        filters: Unsubs,
    },
}

/// The filters (and 5.0 properties) of a SUBSCRIBE, in the session's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subs {
    V311(SubscribeFilters<Bytes>),
    V5 {
        filters: v5p::SubscribeFilters<Bytes>,
        properties: v5p::SubscribeProperties<Bytes>,
    },
}

/// The filters (and 5.0 properties) of an UNSUBSCRIBE, in the session's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unsubs {
    V311(UnsubscribeFilters<Bytes>),
    V5 {
        filters: v5p::UnsubscribeFilters<Bytes>,
        properties: v5p::UnsubscribeProperties<Bytes>,
    },
}

/// A subscription the broker granted, and how it was asked for (to subscribe again
/// the same way after a lost session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Granted {
    /// The maximum QoS granted.
    pub(crate) qos: QoS,
    /// The options asked for (5.0; under 3.1.1 only the QoS).
    pub(crate) options: SubscriptionOptions,
    /// The Subscription Identifier asked for (5.0).
    pub(crate) id: Option<SubscriptionId>,
}

/// A command not yet sent.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) op: OpId,
    pub(crate) kind: PendingKind,
    /// When the session took it (a message's expiry counts from then); `None` for a
    /// restored command, set when the session first looks at it.
    pub(crate) accepted: Option<Instant>,
}

#[derive(Debug, Clone)]
pub(crate) enum PendingKind {
    Publish(Message),
    Subscribe(Subs),
    Unsubscribe(Unsubs),
}

impl PendingKind {
    /// SUBSCRIBE or UNSUBSCRIBE.
    pub(crate) fn is_request(&self) -> bool {
        !matches!(self, PendingKind::Publish(_))
    }
}

/// A packet waiting in the send queue; encoded lazily by `poll_transmit`, so nothing
/// unsent is lost when the connection drops. Small: an operation's packet is read
/// from its entry in `ops` when it is handed out, never copied into the queue.
#[derive(Debug, Clone)]
pub(crate) enum SendItem {
    /// An acknowledgement, PINGREQ or DISCONNECT.
    Control(Packet<&'static [u8]>),
    /// The packet of the operation holding `packet_id` (PUBLISH, SUBSCRIBE or
    /// UNSUBSCRIBE), if `op` still holds it when handed out: an acknowledgement that
    /// came early (a broker breaking the protocol) has completed it, or it has been
    /// released (QoS 2, PUBREC came), and then nothing is sent.
    Op { packet_id: u16, op: OpId },
    /// A QoS 0 publish: completes when handed out.
    Qos0 {
        op: OpId,
        message: Message,
        accepted: Option<Instant>,
    },
    /// A packet already encoded (5.0 DISCONNECT with a reason, AUTH).
    Encoded(Bytes),
}

/// Incoming QoS 2 message state, per packet identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// Delivered; the application has not acked yet (manual acks).
    AwaitingAppAck,
    /// PUBREC sent; waiting for PUBREL.
    RecSent,
}

/// Most bytes gathered into one transmit's head before it is handed out.
const MAX_HEAD: usize = 64 * 1024;
/// Heads are encoded into buffers of this size, each shared by the transmits cut from
/// it: an allocation per ~100 PUBLISH headers, not one per transmit.
const HEAD_CHUNK: usize = 2048;

/// The MQTT client protocol (3.1.1 or 5.0, by [`Config::protocol`]), as a state
/// machine without I/O.
///
/// See the [crate documentation](crate) for the run loop and the poll order.
#[derive(Debug)]
pub struct Session {
    pub(crate) config: Config,
    pub(crate) state: State,
    pub(crate) now: Instant,
    /// Counts connects, so acks of an older connection's deliveries are recognised.
    pub(crate) epoch: u32,
    /// Counts sessions the broker lost (CONNACK without session present).
    pub(crate) broker_session: u32,
    pub(crate) next_op: u64,
    pub(crate) next_seq: u64,
    pub(crate) next_packet_id: u16,
    /// Operations holding a packet identifier, by identifier.
    pub(crate) ops: IdMap<Op>,
    pub(crate) inflight_publishes: usize,
    pub(crate) pending: VecDeque<Pending>,
    /// How many of `pending` are SUBSCRIBE or UNSUBSCRIBE, which never wait behind
    /// publishes held back by the in-flight window under 5.0 (see `pump`).
    pub(crate) pending_requests: usize,
    pub(crate) sendq: VecDeque<SendItem>,
    pub(crate) out: BytesMut,
    pub(crate) events: VecDeque<Event>,
    /// Durable changes not yet handed to the store (`Config::durable`).
    pub(crate) journal: VecDeque<StoreOp>,
    pub(crate) inbound_qos2: IdMap<Inbound>,
    /// Manual acks: incoming QoS 1 identifiers delivered but not acked.
    pub(crate) unacked_qos1: IdSet,
    /// Manual acks: this connection's QoS 1 and 2 deliveries in arrival order, each
    /// with whether the application acked it. PUBACK and PUBREC go out from the front
    /// only, so they keep the order the PUBLISH packets came in, whatever order the
    /// application acks in [MQTT-4.6.0-2], [MQTT-4.6.0-3].
    pub(crate) ack_order: VecDeque<(PacketId, QoS, bool)>,
    /// Granted subscriptions, for resubscribing after a lost session.
    pub(crate) subscriptions: BTreeMap<TopicFilter<Bytes>, Granted>,
    pub(crate) connect_deadline: Instant,
    pub(crate) last_sent: Instant,
    pub(crate) last_received: Instant,
    pub(crate) ping_deadline: Option<Instant>,
    pub(crate) stats: Stats,
    /// 5.0 state (`None` for a 3.1.1 session): what the server allows, topic aliases,
    /// flow control, authentication.
    pub(crate) v5: Option<Box<V5>>,
}

impl Session {
    /// A disconnected session; call [`Session::connect`] once a transport is open.
    pub fn new(config: Config) -> Session {
        Session {
            state: State::Disconnected,
            now: Instant::default(),
            epoch: 0,
            broker_session: 0,
            next_op: 1,
            // Room below for operations that must go first (`insert_op_first`).
            next_seq: 1 << 40,
            next_packet_id: 1,
            ops: id_map(),
            inflight_publishes: 0,
            pending: VecDeque::new(),
            pending_requests: 0,
            sendq: VecDeque::new(),
            out: BytesMut::new(),
            events: VecDeque::new(),
            journal: VecDeque::new(),
            inbound_qos2: id_map(),
            unacked_qos1: id_set(),
            ack_order: VecDeque::new(),
            subscriptions: BTreeMap::new(),
            connect_deadline: Instant::default(),
            last_sent: Instant::default(),
            last_received: Instant::default(),
            ping_deadline: None,
            stats: Stats::default(),
            v5: (config.protocol == ProtocolVersion::V5).then(|| Box::new(V5::new())),
            config,
        }
    }

    /// 5.0: the [`crate::Authenticator`] for enhanced authentication, used from the
    /// next [`Session::connect`] on (its method and first data go in CONNECT). A 3.1.1
    /// session has no enhanced authentication: [`crate::Error::Unsupported`].
    pub fn set_authenticator(
        &mut self,
        authenticator: Box<dyn crate::Authenticator>,
    ) -> Result<(), crate::Error> {
        let v5 = self.v5.as_deref_mut().ok_or(crate::Error::Unsupported)?;
        v5.auth.authenticator = Some(authenticator);
        Ok(())
    }

    // A. Getters.

    /// The connection state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Counters, and the current in-flight and queue sizes.
    pub fn stats(&self) -> Stats {
        Stats {
            inflight: self.inflight_publishes,
            queued: self.pending.len(),
            inbound_qos2: self.inbound_qos2.len(),
            ..self.stats
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// 5.0: what the server allows on the current (or last) connection, from its
    /// CONNACK; `None` for a 3.1.1 session.
    pub fn server_limits(&self) -> Option<&crate::ServerLimits> {
        self.v5.as_deref().map(|v| &v.limits)
    }

    /// 5.0: the last CONNACK, as received (its Reason String, Response Information,
    /// Server Reference, User Properties...).
    pub fn connack(&self) -> Option<&v5p::Connack<Bytes>> {
        self.v5.as_deref()?.connack.as_ref()
    }

    /// 5.0: the server's DISCONNECT that ended the last connection, if one did (its
    /// Reason String, Server Reference, User Properties).
    pub fn server_disconnect(&self) -> Option<&v5p::Disconnect<Bytes>> {
        self.v5.as_deref()?.disconnect.as_ref()
    }

    /// 5.0: the Client Identifier the server assigned (our configured one was empty);
    /// later connections use it.
    pub fn assigned_client_id(&self) -> Option<&mqtt_proto::Str<Bytes>> {
        self.v5.as_deref()?.assigned_client_id.as_ref()
    }

    /// Subscriptions the broker has granted, with their QoS.
    pub fn subscriptions(&self) -> impl Iterator<Item = (&TopicFilter<Bytes>, QoS)> {
        self.subscriptions.iter().map(|(f, g)| (f, g.qos))
    }

    // D. Outputs: drain all three after every input or command.

    /// The next bytes to write to the transport, or `None` when there are none.
    ///
    /// Consecutive control packets are gathered into one `head`; a PUBLISH payload is
    /// handed out as its own `Bytes` (never copied).
    #[must_use]
    ///
    /// With [`Config::durable`], nothing is handed out while journal entries wait in
    /// [`Session::poll_store_op`]: persist them first (write-ahead).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if (self.sendq.is_empty() && self.out.is_empty()) || !self.journal.is_empty() {
            return None;
        }
        if self.out.capacity() - self.out.len() < HEAD_CHUNK / 8 {
            self.out.reserve(HEAD_CHUNK);
        }
        let mut payload = Bytes::new();
        while let Some(item) = self.sendq.pop_front() {
            // Encoding cannot fail: sizes were checked when the command was taken.
            match item {
                SendItem::Control(packet) => match self.v5.as_deref_mut() {
                    None => {
                        let _ = packet.encode_to(&mut self.out);
                    }
                    Some(v5) => {
                        // [MQTT-3.2.2-15]: a server may announce a maximum below even
                        // an acknowledgement's 4 bytes; then it is not sent.
                        let max = v5.limits.maximum_packet_size;
                        if max >= 4 || packet.encoded_len().is_ok_and(|n| n <= max as usize) {
                            let _ = packet.encode_to(&mut self.out);
                        }
                        if let Packet::Puback(_) | Packet::Pubcomp(_) = &packet {
                            // Handed out: the server may have it from now on (section
                            // 4.9).
                            v5.inbound_inflight = v5.inbound_inflight.saturating_sub(1);
                        }
                    }
                },
                SendItem::Op { packet_id, op } if self.v5.is_some() => {
                    payload = self.encode_op_v5(packet_id, op);
                }
                SendItem::Op { packet_id, op } => match self.ops.get(&packet_id) {
                    Some(o) if o.op == op => match &o.kind {
                        OpKind::Publish {
                            publish,
                            stage: Stage::AwaitAck,
                            ..
                        } => {
                            let _ = publish.encode_header_buf(&mut self.out);
                            payload = publish.payload.clone();
                            self.stats.publishes_sent += 1;
                        }
                        OpKind::Publish { .. } => {} // released: only PUBREL now
                        OpKind::Subscribe {
                            filters: Subs::V311(filters),
                            ..
                        } => {
                            let packet = Packet::Subscribe(mqtt_proto::Subscribe {
                                packet_id: PacketId::new(packet_id).unwrap_or(PacketId::MIN),
                                filters: filters.clone(),
                            });
                            let _ = packet.encode_to(&mut self.out);
                        }
                        OpKind::Unsubscribe {
                            filters: Unsubs::V311(filters),
                        } => {
                            let packet = Packet::Unsubscribe(mqtt_proto::Unsubscribe {
                                packet_id: PacketId::new(packet_id).unwrap_or(PacketId::MIN),
                                filters: filters.clone(),
                            });
                            let _ = packet.encode_to(&mut self.out);
                        }
                        // A 3.1.1 session holds only 3.1.1 filters.
                        OpKind::Subscribe { .. } | OpKind::Unsubscribe { .. } => {}
                    },
                    _ => {} // completed or replaced before it went out
                },
                SendItem::Qos0 {
                    op,
                    message,
                    accepted,
                } => {
                    if self.v5.is_some() {
                        payload = self.encode_qos0_v5(message, accepted);
                    } else {
                        let publish = message.into_publish(PacketId::MIN);
                        let _ = publish.encode_header_buf(&mut self.out);
                        payload = publish.payload;
                    }
                    self.stats.publishes_sent += 1;
                    self.events.push_back(Event::Completed {
                        op,
                        outcome: Outcome::Sent,
                    });
                }
                SendItem::Encoded(bytes) => {
                    // 5.0 DISCONNECT and AUTH: never over the server's maximum
                    // [MQTT-3.2.2-15] (the commands refuse larger ones).
                    let max = self
                        .v5
                        .as_deref()
                        .map_or(u32::MAX, |v| v.limits.maximum_packet_size);
                    if bytes.len() <= max as usize {
                        self.out.extend_from_slice(&bytes);
                    }
                }
            }
            if !payload.is_empty() || self.out.len() >= MAX_HEAD {
                break;
            }
        }
        if self.out.is_empty() && payload.is_empty() {
            return None;
        }
        let head = self.out.split().freeze();
        if let Some(v5) = self.v5.as_deref_mut() {
            v5.transmitted = true;
        }
        self.last_sent = self.now;
        self.stats.bytes_sent += (head.len() + payload.len()) as u64;
        Some(Transmit { head, payload })
    }

    /// The next durable change for the store, or `None` (always `None` unless
    /// [`Config::durable`]). Persist every entry, in order, before the next
    /// [`Session::poll_transmit`]; see [`crate::Store`].
    #[must_use]
    pub fn poll_store_op(&mut self) -> Option<StoreOp> {
        self.journal.pop_front()
    }

    /// The next event for the application, or `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // Internal helpers shared by the input and command files.

    /// Queues an acknowledgement, PINGREQ or DISCONNECT.
    pub(crate) fn send(&mut self, packet: Packet<&'static [u8]>) {
        self.sendq.push_back(SendItem::Control(packet));
    }

    /// Queues the packet of the operation holding `packet_id`.
    pub(crate) fn send_op(&mut self, packet_id: PacketId, op: OpId) {
        self.sendq.push_back(SendItem::Op {
            packet_id: packet_id.get(),
            op,
        });
    }

    /// Records a durable change (only when the session is durable).
    pub(crate) fn journal(&mut self, op: impl FnOnce() -> StoreOp) {
        if self.config.durable {
            self.journal.push_back(op());
        }
    }

    pub(crate) fn new_op(&mut self) -> OpId {
        let op = OpId(self.next_op);
        self.next_op += 1;
        op
    }

    /// Ends the connection: unsent QoS 0 publishes go back to the queue (in order),
    /// everything else unsent is dropped (it is re-created on resumption).
    pub(crate) fn close(&mut self, reason: DisconnectReason) {
        if self.state == State::Disconnected {
            return;
        }
        self.state = State::Disconnected;
        while let Some(item) = self.sendq.pop_back() {
            if let SendItem::Qos0 {
                op,
                message,
                accepted,
            } = item
            {
                self.pending.push_front(Pending {
                    op,
                    kind: PendingKind::Publish(message),
                    accepted,
                });
            }
        }
        self.out.clear();
        self.ping_deadline = None;
        self.events.push_back(Event::Disconnected { reason });
    }

    /// A free packet identifier: non-zero and not used by any operation in flight
    /// [MQTT-2.3.1-2]. `None` when all 65,535 are taken.
    pub(crate) fn alloc_packet_id(&mut self) -> Option<PacketId> {
        if self.ops.len() >= u16::MAX as usize {
            return None;
        }
        loop {
            let id = PacketId::new(self.next_packet_id);
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            if let Some(id) = id.filter(|id| !self.ops.contains_key(&id.get())) {
                return Some(id);
            }
        }
    }

    /// Records an operation holding `packet_id`, last in the send order.
    pub(crate) fn insert_op(&mut self, packet_id: PacketId, op: OpId, kind: OpKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if matches!(kind, OpKind::Publish { .. }) {
            self.inflight_publishes += 1;
        }
        self.ops.insert(packet_id.get(), Op { op, seq, kind });
    }

    /// Records an operation that is to be sent before every other one in flight.
    pub(crate) fn insert_op_first(&mut self, packet_id: PacketId, op: OpId, kind: OpKind) {
        let first = self
            .ops
            .values()
            .map(|o| o.seq)
            .min()
            .unwrap_or(self.next_seq);
        self.insert_op(packet_id, op, kind);
        if let Some(o) = self.ops.get_mut(&packet_id.get()) {
            o.seq = first.saturating_sub(1);
        }
    }

    pub(crate) fn remove_op(&mut self, packet_id: u16) -> Option<Op> {
        let op = self.ops.remove(&packet_id)?;
        if matches!(op.kind, OpKind::Publish { .. }) {
            self.inflight_publishes -= 1;
            if let Some(v5) = self.v5.as_deref_mut() {
                if !v5.deferred.is_empty() {
                    v5.deferred.retain(|id| *id != packet_id);
                }
            }
        }
        Some(op)
    }

    /// Operations in the order they were first sent.
    pub(crate) fn ops_in_order(&self) -> Vec<u16> {
        let mut ids: Vec<(u64, u16)> = self.ops.iter().map(|(id, o)| (o.seq, *id)).collect();
        ids.sort_unstable();
        ids.into_iter().map(|(_, id)| id).collect()
    }
}
