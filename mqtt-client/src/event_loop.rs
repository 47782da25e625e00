//! The driver: moves bytes between a transport and the session, routes events, and
//! reconnects. One poll function, so the order of work is explicit:
//! commands, transport, timers, events, writes.

use futures_io::{AsyncRead, AsyncWrite};
use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use bytes::{Buf, Bytes, BytesMut};
use futures_channel::oneshot;
use futures_core::Stream;
use mqtt_proto::v5::{PropertyValues, ReasonCode, SubscriptionOptions};
use mqtt_proto::{QoS, SubackReturnCode, TopicFilter};
use mqtt_session::{
    DisconnectReason, Event, IdHash, Incoming, Instant, NotSent, OpId, Outcome, Session,
    State as SessionState, StoreOp, StoredCommand,
};
use tracing::{debug, info, trace, warn};

use crate::backoff::Backoff;
use crate::client::{Client, Command, Control, Shared, SharedV5};
use crate::coalesce::{count_acks, AckCoalescing, Coalescer, Decision};
use crate::error::ClientError;
use crate::message::Message;
use crate::options::{Broker, Options, OptionsError, Scheme};
use crate::pacing::Pacer;
use crate::queue::{AckToken, Pushed};
use crate::request::Responses;
use crate::router::Router;
use crate::runtime::{BoxFuture, BoxIo, Runtime};
use crate::status::{Cause, ConnectionEvent, LinkState, ServerInfo, Status};
use crate::store::{BoxStore, SharedStoreError};
use crate::transport::{set_read_low_water, Dialer};

/// The read window: how many bytes one read call may take. It starts small (an idle
/// connection holds little memory, and a small read zero-fills little) and doubles
/// while reads fill it, up to the maximum; it halves again when reads come in small.
const READ_MIN: usize = 1024;
const READ_MAX: usize = 64 * 1024;
/// The socket's receive low-water mark while a paced read waits: a full read, more
/// than a wait of a millisecond or so brings in, so the socket stays silent until
/// the wait ends.
const PACED_LOW_WATER: usize = READ_MAX;
/// A connection that has read this much is busy: its read buffers grow by 4 KiB at
/// least (an idle one, reading a PINGRESP a minute, takes weeks to get there).
const BUSY_AFTER: u64 = 64 * 1024;
/// Most slices per vectored write (a header and a payload per PUBLISH).
const MAX_SLICES: usize = 128;
/// Rounds of work before yielding to other tasks.
const BUDGET: usize = 32;
/// Commands taken per round, so reads and writes interleave with a busy publisher.
const COMMANDS_PER_ROUND: usize = 256;
/// How long a connection closing after a protocol violation may take to write the
/// session's DISCONNECT before it is dropped anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

enum Waiter {
    Publish(oneshot::Sender<Result<(), ClientError>>),
    Subscribe {
        done: oneshot::Sender<Result<QoS, ClientError>>,
        /// 5.0: the request, to send again without its Subscription Identifier if
        /// the server turns out not to support them.
        retry: Option<(TopicFilter<Bytes>, SubscriptionOptions)>,
    },
    Unsubscribe(oneshot::Sender<Result<(), ClientError>>),
}

enum Link {
    /// No transport; connect at `retry_at` (now if `None`).
    Idle {
        retry_at: Option<StdInstant>,
    },
    Connecting {
        /// Where the failover list continues if this attempt fails.
        next_broker: usize,
        target: Box<Broker>,
        deadline: StdInstant,
        dial: BoxFuture<io::Result<BoxIo>>,
    },
    Up(Conn),
}

struct Conn {
    io: BoxIo,
    broker: Box<Broker>,
    rbuf: BytesMut,
    /// The bytes right after `rbuf` in its allocation that an earlier read window
    /// initialized and the read did not fill: the next window reuses them instead of
    /// zeroing them again (futures-io reads only into initialized memory).
    spare: BytesMut,
    /// The current read window (between `READ_MIN` and `READ_MAX`).
    read_window: usize,
    /// Bytes read on this connection so far.
    read_total: u64,
    wq: VecDeque<Bytes>,
    queued_total: u64,
    written_total: u64,
    needs_flush: bool,
    /// DISCONNECT is queued: write everything, close, end.
    closing: bool,
    /// Closing after a violation (5.0: the session's DISCONNECT with its reason code
    /// goes out first, section 4.13): why, and when to stop waiting for the write.
    close_cause: Option<Box<(Cause, StdInstant)>>,
    /// `Options::ack_coalescing`: holds acknowledgements back while the broker
    /// streams. Boxed: absent unless asked for.
    acks: Option<Box<AckHold>>,
    /// `Options::read_pacing`: defers the next read while the broker streams.
    /// Boxed: absent when turned off.
    pace: Option<Box<ReadPace>>,
}

/// A connection's read pacing (see `pacing`).
struct ReadPace {
    pacer: Pacer,
    /// The burst of reads in progress: when it began, and the packets received
    /// before it.
    burst: Option<(StdInstant, u64)>,
    /// The next read waits for this.
    wait: Option<BoxFuture<()>>,
    /// The runtime can raise the socket's receive low-water mark: false once it
    /// said it cannot.
    low_water: bool,
    /// The mark is raised for the wait in progress.
    raised: bool,
    /// The mark was just lowered: until a read succeeds, a read that finds the
    /// socket not ready saw the readiness from before the wait (the lowering makes
    /// the socket report readable, and that wake is on its way).
    rearmed: bool,
}

/// A connection's acknowledgement coalescing (see `coalesce`).
struct AckHold {
    /// PUBACKs may wait too (`AckCoalescing::All`).
    puback: bool,
    coalescer: Coalescer,
    /// Acknowledgements in `wq`, and whether `wq` holds nothing else.
    wq_acks: usize,
    wq_only_acks: bool,
    /// Wakes the loop when held acknowledgements are due.
    timer: Option<(StdInstant, BoxFuture<()>)>,
}

