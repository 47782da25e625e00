//! The 5.0 side of [`Client`]: messages with properties, request / response,
//! disconnect with a reason, re-authentication, what the server announced.

use std::time::Duration;

use bytes::Bytes;
use futures_channel::oneshot;
use mqtt_proto::v5::{DisconnectReasonCode, PayloadFormat};
use mqtt_proto::{QoS, Str, TopicName};
use mqtt_session::{MessageProperties, ServerLimits};

use crate::client::{Ack, Client, Command, IntoTopic};
use crate::error::ClientError;
use crate::message::Message;

impl Client {
    /// Starts a message with 5.0 properties (under 3.1.1 only topic, payload, QoS
    /// and retain are sent). Invalid input shows up as an `Err` of the final call.
    ///
    /// ```no_run
    /// # async fn f(client: mqtt_client::Client) -> Result<(), mqtt_client::ClientError> {
    /// use std::time::Duration;
    /// use mqtt_client::QoS;
    ///
    /// client
    ///     .message("sensors/1/temp", "21.5")
    ///     .qos(QoS::AtLeastOnce)
    ///     .content_type("text/plain")
    ///     .user_property("unit", "celsius")
    ///     .message_expiry(Duration::from_secs(300))
    ///     .publish()
    ///     .await?; // PUBACK received
    /// # Ok(()) }
    /// ```
    pub fn message(&self, topic: impl IntoTopic, payload: impl Into<Bytes>) -> PublishBuilder<'_> {
        let message = topic
            .into_topic()
            .map_err(ClientError::InvalidTopic)
            .map(|t| mqtt_session::Message::new(t, payload, QoS::AtMostOnce));
        PublishBuilder {
            client: self,
            message,
            properties: MessageProperties::default(),
        }
    }

    /// 5.0: answers a request: publishes `payload` to the request's Response Topic
    /// with its Correlation Data, at the request's QoS, and waits like
    /// [`Client::publish`]. [`ClientError::NoResponseTopic`] when it has none.
    pub async fn respond(
        &self,
        request: &Message,
        payload: impl Into<Bytes>,
    ) -> Result<(), ClientError> {
        let Some(topic) = request.response_topic() else {
            return Err(ClientError::NoResponseTopic);
        };
        let mut reply = self.message(topic, payload).qos(request.qos());
        if let Some(data) = request.correlation_data() {
            reply = reply.correlation_data(Bytes::copy_from_slice(data));
        }
        reply.publish().await
    }

    /// 5.0: publishes a request and waits for its response: the message carries a
    /// Response Topic this client subscribed to (once, on the first request) and
    /// Correlation Data unique to it; the first message back on that topic with the
    /// same Correlation Data is the answer. Wrap it in your runtime's timeout;
    /// dropping the future forgets the request. A 3.1.1 client has no response
    /// topics: [`mqtt_session::Error::Unsupported`].
    pub async fn request(
        &self,
        topic: impl IntoTopic,
        payload: impl Into<Bytes>,
        qos: QoS,
    ) -> Result<Message, ClientError> {
        self.message(topic, payload).qos(qos).request().await
    }

    /// 5.0: ends the connection with a reason code (e.g.
    /// [`DisconnectReasonCode::DisconnectWithWillMessage`], which has the broker
    /// publish the will) and, optionally, a new Session Expiry Interval in seconds
    /// (refused when the session was opened with 0). Under 3.1.1 the same as
    /// [`Client::disconnect`].
    pub async fn disconnect_with(
        &self,
        reason_code: DisconnectReasonCode,
        session_expiry_interval: Option<u32>,
    ) -> Result<(), ClientError> {
        self.send_disconnect(Some((reason_code, session_expiry_interval)))
            .await
    }

    /// 5.0: re-authenticates with the authenticator of
    /// [`crate::Options::authenticator`] (AUTH 0x19) and returns when the server
    /// accepted it. Messages keep flowing meanwhile. While offline it resolves with
    /// the next connection, whose CONNECT authenticates afresh.
    pub async fn reauthenticate(&self) -> Result<(), ClientError> {
        let (done, rx) = oneshot::channel();
        self.commands
            .send_async(Command::Reauthenticate { done })
            .await
            .map_err(|_| ClientError::Closed)?;
        rx.await.unwrap_or(Err(ClientError::Closed))
    }

    /// 5.0: what the server allows on the current (or last) connection, from its
    /// CONNACK: Receive Maximum, Maximum Packet Size, Topic Alias Maximum, Maximum
    /// QoS, Retain / Wildcard / Shared Subscription / Subscription Identifier
    /// Available, Server Keep Alive, Session Expiry Interval. `None` before the
    /// first CONNACK and under 3.1.1.
    pub fn server_limits(&self) -> Option<ServerLimits> {
        self.shared.server()?.limits.clone()
    }

    /// 5.0: the Client Identifier the server assigned, when the configured one was
    /// empty.
    pub fn assigned_client_id(&self) -> Option<String> {
        self.shared.server()?.assigned_client_id.clone()
    }
}

