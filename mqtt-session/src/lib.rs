//! The whole MQTT client protocol, 3.1.1 and 5.0, as a sans-IO state machine: no
//! sockets, no clock, no threads. It takes bytes, time and commands, and gives back
//! bytes to write, events for the application and its next deadline.
//!
//! A complete client over a blocking `TcpStream` is this loop:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant as Clock};
//!
//! use bytes::BytesMut;
//! use mqtt_session::proto::{QoS, TopicFilter, TopicName};
//! use mqtt_session::{Config, Event, Instant, Message, Session};
//!
//! fn main() -> std::io::Result<()> {
//!     let start = Clock::now();
//!     let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
//!
//!     let mut stream = TcpStream::connect("127.0.0.1:1883")?;
//!     let mut session = Session::new(Config::new("my-client").unwrap());
//!     session.connect(now()).unwrap();
//!     let filter = TopicFilter::from_static("sensors/#").unwrap();
//!     session.subscribe(now(), &[(filter, QoS::AtLeastOnce)]).unwrap();
//!     let topic = TopicName::from_static("sensors/hello").unwrap();
//!     session.publish(now(), Message::new(topic, "hi", QoS::ExactlyOnce)).unwrap();
//!
//!     let mut buf = BytesMut::with_capacity(16 * 1024);
//!     loop {
//!         // 1. Write what the session has to send (header and payload, no copies).
//!         while let Some(tx) = session.poll_transmit() {
//!             stream.write_all(&tx.head)?;
//!             stream.write_all(&tx.payload)?;
//!         }
//!         // 2. Hand out events.
//!         while let Some(event) = session.poll_event() {
//!             match event {
//!                 Event::Message(m) => println!("{}: {:?}", m.topic(), m.payload()),
//!                 Event::Disconnected { reason } => {
//!                     println!("disconnected: {reason:?}");
//!                     return Ok(()); // or: open a new stream and `connect` again
//!                 }
//!                 other => println!("{other:?}"),
//!             }
//!         }
//!         // 3. Deadlines (keepalive, ping and CONNACK timeouts) before waiting.
//!         let wait = match session.poll_timeout() {
//!             Some(at) if at <= now() => {
//!                 session.handle_timeout(now());
//!                 continue;
//!             }
//!             Some(at) => Some(Duration::from_millis(at.as_millis() - now().as_millis())),
//!             None => None,
//!         };
//!         // 4. Wait for bytes, at most until the deadline.
//!         stream.set_read_timeout(wait)?;
//!         let mut chunk = [0u8; 4096];
//!         match stream.read(&mut chunk) {
//!             Ok(0) => session.handle_transport_closed(now()),
//!             Ok(n) => {
//!                 buf.extend_from_slice(&chunk[..n]);
//!                 session.handle_read(now(), &mut buf);
//!             }
//!             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
//!                 || e.kind() == std::io::ErrorKind::TimedOut => session.handle_timeout(now()),
//!             Err(_) => session.handle_transport_closed(now()),
//!         }
//!     }
//! }
//! ```
//!
//! `examples/blocking.rs` is the same loop with vectored writes, and is what the
//! integration tests run against a real mosquitto.
//!
//! # The poll order
//!
//! After every input (`handle_read`, `handle_timeout`, `handle_transport_closed`) and
//! every command (`connect`, `publish`, `subscribe`, `unsubscribe`, `ack`,
//! `disconnect`), drain [`Session::poll_transmit`] until `None` and write it, drain
//! [`Session::poll_event`] until `None`, then read [`Session::poll_timeout`]. Transmits
//! come first: a QoS 0 publish completes (an event) when its bytes are handed out. When
//! an [`Event::Disconnected`] comes, write what is left and close the transport; call
//! [`Session::connect`] on a new one to resume.
//!
//! # What the session guarantees
//!
//! - CONNECT first [MQTT-3.1.0-1]; commands wait for CONNACK; refusals and a missing
//!   CONNACK end the connection with a typed reason.
//! - PINGREQ when either direction has been quiet for the keep alive [MQTT-3.1.2-23];
//!   no PINGRESP within the ping timeout ends the connection.
//! - Packet identifiers are non-zero, unique among operations in flight, reused only
//!   after the final acknowledgement [MQTT-2.3.1-1], [MQTT-2.3.1-2]; when all 65,535
//!   are in use a command waits.
//! - QoS 2 in is delivered exactly once however often the broker re-sends it
//!   [MQTT-4.3.3-2]; after PUBREC a message is only ever released, never re-sent.
//! - Resumption re-sends unacknowledged PUBLISH with DUP and PUBREL, with their
//!   original identifiers, in order [MQTT-4.4.0-1]; a lost session is reported and
//!   recovered (republish, resubscribe) by configuration.
//! - Nothing the broker sends can panic the session or grow its memory without bound;
//!   every queue has a bound and a typed error when full.
//! - Payloads are never copied: outgoing ones go out as the caller's `Bytes`, incoming
//!   ones are views of the read buffer.
//! - Under 5.0, never a packet the server's CONNACK forbids, and a protocol violation
//!   by the server is answered with DISCONNECT and its reason code (see below).
//!
//! With the `sim` feature, the `sim` module has a simulated broker, clock and network, to
//! property-test an application's QoS handling with no network at all (it speaks
//! 3.1.1).
//!
//! # MQTT 5.0
//!
//! [`Config::protocol`] chooses the version (3.1.1 by default; [`Config::v5`] for 5.0);
//! the same [`Session`], run loop and commands serve both, and a 3.1.1 session ignores
//! what only 5.0 has. Under 5.0:
//!
//! ```
//! use bytes::Bytes;
//! use mqtt_session::proto::v5::{PropertyValues, SubscriptionId, SubscriptionOptions};
//! use mqtt_session::proto::{QoS, TopicFilter, TopicName};
//! use mqtt_session::{Config, Instant, Message, MessageProperties, Session};
//!
//! let mut config = Config::v5("sensor-7").unwrap();
//! config.session_expiry_interval = Some(3600); // the broker keeps the session an hour
//! config.receive_maximum = 32; // at most 32 unacknowledged QoS 1/2 messages to us
//! let mut session = Session::new(config);
//! let now = Instant::from_millis(0);
//! session.connect(now).unwrap();
//!
//! // Subscription Options and a Subscription Identifier (messages carry it back).
//! let options = SubscriptionOptions { no_local: true, ..SubscriptionOptions::new(QoS::AtLeastOnce) };
//! let ids = [SubscriptionId::new(1).unwrap()];
//! let props = PropertyValues { subscription_identifiers: &ids, ..PropertyValues::default() };
//! let cmd = TopicFilter::from_static("cmd/#").unwrap();
//! session.subscribe_with(now, &[(cmd, options)], &props).unwrap();
//!
//! // A request with message properties; the session picks a topic alias for it.
//! let request = Message::new(TopicName::from_static("svc/req").unwrap(), "{}", QoS::AtLeastOnce)
//!     .with_properties(MessageProperties {
//!         response_topic: Some(TopicName::from_static("svc/resp/sensor-7").unwrap()),
//!         correlation_data: Some(Bytes::from_static(b"42")),
//!         message_expiry_interval: Some(30),
//!         ..MessageProperties::default()
//!     });
//! session.publish(now, request).unwrap();
//! ```
//!
//! - What the CONNACK allows binds the session ([`Session::server_limits`]): the
//!   in-flight window is the smaller of `max_inflight` and the server's Receive
//!   Maximum [MQTT-3.3.4-7] (resends of a resumed session wait for room too); a
//!   command the server said it refuses (over its Maximum Packet Size, Maximum QoS,
//!   retained without Retain Available, a wildcard, shared or identified subscription
//!   it does not support) completes with [`Outcome::NotSent`] instead of going out. A
//!   publish over the Maximum QoS is not downgraded: the QoS is the application's
//!   delivery guarantee, and only it can decide to weaken it. The Server Keep Alive
//!   replaces ours, the Assigned Client Identifier is used on later connects.
//! - Ours binds the server: more unacknowledged QoS 1/2 messages than our Receive
//!   Maximum, a packet over our Maximum Packet Size, a Topic Alias of 0 or over our
//!   maximum, an unknown alias, a payload that breaks its Payload Format Indicator's
//!   promise of UTF-8: each is a protocol violation ([`ProtocolError`]); under 5.0
//!   the session then sends DISCONNECT with the violation's reason code (0x93, 0x95,
//!   0x94, 0x82, 0x99, ...) before the caller closes the transport. (A receiver may
//!   also accept a payload that is not UTF-8, or refuse it with PUBACK 0x99; this one
//!   treats it as the other malformed strings of a packet.)
//! - Topic aliases are automatic: a topic's first message on a connection takes an
//!   alias (sent with the name), later ones go as the alias alone; when all the
//!   server allows are taken, the least recently used one is reassigned (least
//!   recently used suits a working set that fits; a set larger than the aliases in
//!   strict rotation gets no gain from any policy). Topics under four bytes never
//!   take one. Every connection starts with none [MQTT-3.3.2-7]; incoming aliases are
//!   resolved ([`Incoming::topic`]).
//! - Reason codes reach the application: [`Outcome::Rejected`] (PUBACK / PUBREC 0x80
//!   and above; a refused QoS 2 flow ends without PUBREL), [`Outcome::SubscribedV5`],
//!   [`Outcome::UnsubscribedV5`], [`DisconnectReason::Server`] (with
//!   [`Session::server_disconnect`]), [`DisconnectReason::RefusedV5`] (with
//!   [`Session::connack`]); [`Session::disconnect_with`] sends a reason code and a new
//!   Session Expiry Interval.
//! - Message properties go out with the message and come in with it
//!   ([`Incoming::properties`], subscription identifiers included); a queued message
//!   whose Message Expiry Interval passes completes with [`Outcome::Expired`], one
//!   sent late carries what is left of it.
//! - Enhanced authentication: an [`Authenticator`] ([`Session::set_authenticator`])
//!   runs the AUTH exchange during connect and on [`Session::reauthenticate`].
//! - Durable sessions keep 5.0 messages with their properties, and 5.0 subscribe
//!   commands with their options.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod commands;
mod config;
mod error;
mod event;
mod idmap;
mod inbound;
mod journal;
mod session;
mod state;
mod time;
mod timers;
mod v5;

#[cfg(feature = "sim")]
pub mod sim;

pub use config::Config;
pub use error::Error;
pub use event::{
    DeliveryId, DisconnectReason, Event, Incoming, Message, NotSent, OpId, Outcome, ProtocolError,
};
pub use idmap::{IdHash, IdHasher};
pub use journal::{MemoryStore, Store, StoreOp};
pub use session::{Session, State, Stats, Transmit};
pub use state::{SessionState, StoredCommand, StoredOp, StoredQueued};
pub use time::Instant;
pub use v5::{AuthError, AuthOutcome, Authenticator, MessageProperties, ServerLimits};

pub use mqtt_proto as proto;