/// The connection task. Spawn [`EventLoop::run`] on the runtime (the adapters'
/// `connect` functions do it for you). It ends when the application disconnects,
/// when every [`Client`] and [`crate::Subscription`] is dropped, or when the
/// connection ends and reconnecting is off.
pub struct EventLoop<R: Runtime> {
    session: Session,
    /// Where the session's journal goes (`Options::store`).
    store: Option<BoxStore>,
    journal: Vec<StoreOp>,
    origin: StdInstant,
    brokers: Vec<Broker>,
    dialer: Dialer,
    reconnect: Option<Backoff>,
    connect_timeout: Duration,
    ack_coalescing: AckCoalescing,
    read_pacing: Duration,
    /// `None` once the event loop has ended (dropping it closes the channel).
    commands: Option<flume::r#async::RecvStream<'static, Command>>,
    control: Pin<Box<async_channel::Receiver<Control>>>,
    control_tx: async_channel::Sender<Control>,
    shared: Arc<Shared>,
    link: Link,
    next_broker: usize,
    attempt: u32,
    /// Keyed by our own sequence numbers: a multiplication hashes them.
    waiters: HashMap<OpId, Waiter, IdHash>,
    /// QoS 0 publishes handed out, resolved once the transport took their last byte.
    written: VecDeque<(u64, oneshot::Sender<Result<(), ClientError>>)>,
    stashed: Option<Command>,
    disconnecting: Vec<oneshot::Sender<Result<(), ClientError>>>,
    /// 5.0: re-authentications awaiting the server's verdict.
    reauthenticating: Vec<oneshot::Sender<Result<(), ClientError>>>,
    /// 5.0: re-authentications asked while offline, answered by the next CONNACK.
    authenticating: Vec<oneshot::Sender<Result<(), ClientError>>>,
    /// 5.0: the Server Reference of the last DISCONNECT or CONNACK that sent us
    /// elsewhere (0x9C, 0x9D): the next attempt goes there.
    redirect: Option<Box<Broker>>,
    finished: Option<Result<(), ClientError>>,
    timer: Option<(StdInstant, BoxFuture<()>)>,
    /// This poll follows a yield made to gather more to write (see `poll`).
    yielded: bool,
    /// The session clock at the start of this round of [`EventLoop::poll`]. Commands
    /// and acknowledgements are stamped with it, so that a burst of publishes costs
    /// one clock read, not one each (on some VMs a clock read is a system call).
    clock: Instant,
    status: Status,
    _runtime: PhantomData<fn() -> R>,
}

/// Builds a client handle and its event loop from options.
pub fn new_client<R: Runtime>(options: Options) -> Result<(Client, EventLoop<R>), OptionsError> {
    if options.brokers.is_empty() {
        return Err(OptionsError::NoBroker);
    }
    let mut config = options.session_config()?;
    let mut store = options.take_store()?;
    // With a store: journal every durable change, and resume what it holds.
    let (session, restored) = match store.as_mut() {
        Some(store) => {
            config.durable = true;
            let state = store
                .load()
                .map_err(|e| OptionsError::Store(e.to_string()))?;
            let restored: Vec<mqtt_session::Message> = state
                .inflight
                .iter()
                .map(|s| &s.command)
                .chain(state.queued.iter().map(|q| &q.command))
                .filter_map(|c| match c {
                    StoredCommand::Publish(m) => Some(m.clone()),
                    _ => None,
                })
                .collect();
            (Session::restore(config, state).0, restored)
        }
        None => (Session::new(config), Vec::new()),
    };
    let mut session = session;
    if let Some(factory) = &options.v5.authenticator {
        session
            .set_authenticator(factory())
            .map_err(|_| OptionsError::Invalid("an authenticator needs MQTT 5.0"))?;
    }
    let needs_tls = options.connector.is_none()
        && options
            .brokers
            .iter()
            .any(|b| matches!(b.scheme, Scheme::Tls | Scheme::Wss));
    let tls_config = if needs_tls {
        Some(
            options
                .tls
                .client_config()
                .map_err(|_| OptionsError::Invalid("TLS settings"))?,
        )
    } else {
        None
    };
    // flume: a bounded channel whose buffer grows on demand (an idle connection holds
    // none of it), unlike a preallocated ring of `command_capacity` commands.
    let (cmd_tx, cmd_rx) = flume::bounded(options.command_capacity);
    let (ctl_tx, ctl_rx) = async_channel::unbounded();
    let shared = Arc::new(Shared {
        router: Mutex::new(Router::default()),
        status: Mutex::new(Status::default()),
        listeners: Mutex::new(Vec::new()),
        subscription_capacity: options.subscription_capacity,
        restored,
        v5: (options.protocol == mqtt_proto::ProtocolVersion::V5).then(|| {
            Box::new(SharedV5 {
                server: Mutex::new(ServerInfo::default()),
                responses: Mutex::new(Responses::default()),
                response_prefix: options.v5.response_topic_prefix.clone(),
            })
        }),
    });
    let client = Client {
        commands: cmd_tx,
        control: ctl_tx.clone(),
        shared: shared.clone(),
    };
    let event_loop = EventLoop {
        session,
        store,
        journal: Vec::new(),
        origin: StdInstant::now(),
        brokers: options.brokers,
        dialer: Dialer {
            tls: options.tls,
            tls_config,
            connector: options.connector,
        },
        reconnect: options.reconnect,
        connect_timeout: options.connect_timeout,
        ack_coalescing: options.ack_coalescing,
        read_pacing: options.read_pacing,
        commands: Some(cmd_rx.into_stream()),
        control: Box::pin(ctl_rx),
        control_tx: ctl_tx,
        shared,
        link: Link::Idle { retry_at: None },
        next_broker: 0,
        attempt: 0,
        waiters: HashMap::with_hasher(IdHash),
        written: VecDeque::new(),
        stashed: None,
        disconnecting: Vec::new(),
        reauthenticating: Vec::new(),
        authenticating: Vec::new(),
        redirect: None,
        finished: None,
        timer: None,
        yielded: false,
        clock: Instant::from_millis(0),
        status: Status::default(),
        _runtime: PhantomData,
    };
    Ok((client, event_loop))
}

impl<R: Runtime> EventLoop<R> {
    /// Runs until the application disconnects or drops every handle (`Ok`), or the
    /// connection ends with reconnecting off (`Err`).
    pub async fn run(mut self) -> Result<(), ClientError> {
        std::future::poll_fn(|cx| self.poll(cx)).await
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }

