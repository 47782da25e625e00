//! A message received from the broker.

use std::fmt;

use bytes::Bytes;
use mqtt_proto::v5::{PayloadFormat, PublishProperties, SubscriptionId};
use mqtt_proto::{PublishFrame, QoS};
use mqtt_session::Incoming;

/// A message from the broker, as one view of the read buffer: the payload was never
/// copied, and cloning costs one reference count (two when a 5.0 Topic Alias named
/// its topic).
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    incoming: Incoming,
}

impl Message {
    pub(crate) fn new(incoming: Incoming) -> Message {
        Message { incoming }
    }

    /// The topic it was published to (under 5.0 resolved from its Topic Alias when
    /// the broker sent the alias alone).
    pub fn topic(&self) -> &str {
        self.incoming.topic()
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        self.incoming.payload()
    }

    /// The payload as `Bytes` sharing the read buffer (no copy).
    pub fn payload_bytes(&self) -> Bytes {
        self.incoming.payload_bytes()
    }

    /// The QoS it was delivered with.
    pub fn qos(&self) -> QoS {
        self.incoming.qos()
    }

    /// Retained: sent because of the subscription, not a new publication
    /// [MQTT-3.3.1-9]. Under 5.0 a subscription with Retain As Published keeps the
    /// publisher's flag instead [MQTT-3.3.1-12].
    pub fn retain(&self) -> bool {
        self.incoming.retain()
    }

    /// The broker may have sent it before (DUP flag).
    pub fn dup(&self) -> bool {
        self.incoming.dup()
    }

    /// The PUBLISH packet as received (under 5.0 its topic is empty when a Topic
    /// Alias stood for it: [`Message::topic`] has the resolved one).
    pub fn frame(&self) -> &PublishFrame {
        &self.incoming.publish
    }

    /// 5.0: every property of the PUBLISH as received, found in place (empty under
    /// 3.1.1). The accessors below cover the common ones.
    pub fn properties(&self) -> PublishProperties<&[u8]> {
        self.incoming.properties()
    }

    /// 5.0: the User Properties, name and value, in the order the publisher sent them
    /// [MQTT-3.3.2-18].
    pub fn user_properties(&self) -> Vec<(&str, &str)> {
        // Views of the read buffer: the strings borrow the frame, not `properties()`.
        self.properties()
            .user_properties()
            .map(|(k, v)| (text(k.into_inner()), text(v.into_inner())))
            .collect()
    }

    /// 5.0: the Content Type.
    pub fn content_type(&self) -> Option<&str> {
        self.properties()
            .content_type()
            .map(|s| text(s.into_inner()))
    }

    /// 5.0: the Response Topic: where a request's answer goes ([`crate::Client::respond`]).
    pub fn response_topic(&self) -> Option<&str> {
        self.properties()
            .response_topic()
            .map(|t| text(t.into_inner()))
    }

    /// 5.0: the Correlation Data of a request or response.
    pub fn correlation_data(&self) -> Option<&[u8]> {
        self.properties().correlation_data()
    }

    /// 5.0: what is left of the Message Expiry Interval, in seconds [MQTT-3.3.2-6].
    pub fn message_expiry_interval(&self) -> Option<u32> {
        self.properties().message_expiry_interval()
    }

    /// 5.0: the Payload Format Indicator ([`PayloadFormat::Utf8`]: the session checked
    /// that the payload is UTF-8).
    pub fn payload_format(&self) -> PayloadFormat {
        self.properties()
            .payload_format_indicator()
            .unwrap_or_default()
    }

    /// 5.0: the Subscription Identifiers of the subscriptions it matched (the client
    /// sets one per filter and routes by them).
    pub fn subscription_identifiers(&self) -> Vec<SubscriptionId> {
        self.properties().subscription_identifiers().collect()
    }
}

/// A string the decoder validated as UTF-8 (the check cannot fail).
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic())
            .field("payload_len", &self.payload().len())
            .field("qos", &self.qos())
            .field("retain", &self.retain())
            .field("dup", &self.dup())
            .field("properties", &self.properties().len())
            .finish()
    }
}
