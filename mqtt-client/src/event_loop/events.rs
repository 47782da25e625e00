//! Session events: connections made and lost, incoming messages routed to
//! subscriptions, and completed operations answered.

use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use mqtt_proto::v5::{PropertyValues, ReasonCode};
use mqtt_proto::SubackReturnCode;
use mqtt_session::{DisconnectReason, Event, Incoming, NotSent, OpId, Outcome};
use tracing::{debug, info, trace, warn};

use super::{EventLoop, Link, Waiter};
use crate::error::ClientError;
use crate::message::Message;
use crate::options::Broker;
use crate::queue::{AckToken, Pushed};
use crate::runtime::Runtime;
use crate::status::{Cause, ConnectionEvent, LinkState};

/// How long a connection closing after a protocol violation may take to write the
/// session's DISCONNECT before it is dropped anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

impl<R: Runtime> EventLoop<R> {
    // Session events.

    pub(super) fn process_events(&mut self) -> bool {
        let mut progress = false;
        while let Some(event) = self.session.poll_event() {
            progress = true;
            match event {
                Event::Message(incoming) => self.route(incoming),
                Event::Completed { op, outcome } => self.complete(op, outcome),
                Event::Connected { session_present } => {
                    let broker = match &self.link {
                        Link::Up(c) => c.broker.url(),
                        _ => String::new(),
                    };
                    self.record_server();
                    for done in self.authenticating.drain(..) {
                        let _ = done.send(Ok(()));
                    }
                    info!(%broker, session_present, "connected");
                    self.attempt = 0;
                    self.status.state = LinkState::Connected;
                    self.notify(ConnectionEvent::Connected {
                        broker,
                        session_present,
                    });
                }
                Event::SessionLost {
                    republished,
                    failed,
                    resubscribed,
                } => {
                    warn!(
                        republished,
                        failed, resubscribed, "the broker lost the session"
                    );
                }
                Event::Disconnected { reason } => self.on_disconnected(reason),
                Event::Reauthenticated => {
                    info!("re-authenticated");
                    for done in self.reauthenticating.drain(..) {
                        let _ = done.send(Ok(()));
                    }
                }
                other => debug!(?other, "session event"),
            }
        }
        progress
    }

    fn on_disconnected(&mut self, reason: DisconnectReason) {
        let Link::Up(conn) = &mut self.link else {
            return;
        };
        if reason == DisconnectReason::Local {
            // Write the DISCONNECT (and what precedes it), then close.
            conn.closing = true;
            return;
        }
        info!(?reason, "disconnected");
        let cause = match (reason, self.status.last_cause.take()) {
            (DisconnectReason::TransportClosed, Some(io @ Cause::Io(_))) => io,
            (DisconnectReason::Server(reason_code), _) => {
                let d = self.session.server_disconnect();
                let text = |s: Option<mqtt_proto::Str<Bytes>>| s.map(|s| s.as_str().to_owned());
                Cause::Server {
                    reason_code,
                    reason_string: text(d.and_then(|d| d.properties.reason_string())),
                    server_reference: text(d.and_then(|d| d.properties.server_reference())),
                }
            }
            (r, _) => Cause::Session(r),
        };
        self.follow_server_reference(&cause, reason);
        let err = ClientError::Connection(cause.clone());
        for done in self.reauthenticating.drain(..) {
            let _ = done.send(Err(err.clone()));
        }
        let violation = matches!(
            reason,
            DisconnectReason::Protocol(_) | DisconnectReason::Auth(_)
        );
        if let (true, Link::Up(conn)) = (violation, &mut self.link) {
            // The session's DISCONNECT (5.0, with its reason code) is written first.
            conn.closing = true;
            conn.close_cause = Some(Box::new((cause, StdInstant::now() + CLOSE_GRACE)));
            return;
        }
        self.link_down(cause);
    }

    /// 5.0: keeps what the CONNACK announced for
    /// [`Client::server_limits`](crate::Client::server_limits).
    fn record_server(&mut self) {
        let Some(limits) = self.session.server_limits() else {
            return;
        };
        let connack = self.session.connack();
        let Some(mut info) = self.shared.server() else {
            return;
        };
        info.limits = Some(limits.clone());
        info.assigned_client_id = self
            .session
            .assigned_client_id()
            .map(|s| s.as_str().to_owned());
        info.response_information = connack
            .and_then(|c| c.properties.response_information())
            .map(|s| s.as_str().to_owned());
    }