    fn to_std(&self, t: Instant) -> StdInstant {
        self.origin + Duration::from_millis(t.as_millis())
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        for _ in 0..BUDGET {
            self.clock = self.now();
            let mut progress = self.poll_control(cx);
            let took = self.poll_commands(cx);
            let link = self.poll_link(cx);
            progress |= took || link;
            let now = self.now();
            if self.session.poll_timeout().is_some_and(|t| t <= now) {
                self.session.handle_timeout(now);
            }
            progress |= self.process_events();
            // Write-ahead: the store has every durable change before a byte goes out.
            if let Err(e) = self.persist() {
                warn!(error = %e, "store failed; ending the event loop");
                self.link = Link::Idle { retry_at: None };
                let result = Err(ClientError::Store(e));
                self.finish(&result);
                return Poll::Ready(result);
            }
            // Coalesce: new commands or bytes just came in, so more are likely on their
            // way (a publisher mid-burst, the broker mid-stream). Let them arrive (one
            // yield) before writing, so one write system call carries many packets.
            if progress && !self.yielded && matches!(self.link, Link::Up(_)) {
                self.yielded = true;
                self.publish_status();
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.yielded = false;
            progress |= self.poll_write(cx);
            if let Some(result) = self.finished.take() {
                self.finish(&result);
                return Poll::Ready(result);
            }
            self.publish_status();
            progress |= self.poll_timer(cx);
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Hands the session's journal entries to the store (one batch, one fsync).
    fn persist(&mut self) -> Result<(), SharedStoreError> {
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        self.journal.clear();
        while let Some(op) = self.session.poll_store_op() {
            self.journal.push(op);
        }
        if self.journal.is_empty() {
            return Ok(());
        }
        trace!(entries = self.journal.len(), "persist");
        store.persist(&self.journal)
    }

    // Inputs from the application.

    fn poll_control(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Poll::Ready(Some(ctl)) = self.control.as_mut().poll_next(cx) {
            progress = true;
            let now = self.clock;
            match ctl {
                Control::Ack(delivery) => {
                    // A stale delivery (older connection) is fine to ignore: the
                    // broker sends the message again.
                    let _ = self.session.ack(now, delivery);
                }
                Control::Unsubscribe(filter) => {
                    if let Err(e) = self.session.unsubscribe(now, &[filter]) {
                        debug!(error = %e, "unsubscribe of a dropped subscription failed");
                    }
                }
            }
        }
        progress
    }

    fn poll_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        if let Some(cmd) = self.stashed.take() {
            if !self.apply(cmd) {
                return false;
            }
            progress = true;
        }
        for _ in 0..COMMANDS_PER_ROUND {
            let Some(commands) = self.commands.as_mut() else {
                break;
            };
            match Pin::new(commands).poll_next(cx) {
                Poll::Ready(Some(cmd)) => {
                    progress = true;
                    if !self.apply(cmd) {
                        break;
                    }
                }
                Poll::Ready(None) => {
                    // Every handle is gone: nobody can use the connection any more.
                    if self.disconnecting.is_empty() && self.finished.is_none() {
                        debug!("all client handles dropped; disconnecting");
                        self.start_disconnect();
                        progress = true;
                    }
                    break;
                }
                Poll::Pending => break,
            }
        }
        progress
    }

    /// Hands a command to the session; false (and stashed) when its queue is full.
    fn apply(&mut self, cmd: Command) -> bool {
        let now = self.clock;
        match cmd {
            Command::Publish { message, done } => {
                let qos = message.qos;
                match self.session.publish(now, message.clone()) {
                    Ok(op) => {
                        trace!(op = op.get(), ?qos, "publish queued");
                        self.waiters.insert(op, Waiter::Publish(done));
                    }
                    Err(mqtt_session::Error::QueueFull) => {
                        self.stashed = Some(Command::Publish { message, done });
                        return false;
                    }
                    Err(e) => {
                        let _ = done.send(Err(ClientError::Session(e)));
                    }
                }
            }
            Command::Subscribe {
                filter,
                options,
                id,
                done,
            } => {
                // An identifier only where the server takes them (unknown before the
                // first CONNACK: tried, and sent again without if refused).
                let with_id = self
                    .session
                    .server_limits()
                    .is_some_and(|l| l.subscription_identifier_available);
                let ids = [id];
                let props = PropertyValues {
                    subscription_identifiers: if with_id { &ids } else { &[] },
                    ..PropertyValues::default()
                };
                let items = [(filter.clone(), options)];
                match self.session.subscribe_with(now, &items, &props) {
                    Ok(op) => {
                        info!(filter = %filter, qos = ?options.qos, "subscribe");
                        let retry = with_id.then_some((filter, options));
                        self.waiters.insert(op, Waiter::Subscribe { done, retry });
                    }
                    Err(mqtt_session::Error::QueueFull) => {
                        self.stashed = Some(Command::Subscribe {
                            filter,
                            options,
                            id,
                            done,
                        });
                        return false;
                    }
                    Err(e) => {
                        let _ = done.send(Err(ClientError::Session(e)));
                    }
                }
            }
            Command::Unsubscribe { filter, done } => {
                match self.session.unsubscribe(now, std::slice::from_ref(&filter)) {
                    Ok(op) => {
                        info!(filter = %filter, "unsubscribe");
                        self.waiters.insert(op, Waiter::Unsubscribe(done));
                    }
                    Err(mqtt_session::Error::QueueFull) => {
                        self.stashed = Some(Command::Unsubscribe { filter, done });
                        return false;
                    }
                    Err(e) => {
                        let _ = done.send(Err(ClientError::Session(e)));
                    }
                }
            }
            Command::Disconnect { reason, done } => {
                if let Some((code, expiry)) = reason {
                    if matches!(self.link, Link::Up(_)) {
                        let props = PropertyValues {
                            session_expiry_interval: expiry,
                            ..PropertyValues::default()
                        };
                        // Emits Disconnected { Local }; the link then flushes and closes.
                        if let Err(e) = self.session.disconnect_with(now, code, &props) {
                            let _ = done.send(Err(ClientError::Session(e)));
                            return true;
                        }
                        info!(reason = ?code, "disconnecting");
                        self.disconnecting.push(done);
                        return true;
                    }
                }
                self.disconnecting.push(done);
                self.start_disconnect();
            }
            // Offline, the next connection's CONNECT authenticates afresh: that answers.
            Command::Reauthenticate { done } if self.session.state() != SessionState::Connected => {
                self.authenticating.push(done);
            }
            Command::Reauthenticate { done } => match self.session.reauthenticate(now) {
                Ok(()) => {
                    info!("re-authenticating");
                    self.reauthenticating.push(done);
                }
                Err(e) => {
                    let _ = done.send(Err(ClientError::Session(e)));
                }
            },
        }
        true
    }

    fn start_disconnect(&mut self) {
        info!("disconnecting");
        if matches!(self.link, Link::Up(_)) {
            // Emits Disconnected { Local }; the link then flushes and closes.
            self.session.disconnect(self.now());
        } else {
            self.link = Link::Idle { retry_at: None };
            self.finished = Some(Ok(()));
        }
    }

    // The transport.

    fn poll_link(&mut self, cx: &mut Context<'_>) -> bool {
        let now = StdInstant::now();
        match &mut self.link {
            Link::Idle { retry_at } => {
                if self.finished.is_some() || !self.disconnecting.is_empty() {
                    return false;
                }
                if retry_at.is_some_and(|t| t > now) {
                    return false;
                }
                let broker = self.next_broker % self.brokers.len();
                // A redirect is tried once; the failover list continues after it.
                let (target, next_broker) = match self.redirect.take() {
                    Some(b) => (b, broker),
                    None => (Box::new(self.brokers[broker].clone()), broker + 1),
                };
                let url = target.url();
                info!(broker = %url, "connecting");
                self.status.state = LinkState::Connecting;
                self.status.broker = Some(url);
                let dial = Box::pin(self.dialer.clone().dial::<R>((*target).clone()));
                self.link = Link::Connecting {
                    next_broker,
                    target,
                    deadline: now + self.connect_timeout,
                    dial,
                };
                true
            }
            Link::Connecting {
                next_broker,
                target,
                deadline,
                dial,
            } => {
                let next = *next_broker;
                match dial.as_mut().poll(cx) {
                    Poll::Ready(Ok(io)) => {
                        debug!(broker = %target.url(), "transport open; sending CONNECT");
                        let broker = target.clone();
                        self.link = Link::Up(Conn {
                            io,
                            broker,
                            rbuf: BytesMut::new(),
                            spare: BytesMut::new(),
                            pace: (!self.read_pacing.is_zero()).then(|| {
                                Box::new(ReadPace {
                                    pacer: Pacer::new(self.read_pacing),
                                    burst: None,
                                    wait: None,
                                    low_water: true,
                                    raised: false,
                                    rearmed: false,
                                })
                            }),
                            read_window: READ_MIN,
                            read_total: 0,
                            wq: VecDeque::new(),
                            queued_total: 0,
                            written_total: 0,
                            needs_flush: false,
                            closing: false,
                            close_cause: None,
                            acks: (self.ack_coalescing != AckCoalescing::Off).then(|| {
                                Box::new(AckHold {
                                    puback: self.ack_coalescing == AckCoalescing::All,
                                    coalescer: Coalescer::new(true),
                                    wq_acks: 0,
                                    wq_only_acks: true,
                                    timer: None,
                                })
                            }),
                        });
                        if let Err(e) = self.session.connect(self.now()) {
                            warn!(error = %e, "session refused to connect");
                        }
                        true
                    }
                    Poll::Ready(Err(e)) => {
                        let url = target.url();
                        self.connect_failed(next, &url, Cause::Io(Arc::new(e)));
                        true
                    }
                    Poll::Pending if now >= *deadline => {
                        let url = target.url();
                        self.connect_failed(next, &url, Cause::ConnectTimeout);
                        true
                    }
                    Poll::Pending => false,
                }
            }
            Link::Up(conn) => {
                if conn.closing {
                    // After a violation, a peer that does not take the DISCONNECT in
                    // time is dropped anyway.
                    if conn.close_cause.as_ref().is_some_and(|c| now >= c.1) {
                        if let Some(c) = conn.close_cause.take() {
                            let (cause, _) = *c;
                            self.link_down(cause);
                            return true;
                        }
                    }
                    return false;
                }
                if let Some(p) = conn.pace.as_mut() {
                    if let Some(wait) = p.wait.as_mut() {
                        if wait.as_mut().poll(cx).is_pending() {
                            return false; // the socket is read when the wait ends
                        }
                        p.wait = None;
                        if std::mem::take(&mut p.raised) {
                            if let Err(e) = set_read_low_water::<R>(&mut *conn.io, 1) {
                                // Below the raised mark the socket would stay
                                // silent: give the connection up rather than stall.
                                debug!(error = %e, "lowering the receive low-water mark failed");
                                self.status.last_cause = Some(Cause::Io(Arc::new(e)));
                                self.session.handle_transport_closed(self.now());
                                return true;
                            }
                            p.rearmed = true;
                        }
                    }
                }
                let mut progress = false;
                for _ in 0..4 {
                    match read_some(conn, cx) {
                        Poll::Ready(Ok(0)) => {
                            debug!("transport closed by the broker");
                            self.status.last_cause = None;
                            self.session.handle_transport_closed(self.now());
                            return true;
                        }
                        Poll::Ready(Ok(n)) => {
                            trace!(bytes = n, "read");
                            progress = true;
                            if let Some(a) = &mut conn.acks {
                                a.coalescer.on_read(now);
                            }
                            if let Some(p) = conn.pace.as_mut() {
                                p.rearmed = false;
                                if p.burst.is_none() {
                                    p.burst = Some((now, self.session.stats().packets_received));
                                }
                            }
                            // The clock read above serves: a read takes microseconds.
                            let now = Instant::from_millis(
                                now.duration_since(self.origin).as_millis() as u64,
                            );
                            self.session.handle_read(now, &mut conn.rbuf);
                        }
                        Poll::Ready(Err(e)) => {
                            debug!(error = %e, "read failed");
                            self.status.last_cause = Some(Cause::Io(Arc::new(e)));
                            self.session.handle_transport_closed(self.now());
                            return true;
                        }
                        Poll::Pending => {
                            if let Some(p) = &mut conn.pace {
                                if std::mem::take(&mut p.rearmed) {
                                    break; // not the end of a burst: see `rearmed`
                                }
                                let stats = self.session.stats();
                                let received = stats.packets_received;
                                let (start, before) = p.burst.take().unwrap_or((now, received));
                                let blocked = (stats.queued > 0 && stats.inflight > 0)
                                    .then(|| u64::from(self.session.config().max_inflight));
                                let next = p.pacer.drained(start, now, received - before, blocked);
                                p.wait = next.map(R::sleep_until);
                                if p.wait.is_some() && p.low_water {
                                    // Segments that arrive during the wait no longer
                                    // wake the runtime, one wake each.
                                    match set_read_low_water::<R>(&mut *conn.io, PACED_LOW_WATER) {
                                        Ok(raised) => (p.low_water, p.raised) = (raised, raised),
                                        Err(e) => {
                                            debug!(error = %e, "no receive low-water mark");
                                            p.low_water = false;
                                        }
                                    }
                                }
                            }
                            break;
                        }
                    }
                }
                progress
            }
        }
    }

    fn connect_failed(&mut self, next_broker: usize, url: &str, cause: Cause) {
        warn!(broker = %url, %cause, "connect failed");
        self.next_broker = next_broker;
        self.link_down(cause);
    }

    /// The transport is gone: notify, then schedule a reconnect or finish.
    fn link_down(&mut self, cause: Cause) {
        if !self.written.is_empty() {
            debug!(
                lost = self.written.len(),
                "QoS 0 messages not written before the connection ended"
            );
        }
        for (_, done) in self.written.drain(..) {
            let _ = done.send(Err(ClientError::ConnectionLost));
        }
        self.status.last_cause = Some(cause.clone());
        self.notify(ConnectionEvent::Disconnected {
            cause: cause.clone(),
        });
        match self.reconnect {
            Some(backoff) if self.disconnecting.is_empty() => {
                let delay = backoff.delay(self.attempt);
                self.attempt = self.attempt.saturating_add(1);
                info!(attempt = self.attempt, ?delay, "reconnecting");
                self.status.state = LinkState::Reconnecting;
                self.status.reconnects += 1;
                self.notify(ConnectionEvent::Reconnecting {
                    attempt: self.attempt,
                    delay,
                });
                self.link = Link::Idle {
                    retry_at: Some(StdInstant::now() + delay),
                };
            }
            _ => {
                self.link = Link::Idle { retry_at: None };
                self.finished = Some(if self.disconnecting.is_empty() {
                    Err(ClientError::Connection(cause))
                } else {
                    Ok(())
                });
            }
        }
    }

    // Session events.

    fn process_events(&mut self) -> bool {
        let mut progress = false;
        while let Some(event) = self.session.poll_event() {
            progress = true;
            match event {
                Event::Message(incoming) => self.route(incoming),
                Event::Completed { op, outcome } => self.complete(op, outcome),
                Event::Connected { session_present } => {
                    let broker = match &self.link {
                        Link::Up(c) => c.broker.url(),
                        _ => String::new(),
                    };
                    self.record_server();
                    for done in self.authenticating.drain(..) {
                        let _ = done.send(Ok(()));
                    }
                    info!(%broker, session_present, "connected");
                    self.attempt = 0;
                    self.status.state = LinkState::Connected;
                    self.notify(ConnectionEvent::Connected {
                        broker,
                        session_present,
                    });
                }
                Event::SessionLost {
                    republished,
                    failed,
                    resubscribed,
                } => {
                    warn!(
                        republished,
                        failed, resubscribed, "the broker lost the session"
                    );
                }
                Event::Disconnected { reason } => self.on_disconnected(reason),
                Event::Reauthenticated => {
                    info!("re-authenticated");
                    for done in self.reauthenticating.drain(..) {
                        let _ = done.send(Ok(()));
                    }
                }
                other => debug!(?other, "session event"),
            }
        }
        progress
    }

    fn on_disconnected(&mut self, reason: DisconnectReason) {
        let Link::Up(conn) = &mut self.link else {
            return;
        };
        if reason == DisconnectReason::Local {
            // Write the DISCONNECT (and what precedes it), then close.
            conn.closing = true;
            return;
        }
        info!(?reason, "disconnected");
        let cause = match (reason, self.status.last_cause.take()) {
            (DisconnectReason::TransportClosed, Some(io @ Cause::Io(_))) => io,
            (DisconnectReason::Server(reason_code), _) => {
                let d = self.session.server_disconnect();
                let text = |s: Option<mqtt_proto::Str<Bytes>>| s.map(|s| s.as_str().to_owned());
                Cause::Server {
                    reason_code,
                    reason_string: text(d.and_then(|d| d.properties.reason_string())),
                    server_reference: text(d.and_then(|d| d.properties.server_reference())),
                }
            }
            (r, _) => Cause::Session(r),
        };
        self.follow_server_reference(&cause, reason);
        let err = ClientError::Connection(cause.clone());
        for done in self.reauthenticating.drain(..) {
            let _ = done.send(Err(err.clone()));
        }
        let violation = matches!(
            reason,
            DisconnectReason::Protocol(_) | DisconnectReason::Auth(_)
        );
        if let (true, Link::Up(conn)) = (violation, &mut self.link) {
            // The session's DISCONNECT (5.0, with its reason code) is written first.
            conn.closing = true;
            conn.close_cause = Some(Box::new((cause, StdInstant::now() + CLOSE_GRACE)));
            return;
        }
        self.link_down(cause);
    }

    /// 5.0: keeps what the CONNACK announced for [`Client::server_limits`].
    fn record_server(&mut self) {
        let Some(limits) = self.session.server_limits() else {
            return;
        };
        let connack = self.session.connack();
        let Some(mut info) = self.shared.server() else {
            return;
        };
        info.limits = Some(limits.clone());
        info.assigned_client_id = self
            .session
            .assigned_client_id()
            .map(|s| s.as_str().to_owned());
        info.response_information = connack
            .and_then(|c| c.properties.response_information())
            .map(|s| s.as_str().to_owned());
    }

    /// 5.0: a server that sends us elsewhere (0x9C Use another server, 0x9D Server
    /// moved) with a Server Reference gets the next attempt pointed there (section
    /// 4.11). The reference is `host` or `host:port`, reached like the current broker.
    fn follow_server_reference(&mut self, cause: &Cause, reason: DisconnectReason) {
        use mqtt_proto::v5::{ConnectReasonCode as R, DisconnectReasonCode as D};
        let moved = match reason {
            DisconnectReason::Server(c) => matches!(c, D::UseAnotherServer | D::ServerMoved),
            DisconnectReason::RefusedV5(c) => matches!(c, R::UseAnotherServer | R::ServerMoved),
            _ => false,
        };
        if !moved {
            return;
        }
        let reference = match cause {
            Cause::Server {
                server_reference, ..
            } => server_reference.clone(),
            _ => self
                .session
                .connack()
                .and_then(|c| c.properties.server_reference())
                .map(|s| s.as_str().to_owned()),
        };
        let Some(reference) = reference else { return };
        let Link::Up(conn) = &self.link else { return };
        // Several references may be listed, space separated: the first is taken.
        let first = reference.split(' ').next().unwrap_or_default();
        if let Some(target) = referenced_broker(&conn.broker, first) {
            info!(server_reference = %first, "the server sent us to another server");
            self.redirect = Some(Box::new(target));
        }
    }

    fn route(&mut self, incoming: Incoming) {
        self.status.messages_received += 1;
        let qos = incoming.qos();
        let delivery = incoming.delivery;
        let msg = Message::new(incoming);
        let mut token: Option<Arc<AckToken>> = None;
        let (mut matched, mut dropped) = (0usize, 0u64);
        {
            let props = msg.properties();
            // 5.0: the identifiers say which subscriptions it is for (empty: 3.1.1,
            // or a server without identifiers; route by topic then).
            let identified = props.subscription_identifiers().next().is_some();
            let responded = props.correlation_data().is_some()
                && self
                    .shared
                    .responses()
                    .is_some_and(|mut r| r.deliver(&msg, identified));
            let control = &self.control_tx;
            let mut hold = || {
                token
                    .get_or_insert_with(|| {
                        Arc::new(AckToken {
                            // Only QoS 1/2 are ever held, and those have a delivery.
                            delivery: delivery.expect("QoS 1/2 delivery"),
                            control: control.clone(),
                        })
                    })
                    .clone()
            };
            let mut push = |queue: &Arc<crate::queue::SubQueue>| {
                matched += 1;
                if queue.push(&msg, qos, &mut hold) == Pushed::Dropped {
                    dropped += 1;
                }
            };
            let router = self.shared.router();
            let known = identified
                && router.for_each_identified(
                    msg.topic(),
                    props.subscription_identifiers(),
                    &mut push,
                );
            if !known && !responded {
                router.for_each_match(msg.topic(), &mut push);
            }
            if responded {
                matched += 1;
            }
        }
        self.status.messages_dropped += dropped;
        if matched == 0 {
            self.status.messages_unrouted += 1;
            debug!(topic = msg.topic(), "message matches no subscription");
        }
        trace!(
            topic = msg.topic(),
            ?qos,
            len = msg.payload().len(),
            matched,
            "message"
        );
        if token.is_none() {
            if let Some(delivery) = delivery {
                let _ = self.session.ack(self.clock, delivery);
            }
        }
    }

    fn complete(&mut self, op: OpId, outcome: Outcome) {
        let Some(waiter) = self.waiters.remove(&op) else {
            return;
        };
        // The status snapshot first: whoever the completion wakes may read it at once
        // (in-flight counts must already say the operation is done).
        self.publish_status();
        match (waiter, outcome) {
            (Waiter::Publish(done), Outcome::Sent) => {
                // QoS 0: resolved once the transport took the last byte handed out.
                match &self.link {
                    Link::Up(conn) => self.written.push_back((conn.queued_total_after(), done)),
                    _ => {
                        let _ = done.send(Ok(()));
                    }
                }
            }
            (Waiter::Publish(done), Outcome::Acknowledged) => {
                let _ = done.send(Ok(()));
            }
            (Waiter::Publish(done), outcome) => {
                let _ = done.send(Err(failure(outcome)));
            }
            (Waiter::Subscribe { done, .. }, Outcome::Subscribed(codes)) => {
                let result = match codes.iter().next() {
                    Some(SubackReturnCode::Success(q)) => Ok(q),
                    _ => Err(ClientError::SubscribeRefused),
                };
                let _ = done.send(result);
            }
            (Waiter::Subscribe { done, .. }, Outcome::SubscribedV5(codes)) => {
                let result = match codes.iter().next() {
                    Some(code) => code
                        .granted_qos()
                        .ok_or(ClientError::SubscribeRejected(code)),
                    None => Err(ClientError::SubscribeRefused),
                };
                let _ = done.send(result);
            }
            (
                Waiter::Subscribe {
                    done,
                    retry: Some((filter, options)),
                },
                Outcome::NotSent(NotSent::SubscriptionIdentifiersNotSupported),
            ) => {
                // The server takes no identifiers: subscribe without (routed by topic).
                let items = [(filter, options)];
                match self
                    .session
                    .subscribe_with(self.now(), &items, &PropertyValues::default())
                {
                    Ok(op) => {
                        let retry = None;
                        self.waiters.insert(op, Waiter::Subscribe { done, retry });
                    }
                    Err(e) => {
                        let _ = done.send(Err(ClientError::Session(e)));
                    }
                }
            }
            (Waiter::Subscribe { done, .. }, outcome) => {
                let _ = done.send(Err(failure(outcome)));
            }
            (Waiter::Unsubscribe(done), Outcome::Unsubscribed) => {
                let _ = done.send(Ok(()));
            }
            (Waiter::Unsubscribe(done), Outcome::UnsubscribedV5(codes)) => {
                let result = match codes.iter().find(|c| c.is_error()) {
                    Some(code) => Err(ClientError::UnsubscribeRejected(code)),
                    None => Ok(()),
                };
                let _ = done.send(result);
            }
            (Waiter::Unsubscribe(done), outcome) => {
                let _ = done.send(Err(failure(outcome)));
            }
        }
    }

    // Output to the transport.

    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Link::Up(conn) = &mut self.link else {
            // Nothing can be written; the session re-creates what matters on connect.
            while self.session.poll_transmit().is_some() {}
            return false;
        };
        let mut progress = false;
        while let Some(t) = self.session.poll_transmit() {
            trace!(bytes = t.len(), "transmit");
            // Once anything else is queued the count no longer matters.
            if let Some(a) = conn.acks.as_mut().filter(|a| a.wq_only_acks) {
                match count_acks(&t.head, a.puback) {
                    Some(n) if t.payload.is_empty() => a.wq_acks += n,
                    _ => a.wq_only_acks = false,
                }
            }
            conn.push(t.head);
            conn.push(t.payload);
            // Handing out a QoS 0 publish completes it: run a round for that event.
            progress = true;
        }
        if conn.hold_acks::<R>(cx) {
            return progress;
        }
        match conn.flush_some(cx) {
            Ok(true) => progress = true,
            Ok(false) => {}
            Err(e) => {
                debug!(error = %e, "write failed");
                if let Some(c) = conn.close_cause.take() {
                    self.link_down(c.0);
                    return true;
                }
                self.status.last_cause = Some(Cause::Io(Arc::new(e)));
                self.session.handle_transport_closed(self.now());
                return true;
            }
        }
        let written = conn.written_total;
        while self
            .written
            .front()
            .is_some_and(|(mark, _)| *mark <= written)
        {
            if let Some((_, done)) = self.written.pop_front() {
                let _ = done.send(Ok(()));
            }
        }
        if conn.closing && conn.wq.is_empty() && !conn.needs_flush {
            match Pin::new(&mut conn.io).poll_close(cx) {
                Poll::Pending => return progress,
                Poll::Ready(r) => {
                    if let Err(e) = r {
                        debug!(error = %e, "close failed");
                    }
                    if let Some(c) = conn.close_cause.take() {
                        self.link_down(c.0);
                        return true;
                    }
                    info!("disconnected");
                    self.link = Link::Idle { retry_at: None };
                    self.finished = Some(Ok(()));
                    return true;
                }
            }
        }
        progress
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let mut wake: Option<StdInstant> = self.session.poll_timeout().map(|t| self.to_std(t));
        let link_deadline = match &self.link {
            Link::Idle {
                retry_at: Some(t), ..
            } => Some(*t),
            Link::Connecting { deadline, .. } => Some(*deadline),
            Link::Up(conn) => conn.close_cause.as_ref().map(|c| c.1),
            _ => None,
        };
        wake = match (wake, link_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(wake) = wake else {
            self.timer = None;
            return false;
        };
        if self.timer.as_ref().is_none_or(|(at, _)| *at > wake) {
            // Round up to the millisecond the session counts in, so that the timer
            // never fires just before a deadline and spins.
            self.timer = Some((wake, R::sleep_until(wake + Duration::from_millis(1))));
        }
        let (_, sleep) = self.timer.as_mut().expect("armed above");
        if sleep.as_mut().poll(cx).is_ready() {
            self.timer = None;
            return true;
        }
        false
    }

    // Reporting.

    fn notify(&self, event: ConnectionEvent) {
        let mut listeners = self
            .shared
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        listeners.retain(|l| l.force_send(event.clone()).is_ok());
    }

    fn publish_status(&mut self) {
        let stats = self.session.stats();
        self.status.inflight = stats.inflight;
        self.status.queued = stats.queued;
        self.status.connects = stats.connects;
        self.status.bytes_sent = stats.bytes_sent;
        self.status.bytes_received = stats.bytes_received;
        // Every round: copy in place, cloning the broker name only when it changed
        // (a clone of the whole status allocated a String per round).
        let mut shared = self.shared.status();
        // Destructured so that a new field cannot be forgotten here.
        let Status {
            state,
            broker,
            inflight,
            queued,
            connects,
            reconnects,
            messages_received,
            messages_dropped,
            messages_unrouted,
            subscriptions,
            bytes_sent,
            bytes_received,
            last_cause,
        } = &self.status;
        if shared.broker != *broker {
            shared.broker.clone_from(broker);
        }
        shared.last_cause.clone_from(last_cause);
        shared.state = *state;
        shared.inflight = *inflight;
        shared.queued = *queued;
        shared.connects = *connects;
        shared.reconnects = *reconnects;
        shared.messages_received = *messages_received;
        shared.messages_dropped = *messages_dropped;
        shared.messages_unrouted = *messages_unrouted;
        shared.subscriptions = *subscriptions;
        shared.bytes_sent = *bytes_sent;
        shared.bytes_received = *bytes_received;
    }

    fn finish(&mut self, result: &Result<(), ClientError>) {
        let err = match result {
            Ok(()) => ClientError::Closed,
            Err(e) => e.clone(),
        };
        for (_, waiter) in self.waiters.drain() {
            match waiter {
                Waiter::Publish(d) | Waiter::Unsubscribe(d) => {
                    let _ = d.send(Err(err.clone()));
                }
                Waiter::Subscribe { done, .. } => {
                    let _ = done.send(Err(err.clone()));
                }
            }
        }
        for done in self
            .reauthenticating
            .drain(..)
            .chain(self.authenticating.drain(..))
        {
            let _ = done.send(Err(err.clone()));
        }
        if let Some(mut r) = self.shared.responses() {
            r.close();
        }
        for (_, done) in self.written.drain(..) {
            let _ = done.send(Err(err.clone()));
        }
        if let Some(cmd) = self.stashed.take() {
            match cmd {
                Command::Publish { done, .. } | Command::Unsubscribe { done, .. } => {
                    let _ = done.send(Err(err.clone()));
                }
                Command::Subscribe { done, .. } => {
                    let _ = done.send(Err(err.clone()));
                }
                Command::Reauthenticate { done } => {
                    let _ = done.send(Err(err.clone()));
                }
                Command::Disconnect { done, .. } => {
                    let _ = done.send(Ok(()));
                }
            }
        }
        for done in self.disconnecting.drain(..) {
            let _ = done.send(Ok(()));
        }
        self.commands = None;
        self.control.close();
        self.shared.router().close_all();
        self.status.state = LinkState::Closed;
        *self.shared.status() = self.status.clone();
        self.notify(ConnectionEvent::Closed);
        self.shared
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        info!(?result, "event loop ended");
    }
}

/// The broker a Server Reference names: `host`, `host:port`, `[v6]`, `[v6]:port`,
/// reached with the current broker's scheme (and port when none is given).
fn referenced_broker(current: &Broker, reference: &str) -> Option<Broker> {
    let (host, port) = if let Some(rest) = reference.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (host, p.parse().ok()?),
            None if after.is_empty() => (host, current.port),
            None => return None,
        }
    } else {
        match reference.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, p.parse().ok()?),
            Some(_) => (reference, current.port), // a bare IPv6 address
            None => (reference, current.port),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(Broker {
        host: host.to_owned(),
        port,
        ..current.clone()
    })
}

