//! A simulated clock and network joining [`Session`]s to a [`Broker`]; see [`Sim`].

use alloc::vec::Vec;
use core::cmp::{max, min};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{decode_buf, DecodeError, DecodeOptions, Packet};

use super::{Broker, BrokerConfig, ConnId};
use crate::{Config, Error, Event, Instant, MemoryStore, Session, State, Store};

/// A client of a [`Sim`], from [`Sim::add_client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientIdx(usize);

impl ClientIdx {
    /// Position in the order clients were added (0, 1, ...).
    pub fn index(self) -> usize {
        self.0
    }
}

/// What crossed a client's connection, recorded when tracing is on
/// ([`Sim::set_tracing`]) and drained by [`Sim::wire`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wire {
    /// A connection opened ([`Sim::connect`]).
    Opened {
        /// When.
        at: Instant,
        /// The broker's connection.
        conn: ConnId,
    },
    /// The session handed out this packet (whether or not it then arrived).
    Sent {
        /// When.
        at: Instant,
        /// The packet, decoded as the broker would.
        packet: Packet<Bytes>,
    },
    /// This packet reached the session (its last byte was delivered).
    Received {
        /// When.
        at: Instant,
        /// The packet.
        packet: Packet<Bytes>,
    },
    /// Bytes in one direction did not decode; that direction is no longer traced.
    Undecodable {
        /// When.
        at: Instant,
        /// True for bytes the session sent, false for bytes it received.
        sent: bool,
        /// Why.
        error: DecodeError,
    },
    /// The connection closed, from either side.
    Closed {
        /// When.
        at: Instant,
    },
}

/// SplitMix64: tiny, deterministic, good enough to pick chunk sizes.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `1..=n` (`n` at least 1).
    fn between_1_and(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize + 1
    }
}

/// Decodes one direction of a connection for the trace.
#[derive(Debug, Default)]
struct Tracer {
    buf: BytesMut,
    broken: bool,
}

impl Tracer {
    fn feed(&mut self, at: Instant, sent: bool, bytes: &[u8], out: &mut Vec<Wire>) {
        if self.broken {
            return;
        }
        self.buf.extend_from_slice(bytes);
        loop {
            match decode_buf(&mut self.buf, &DecodeOptions::default()) {
                Ok(Some(packet)) => out.push(if sent {
                    Wire::Sent { at, packet }
                } else {
                    Wire::Received { at, packet }
                }),
                Ok(None) => return,
                Err(error) => {
                    self.broken = true;
                    self.buf = BytesMut::new();
                    out.push(Wire::Undecodable { at, sent, error });
                    return;
                }
            }
        }
    }
}

/// One transport connection between a session and the broker.
#[derive(Debug)]
struct Link {
    conn: ConnId,
    /// Written by the session, not yet delivered to the broker.
    to_broker: BytesMut,
    /// Written by the broker, not yet delivered to the session.
    to_client: BytesMut,
    /// The session's read buffer: what it has not consumed (a partial packet).
    read_buf: BytesMut,
    trace_out: Tracer,
    trace_in: Tracer,
}

#[derive(Debug)]
struct Client {
    session: Session,
    /// Where a durable session's journal goes (`Config::durable`).
    store: MemoryStore,
    link: Option<Link>,
    /// Bytes from the broker are held back (not lost) while set.
    stalled: bool,
    events: Vec<(Instant, Event)>,
    wire: Vec<Wire>,
}

