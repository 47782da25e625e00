//! What an application can observe: status snapshots and connection events.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mqtt_proto::v5::DisconnectReasonCode;
use mqtt_session::{DisconnectReason, ServerLimits};

/// Why a connection ended or could not be made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Cause {
    /// The session ended it: refused CONNACK, ping or CONNACK timeout, a protocol
    /// violation by the broker, the transport closing, or a local disconnect.
    Session(DisconnectReason),
    /// Opening the transport failed (TCP, TLS or WebSocket), or reading or writing it.
    Io(Arc<io::Error>),
    /// The TCP, TLS and WebSocket handshakes took longer than the connect timeout.
    ConnectTimeout,
    /// 5.0: the server ended the connection with DISCONNECT (section 3.14): session
    /// taken over, server shutting down, a limit we broke...
    Server {
        /// Its reason code.
        reason_code: DisconnectReasonCode,
        /// Its Reason String, if any (for people, not programs).
        reason_string: Option<String>,
        /// Its Server Reference, if any: with 0x9C (use another server) or 0x9D
        /// (server moved), where the next attempt goes.
        server_reference: Option<String>,
    },
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Session(r) => write!(f, "{r:?}"),
            Cause::Io(e) => write!(f, "I/O: {e}"),
            Cause::ConnectTimeout => f.write_str("connect timeout"),
            Cause::Server {
                reason_code,
                reason_string,
                ..
            } => {
                write!(f, "server DISCONNECT {reason_code:?}")?;
                match reason_string {
                    Some(r) => write!(f, ": {r}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LinkState {
    /// Opening the transport or waiting for CONNACK.
    #[default]
    Connecting,
    /// CONNACK accepted; messages flow.
    Connected,
    /// Between a lost connection and the next attempt.
    Reconnecting,
    /// The event loop has ended.
    Closed,
}

/// A snapshot of the client, from [`crate::Client::status`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Status {
    /// Connection state.
    pub state: LinkState,
    /// The broker of the current or last connection (`scheme://host:port`).
    pub broker: Option<String>,
    /// Outgoing QoS 1/2 publishes awaiting acknowledgement.
    pub inflight: usize,
    /// Commands waiting in the session (offline, or behind the in-flight window).
    pub queued: usize,
    /// Accepted connections so far.
    pub connects: u64,
    /// Connection attempts after the first.
    pub reconnects: u64,
    /// Messages received from the broker.
    pub messages_received: u64,
    /// QoS 0 messages dropped because a subscription's queue was full.
    pub messages_dropped: u64,
    /// Messages that matched no subscription (acknowledged and discarded).
    pub messages_unrouted: u64,
    /// Live subscriptions.
    pub subscriptions: usize,
    /// Bytes handed to the transport, over every connection.
    pub bytes_sent: u64,
    /// Bytes of the packets received, over every connection.
    pub bytes_received: u64,
    /// Why the last connection ended.
    pub last_cause: Option<Cause>,
}

/// A change of the connection, from [`crate::Client::connection_events`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// CONNACK accepted the connection.
    Connected {
        /// `scheme://host:port`.
        broker: String,
        /// The broker resumed the stored session.
        session_present: bool,
    },
    /// The connection ended (or an attempt failed).
    Disconnected {
        /// Why.
        cause: Cause,
    },
    /// The next attempt starts after `delay`.
    Reconnecting {
        /// Attempts since the last accepted connection (1 for the first retry).
        attempt: u32,
        /// Backoff delay.
        delay: Duration,
    },
    /// The event loop has ended.
    Closed,
}

/// 5.0: what the server announced in its last CONNACK.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerInfo {
    pub(crate) limits: Option<ServerLimits>,
    pub(crate) assigned_client_id: Option<String>,
    pub(crate) response_information: Option<String>,
}