/// The error of an operation that ended other than as asked.
fn failure(outcome: Outcome) -> ClientError {
    match outcome {
        Outcome::Rejected {
            reason_code,
            reason_string,
        } => ClientError::Rejected {
            reason_code,
            reason_string: reason_string.map(|s| s.as_str().to_owned()),
        },
        Outcome::NotSent(n) => ClientError::NotSent(n),
        Outcome::Expired => ClientError::Expired,
        _ => ClientError::SessionLost,
    }
}

fn read_some(conn: &mut Conn, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
    let start = conn.rbuf.len();
    let window = conn.read_window;
    // Back to one buffer: data, then what earlier windows initialized (no copy: the
    // two are contiguous unless the buffer was replaced since).
    conn.rbuf.unsplit(std::mem::take(&mut conn.spare));
    if conn.rbuf.capacity() - start < window {
        // A new buffer when views of the old one (messages) are still alive. A quiet
        // connection takes just its window (1 KiB idle); one with traffic at least
        // 4 KiB, so that small reads share an allocation.
        conn.rbuf.truncate(start);
        let busy = conn.read_total > BUSY_AFTER;
        conn.rbuf.reserve(if busy {
            window.max(READ_MIN * 4)
        } else {
            window
        });
    }
    // Zero only what no earlier window initialized.
    if conn.rbuf.len() < start + window {
        conn.rbuf.resize(start + window, 0);
    }
    let r = Pin::new(&mut conn.io).poll_read(cx, &mut conn.rbuf[start..start + window]);
    let n = match &r {
        Poll::Ready(Ok(n)) => (*n).min(window),
        _ => 0,
    };
    conn.spare = conn.rbuf.split_off(start + n);
    conn.read_total += n as u64;
    if n == window {
        conn.read_window = (window * 2).min(READ_MAX);
    } else if matches!(r, Poll::Ready(Ok(_))) && n < window / 4 {
        conn.read_window = (window / 2).max(READ_MIN);
    }
    r
}

