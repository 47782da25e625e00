//! Errors of client calls.

use std::fmt;

use mqtt_proto::StrError;

use crate::status::Cause;

/// Why a client call failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientError {
    /// The event loop has ended (disconnected by the application, or dropped).
    Closed,
    /// The event loop ended because the connection ended and reconnecting is off
    /// (or the first connection could not be made).
    Connection(Cause),
    /// `try_publish` found the command queue full.
    QueueFull,
    /// Not a valid topic name or filter.
    InvalidTopic(StrError),
    /// The session refused the command (e.g. a packet over MQTT's size limit).
    Session(mqtt_session::Error),
    /// The broker lost the session before acknowledging.
    SessionLost,
    /// The broker refused the subscription (SUBACK 0x80).
    SubscribeRefused,
    /// A QoS 0 message was not yet written when its connection ended.
    ConnectionLost,
    /// The session's store failed (disk full, I/O error): the event loop ended, and
    /// wrote nothing the store did not hold.
    Store(crate::store::SharedStoreError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Closed => f.write_str("client closed"),
            ClientError::Connection(c) => write!(f, "connection ended: {c}"),
            ClientError::QueueFull => f.write_str("command queue full"),
            ClientError::InvalidTopic(e) => write!(f, "invalid topic: {e:?}"),
            ClientError::Session(e) => write!(f, "{e}"),
            ClientError::SessionLost => f.write_str("broker lost the session"),
            ClientError::SubscribeRefused => f.write_str("subscription refused by the broker"),
            ClientError::ConnectionLost => {
                f.write_str("connection lost before the message was written")
            }
            ClientError::Store(e) => write!(f, "store failed: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}