    /// 5.0: a server that sends us elsewhere (0x9C Use another server, 0x9D Server
    /// moved) with a Server Reference gets the next attempt pointed there (section
    /// 4.11). The reference is `host` or `host:port`, reached like the current broker.
    fn follow_server_reference(&mut self, cause: &Cause, reason: DisconnectReason) {
        use mqtt_proto::v5::{ConnectReasonCode as R, DisconnectReasonCode as D};
        let moved = match reason {
            DisconnectReason::Server(c) => matches!(c, D::UseAnotherServer | D::ServerMoved),
            DisconnectReason::RefusedV5(c) => matches!(c, R::UseAnotherServer | R::ServerMoved),
            _ => false,
        };
        if !moved {
            return;
        }
        let reference = match cause {
            Cause::Server {
                server_reference, ..
            } => server_reference.clone(),
            _ => self
                .session
                .connack()
                .and_then(|c| c.properties.server_reference())
                .map(|s| s.as_str().to_owned()),
        };
        let Some(reference) = reference else { return };
        let Link::Up(conn) = &self.link else { return };
        // Several references may be listed, space separated: the first is taken.
        let first = reference.split(' ').next().unwrap_or_default();
        if let Some(target) = referenced_broker(&conn.broker, first) {
            info!(server_reference = %first, "the server sent us to another server");
            self.redirect = Some(Box::new(target));
        }
    }

    fn route(&mut self, incoming: Incoming) {
        self.status.messages_received += 1;
        let qos = incoming.qos();
        let delivery = incoming.delivery;
        let msg = Message::new(incoming);
        let mut token: Option<Arc<AckToken>> = None;
        let (mut matched, mut dropped) = (0usize, 0u64);
        {
            let props = msg.properties();
            // 5.0: the identifiers say which subscriptions it is for (empty: 3.1.1,
            // or a server without identifiers; route by topic then).
            let identified = props.subscription_identifiers().next().is_some();
            let responded = props.correlation_data().is_some()
                && self
                    .shared
                    .responses()
                    .is_some_and(|mut r| r.deliver(&msg, identified));
            let control = &self.control_tx;
            let mut hold = || {
                token
                    .get_or_insert_with(|| {
                        Arc::new(AckToken {
                            // Only QoS 1/2 are ever held, and those have a delivery.
                            delivery: delivery.expect("QoS 1/2 delivery"),
                            control: control.clone(),
                        })
                    })
                    .clone()
            };
            let mut push = |queue: &Arc<crate::queue::SubQueue>| {
                matched += 1;
                if queue.push(&msg, qos, &mut hold) == Pushed::Dropped {
                    dropped += 1;
                }
            };
            let router = self.shared.router();
            let known = identified
                && router.for_each_identified(
                    msg.topic(),
                    props.subscription_identifiers(),
                    &mut push,
                );
            if !known && !responded {
                router.for_each_match(msg.topic(), &mut push);
            }
            if responded {
                matched += 1;
            }
        }
        self.status.messages_dropped += dropped;
        if matched == 0 {
            self.status.messages_unrouted += 1;
            debug!(topic = msg.topic(), "message matches no subscription");
        }
        trace!(
            topic = msg.topic(),
            ?qos,
            len = msg.payload().len(),
            matched,
            "message"
        );
        if token.is_none() {
            if let Some(delivery) = delivery {
                let _ = self.session.ack(self.clock, delivery);
            }
        }
    }

