//! Inputs from the application: control messages (acknowledgements, dropped
//! subscriptions) and commands, handed to the session.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use mqtt_proto::v5::PropertyValues;
use mqtt_session::State as SessionState;
use tracing::{debug, info, trace};

use super::{EventLoop, Link, Waiter};
use crate::client::{Command, Control};
use crate::error::ClientError;
use crate::runtime::Runtime;

/// Commands taken per round, so reads and writes interleave with a busy publisher.
const COMMANDS_PER_ROUND: usize = 256;

impl<R: Runtime> EventLoop<R> {
    // Inputs from the application.

    pub(super) fn poll_control(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Poll::Ready(Some(ctl)) = self.control.as_mut().poll_next(cx) {
            progress = true;
            let now = self.clock;
            match ctl {
                Control::Ack(delivery) => {
                    // A stale delivery (older connection) is fine to ignore: the
                    // broker sends the message again.
                    let _ = self.session.ack(now, delivery);
                }
                Control::Unsubscribe(filter) => {
                    if let Err(e) = self.session.unsubscribe(now, &[filter]) {
                        debug!(error = %e, "unsubscribe of a dropped subscription failed");
                    }
                }
            }
        }
        progress
    }

    pub(super) fn poll_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        if let Some(cmd) = self.stashed.take() {
            if !self.apply(cmd) {
                return false;
            }
            progress = true;
        }
        for _ in 0..COMMANDS_PER_ROUND {
            let Some(commands) = self.commands.as_mut() else {
                break;
            };
            match Pin::new(commands).poll_next(cx) {
                Poll::Ready(Some(cmd)) => {
                    progress = true;
                    if !self.apply(cmd) {
                        break;
                    }
                }
                Poll::Ready(None) => {
                    // Every handle is gone: nobody can use the connection any more.
                    if self.disconnecting.is_empty() && self.finished.is_none() {
                        debug!("all client handles dropped; disconnecting");
                        self.start_disconnect();
                        progress = true;
                    }
                    break;
                }
                Poll::Pending => break,
            }
        }
        progress
    }

    /// Hands a command to the session; false (and stashed) when its queue is full.
    fn apply(&mut self, cmd: Command) -> bool {
        let now = self.clock;
        match cmd {
            Command::Publish { message, done } => {
                let qos = message.qos;
                match self.session.publish(now, message.clone()) {
                    Ok(op) => {
                        trace!(op = op.get(), ?qos, "publish queued");
                        self.waiters.insert(op, Waiter::Publish(done));
                    }
                    Err(mqtt_session::Error::QueueFull) => {
                        self.stashed = Some(Command::Publish { message, done });
                        return false;
                    }
                    Err(e) => {
                        done.send(Err(ClientError::Session(e)));
                    }
                }
            }
            Command::Subscribe {
                filter,
                options,
                id,
                done,
            } => {
                // An identifier only where the server takes them (unknown before the
                // first CONNACK: tried, and sent again without if refused).
                let with_id = self
                    .session
                    .server_limits()
                    .is_some_and(|l| l.subscription_identifier_available);
                let ids = [id];
                let props = PropertyValues {
                    subscription_identifiers: if with_id { &ids } else { &[] },
                    ..PropertyValues::default()
                };
                let items = [(filter.clone(), options)];
                match self.session.subscribe_with(now, &items, &props) {
                    Ok(op) => {
                        info!(filter = %filter, qos = ?options.qos, "subscribe");
                        let retry = with_id.then_some((filter, options));
                        self.waiters.insert(op, Waiter::Subscribe { done, retry });
                    }
                    Err(mqtt_session::Error::QueueFull) => {
                        self.stashed = Some(Command::Subscribe {
                            filter,
                            options,
                            id,
                            done,
                        });
                        return false;
                    }
                    Err(e) => {
                        let _ = done.send(Err(ClientError::Session(e)));
                    }
                }
            }
            Command::Unsubscribe { filter, done } => {
                match self.session.unsubscribe(now, std::slice::from_ref(&filter)) {
                    Ok(op) => {
                        info!(filter = %filter, "unsubscribe");
                        self.waiters.insert(op, Waiter::Unsubscribe(done));
                    }
                    Err(mqtt_session::Error::QueueFull) => {
                        self.stashed = Some(Command::Unsubscribe { filter, done });
                        return false;
                    }
                    Err(e) => {
                        let _ = done.send(Err(ClientError::Session(e)));
                    }
                }
            }
            Command::Disconnect { reason, done } => {
                if let Some((code, expiry)) = reason {
                    if matches!(self.link, Link::Up(_)) {
                        let props = PropertyValues {
                            session_expiry_interval: expiry,
                            ..PropertyValues::default()
                        };
                        // Emits Disconnected { Local }; the link then flushes and closes.
                        if let Err(e) = self.session.disconnect_with(now, code, &props) {
                            let _ = done.send(Err(ClientError::Session(e)));
                            return true;
                        }
                        info!(reason = ?code, "disconnecting");
                        self.disconnecting.push(done);
                        return true;
                    }
                }
                self.disconnecting.push(done);
                self.start_disconnect();
            }
            // Offline, the next connection's CONNECT authenticates afresh: that answers.
            Command::Reauthenticate { done } if self.session.state() != SessionState::Connected => {
                self.authenticating.push(done);
            }
            Command::Reauthenticate { done } => match self.session.reauthenticate(now) {
                Ok(()) => {
                    info!("re-authenticating");
                    self.reauthenticating.push(done);
                }
                Err(e) => {
                    let _ = done.send(Err(ClientError::Session(e)));
                }
            },
        }
        true
    }

    fn start_disconnect(&mut self) {
        info!("disconnecting");
        if matches!(self.link, Link::Up(_)) {
            // Emits Disconnected { Local }; the link then flushes and closes.
            self.session.disconnect(self.now());
        } else {
            self.link = Link::Idle { retry_at: None };
            self.finished = Some(Ok(()));
        }
    }
}
