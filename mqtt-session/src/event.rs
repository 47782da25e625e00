//! What the session reports to the application.

use core::fmt;

use alloc::boxed::Box;

use bytes::Bytes;
use mqtt_proto::v5::{
    ConnectReasonCode, DisconnectReasonCode, PropertyId, PubackReasonCode, PublishProperties,
    SubackReasonCodes, UnsubackReasonCodes,
};
use mqtt_proto::{
    ConnectReturnCode, DecodeError, PacketId, PacketType, Publish, PublishFrame, QoS, QosPid, Str,
    SubackCodes, TopicName,
};

use crate::v5::{AuthError, MessageProperties};

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
    /// 5.0: the message's properties (expiry, content type, response topic,
    /// correlation data, payload format, user properties); ignored under 3.1.1.
    pub properties: Option<Box<MessageProperties>>,
}

impl Message {
    /// A message that is not retained, without properties.
    pub fn new(topic: TopicName<Bytes>, payload: impl Into<Bytes>, qos: QoS) -> Message {
        Message {
            topic,
            payload: payload.into(),
            qos,
            retain: false,
            properties: None,
        }
    }

    /// The same message with 5.0 properties.
    pub fn with_properties(mut self, properties: MessageProperties) -> Message {
        self.properties = Some(Box::new(properties));
        self
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
            .field("properties", &self.properties)
            .finish()
    }
}

/// A message from the broker: the PUBLISH packet as received, held as one view of
/// the read buffer (no copy, one reference count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The PUBLISH as received. Under 5.0 its topic is empty when the broker sent a
    /// Topic Alias alone: [`Incoming::topic`] has the resolved one.
    pub publish: PublishFrame,
    /// In manual-ack mode, the handle to acknowledge a QoS 1 or 2 message with.
    pub delivery: Option<DeliveryId>,
    /// 5.0: the topic a Topic Alias stood for, when the PUBLISH had no topic name.
    pub(crate) aliased_topic: Option<TopicName<Bytes>>,
}

impl Incoming {
    /// The topic it was published to (under 5.0, resolved from its Topic Alias when the
    /// broker sent the alias alone).
    pub fn topic(&self) -> &str {
        match &self.aliased_topic {
            Some(t) => t.as_str(),
            None => self.publish.topic_str(),
        }
    }

    /// 5.0: the PUBLISH properties as received (empty under 3.1.1): Payload Format
    /// Indicator, Message Expiry Interval (what is left of it), Content Type,
    /// Response Topic, Correlation Data, User Properties, Subscription Identifiers
    /// (one per matching subscription that has one) and Topic Alias.
    pub fn properties(&self) -> PublishProperties<&[u8]> {
        self.publish.properties()
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        self.publish.payload()
    }

    /// The payload as its own `Bytes` (a view of the read buffer, not a copy).
    pub fn payload_bytes(&self) -> Bytes {
        self.publish.payload_bytes()
    }

