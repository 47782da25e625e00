//! 5.0 request / response ([`crate::Client::request`]): one response topic per
//! client, subscribed on the first request, and the requests awaiting an answer by
//! Correlation Data.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_channel::oneshot;
use mqtt_proto::v5::{SubscriptionId, SubscriptionOptions};
use mqtt_proto::{QoS, TopicFilter, TopicName};

use crate::client::{Client, Command, Shared};
use crate::client_v5::response_topic;
use crate::error::ClientError;
use crate::message::Message;

/// The response topic and the requests awaiting their answer.
#[derive(Default)]
pub(crate) struct Responses {
    /// The response topic and the Subscription Identifier of its subscription.
    route: Option<(TopicName<Bytes>, SubscriptionId)>,
    /// SUBACK granted the response topic.
    subscribed: bool,
    pending: HashMap<Bytes, oneshot::Sender<Message>>,
    next: u64,
}

impl Responses {
    /// Takes `msg` if it answers a pending request: it came for the response
    /// subscription (by identifier, or by topic from a server without identifiers)
    /// with a pending request's Correlation Data. True when taken.
    pub(crate) fn deliver(&mut self, msg: &Message, identified: bool) -> bool {
        let Some((topic, sid)) = &self.route else {
            return false;
        };
        let ours = if identified {
            msg.properties()
                .subscription_identifiers()
                .any(|id| id == *sid)
        } else {
            msg.topic() == topic.as_str()
        };
        if !ours {
            return false;
        }
        // A late answer (its request gone) is still ours: taken, and dropped.
        if let Some(tx) = msg
            .correlation_data()
            .and_then(|data| self.pending.remove(data))
        {
            let _ = tx.send(msg.clone());
        }
        true
    }

    /// Fails every pending request (the event loop ended).
    pub(crate) fn close(&mut self) {
        self.pending.clear();
    }
}

/// Makes sure the response topic is subscribed and registers a request; returns the
/// response topic, the request's Correlation Data and its answer.
pub(crate) async fn register(
    client: &Client,
) -> Result<(TopicName<Bytes>, Bytes, Response), ClientError> {
    let shared = &client.shared;
    let Some(v5) = shared.v5.as_deref() else {
        return Err(ClientError::Session(mqtt_session::Error::Unsupported));
    };
    let responses = || v5.responses.lock().unwrap_or_else(|e| e.into_inner());
    let route = responses().route.clone();
    let (topic, sid) = match route {
        Some(r) => r,
        None => {
            let base = v5
                .server
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .response_information
                .clone()
                .or_else(|| v5.response_prefix.clone());
            let topic = response_topic(base.as_deref())
                .ok_or(ClientError::Session(mqtt_session::Error::Unsupported))?;
            let sid = shared.router().fresh_sid();
            let sid = SubscriptionId::new(sid).expect("identifiers start at 1");
            responses().route.get_or_insert((topic, sid)).clone()
        }
    };
    if !responses().subscribed {
        // Concurrent first requests may each subscribe: the broker keeps one.
        let filter =
            TopicFilter::from_string(topic.as_str().into()).map_err(ClientError::InvalidTopic)?;
        let (done, granted) = oneshot::channel();
        client
            .commands
            .send_async(Command::Subscribe {
                filter,
                options: SubscriptionOptions::new(QoS::ExactlyOnce),
                id: sid,
                done,
            })
            .await
            .map_err(|_| ClientError::Closed)?;
        granted.await.unwrap_or(Err(ClientError::Closed))?;
        responses().subscribed = true;
    }
    let (tx, rx) = oneshot::channel();
    let correlation = {
        let mut r = responses();
        r.next += 1;
        let key = Bytes::copy_from_slice(&r.next.to_be_bytes());
        r.pending.insert(key.clone(), tx);
        key
    };
    let response = Response {
        rx,
        key: correlation.clone(),
        shared: shared.clone(),
    };
    Ok((topic, correlation, response))
}

/// The answer to one request; dropping it forgets the request.
pub(crate) struct Response {
    rx: oneshot::Receiver<Message>,
    key: Bytes,
    shared: Arc<Shared>,
}

impl Future for Response {
    type Output = Result<Message, ClientError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.map_err(|_| ClientError::Closed))
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if let Some(mut r) = self.shared.responses() {
            r.pending.remove(&self.key);
        }
    }
}