/// A simulated clock and network: [`Session`]s talking to a [`Broker`] over in-memory
/// connections, with no real time and no I/O. For tests of the session, and of
/// applications built on it.
///
/// - [`Sim::run`] moves bytes both ways until nothing moves, collecting each client's
///   events ([`Sim::events`]); it also carries closures across: when a session reports
///   [`Event::Disconnected`] the broker sees its transport close, and when the broker
///   closes a connection the session gets [`Session::handle_transport_closed`] (after
///   the bytes the broker wrote before closing).
/// - [`Sim::advance`] moves the clock forward deadline by deadline, calling
///   `handle_timeout` on the sessions and the broker at each, and running in between.
/// - [`Sim::cut`] and [`Sim::cut_after`] break a connection, the latter after letting
///   through only a prefix of the bytes in flight (so mid-packet).
/// - [`Sim::set_chunking`] delivers bytes in small random chunks (deterministic, from a
///   seed); [`Sim::set_stalled`] holds back what the broker sends to one client;
///   [`Sim::set_tracing`] records the packets on each connection ([`Sim::wire`]).
///
/// Bytes written and not yet delivered are "in flight": commands and
/// [`Broker::publish`] only queue bytes, [`Sim::run`] or [`Sim::step`] deliver them.
///
/// ```
/// use core::time::Duration;
/// use bytes::Bytes;
/// use mqtt_session::proto::{QoS, TopicFilter, TopicName};
/// use mqtt_session::sim::{BrokerConfig, Sim};
/// use mqtt_session::{Config, Event, Instant, Message, Outcome};
///
/// let mut sim = Sim::new(BrokerConfig::default());
/// sim.set_chunking(Some(3), 42); // deliver bytes 1 to 3 at a time
/// let mut config = Config::new("sensor-1").unwrap();
/// config.clean_session = false;
/// config.keep_alive = Duration::from_secs(10);
/// let c = sim.add_client(config);
/// sim.connect(c).unwrap();
/// sim.run();
/// assert_eq!(sim.events(c), [Event::Connected { session_present: false }]);
///
/// // A QoS 1 publish, cut before it reaches the broker: sent again on resumption.
/// let topic = TopicName::from_static("sensors/1").unwrap();
/// let now = sim.now();
/// let op = sim
///     .session(c)
///     .publish(now, Message::new(topic, Bytes::from_static(b"21.5"), QoS::AtLeastOnce))
///     .unwrap();
/// sim.cut(c);
/// sim.advance(1_000);
/// sim.connect(c).unwrap();
/// sim.run();
/// let events = sim.events(c);
/// assert!(events.contains(&Event::Connected { session_present: true }));
/// assert!(events.contains(&Event::Completed { op, outcome: Outcome::Acknowledged }));
///
/// // The broker delivers to subscribers; pings keep an idle connection alive.
/// let filter = TopicFilter::from_static("cmd/#").unwrap();
/// let now = sim.now();
/// sim.session(c).subscribe(now, &[(filter, QoS::ExactlyOnce)]).unwrap();
/// sim.run();
/// let now = sim.now().as_millis();
/// sim.broker.publish(now, "cmd/reboot", Bytes::from_static(b"now"), QoS::ExactlyOnce, false).unwrap();
/// sim.advance(60_000);
/// let got: Vec<_> = sim
///     .events(c)
///     .into_iter()
///     .filter_map(|e| match e {
///         Event::Message(m) => Some(m.payload_bytes()),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(got, [Bytes::from_static(b"now")]);
/// assert_eq!(sim.now(), Instant::from_millis(61_000));
/// assert!(sim.is_connected(c));
/// ```
#[derive(Debug)]
pub struct Sim {
    /// The broker; call it directly to publish as another client, restart it, or read
    /// its log.
    pub broker: Broker,
    now: Instant,
    clients: Vec<Client>,
    rng: Rng,
    /// Largest chunk delivered at once; 0 delivers everything in one piece.
    max_chunk: usize,
    tracing: bool,
}

/// Rounds of [`Sim::run`] without quiescence before it gives up: a livelock.
const MAX_ROUNDS: usize = 1_000_000;
/// Deadlines at the same instant in a row before [`Sim::advance`] gives up.
const MAX_SAME_INSTANT: usize = 10_000;