    /// The PUBLISH with owned topic (the resolved one) and payload (views, not
    /// copies), without its 5.0 properties.
    pub fn to_publish(&self) -> Publish<Bytes> {
        match &self.aliased_topic {
            Some(topic) => Publish {
                dup: self.publish.dup(),
                qos_pid: self.publish.qos_pid(),
                retain: self.publish.retain(),
                topic: topic.clone(),
                payload: self.publish.payload_bytes(),
            },
            None => self.publish.to_publish(),
        }
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
    /// 5.0: the broker refused the message: PUBACK, or PUBREC (the QoS 2 flow then
    /// ends, without PUBREL), with a failure reason code (0x80 or above).
    Rejected {
        /// The reason code.
        reason_code: PubackReasonCode,
        /// The Reason String, if the broker sent one.
        reason_string: Option<Str<Bytes>>,
    },
    /// 5.0: SUBACK: one reason code per filter, in order (the maximum QoS granted,
    /// or why not).
    SubscribedV5(SubackReasonCodes<Bytes>),
    /// 5.0: UNSUBACK: one reason code per filter, in order.
    UnsubscribedV5(UnsubackReasonCodes<Bytes>),
    /// 5.0: never sent: what the server announced in CONNACK does not allow it.
    NotSent(NotSent),
    /// 5.0: the message's Message Expiry Interval passed before it could be sent.
    Expired,
}

/// Why a 5.0 command was not sent: the packet breaks a limit the server announced in
/// CONNACK. Checked when the command is about to go out (the limits are the current
/// connection's); the session never sends a packet the server said it refuses.
///
/// A publish above the server's Maximum QoS fails instead of going out at a lower QoS:
/// the QoS is the application's delivery guarantee, and lowering it behind its back
/// (exactly once becoming at least once, say) would break the promise silently. The
/// application can publish again at the QoS [`crate::ServerLimits`] allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotSent {
    /// The packet exceeds the server's Maximum Packet Size [MQTT-3.2.2-15].
    PacketTooLarge {
        /// Its size in bytes.
        size: usize,
        /// The server's maximum.
        maximum: u32,
    },
    /// The publish's QoS exceeds the server's Maximum QoS [MQTT-3.2.2-11].
    QoSNotSupported {
        /// The server's maximum.
        maximum: QoS,
    },
    /// A retained publish to a server without Retain Available [MQTT-3.2.2-14].
    RetainNotSupported,
    /// A filter with a wildcard, and the server has no Wildcard Subscription Available.
    WildcardSubscriptionsNotSupported,
    /// A shared subscription, and the server has no Shared Subscription Available.
    SharedSubscriptionsNotSupported,
    /// A Subscription Identifier, and the server has no Subscription Identifier
    /// Available.
    SubscriptionIdentifiersNotSupported,
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
    /// The broker broke the protocol. Under 5.0 the session sends a DISCONNECT with
    /// [`ProtocolError::reason_code`] before the caller closes the transport (section
    /// 4.13.1).
    Protocol(ProtocolError),
    /// 5.0: the broker refused the connection: CONNACK with this reason code
    /// ([`crate::Session::connack`] has its properties, e.g. a Reason String or a
    /// Server Reference).
    RefusedV5(ConnectReasonCode),
    /// 5.0: the broker sent DISCONNECT with this reason code
    /// ([`crate::Session::server_disconnect`] has the packet: Reason String, Server
    /// Reference, User Properties).
    Server(DisconnectReasonCode),
    /// 5.0: our [`crate::Authenticator`] refused the server's authentication; the
    /// session sends DISCONNECT 0x80 [MQTT-4.12.1-2].
    Auth(AuthError),
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
    /// 5.0: more unacknowledged incoming QoS 1 and 2 messages than our Receive
    /// Maximum [MQTT-3.3.4-9]. DISCONNECT 0x93.
    ReceiveMaximumExceeded,
    /// 5.0: a Topic Alias above our Topic Alias Maximum [MQTT-3.3.2-10] (0 is refused by
    /// the decoder: [`DecodeError::InvalidPropertyValue`]). DISCONNECT 0x94.
    TopicAliasInvalid(u16),
    /// 5.0: a PUBLISH with an empty topic and a Topic Alias not set on this
    /// connection (section 3.3.2.3.4). DISCONNECT 0x82.
    UnknownTopicAlias(u16),
    /// 5.0: a payload that is not UTF-8 although its Payload Format Indicator says
    /// it is (section 3.3.2.3.2). DISCONNECT 0x99.
    PayloadFormatInvalid,
    /// 5.0: an UNSUBACK whose reason code count differs from the UNSUBSCRIBE's filter
    /// count [MQTT-3.11.3-1].
    UnsubackCountMismatch {
        /// Filters unsubscribed.
        expected: usize,
        /// Reason codes received.
        got: usize,
    },
    /// 5.0: AUTH, or an Authentication Method, where none may come: without an
    /// authentication in progress, or with another method than ours [MQTT-4.12.0-5],
    /// [MQTT-4.12.0-6].
    UnexpectedAuth,
}

impl ProtocolError {
    /// The DISCONNECT reason code a 5.0 session sends for this violation.
    pub fn reason_code(&self) -> DisconnectReasonCode {
        use DisconnectReasonCode as C;
        match self {
            ProtocolError::Decode(DecodeError::PacketTooLarge { .. }) => C::PacketTooLarge,
            ProtocolError::Decode(DecodeError::InvalidPropertyValue(PropertyId::TopicAlias))
            | ProtocolError::TopicAliasInvalid(_) => C::TopicAliasInvalid,
            ProtocolError::Decode(_) => C::MalformedPacket,
            ProtocolError::ReceiveMaximumExceeded => C::ReceiveMaximumExceeded,
            ProtocolError::PayloadFormatInvalid => C::PayloadFormatInvalid,
            _ => C::ProtocolError,
        }
    }
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
    /// 5.0: a re-authentication ([`crate::Session::reauthenticate`]) succeeded.
    Reauthenticated,
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
