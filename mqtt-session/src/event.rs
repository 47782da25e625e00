//! What the session reports to the application.

use core::fmt;

use bytes::Bytes;
use mqtt_proto::{
    ConnectReturnCode, DecodeError, PacketId, PacketType, Publish, PublishFrame, QoS, QosPid,
    SubackCodes, TopicName,
};

/// Handle of a command (publish, subscribe, unsubscribe). Unique for the life of the
/// session, so an old operation can never be confused with a new one, whatever
/// reconnects or packet identifier reuse happen in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub(crate) u64);

impl OpId {
    /// The raw sequence number (1, 2, ... in the order commands were issued).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Identifies an incoming QoS 1 or 2 message awaiting [`crate::Session::ack`]
/// (manual-ack mode only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryId {
    pub(crate) packet_id: PacketId,
    pub(crate) qos: QoS,
    pub(crate) epoch: u32,
    /// Counts sessions the broker lost: ids of an older one mean nothing now.
    pub(crate) broker_session: u32,
}

/// A message to publish.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Message {
    /// Topic name.
    pub topic: TopicName<Bytes>,
    /// Payload; sent without being copied.
    pub payload: Bytes,
    /// Quality of service.
    pub qos: QoS,
    /// Ask the broker to retain it.
    pub retain: bool,
}

impl Message {
    /// A message that is not retained.
    pub fn new(topic: TopicName<Bytes>, payload: impl Into<Bytes>, qos: QoS) -> Message {
        Message {
            topic,
            payload: payload.into(),
            qos,
            retain: false,
        }
    }

    /// The first-attempt PUBLISH of this message with `packet_id` (ignored at QoS 0).
    pub(crate) fn into_publish(self, packet_id: PacketId) -> Publish<Bytes> {
        let qos_pid = match self.qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(packet_id),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(packet_id),
        };
        Publish {
            dup: false,
            qos_pid,
            retain: self.retain,
            topic: self.topic,
            payload: self.payload,
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic)
            .field("payload_len", &self.payload.len())
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .finish()
    }
}

/// A message from the broker: the PUBLISH packet as received, held as one view of
/// the read buffer (no copy, one reference count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The PUBLISH as received.
    pub publish: PublishFrame,
    /// In manual-ack mode, the handle to acknowledge a QoS 1 or 2 message with.
    pub delivery: Option<DeliveryId>,
}

impl Incoming {
    /// The topic it was published to.
    pub fn topic(&self) -> &str {
        self.publish.topic_str()
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        self.publish.payload()
    }

    /// The payload as its own `Bytes` (a view of the read buffer, not a copy).
    pub fn payload_bytes(&self) -> Bytes {
        self.publish.payload_bytes()
    }

    /// The PUBLISH with owned topic and payload (views, not copies).
    pub fn to_publish(&self) -> Publish<Bytes> {
        self.publish.to_publish()
    }

    /// QoS it was delivered with.
    pub fn qos(&self) -> QoS {
        self.publish.qos()
    }

    /// The broker's packet identifier (QoS 1 and 2).
    pub fn packet_id(&self) -> Option<PacketId> {
        self.publish.qos_pid().packet_id()
    }

    /// The DUP flag: the broker may have sent it before (QoS 1 and 2).
    pub fn dup(&self) -> bool {
        self.publish.dup()
    }

    /// The RETAIN flag: a retained message sent on subscribing.
    pub fn retain(&self) -> bool {
        self.publish.retain()
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A QoS 0 message was handed to the transport.
    Sent,
    /// The broker took the message: PUBACK for QoS 1, PUBCOMP for QoS 2 (or PUBREC
    /// when the session ended before PUBCOMP: the broker owned it from then on).
    Acknowledged,
    /// SUBACK: one return code per filter, in order.
    Subscribed(SubackCodes<Bytes>),
    /// UNSUBACK.
    Unsubscribed,
    /// The broker lost the session before acknowledging, and
    /// `republish_on_session_loss` is off.
    SessionLost,
}

/// Why the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// [`crate::Session::disconnect`] was called.
    Local,
    /// The transport closed or failed ([`crate::Session::handle_transport_closed`]).
    TransportClosed,
    /// No CONNACK within the connect timeout.
    ConnackTimeout,
    /// No PINGRESP within the ping timeout: the connection is dead.
    PingTimeout,
    /// The broker refused the connection.
    Refused(ConnectReturnCode),
    /// The broker broke the protocol.
    Protocol(ProtocolError),
}

/// A protocol violation by the broker; the session closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Bytes that are not a valid packet, or a packet over the maximum size.
    Decode(DecodeError),
    /// A packet a broker must not send now: not CONNACK first [MQTT-3.2.0-1], a
    /// second CONNACK, or a packet only a client sends.
    UnexpectedPacket(PacketType),
    /// An acknowledgement for a packet identifier with nothing awaiting it.
    UnknownPacketId {
        /// The acknowledgement's type.
        packet_type: PacketType,
        /// Its packet identifier.
        packet_id: u16,
    },
    /// A SUBACK whose return code count differs from the SUBSCRIBE's filter count
    /// [MQTT-3.8.4-5].
    SubackCountMismatch {
        /// Filters subscribed.
        expected: usize,
        /// Return codes received.
        got: usize,
    },
    /// Session present on a clean-session connect [MQTT-3.2.2-1].
    SessionPresentOnCleanSession,
    /// PUBREL for a message not yet acknowledged with PUBREC.
    PubrelBeforePubrec(u16),
}

/// Something the application should know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// CONNACK accepted the connection.
    Connected {
        /// The broker resumed the stored session.
        session_present: bool,
    },
    /// A message arrived.
    Message(Incoming),
    /// A command completed.
    Completed {
        /// The command.
        op: OpId,
        /// How it ended.
        outcome: Outcome,
    },
    /// The connection ended; call [`crate::Session::connect`] on a new transport to
    /// resume.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// The broker had no session although one was expected (clean session off).
    SessionLost {
        /// Unacknowledged messages published again as new.
        republished: usize,
        /// Messages that completed with [`Outcome::SessionLost`].
        failed: usize,
        /// Filters subscribed again.
        resubscribed: usize,
    },
}