    fn complete(&mut self, op: OpId, outcome: Outcome) {
        let Some(waiter) = self.waiters.remove(&op) else {
            return;
        };
        // The status snapshot first: whoever the completion wakes may read it at once
        // (in-flight counts must already say the operation is done).
        self.publish_status();
        match (waiter, outcome) {
            (Waiter::Publish(done), Outcome::Sent) => {
                // QoS 0: resolved once the transport took the last byte handed out.
                match &self.link {
                    Link::Up(conn) => self.written.push_back((conn.queued_total_after(), done)),
                    _ => {
                        done.send(Ok(()));
                    }
                }
            }
            (Waiter::Publish(done), Outcome::Acknowledged) => {
                done.send(Ok(()));
            }
            (Waiter::Publish(done), outcome) => {
                done.send(Err(failure(outcome)));
            }
            (Waiter::Subscribe { done, .. }, Outcome::Subscribed(codes)) => {
                let result = match codes.iter().next() {
                    Some(SubackReturnCode::Success(q)) => Ok(q),
                    _ => Err(ClientError::SubscribeRefused),
                };
                let _ = done.send(result);
            }
            (Waiter::Subscribe { done, .. }, Outcome::SubscribedV5(codes)) => {
                let result = match codes.iter().next() {
                    Some(code) => code
                        .granted_qos()
                        .ok_or(ClientError::SubscribeRejected(code)),
                    None => Err(ClientError::SubscribeRefused),
                };
                let _ = done.send(result);
            }
            (
                Waiter::Subscribe {
                    done,
                    retry: Some((filter, options)),
                },
                Outcome::NotSent(NotSent::SubscriptionIdentifiersNotSupported),
            ) => {
                // The server takes no identifiers: subscribe without (routed by topic).
                let items = [(filter, options)];
                match self
                    .session
                    .subscribe_with(self.now(), &items, &PropertyValues::default())
                {
                    Ok(op) => {
                        let retry = None;
                        self.waiters.insert(op, Waiter::Subscribe { done, retry });
                    }
                    Err(e) => {
                        let _ = done.send(Err(ClientError::Session(e)));
                    }
                }
            }
            (Waiter::Subscribe { done, .. }, outcome) => {
                let _ = done.send(Err(failure(outcome)));
            }
            (Waiter::Unsubscribe(done), Outcome::Unsubscribed) => {
                let _ = done.send(Ok(()));
            }
            (Waiter::Unsubscribe(done), Outcome::UnsubscribedV5(codes)) => {
                let result = match codes.iter().find(|c| c.is_error()) {
                    Some(code) => Err(ClientError::UnsubscribeRejected(code)),
                    None => Ok(()),
                };
                let _ = done.send(result);
            }
            (Waiter::Unsubscribe(done), outcome) => {
                let _ = done.send(Err(failure(outcome)));
            }
        }
    }
}

/// The broker a Server Reference names: `host`, `host:port`, `[v6]`, `[v6]:port`,
/// reached with the current broker's scheme (and port when none is given).
fn referenced_broker(current: &Broker, reference: &str) -> Option<Broker> {
    let (host, port) = if let Some(rest) = reference.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (host, p.parse().ok()?),
            None if after.is_empty() => (host, current.port),
            None => return None,
        }
    } else {
        match reference.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, p.parse().ok()?),
            Some(_) => (reference, current.port), // a bare IPv6 address
            None => (reference, current.port),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(Broker {
        host: host.to_owned(),
        port,
        ..current.clone()
    })
}

/// The error of an operation that ended other than as asked.
fn failure(outcome: Outcome) -> ClientError {
    match outcome {
        Outcome::Rejected {
            reason_code,
            reason_string,
        } => ClientError::Rejected {
            reason_code,
            reason_string: reason_string.map(|s| s.as_str().to_owned()),
        },
        Outcome::NotSent(n) => ClientError::NotSent(n),
        Outcome::Expired => ClientError::Expired,
        _ => ClientError::SessionLost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_references_name_a_broker_reached_the_same_way() {
        let current = Broker::parse("mqtts://a.example:8883").unwrap();
        let to = |r: &str| referenced_broker(&current, r).map(|b| b.url());
        assert_eq!(to("b.example"), Some("mqtts://b.example:8883".into()));
        assert_eq!(to("b.example:9000"), Some("mqtts://b.example:9000".into()));
        assert_eq!(to("[::1]:9000"), Some("mqtts://[::1]:9000".into()));
        assert_eq!(to("[::1]"), Some("mqtts://[::1]:8883".into()));
        assert_eq!(to("::1"), Some("mqtts://[::1]:8883".into()));
        assert_eq!(to("b.example:port"), None);
        assert_eq!(to(""), None);
        assert_eq!(to("[::1"), None);
    }
}