impl Sim {
    /// A network with a broker, no clients, the clock at zero, whole deliveries and no
    /// tracing.
    pub fn new(config: BrokerConfig) -> Sim {
        Sim {
            broker: Broker::new(config),
            now: Instant::default(),
            clients: Vec::new(),
            rng: Rng(0),
            max_chunk: 0,
            tracing: false,
        }
    }

    /// Delivers bytes in chunks of random sizes from 1 to `max_chunk` (`None`: in one
    /// piece), chosen by a deterministic generator seeded with `seed`.
    pub fn set_chunking(&mut self, max_chunk: Option<usize>, seed: u64) {
        self.max_chunk = max_chunk.unwrap_or(0);
        self.rng = Rng(seed);
    }

    /// Records the packets of every connection from now on, for [`Sim::wire`].
    pub fn set_tracing(&mut self, on: bool) {
        self.tracing = on;
    }

    /// A new client with a disconnected session; connect it with [`Sim::connect`].
    pub fn add_client(&mut self, config: Config) -> ClientIdx {
        self.add_session(Session::new(config))
    }

    /// A new client with a session made elsewhere (e.g. by [`Session::restore`]).
    pub fn add_session(&mut self, session: Session) -> ClientIdx {
        self.clients.push(Client {
            session,
            store: MemoryStore::new(),
            link: None,
            stalled: false,
            events: Vec::new(),
            wire: Vec::new(),
        });
        ClientIdx(self.clients.len() - 1)
    }

    /// The current simulated time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The client's session, to give it commands (pass [`Sim::now`] as `now`). What it
    /// then wants to send goes out on the next [`Sim::run`].
    ///
    /// # Panics
    /// If `idx` is not from this `Sim` (as for every method taking a `ClientIdx`).
    pub fn session(&mut self, idx: ClientIdx) -> &mut Session {
        &mut self.clients[idx.0].session
    }

    /// Replaces the client's session, e.g. with one [`Session::restore`]d from a store
    /// as after a process restart. Its connection is cut first, as a dying process's
    /// would be, and the old session's events are collected. Returns the old session.
    pub fn replace_session(&mut self, idx: ClientIdx, session: Session) -> Session {
        self.cut(idx);
        core::mem::replace(&mut self.clients[idx.0].session, session)
    }

    /// The client's store: every journal entry its durable session handed out.
    pub fn store(&self, idx: ClientIdx) -> &MemoryStore {
        &self.clients[idx.0].store
    }

    /// The client's process crashes and starts again: its connection is cut, and its
    /// session is replaced by one restored from what its store holds (journal entries
    /// not yet persisted die with the process). Returns the new session's handles for
    /// the restored operations, as [`Session::restore`] does.
    pub fn crash_and_restore(&mut self, idx: ClientIdx) -> alloc::vec::Vec<crate::OpId> {
        let i = idx.0;
        let config = self.clients[i].session.config().clone();
        let Ok(state) = self.clients[i].store.load();
        let (session, ops) = Session::restore(config, state);
        // No last words: nothing the old session had not yet persisted or written
        // leaves it. Its connection dies with it; bytes already on the wire are lost.
        drop(core::mem::replace(&mut self.clients[i].session, session));
        if let Some(link) = &self.clients[i].link {
            let conn = link.conn;
            self.broker.close(conn);
        }
        self.drop_link(i);
        ops
    }

    /// The client's session, read-only.
    pub fn session_ref(&self, idx: ClientIdx) -> &Session {
        &self.clients[idx.0].session
    }

    /// The broker connection the client is on, if any.
    pub fn conn(&self, idx: ClientIdx) -> Option<ConnId> {
        self.clients[idx.0].link.as_ref().map(|l| l.conn)
    }

    /// Whether the client has a connection and its session is connected.
    pub fn is_connected(&self, idx: ClientIdx) -> bool {
        let c = &self.clients[idx.0];
        c.link.is_some() && c.session.state() == State::Connected
    }

