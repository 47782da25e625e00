//! Errors of client calls.

use std::fmt;

use mqtt_proto::v5::{PubackReasonCode, SubackReasonCode, UnsubackReasonCode};
use mqtt_proto::StrError;
use mqtt_session::NotSent;

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
    /// 5.0: a property string MQTT cannot carry (a Content Type or User Property with
    /// U+0000, or over 65,535 bytes).
    InvalidProperty(StrError),
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
    /// 5.0: the broker refused the message (PUBACK or PUBREC with a failure reason
    /// code: not authorized, quota exceeded, topic name invalid...).
    Rejected {
        /// The reason code.
        reason_code: PubackReasonCode,
        /// The broker's Reason String, if any.
        reason_string: Option<String>,
    },
    /// 5.0: the broker refused the subscription (SUBACK with this reason code).
    SubscribeRejected(SubackReasonCode),
    /// 5.0: the broker refused the unsubscription (UNSUBACK with this reason code).
    UnsubscribeRejected(UnsubackReasonCode),
    /// 5.0: never sent, as the server's CONNACK does not allow it (a packet over its
    /// Maximum Packet Size, a QoS over its Maximum QoS, retain unavailable...).
    NotSent(NotSent),
    /// 5.0: the message's expiry interval passed before it could be sent.
    Expired,
    /// 5.0: [`crate::Client::respond`] to a message without a Response Topic.
    NoResponseTopic,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Closed => f.write_str("client closed"),
            ClientError::Connection(c) => write!(f, "connection ended: {c}"),
            ClientError::QueueFull => f.write_str("command queue full"),
            ClientError::InvalidTopic(e) => write!(f, "invalid topic: {e:?}"),
            ClientError::InvalidProperty(e) => write!(f, "invalid property: {e:?}"),
            ClientError::Session(e) => write!(f, "{e}"),
            ClientError::SessionLost => f.write_str("broker lost the session"),
            ClientError::SubscribeRefused => f.write_str("subscription refused by the broker"),
            ClientError::ConnectionLost => {
                f.write_str("connection lost before the message was written")
            }
            ClientError::Store(e) => write!(f, "store failed: {e}"),
            ClientError::Rejected {
                reason_code,
                reason_string,
            } => {
                write!(f, "message refused by the broker: {reason_code:?}")?;
                match reason_string {
                    Some(r) => write!(f, " ({r})"),
                    None => Ok(()),
                }
            }
            ClientError::SubscribeRejected(c) => write!(f, "subscription refused: {c:?}"),
            ClientError::UnsubscribeRejected(c) => write!(f, "unsubscription refused: {c:?}"),
            ClientError::NotSent(n) => write!(f, "not sent, the server does not allow it: {n:?}"),
            ClientError::Expired => f.write_str("message expired before it was sent"),
            ClientError::NoResponseTopic => f.write_str("the message has no response topic"),
        }
    }
}

impl std::error::Error for ClientError {}
