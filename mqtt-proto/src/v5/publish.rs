//! PUBLISH (section 3.3): an application message, in either direction, with its
//! properties.

use core::fmt;

use super::properties::PublishProperties;
use crate::wire::{Reader, Sink};
use crate::{DecodeError, EncodeError, PacketType, QoS, QosPid, Storage, TopicName};

/// A PUBLISH packet of MQTT 5.0. With `S = Bytes` the topic, properties and payload
/// are views of the read buffer; [`Publish::encode_header`] leaves the payload out so
/// that it is written without a copy.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Publish<S: Storage> {
    /// Re-delivery of an earlier attempt [MQTT-3.3.1-1]; never set at QoS 0
    /// [MQTT-3.3.1-2].
    pub dup: bool,
    /// QoS and, for QoS 1 and 2, the packet identifier.
    pub qos_pid: QosPid,
    /// Retain flag.
    pub retain: bool,
    /// Topic name [MQTT-3.3.2-1]; never holds wildcards [MQTT-3.3.2-2]. `None` is
    /// the empty topic name, which needs a Topic Alias property (section 3.3.2.1).
    pub topic: Option<TopicName<S>>,
    /// The PUBLISH properties (section 3.3.2.3).
    pub properties: PublishProperties<S>,
    /// Application payload, any bytes.
    pub payload: S,
}

const DUP: u8 = 0b1000;
const RETAIN: u8 = 0b0001;

impl<S: Storage + Default> Publish<S> {
    /// A first-attempt PUBLISH (DUP clear, retain off) without properties.
    pub fn new(topic: TopicName<S>, qos_pid: QosPid, payload: S) -> Self {
        Publish {
            dup: false,
            qos_pid,
            retain: false,
            topic: Some(topic),
            properties: Default::default(),
            payload,
        }
    }
}

impl<S: Storage> Publish<S> {
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
        let name = r.binary()?; // [MQTT-3.3.2-1]
        let topic = if name.as_ref().is_empty() {
            None
        } else {
            // [MQTT-1.5.4-1], [MQTT-1.5.4-2], [MQTT-3.3.2-2], [MQTT-4.7.0-1]
            Some(TopicName::from_storage(name)?)
        };
        let qos_pid = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(r.packet_id()?),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(r.packet_id()?),
        };
        let properties = PublishProperties::read(r, PacketType::Publish)?;
        if topic.is_none() && properties.topic_alias().is_none() {
            return Err(DecodeError::EmptyTopicWithoutAlias); // section 3.3.2.1
        }
        let payload = r.rest();
        Ok(Publish {
            dup,
            qos_pid,
            retain,
            topic,
            properties,
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

    fn topic_bytes(&self) -> &[u8] {
        self.topic.as_ref().map_or(&[], |t| t.as_bytes())
    }

    /// Length of everything but the payload in the body.
    pub(crate) fn head_len(&self) -> usize {
        2 + self.topic_bytes().len()
            + if self.qos_pid.packet_id().is_some() {
                2
            } else {
                0
            }
            + self.properties.encoded_len()
    }

    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        if self.dup && self.qos() == QoS::AtMostOnce {
            return Err(EncodeError::DupWithQos0); // [MQTT-3.3.1-2]
        }
        if self.topic.is_none() && self.properties.topic_alias().is_none() {
            return Err(EncodeError::EmptyTopicWithoutAlias);
        }
        Ok(self.head_len() + self.payload.as_ref().len())
    }

    pub(crate) fn write_head<W: Sink>(&self, w: &mut W) {
        w.put_prefixed(self.topic_bytes());
        if let Some(pid) = self.qos_pid.packet_id() {
            w.put_u16(pid.get());
        }
        self.properties.write(w);
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        self.write_head(w);
        w.put(self.payload.as_ref());
    }

    /// A view of this PUBLISH that borrows its bytes.
    pub fn as_borrowed(&self) -> Publish<&[u8]> {
        Publish {
            dup: self.dup,
            qos_pid: self.qos_pid,
            retain: self.retain,
            topic: self.topic.as_ref().map(TopicName::as_borrowed),
            properties: self.properties.as_borrowed(),
            payload: self.payload.as_ref(),
        }
    }
}

impl<S: Storage> fmt::Debug for Publish<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos_pid", &self.qos_pid)
            .field("retain", &self.retain)
            .field("topic", &self.topic)
            .field("properties", &self.properties)
            .field("payload_len", &self.payload.as_ref().len())
            .finish()
    }
}