    /// Opens a new connection to the broker and calls [`Session::connect`]; CONNECT goes
    /// out on the next [`Sim::run`]. Events still queued in the session are collected
    /// first, so a stale `Disconnected` cannot close the new connection.
    pub fn connect(&mut self, idx: ClientIdx) -> Result<(), Error> {
        self.drain_events(idx.0);
        if self.clients[idx.0].session.state() != State::Disconnected {
            return Err(Error::AlreadyConnected);
        }
        // A connection the session no longer uses (it closed it itself).
        self.close_link(idx.0);
        let now = self.now;
        self.clients[idx.0].session.connect(now)?;
        let conn = self.broker.open();
        let c = &mut self.clients[idx.0];
        c.link = Some(Link {
            conn,
            to_broker: BytesMut::new(),
            to_client: BytesMut::new(),
            read_buf: BytesMut::new(),
            trace_out: Tracer::default(),
            trace_in: Tracer::default(),
        });
        if self.tracing {
            c.wire.push(Wire::Opened { at: now, conn });
        }
        Ok(())
    }

    /// The client's events so far, drained.
    pub fn events(&mut self, idx: ClientIdx) -> Vec<Event> {
        self.timed_events(idx).into_iter().map(|(_, e)| e).collect()
    }

    /// The client's events so far with the time each was collected, drained.
    pub fn timed_events(&mut self, idx: ClientIdx) -> Vec<(Instant, Event)> {
        self.drain_events(idx.0);
        core::mem::take(&mut self.clients[idx.0].events)
    }

    /// The client's connection trace so far, drained (empty unless tracing is on).
    pub fn wire(&mut self, idx: ClientIdx) -> Vec<Wire> {
        core::mem::take(&mut self.clients[idx.0].wire)
    }

    /// Holds back (`true`) or lets through again (`false`) every byte the broker sends
    /// to the client, as a network that stopped forwarding one way. The session's own
    /// bytes still reach the broker.
    pub fn set_stalled(&mut self, idx: ClientIdx, stalled: bool) {
        self.clients[idx.0].stalled = stalled;
    }

    /// Bytes in flight on the client's connection: `(to the broker, to the client)`,
    /// counting what the session and the broker have queued but not yet written.
    pub fn in_flight(&mut self, idx: ClientIdx) -> (usize, usize) {
        self.gather(idx.0);
        match &self.clients[idx.0].link {
            Some(l) => (l.to_broker.len(), l.to_client.len()),
            None => (0, 0),
        }
    }

    /// Breaks the client's connection now: bytes in flight are lost, both sides see it
    /// closed. Nothing happens if the client has no connection.
    pub fn cut(&mut self, idx: ClientIdx) {
        self.cut_after(idx, 0, 0);
    }

    /// Breaks the client's connection after delivering only the first `to_broker`
    /// bytes in flight to the broker and the first `to_client` bytes to the session
    /// (each at most what is in flight: see [`Sim::in_flight`]); whatever either side
    /// answers is lost. A prefix may end inside a packet.
    pub fn cut_after(&mut self, idx: ClientIdx, to_broker: usize, to_client: usize) {
        let i = idx.0;
        self.gather(i);
        let Some(link) = &mut self.clients[i].link else {
            return;
        };
        let up = link
            .to_broker
            .split_to(min(to_broker, link.to_broker.len()));
        let down = link
            .to_client
            .split_to(min(to_client, link.to_client.len()));
        let conn = link.conn;
        self.deliver_to_broker(conn, &up);
        self.deliver_to_client(i, down.freeze());
        self.broker.close(conn);
        let now = self.now;
        self.clients[i].session.handle_transport_closed(now);
        self.drop_link(i);
        self.drain_events(i);
    }

