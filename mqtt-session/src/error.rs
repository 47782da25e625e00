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
    /// The packet would exceed the largest MQTT packet (268,435,455 bytes of body).
    PacketTooLarge,
    /// A subscribe or unsubscribe with no topic filter [MQTT-3.8.3-3], [MQTT-3.10.3-2].
    NoFilters,
    /// `ack` without manual acks configured.
    ManualAcksDisabled,
    /// `ack` of a delivery that is not awaiting one (acked twice, or never).
    UnknownDelivery,
    /// A client id, will or credential the CONNECT cannot carry.
    InvalidConnect(mqtt_proto::EncodeError),
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
        }
    }
}

impl core::error::Error for Error {}
