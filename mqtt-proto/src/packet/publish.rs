//! PUBLISH [MQTT-3.3]: an application message, in either direction.

use core::fmt;

use crate::wire::{Reader, Sink};
use crate::{DecodeError, EncodeError, QoS, QosPid, Storage, TopicName};

/// A PUBLISH packet. With `S = Bytes` the topic and payload are views of the read
/// buffer, and encoding can leave the payload out so it is written without a copy.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Publish<S: Storage> {
    /// Re-delivery of an earlier attempt [MQTT-3.3.1-1]; never set at QoS 0
    /// [MQTT-3.3.1-2].
    pub dup: bool,
    /// QoS and, for QoS 1 and 2, the packet identifier.
    pub qos_pid: QosPid,
    /// Retain flag [MQTT-3.3.1-5].
    pub retain: bool,
    /// Topic name; never holds wildcards [MQTT-3.3.2-2].
    pub topic: TopicName<S>,
    /// Application payload, any bytes.
    pub payload: S,
}

const DUP: u8 = 0b1000;
const RETAIN: u8 = 0b0001;

impl<S: Storage> Publish<S> {
    /// A first-attempt PUBLISH (DUP clear, retain off).
    pub fn new(topic: TopicName<S>, qos_pid: QosPid, payload: S) -> Self {
        Publish {
            dup: false,
            qos_pid,
            retain: false,
            topic,
            payload,
        }
    }

    /// The QoS level.
    pub fn qos(&self) -> QoS {
        self.qos_pid.qos()
    }

    pub(crate) fn read(flags: u8, r: &mut Reader<'_, S>) -> Result<Self, DecodeError> {
        let dup = flags & DUP != 0;
        let retain = flags & RETAIN != 0;
        let qos = QoS::from_u8((flags >> 1) & 0b11)?; // [MQTT-3.3.1-4]
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQos0); // [MQTT-3.3.1-2]
        }
        let topic = r.topic_name()?; // [MQTT-3.3.2-1], [MQTT-3.3.2-2]
        let qos_pid = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(r.packet_id()?),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(r.packet_id()?),
        };
        let payload = r.rest();
        Ok(Publish {
            dup,
            qos_pid,
            retain,
            topic,
            payload,
        })
    }

    pub(crate) fn flags(&self) -> u8 {
        let mut f = (self.qos() as u8) << 1;
        if self.dup {
            f |= DUP;
        }
        if self.retain {
            f |= RETAIN;
        }
        f
    }

    /// Length of everything but the payload in the body.
    pub(crate) fn head_len(&self) -> usize {
        2 + self.topic.as_bytes().len()
            + if self.qos_pid.packet_id().is_some() {
                2
            } else {
                0
            }
    }

    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        if self.dup && self.qos() == QoS::AtMostOnce {
            return Err(EncodeError::DupWithQos0); // [MQTT-3.3.1-2]
        }
        Ok(self.head_len() + self.payload.as_ref().len())
    }

    pub(crate) fn write_head<W: Sink>(&self, w: &mut W) {
        w.put_prefixed(self.topic.as_bytes());
        if let Some(pid) = self.qos_pid.packet_id() {
            w.put_u16(pid.get());
        }
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        self.write_head(w);
        w.put(self.payload.as_ref());
    }
}

impl<S: Storage> fmt::Debug for Publish<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos_pid", &self.qos_pid)
            .field("retain", &self.retain)
            .field("topic", &self.topic)
            .field("payload_len", &self.payload.as_ref().len())
            .finish()
    }
}