    /// Moves bytes both ways, again and again, until nothing moves; see [`Sim`].
    ///
    /// # Panics
    /// If bytes keep moving for a million rounds (a livelock).
    pub fn run(&mut self) {
        for _ in 0..MAX_ROUNDS {
            if !self.step() {
                return;
            }
        }
        panic!("sim: no quiescence after {MAX_ROUNDS} rounds (livelock)");
    }

    /// One round: for each client in turn, what its session wrote goes to the broker,
    /// and what the broker wrote goes to the session. False if nothing moved.
    pub fn step(&mut self) -> bool {
        let mut progress = false;
        for i in 0..self.clients.len() {
            progress |= self.step_client(i);
        }
        progress
    }

    /// Lets `ms` milliseconds pass: the clock moves to each deadline of the sessions
    /// and of the broker in turn (at most to `now + ms`), `handle_timeout` is called on
    /// all of them there, and the network runs until quiet before the next one.
    ///
    /// # Panics
    /// If a deadline stays due after its `handle_timeout` ten thousand times in a row.
    pub fn advance(&mut self, ms: u64) {
        let end = self.now + core::time::Duration::from_millis(ms);
        self.run();
        let mut same = 0;
        loop {
            let at = match self.next_deadline() {
                Some(d) if d <= end => max(d, self.now),
                _ => end,
            };
            if at == self.now {
                same += 1;
                assert!(
                    same < MAX_SAME_INSTANT,
                    "sim: a deadline stays due at {at:?} after handle_timeout"
                );
            } else {
                same = 0;
            }
            self.now = at;
            self.fire_timeouts();
            self.run();
            if at == end {
                return;
            }
        }
    }