impl Conn {
    /// True while only acknowledgements are queued and the coalescer holds them.
    fn hold_acks<R: Runtime>(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(a) = &mut self.acks else {
            return false;
        };
        if self.wq.is_empty() || self.closing {
            return false;
        }
        if !a.wq_only_acks {
            // Written now: no clock read on a publisher's every write.
            a.coalescer.write_other();
            a.timer = None;
            return false;
        }
        let now = StdInstant::now();
        let Decision::HoldUntil(due) = a.coalescer.decide(now, a.wq_only_acks, a.wq_acks) else {
            a.timer = None;
            return false;
        };
        if a.timer.as_ref().is_none_or(|(at, _)| *at != due) {
            a.timer = Some((due, R::sleep_until(due)));
        }
        let (_, sleep) = a.timer.as_mut().expect("armed above");
        if sleep.as_mut().poll(cx).is_pending() {
            return true;
        }
        // Due: this decision records a flush forced by the deadline.
        a.timer = None;
        let _ = a.coalescer.decide(now.max(due), a.wq_only_acks, a.wq_acks);
        false
    }

    fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.queued_total += b.len() as u64;
            self.wq.push_back(b);
        }
    }

    /// The write mark of everything handed out so far.
    fn queued_total_after(&self) -> u64 {
        self.queued_total
    }

    /// Writes what it can (vectored); true when bytes moved or a flush completed.
    fn flush_some(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let mut progress = false;
        while !self.wq.is_empty() {
            // On the stack: no allocation per write.
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, b) in slices.iter_mut().zip(self.wq.iter()) {
                *slot = IoSlice::new(b);
                count += 1;
            }
            match Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(mut n)) => {
                    progress = true;
                    self.needs_flush = true;
                    self.written_total += n as u64;
                    while n > 0 {
                        let front = self.wq.front_mut().expect("wrote more than queued");
                        if n >= front.len() {
                            n -= front.len();
                            self.wq.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(progress),
            }
        }
        if let Some(a) = &mut self.acks {
            a.wq_acks = 0;
            a.wq_only_acks = true;
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_references_name_a_broker_reached_the_same_way() {
        let current = Broker::parse("mqtts://a.example:8883").unwrap();
        let to = |r: &str| referenced_broker(&current, r).map(|b| b.url());
        assert_eq!(to("b.example"), Some("mqtts://b.example:8883".into()));
        assert_eq!(to("b.example:9000"), Some("mqtts://b.example:9000".into()));
        assert_eq!(to("[::1]:9000"), Some("mqtts://[::1]:9000".into()));
        assert_eq!(to("[::1]"), Some("mqtts://[::1]:8883".into()));
        assert_eq!(to("::1"), Some("mqtts://[::1]:8883".into()));
        assert_eq!(to("b.example:port"), None);
        assert_eq!(to(""), None);
        assert_eq!(to("[::1"), None);
    }
}
