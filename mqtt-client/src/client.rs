//! The application's handle: publish, subscribe, unsubscribe, disconnect, status.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_channel::oneshot;
use futures_core::Stream;
use mqtt_proto::v5::{DisconnectReasonCode, SubscriptionId, SubscriptionOptions};
use mqtt_proto::{QoS, StrError, TopicFilter, TopicName};
use mqtt_session::DeliveryId;

use crate::completion::{AckSlot, Completer, Completions};
use crate::error::ClientError;
use crate::message::Message;
use crate::queue::SubQueue;
use crate::request::Responses;
use crate::router::{Router, SubId};
use crate::status::{ConnectionEvent, ServerInfo, Status};

/// Requests from the handles, in the order they were made.
pub(crate) enum Command {
    Publish {
        message: mqtt_session::Message,
        done: Completer,
    },
    Subscribe {
        filter: TopicFilter<Bytes>,
        options: SubscriptionOptions,
        /// The filter's identifier (5.0; ignored under 3.1.1).
        id: SubscriptionId,
        done: oneshot::Sender<Result<QoS, ClientError>>,
    },
    Unsubscribe {
        filter: TopicFilter<Bytes>,
        done: oneshot::Sender<Result<(), ClientError>>,
    },
    Disconnect {
        /// 5.0: the reason code and a new Session Expiry Interval.
        reason: Option<(DisconnectReasonCode, Option<u32>)>,
        done: oneshot::Sender<Result<(), ClientError>>,
    },
    /// 5.0: re-authenticate with the configured authenticator.
    Reauthenticate {
        done: oneshot::Sender<Result<(), ClientError>>,
    },
}

/// Messages that must never wait (sent from `Drop`): an unbounded channel.
pub(crate) enum Control {
    /// A held acknowledgement is released.
    Ack(DeliveryId),
    /// The last subscription with this filter was dropped.
    Unsubscribe(TopicFilter<Bytes>),
}

/// State shared by the handles and the event loop.
pub(crate) struct Shared {
    pub(crate) router: Mutex<Router>,
    pub(crate) status: Mutex<Status>,
    pub(crate) listeners: Mutex<Vec<async_channel::Sender<ConnectionEvent>>>,
    pub(crate) subscription_capacity: usize,
    /// QoS 1/2 messages a previous process accepted, resumed from the store.
    pub(crate) restored: Vec<mqtt_session::Message>,
    /// 5.0 only (boxed: a 3.1.1 connection carries none of it).
    pub(crate) v5: Option<Box<SharedV5>>,
    /// Where publishes' `Ack`s get their outcome (no allocation per publish).
    pub(crate) completions: Arc<Completions>,
}

/// What the handles and the event loop share under 5.0 only.
pub(crate) struct SharedV5 {
    /// What the server said in its last CONNACK.
    pub(crate) server: Mutex<ServerInfo>,
    /// Requests awaiting their response ([`Client::request`]).
    pub(crate) responses: Mutex<Responses>,
    /// [`crate::Options::response_topic_prefix`].
    pub(crate) response_prefix: Option<String>,
}

