//! A message received from the broker.

use std::fmt;

use bytes::Bytes;
use mqtt_proto::{PublishFrame, QoS};

/// A message from the broker, as one view of the read buffer: the payload was never
/// copied, and cloning costs one reference count.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    frame: PublishFrame,
}

impl Message {
    pub(crate) fn new(frame: PublishFrame) -> Message {
        Message { frame }
    }

    /// The topic it was published to.
    pub fn topic(&self) -> &str {
        self.frame.topic_str()
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        self.frame.payload()
    }

    /// The payload as `Bytes` sharing the read buffer (no copy).
    pub fn payload_bytes(&self) -> Bytes {
        self.frame.payload_bytes()
    }

    /// The QoS it was delivered with.
    pub fn qos(&self) -> QoS {
        self.frame.qos_pid().qos()
    }

    /// Retained: sent because of the subscription, not a new publication
    /// [MQTT-3.3.1-9].
    pub fn retain(&self) -> bool {
        self.frame.retain()
    }

    /// The broker may have sent it before (DUP flag).
    pub fn dup(&self) -> bool {
        self.frame.dup()
    }

    /// The PUBLISH packet as received.
    pub fn frame(&self) -> &PublishFrame {
        &self.frame
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic())
            .field("payload_len", &self.payload().len())
            .field("qos", &self.qos())
            .field("retain", &self.retain())
            .field("dup", &self.dup())
            .finish()
    }
}
