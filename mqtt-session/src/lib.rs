//! The whole MQTT 3.1.1 client protocol as a sans-IO state machine: no sockets, no
//! clock, no threads. It takes bytes, time and commands, and gives back bytes to
//! write, events for the application and its next deadline.
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
//!
//! With the `sim` feature, the `sim` module has a simulated broker, clock and network, to
//! property-test an application's QoS handling with no network at all.
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
pub use journal::{MemoryStore, Store, StoreOp};
pub use session::{Session, State, Stats, Transmit};
pub use state::{SessionState, StoredCommand, StoredOp, StoredQueued};
pub use time::Instant;
pub use v5::{AuthError, AuthOutcome, Authenticator, MessageProperties, ServerLimits};

pub use mqtt_proto as proto;