impl Shared {
    pub(crate) fn router(&self) -> MutexGuard<'_, Router> {
        self.router.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// 5.0: the last CONNACK's announcements (`None` under 3.1.1).
    pub(crate) fn server(&self) -> Option<MutexGuard<'_, ServerInfo>> {
        let v5 = self.v5.as_ref()?;
        Some(v5.server.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// 5.0: the pending requests (`None` under 3.1.1).
    pub(crate) fn responses(&self) -> Option<MutexGuard<'_, Responses>> {
        let v5 = self.v5.as_ref()?;
        Some(v5.responses.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A topic given as text (validated and copied) or as a ready [`TopicName`].
pub trait IntoTopic {
    /// Validates it [MQTT-4.7.3-1], [MQTT-3.3.2-2].
    fn into_topic(self) -> Result<TopicName<Bytes>, StrError>;
}

impl IntoTopic for &str {
    fn into_topic(self) -> Result<TopicName<Bytes>, StrError> {
        TopicName::from_string(self.into())
    }
}

impl IntoTopic for String {
    fn into_topic(self) -> Result<TopicName<Bytes>, StrError> {
        TopicName::from_string(self)
    }
}

impl IntoTopic for TopicName<Bytes> {
    fn into_topic(self) -> Result<TopicName<Bytes>, StrError> {
        Ok(self)
    }
}

/// A cheap, clonable handle to one MQTT connection. Every method can be called from
/// any task, including the one consuming a [`Subscription`]: the event loop never
/// waits for the application, so this never deadlocks.
#[derive(Clone)]
pub struct Client {
    pub(crate) commands: flume::Sender<Command>,
    pub(crate) control: async_channel::Sender<Control>,
    pub(crate) shared: Arc<Shared>,
}

impl Client {
    /// Publishes and waits until the broker has it: PUBACK for QoS 1, PUBCOMP for
    /// QoS 2, written to the transport for QoS 0. While disconnected the message waits
    /// and is sent after reconnecting; unacknowledged ones are re-sent on resumption.
    pub async fn publish(
        &self,
        topic: impl IntoTopic,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<(), ClientError> {
        self.queue_publish(topic, payload, qos, retain).await?.await
    }

    /// Queues a publish, waiting only for room in the command queue (not for the
    /// broker): the returned [`Ack`] resolves like [`Client::publish`]. This is how a
    /// pipeline keeps many messages in flight while still learning the fate of each.
    pub async fn queue_publish(
        &self,
        topic: impl IntoTopic,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<Ack, ClientError> {
        self.enqueue(prepare(topic, payload, qos, retain)?).await
    }

    /// Hands a message to the event loop, waiting for room in the command queue.
    pub(crate) async fn enqueue(&self, message: mqtt_session::Message) -> Result<Ack, ClientError> {
        let (done, slot) = self.shared.completions.pair();
        self.commands
            .send_async(Command::Publish { message, done })
            .await
            .map_err(|_| ClientError::Closed)?;
        Ok(Ack { slot })
    }

    /// Hands a message to the event loop if the command queue has room.
    pub(crate) fn try_enqueue(&self, message: mqtt_session::Message) -> Result<Ack, ClientError> {
        let (done, slot) = self.shared.completions.pair();
        self.commands
            .try_send(Command::Publish { message, done })
            .map_err(|e| match e {
                flume::TrySendError::Full(_) => ClientError::QueueFull,
                flume::TrySendError::Disconnected(_) => ClientError::Closed,
            })?;
        Ok(Ack { slot })
    }

    /// Queues a publish without waiting; fails with [`ClientError::QueueFull`] when the
    /// command queue is full. The returned [`Ack`] resolves like [`Client::publish`]
    /// (dropping it is fine: the message is still sent).
    pub fn try_publish(
        &self,
        topic: impl IntoTopic,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<Ack, ClientError> {
        self.try_enqueue(prepare(topic, payload, qos, retain)?)
    }

    /// Subscribes to a topic filter and returns the stream of its messages once the
    /// broker granted it (SUBACK). Messages are routed from the moment of this call,
    /// so call it before spawning the event loop to catch what a resumed session
    /// delivers right after CONNACK. Dropping the [`Subscription`] unsubscribes.
    ///
    /// A shared subscription (`$share/{ShareName}/{filter}`, 5.0) gets its share of
    /// the messages matching `{filter}`.
    pub fn subscribe(
        &self,
        filter: &str,
        qos: QoS,
    ) -> impl Future<Output = Result<Subscription, ClientError>> + Send + 'static {
        self.subscribe_with(filter, SubscriptionOptions::new(qos))
    }

    /// [`Client::subscribe`] with 5.0 Subscription Options: No Local (not this
    /// client's own messages), Retain As Published, Retain Handling. Under 3.1.1 only
    /// the QoS is used. Subscriptions with the same filter share one broker
    /// subscription, whose options are the latest subscriber's.
    pub fn subscribe_with(
        &self,
        filter: &str,
        options: SubscriptionOptions,
    ) -> impl Future<Output = Result<Subscription, ClientError>> + Send + 'static {
        let registered = TopicFilter::from_string(filter.into())
            .map_err(ClientError::InvalidTopic)
            .map(|filter| {
                let queue = Arc::new(SubQueue::new(self.shared.subscription_capacity));
                let (id, sid) = self.shared.router().insert(filter.clone(), queue.clone());
                let sub = Subscription {
                    id,
                    filter,
                    granted: options.qos,
                    queue,
                    client: self.clone(),
                };
                (sub, sid)
            });
        async move {
            let (mut sub, sid) = registered?;
            let (done, granted) = oneshot::channel();
            let cmd = Command::Subscribe {
                filter: sub.filter.clone(),
                options,
                id: sid,
                done,
            };
            sub.client
                .commands
                .send_async(cmd)
                .await
                .map_err(|_| ClientError::Closed)?;
            match granted.await {
                Ok(Ok(q)) => {
                    sub.granted = q;
                    Ok(sub)
                }
                Ok(Err(e)) => {
                    sub.forget();
                    Err(e)
                }
                Err(_) => Err(ClientError::Closed),
            }
        }
    }

    /// Unsubscribes from a filter: every [`Subscription`] with exactly this filter
    /// ends, and the call returns on UNSUBACK.
    pub async fn unsubscribe(&self, filter: &str) -> Result<(), ClientError> {
        let filter = TopicFilter::from_string(filter.into()).map_err(ClientError::InvalidTopic)?;
        {
            let mut router = self.shared.router();
            for id in router.ids_of(filter.as_str()) {
                router.remove(id);
            }
        }
        let (done, rx) = oneshot::channel();
        self.commands
            .send_async(Command::Unsubscribe { filter, done })
            .await
            .map_err(|_| ClientError::Closed)?;
        rx.await.unwrap_or(Err(ClientError::Closed))
    }

    /// Sends DISCONNECT after everything queued before it, closes the connection and
    /// ends the event loop. The broker discards the will [MQTT-3.1.2-10].
    pub async fn disconnect(&self) -> Result<(), ClientError> {
        self.send_disconnect(None).await
    }

    pub(crate) async fn send_disconnect(
        &self,
        reason: Option<(DisconnectReasonCode, Option<u32>)>,
    ) -> Result<(), ClientError> {
        let (done, rx) = oneshot::channel();
        self.commands
            .send_async(Command::Disconnect { reason, done })
            .await
            .map_err(|_| ClientError::Closed)?;
        rx.await.unwrap_or(Ok(()))
    }

    /// The QoS 1/2 messages an earlier process accepted and this client resumes from
    /// its store ([`crate::Options::store`]): they are sent (again, with their
    /// original packet identifiers where they had one) as the session resumes; no
    /// [`Ack`] follows them, their publisher is gone. QoS 2 messages the broker
    /// already has (PUBREC came; only PUBREL is left) are among them. Empty without a
    /// store.
    pub fn restored(&self) -> &[mqtt_session::Message] {
        &self.shared.restored
    }

    /// A snapshot: connection state, in-flight and queued counts, reconnects.
    pub fn status(&self) -> Status {
        let mut s = self.shared.status().clone();
        s.subscriptions = self.shared.router().len();
        s.queued += self.commands.len();
        s
    }

    /// A stream of connection changes from now on. It holds the latest 64 events; a
    /// listener that falls further behind misses the oldest.
    pub fn connection_events(&self) -> ConnectionEvents {
        let (tx, rx) = async_channel::bounded(64);
        self.shared
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        ConnectionEvents { rx: Box::pin(rx) }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("status", &self.status())
            .finish()
    }
}

fn prepare(
    topic: impl IntoTopic,
    payload: impl Into<Bytes>,
    qos: QoS,
    retain: bool,
) -> Result<mqtt_session::Message, ClientError> {
    let topic = topic.into_topic().map_err(ClientError::InvalidTopic)?;
    let mut message = mqtt_session::Message::new(topic, payload, qos);
    message.retain = retain;
    Ok(message)
}

/// Resolves when a published message is acknowledged (see [`Client::publish`]).
#[must_use = "an Ack does nothing unless awaited; dropping it does not cancel the publish"]
pub struct Ack {
    slot: AckSlot,
}

impl Future for Ack {
    type Output = Result<(), ClientError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.slot).poll(cx)
    }
}

/// The messages matching one topic filter, as a `Stream` (or with [`Subscription::recv`]).
/// Dropping it unsubscribes (when no other subscription has the same filter).
pub struct Subscription {
    id: SubId,
    filter: TopicFilter<Bytes>,
    granted: QoS,
    queue: Arc<SubQueue>,
    client: Client,
}

impl Subscription {
    /// The topic filter.
    pub fn filter(&self) -> &str {
        self.filter.as_str()
    }

    /// The maximum QoS the broker granted.
    pub fn granted_qos(&self) -> QoS {
        self.granted
    }

    /// The next message; `None` after unsubscribing or when the event loop ended.
    pub async fn recv(&mut self) -> Option<Message> {
        std::future::poll_fn(|cx| self.queue.poll_pop(cx)).await
    }

    /// Messages waiting in this subscription's queue.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// QoS 0 messages dropped because this queue was full.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }

    /// Removes it from routing without sending UNSUBSCRIBE (the broker refused it).
    pub(crate) fn forget(&mut self) {
        self.client.shared.router().remove(self.id);
    }
}

impl Stream for Subscription {
    type Item = Message;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.queue.poll_pop(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let removed = self.client.shared.router().remove(self.id);
        if let Some((filter, false)) = removed {
            let _ = self.client.control.try_send(Control::Unsubscribe(filter));
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("filter", &self.filter())
            .field("granted_qos", &self.granted)
            .field("queued", &self.len())
            .finish()
    }
}

/// Connection changes, from [`Client::connection_events`].
pub struct ConnectionEvents {
    rx: Pin<Box<async_channel::Receiver<ConnectionEvent>>>,
}

impl ConnectionEvents {
    /// The next event; `None` once the event loop has ended and all were read.
    pub async fn recv(&mut self) -> Option<ConnectionEvent> {
        self.rx.recv().await.ok()
    }
}

impl Stream for ConnectionEvents {
    type Item = ConnectionEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ConnectionEvent>> {
        self.rx.as_mut().poll_next(cx)
    }
}
