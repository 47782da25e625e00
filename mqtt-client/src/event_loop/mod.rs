//! The driver: moves bytes between a transport and the session, routes events, and
//! reconnects. One poll function, so the order of work is explicit:
//! commands, transport, timers, events, writes.

mod commands;
mod conn;
mod events;
mod link;
mod pace;
mod write;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use futures_channel::oneshot;
use mqtt_proto::v5::SubscriptionOptions;
use mqtt_proto::{QoS, TopicFilter};
use mqtt_session::{IdHash, Instant, OpId, Session, StoreOp, StoredCommand};
use tracing::{info, trace, warn};

use crate::backoff::Backoff;
use crate::client::{Client, Command, Control, Shared, SharedV5};
use crate::coalesce::AckCoalescing;
use crate::completion::Completer;
use crate::error::ClientError;
use crate::options::{Broker, Options, OptionsError, Scheme};
use crate::request::Responses;
use crate::router::Router;
use crate::runtime::{BoxFuture, BoxIo, Runtime};
use crate::status::{ConnectionEvent, LinkState, ServerInfo, Status};
use crate::store::{BoxStore, SharedStoreError};
use crate::transport::Dialer;

use conn::Conn;

/// Rounds of work before yielding to other tasks.
const BUDGET: usize = 32;

enum Waiter {
    Publish(Completer),
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
    written: VecDeque<(u64, Completer)>,
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
        completions: Arc::default(),
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
                Waiter::Publish(d) => d.send(Err(err.clone())),
                Waiter::Unsubscribe(d) => {
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
            done.send(Err(err.clone()));
        }
        if let Some(cmd) = self.stashed.take() {
            match cmd {
                Command::Publish { done, .. } => done.send(Err(err.clone())),
                Command::Unsubscribe { done, .. } => {
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