    /// The earliest deadline of the sessions and the broker, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        let sessions = self.clients.iter().filter_map(|c| c.session.poll_timeout());
        let broker = self.broker.next_deadline().map(Instant::from_millis);
        sessions.chain(broker).min()
    }

    /// Restarts the broker (see [`Broker::restart`]); the sessions see their
    /// connections close on the next [`Sim::run`].
    pub fn restart_broker(&mut self, keep_persistent_sessions: bool) {
        self.broker.restart(keep_persistent_sessions);
    }

    // ---- Internals -------------------------------------------------------------

    fn fire_timeouts(&mut self) {
        let now = self.now;
        for c in &mut self.clients {
            c.session.handle_timeout(now);
        }
        self.broker.handle_timeout(now.as_millis());
    }

    /// Moves what the session and the broker have written into the link.
    fn gather(&mut self, i: usize) -> bool {
        let now = self.now;
        let tracing = self.tracing;
        let c = &mut self.clients[i];
        let mut progress = false;
        // A durable session's journal is persisted before anything it wrote moves.
        while let Some(op) = c.session.poll_store_op() {
            let Ok(()) = c.store.persist(core::slice::from_ref(&op));
        }
        while let Some(tx) = c.session.poll_transmit() {
            let Some(link) = &mut c.link else {
                continue; // no transport: nowhere to write
            };
            progress = true;
            if tracing {
                link.trace_out.feed(now, true, &tx.head, &mut c.wire);
                link.trace_out.feed(now, true, &tx.payload, &mut c.wire);
            }
            link.to_broker.extend_from_slice(&tx.head);
            link.to_broker.extend_from_slice(&tx.payload);
        }
        if let Some(link) = &mut c.link {
            while let Some(bytes) = self.broker.poll_outgoing(link.conn) {
                progress = true;
                link.to_client.extend_from_slice(&bytes);
            }
        }
        progress
    }

    fn step_client(&mut self, i: usize) -> bool {
        let mut progress = self.gather(i);
        let now = self.now;
        let Some(link) = &mut self.clients[i].link else {
            self.drain_events(i);
            return progress;
        };
        let conn = link.conn;
        if !link.to_broker.is_empty() {
            progress = true;
            let up = link.to_broker.split();
            self.deliver_to_broker(conn, &up);
        }
        // The broker may have answered.
        progress |= self.gather(i);
        let stalled = self.clients[i].stalled;
        if let Some(link) = &mut self.clients[i].link {
            if !stalled && !link.to_client.is_empty() {
                progress = true;
                let down = link.to_client.split().freeze();
                self.deliver_to_client(i, down);
            }
        }
        // The broker closed the connection and everything it wrote has arrived.
        if let Some(link) = &self.clients[i].link {
            if !self.broker.is_open(conn) && link.to_client.is_empty() {
                progress = true;
                self.clients[i].session.handle_transport_closed(now);
                self.drop_link(i);
            }
        }
        progress |= self.drain_events(i);
        progress
    }

    fn deliver_to_broker(&mut self, conn: ConnId, bytes: &[u8]) {
        let now = self.now.as_millis();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self.chunk_len(rest.len());
            self.broker.handle_bytes(now, conn, &rest[..n]);
            rest = &rest[n..];
        }
    }

    fn deliver_to_client(&mut self, i: usize, mut bytes: Bytes) {
        let now = self.now;
        let tracing = self.tracing;
        while !bytes.is_empty() {
            let n = self.chunk_len(bytes.len());
            let chunk = bytes.split_to(n);
            let c = &mut self.clients[i];
            let Some(link) = &mut c.link else {
                return;
            };
            if c.session.state() == State::Disconnected {
                return; // the session closed the connection: the rest is never read
            }
            if tracing {
                link.trace_in.feed(now, false, &chunk, &mut c.wire);
            }
            link.read_buf.extend_from_slice(&chunk);
            c.session.handle_read(now, &mut link.read_buf);
        }
    }

    fn chunk_len(&mut self, len: usize) -> usize {
        if self.max_chunk == 0 {
            len
        } else {
            min(len, self.rng.between_1_and(self.max_chunk))
        }
    }

    /// Collects the session's events; a `Disconnected` closes the connection (after
    /// the bytes the session wrote before it, e.g. DISCONNECT, have gone out).
    fn drain_events(&mut self, i: usize) -> bool {
        let now = self.now;
        let mut disconnected = false;
        let c = &mut self.clients[i];
        while let Some(e) = c.session.poll_event() {
            disconnected |= matches!(e, Event::Disconnected { .. });
            c.events.push((now, e));
        }
        if disconnected && self.clients[i].link.is_some() {
            self.gather(i);
            self.close_link(i);
            return true;
        }
        false
    }

    /// Closes the client's connection from its side, after what it wrote is delivered.
    fn close_link(&mut self, i: usize) {
        let Some(link) = &mut self.clients[i].link else {
            return;
        };
        let conn = link.conn;
        let up = link.to_broker.split();
        self.deliver_to_broker(conn, &up);
        self.broker.close(conn);
        self.drop_link(i);
    }

    fn drop_link(&mut self, i: usize) {
        let c = &mut self.clients[i];
        if c.link.take().is_some() && self.tracing {
            c.wire.push(Wire::Closed { at: self.now });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{CloseReason, Record};
    use crate::{DisconnectReason, Message, Outcome};
    use core::time::Duration;
    use mqtt_proto::{QoS, TopicName};

    fn client(sim: &mut Sim, keep_alive: u64) -> ClientIdx {
        let mut config = Config::new("c").unwrap();
        config.clean_session = false;
        config.keep_alive = Duration::from_secs(keep_alive);
        let c = sim.add_client(config);
        sim.connect(c).unwrap();
        sim.run();
        assert!(sim.is_connected(c));
        let _ = sim.events(c);
        c
    }

    fn publish(sim: &mut Sim, c: ClientIdx, payload: &'static [u8], qos: QoS) -> crate::OpId {
        let now = sim.now();
        let topic = TopicName::from_static("t").unwrap();
        let m = Message::new(topic, Bytes::from_static(payload), qos);
        sim.session(c).publish(now, m).unwrap()
    }

    fn received(sim: &Sim) -> Vec<(bool, bool)> {
        sim.broker
            .log()
            .iter()
            .filter_map(|r| match r {
                Record::Received { dup, routed, .. } => Some((*dup, *routed)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn byte_by_byte_qos2() {
        let mut sim = Sim::new(BrokerConfig::default());
        sim.set_chunking(Some(1), 7);
        sim.set_tracing(true);
        let c = client(&mut sim, 30);
        let op = publish(&mut sim, c, b"hello", QoS::ExactlyOnce);
        sim.run();
        let done = Event::Completed {
            op,
            outcome: Outcome::Acknowledged,
        };
        assert_eq!(sim.events(c), [done]);
        assert_eq!(received(&sim), [(false, true)]);
        let sent: Vec<_> = sim
            .wire(c)
            .into_iter()
            .filter_map(|w| match w {
                Wire::Sent { packet, .. } => Some(packet.packet_type()),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 3, "CONNECT, PUBLISH, PUBREL: {sent:?}");
    }

    #[test]
    fn cut_mid_packet_then_resume() {
        let mut sim = Sim::new(BrokerConfig::default());
        let c = client(&mut sim, 30);
        let op = publish(&mut sim, c, &[7; 100], QoS::AtLeastOnce);
        let (up, down) = sim.in_flight(c);
        assert_eq!(down, 0);
        sim.cut_after(c, up / 2, 0);
        assert!(received(&sim).is_empty(), "half a PUBLISH is no PUBLISH");
        let events = sim.events(c);
        assert_eq!(
            events,
            [Event::Disconnected {
                reason: DisconnectReason::TransportClosed
            }]
        );
        sim.connect(c).unwrap();
        sim.run();
        assert_eq!(received(&sim), [(true, true)]);
        assert!(sim.events(c).contains(&Event::Completed {
            op,
            outcome: Outcome::Acknowledged
        }));
    }

    #[test]
    fn stalled_broker_means_ping_timeout() {
        let mut sim = Sim::new(BrokerConfig::default());
        let c = client(&mut sim, 10);
        sim.set_stalled(c, true);
        sim.advance(20_000);
        let events = sim.timed_events(c);
        assert_eq!(
            events,
            [(
                Instant::from_millis(15_000),
                Event::Disconnected {
                    reason: DisconnectReason::PingTimeout
                }
            )]
        );
        assert_eq!(sim.conn(c), None);
        // The broker heard the PINGREQ, so its keep alive never expired.
        assert!(!sim.broker.log().iter().any(|r| matches!(
            r,
            Record::Closed {
                reason: CloseReason::KeepAliveTimeout,
                ..
            }
        )));
    }

    #[test]
    fn broker_side_closes_reach_the_session() {
        let mut sim = Sim::new(BrokerConfig::default());
        let c = client(&mut sim, 10);
        sim.restart_broker(true);
        sim.run();
        assert_eq!(
            sim.events(c),
            [Event::Disconnected {
                reason: DisconnectReason::TransportClosed
            }]
        );
        sim.connect(c).unwrap();
        sim.run();
        assert_eq!(
            sim.events(c),
            [Event::Connected {
                session_present: true
            }]
        );
        // A clean disconnect reaches the broker as DISCONNECT.
        let now = sim.now();
        sim.session(c).disconnect(now);
        sim.run();
        assert!(matches!(
            sim.broker.log().last(),
            Some(Record::Closed {
                reason: CloseReason::Disconnect,
                ..
            })
        ));
        assert_eq!(sim.conn(c), None);
    }

    #[test]
    fn idle_hours_are_cheap_and_quiet() {
        let mut sim = Sim::new(BrokerConfig::default());
        let c = client(&mut sim, 60);
        sim.advance(10 * 3_600_000);
        assert!(sim.is_connected(c));
        assert!(sim.events(c).is_empty());
        assert_eq!(sim.now(), Instant::from_millis(36_000_000));
    }
}
