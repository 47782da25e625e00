//! Errors of commands: local misuse or a full queue, never I/O.

use core::fmt;

/// Why a command was refused. The session is unchanged when a command errs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `max_queued` commands are already waiting.
    QueueFull,
    /// `connect` while connecting or connected.
    AlreadyConnected,
    /// The packet would exceed the largest MQTT packet (268,435,455 bytes of body), or
    /// (5.0 `disconnect_with`, `reauthenticate`) the server's Maximum Packet Size.
    PacketTooLarge,
    /// A subscribe or unsubscribe with no topic filter [MQTT-3.8.3-3], [MQTT-3.10.3-2].
    NoFilters,
    /// `ack` without manual acks configured.
    ManualAcksDisabled,
    /// `ack` of a delivery that is not awaiting one (acked twice, or never).
    UnknownDelivery,
    /// A client id, will or credential the CONNECT cannot carry.
    InvalidConnect(mqtt_proto::EncodeError),
    /// 5.0: properties the packet cannot carry (e.g. correlation data over 65,535
    /// bytes, or a property not allowed in it).
    InvalidProperties(mqtt_proto::EncodeError),
    /// 5.0: a topic filter the packet cannot carry: a malformed shared subscription
    /// [MQTT-4.8.2-1], [MQTT-4.8.2-2], or No Local on one [MQTT-3.8.3-4].
    InvalidFilter(mqtt_proto::EncodeError),
    /// 5.0: a payload that is not UTF-8 although its Payload Format Indicator says it
    /// is (section 3.3.2.3.2).
    PayloadFormatInvalid,
    /// A 5.0 command on a 3.1.1 session.
    Unsupported,
    /// 5.0: `reauthenticate` without an authenticator, or on a connection whose
    /// CONNECT carried no Authentication Method [MQTT-4.12.0-7].
    NoAuthentication,
    /// 5.0: `reauthenticate` while an authentication exchange is in progress, or
    /// while not connected.
    AuthenticationInProgress,
    /// 5.0: a non-zero Session Expiry Interval in DISCONNECT after a CONNECT that
    /// announced zero (section 3.14.2.2.2).
    SessionExpiryWasZero,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::QueueFull => f.write_str("command queue is full"),
            Error::AlreadyConnected => f.write_str("already connecting or connected"),
            Error::PacketTooLarge => f.write_str("packet too large for MQTT"),
            Error::NoFilters => f.write_str("no topic filter given"),
            Error::ManualAcksDisabled => f.write_str("manual acks are not enabled"),
            Error::UnknownDelivery => f.write_str("delivery is not awaiting an ack"),
            Error::InvalidConnect(e) => write!(f, "invalid CONNECT: {e}"),
            Error::InvalidProperties(e) => write!(f, "invalid properties: {e}"),
            Error::InvalidFilter(e) => write!(f, "invalid topic filter: {e}"),
            Error::PayloadFormatInvalid => f.write_str("payload is not the UTF-8 it claims to be"),
            Error::Unsupported => f.write_str("an MQTT 5.0 feature on a 3.1.1 session"),
            Error::NoAuthentication => f.write_str("no enhanced authentication on this connection"),
            Error::AuthenticationInProgress => {
                f.write_str("not connected, or an authentication is in progress")
            }
            Error::SessionExpiryWasZero => {
                f.write_str("session expiry set on disconnect after a CONNECT with zero")
            }
        }
    }
}

impl core::error::Error for Error {}