/// A message being built by [`Client::message`]: set its QoS, retain flag and 5.0
/// properties, then [`publish`](PublishBuilder::publish) it,
/// [`queue`](PublishBuilder::queue) it, [`try_publish`](PublishBuilder::try_publish)
/// it, or send it as a [`request`](PublishBuilder::request).
#[must_use = "a PublishBuilder sends nothing until publish, queue, try_publish or request"]
pub struct PublishBuilder<'c> {
    client: &'c Client,
    message: Result<mqtt_session::Message, ClientError>,
    properties: MessageProperties,
}

impl<'c> PublishBuilder<'c> {
    /// Quality of service (default: at most once).
    pub fn qos(mut self, qos: QoS) -> Self {
        if let Ok(m) = &mut self.message {
            m.qos = qos;
        }
        self
    }

    /// Ask the broker to retain it.
    pub fn retain(mut self, retain: bool) -> Self {
        if let Ok(m) = &mut self.message {
            m.retain = retain;
        }
        self
    }

    /// Content Type, e.g. a MIME type.
    pub fn content_type(mut self, content_type: &str) -> Self {
        match Str::from_string(content_type.into()) {
            Ok(s) => self.properties.content_type = Some(s),
            Err(e) => self.fail(ClientError::InvalidProperty(e)),
        }
        self
    }

    /// Adds a User Property (sent in the order added; a name may repeat).
    pub fn user_property(mut self, name: &str, value: &str) -> Self {
        match (
            Str::from_string(name.into()),
            Str::from_string(value.into()),
        ) {
            (Ok(k), Ok(v)) => self.properties.user_properties.push((k, v)),
            (Err(e), _) | (_, Err(e)) => self.fail(ClientError::InvalidProperty(e)),
        }
        self
    }

    /// Response Topic: where the receiver should answer.
    pub fn response_topic(mut self, topic: impl IntoTopic) -> Self {
        match topic.into_topic() {
            Ok(t) => self.properties.response_topic = Some(t),
            Err(e) => self.fail(ClientError::InvalidTopic(e)),
        }
        self
    }

    /// Correlation Data: ties a response to its request (at most 65,535 bytes).
    pub fn correlation_data(mut self, data: impl Into<Bytes>) -> Self {
        self.properties.correlation_data = Some(data.into());
        self
    }

    /// Message Expiry Interval (whole seconds): a message not yet sent when it
    /// passes is dropped ([`ClientError::Expired`]); the broker drops it too once it
    /// passes [MQTT-3.3.2-5].
    pub fn message_expiry(mut self, expiry: Duration) -> Self {
        self.properties.message_expiry_interval =
            Some(u32::try_from(expiry.as_secs()).unwrap_or(u32::MAX));
        self
    }

    /// Payload Format Indicator: [`PayloadFormat::Utf8`] promises a UTF-8 payload
    /// (checked before sending).
    pub fn payload_format(mut self, format: PayloadFormat) -> Self {
        self.properties.payload_format_indicator = Some(format);
        self
    }

    fn fail(&mut self, e: ClientError) {
        if self.message.is_ok() {
            self.message = Err(e);
        }
    }

    fn build(self) -> Result<(&'c Client, mqtt_session::Message), ClientError> {
        let client = self.client;
        let message = self.message?;
        let message = if self.properties == MessageProperties::default() {
            message
        } else {
            message.with_properties(self.properties)
        };
        Ok((client, message))
    }

    /// Publishes and waits like [`Client::publish`]; a 5.0 broker's refusal is
    /// [`ClientError::Rejected`].
    pub async fn publish(self) -> Result<(), ClientError> {
        self.queue().await?.await
    }

    /// Queues it like [`Client::queue_publish`].
    pub async fn queue(self) -> Result<Ack, ClientError> {
        let (client, message) = self.build()?;
        client.enqueue(message).await
    }

    /// Queues it without waiting, like [`Client::try_publish`].
    pub fn try_publish(self) -> Result<Ack, ClientError> {
        let (client, message) = self.build()?;
        client.try_enqueue(message)
    }

    /// Sends it as a request and waits for the response (see [`Client::request`]);
    /// its Response Topic and Correlation Data are the client's.
    pub async fn request(self) -> Result<Message, ClientError> {
        let (client, mut message) = self.build()?;
        let (topic, correlation, response) = crate::request::register(client).await?;
        let props = message.properties.get_or_insert_with(Default::default);
        props.response_topic = Some(topic);
        props.correlation_data = Some(correlation);
        client.enqueue(message).await?.await?;
        response.await
    }
}

/// The default response topic prefix, when the server gave no Response Information.
pub(crate) const RESPONSE_PREFIX: &str = "mqtt-rr";

/// A topic for this client's responses under `base`.
pub(crate) fn response_topic(base: Option<&str>) -> Option<TopicName<Bytes>> {
    let base = base.unwrap_or(RESPONSE_PREFIX).trim_end_matches('/');
    let id = crate::backoff::random_u64();
    TopicName::from_string(format!("{base}/{id:016x}")).ok()
}
