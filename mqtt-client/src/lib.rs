//! The async MQTT client the runtime adapters share: [`Client`], [`Subscription`],
//! the topic router, and the reconnecting [`EventLoop`] over any `futures-io`
//! transport (TCP, TLS with rustls, WebSocket, or a stream of your own).
//!
//! Applications use an adapter (`mqtt-tokio`, `mqtt-smol`, `mqtt-async-std`), which
//! supplies the [`Runtime`] (TCP connect and timers) and re-exports this crate. The
//! protocol itself lives in `mqtt-session`; this crate moves bytes and routes events.
//!
//! Options come from code or a URL:
//!
//! ```
//! use std::time::Duration;
//! use mqtt_client::{Backoff, Options, QoS};
//!
//! let opts = Options::parse("mqtt://127.0.0.1:1883?client_id=demo")?
//!     .keep_alive(Duration::from_secs(30))
//!     .clean_session(false)
//!     .will("demo/status", "offline", QoS::AtLeastOnce, true)
//!     .reconnect(Some(Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(10), jitter: true }))
//!     .failover("mqtt://127.0.0.1:1884")?;
//! assert_eq!(opts.brokers().len(), 2);
//! # Ok::<(), mqtt_client::OptionsError>(())
//! ```
//!
//! How it behaves:
//! - `publish(..).await` resolves on PUBACK (QoS 1), PUBCOMP (QoS 2), or when the
//!   bytes are written (QoS 0); while offline the message waits and is sent after
//!   reconnecting, and unacknowledged messages are re-sent with DUP on resumption.
//! - The event loop never waits for the application. A full [`Subscription`] queue
//!   drops QoS 0 messages (counted in [`Status::messages_dropped`]) and holds back the
//!   PUBACK/PUBREC of QoS 1/2 messages until the subscriber takes them, so the broker's
//!   in-flight window slows it down. Publishing from the task that reads a
//!   subscription therefore never deadlocks. (Acknowledgements go out in the order
//!   the messages came [MQTT-4.6.0-2], so a held one holds back those after it too:
//!   a task that waits for messages of another subscription while its own queue is
//!   over capacity waits for itself.)
//! - Writes are batched: every ready packet goes out in one vectored write, payloads
//!   are never copied; received payloads are views of the read buffer.
//! - MQTT 5.0 by [`Options::protocol`]: messages with properties
//!   ([`Client::message`]), request / response ([`Client::request`],
//!   [`Client::respond`]), subscription options ([`Client::subscribe_with`]), shared
//!   subscriptions, routing by Subscription Identifier, reason codes as typed errors,
//!   the server's DISCONNECT as [`Cause::Server`], enhanced authentication
//!   ([`Options::authenticator`]), server redirection.

// One `setsockopt` call, in `low_water`, is the only unsafe code.
#![deny(unsafe_code)]

mod backoff;
mod client;
mod client_v5;
mod coalesce;
mod completion;
mod error;
mod event_loop;
#[cfg(unix)]
mod low_water;
mod message;
mod options;
mod options_v5;
mod pacing;
mod queue;
mod request;
mod router;
mod runtime;
mod status;
mod store;
mod tls;
mod transport;
mod ws;

pub use backoff::Backoff;
pub use client::{Ack, Client, ConnectionEvents, IntoTopic, Subscription};
pub use client_v5::PublishBuilder;
pub use coalesce::AckCoalescing;
pub use error::ClientError;
pub use event_loop::{new_client, EventLoop};
#[cfg(unix)]
pub use low_water::set_receive_low_water;
pub use message::Message;
pub use options::{Broker, Connector, Options, OptionsError, Scheme, Will};
pub use options_v5::AuthenticatorFactory;
pub use runtime::{BoxFuture, BoxIo, Io, Runtime};
pub use status::{Cause, ConnectionEvent, LinkState, Status};
pub use store::{FileStore, SharedStoreError, StoreError};
pub use tls::TlsOptions;

pub use bytes::Bytes;
/// The 5.0 codec's types: reason codes, properties, subscription options.
pub use mqtt_proto::v5;
pub use mqtt_proto::v5::{PayloadFormat, RetainHandling, SubscriptionId, SubscriptionOptions};
pub use mqtt_proto::{ProtocolVersion, QoS, TopicName};
pub use mqtt_session::DisconnectReason;
/// A message as published (and as a store keeps it): see [`Client::restored`].
pub use mqtt_session::Message as Outgoing;
pub use mqtt_session::{
    AuthError, AuthOutcome, Authenticator, MessageProperties, NotSent, ServerLimits,
};
pub use mqtt_session::{MemoryStore, SessionState, Store, StoreOp};
/// The rustls crate this client uses, for [`TlsOptions::rustls_config`].
pub use rustls;
