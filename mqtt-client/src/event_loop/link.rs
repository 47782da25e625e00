//! The transport: connecting (with failover and timeouts), reading into the
//! session, and what follows when the connection goes down.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant as StdInstant;

use bytes::BytesMut;
use mqtt_session::Instant;
use tracing::{debug, info, trace, warn};

use super::conn::{read_some, AckHold, Conn, READ_MIN};
use super::pace::ReadPace;
use super::{EventLoop, Link};
use crate::coalesce::{AckCoalescing, Coalescer};
use crate::error::ClientError;
use crate::runtime::Runtime;
use crate::status::{Cause, ConnectionEvent, LinkState};

impl<R: Runtime> EventLoop<R> {
    // The transport.

    pub(super) fn poll_link(&mut self, cx: &mut Context<'_>) -> bool {
        let now = StdInstant::now();
        match &mut self.link {
            Link::Idle { retry_at } => {
                if self.finished.is_some() || !self.disconnecting.is_empty() {
                    return false;
                }
                if retry_at.is_some_and(|t| t > now) {
                    return false;
                }
                let broker = self.next_broker % self.brokers.len();
                // A redirect is tried once; the failover list continues after it.
                let (target, next_broker) = match self.redirect.take() {
                    Some(b) => (b, broker),
                    None => (Box::new(self.brokers[broker].clone()), broker + 1),
                };
                let url = target.url();
                info!(broker = %url, "connecting");
                self.status.state = LinkState::Connecting;
                self.status.broker = Some(url);
                let dial = Box::pin(self.dialer.clone().dial::<R>((*target).clone()));
                self.link = Link::Connecting {
                    next_broker,
                    target,
                    deadline: now + self.connect_timeout,
                    dial,
                };
                true
            }
            Link::Connecting {
                next_broker,
                target,
                deadline,
                dial,
            } => {
                let next = *next_broker;
                match dial.as_mut().poll(cx) {
                    Poll::Ready(Ok(io)) => {
                        debug!(broker = %target.url(), "transport open; sending CONNECT");
                        let broker = target.clone();
                        self.link = Link::Up(Conn {
                            io,
                            broker,
                            rbuf: BytesMut::new(),
                            spare: BytesMut::new(),
                            pace: (!self.read_pacing.is_zero())
                                .then(|| Box::new(ReadPace::new(self.read_pacing))),
                            read_window: READ_MIN,
                            read_total: 0,
                            wq: VecDeque::new(),
                            queued_total: 0,
                            written_total: 0,
                            needs_flush: false,
                            closing: false,
                            close_cause: None,
                            acks: (self.ack_coalescing != AckCoalescing::Off).then(|| {
                                Box::new(AckHold {
                                    puback: self.ack_coalescing == AckCoalescing::All,
                                    coalescer: Coalescer::new(true),
                                    wq_acks: 0,
                                    wq_only_acks: true,
                                    timer: None,
                                })
                            }),
                        });
                        if let Err(e) = self.session.connect(self.now()) {
                            warn!(error = %e, "session refused to connect");
                        }
                        true
                    }
                    Poll::Ready(Err(e)) => {
                        let url = target.url();
                        self.connect_failed(next, &url, Cause::Io(Arc::new(e)));
                        true
                    }
                    Poll::Pending if now >= *deadline => {
                        let url = target.url();
                        self.connect_failed(next, &url, Cause::ConnectTimeout);
                        true
                    }
                    Poll::Pending => false,
                }
            }
            Link::Up(conn) => {
                if conn.closing {
                    // After a violation, a peer that does not take the DISCONNECT in
                    // time is dropped anyway.
                    if conn.close_cause.as_ref().is_some_and(|c| now >= c.1) {
                        if let Some(c) = conn.close_cause.take() {
                            let (cause, _) = *c;
                            self.link_down(cause);
                            return true;
                        }
                    }
                    return false;
                }
                let mut progress = false;
                loop {
                    if let Some(p) = conn.pace.as_mut() {
                        match p.poll_wait::<R>(&mut *conn.io, cx) {
                            Poll::Pending => return progress, // read when the wait ends
                            Poll::Ready(Ok(())) => {}
                            Poll::Ready(Err(e)) => {
                                // Below the raised mark the socket would stay silent:
                                // give the connection up rather than stall.
                                debug!(error = %e, "lowering the receive low-water mark failed");
                                self.status.last_cause = Some(Cause::Io(Arc::new(e)));
                                self.session.handle_transport_closed(self.now());
                                return true;
                            }
                        }
                    }
                    let mut waiting = false;
                    for _ in 0..4 {
                        match read_some(conn, cx) {
                            Poll::Ready(Ok(0)) => {
                                debug!("transport closed by the broker");
                                self.status.last_cause = None;
                                self.session.handle_transport_closed(self.now());
                                return true;
                            }
                            Poll::Ready(Ok(n)) => {
                                trace!(bytes = n, "read");
                                progress = true;
                                if let Some(a) = &mut conn.acks {
                                    a.coalescer.on_read(now);
                                }
                                if let Some(p) = conn.pace.as_mut() {
                                    p.on_read(now, || self.session.stats());
                                }
                                // The clock read above serves: a read takes microseconds.
                                let now = Instant::from_millis(
                                    now.duration_since(self.origin).as_millis() as u64,
                                );
                                self.session.handle_read(now, &mut conn.rbuf);
                            }
                            Poll::Ready(Err(e)) => {
                                debug!(error = %e, "read failed");
                                self.status.last_cause = Some(Cause::Io(Arc::new(e)));
                                self.session.handle_transport_closed(self.now());
                                return true;
                            }
                            Poll::Pending => {
                                if let Some(p) = conn.pace.as_mut() {
                                    let stats = self.session.stats();
                                    let max = self.session.config().max_inflight;
                                    waiting = p.drained::<R>(&mut *conn.io, now, stats, max);
                                }
                                break;
                            }
                        }
                    }
                    if !waiting {
                        return progress;
                    }
                    // A wait began: polled at once (see `ReadPace::drained`).
                }
            }
        }
    }

    fn connect_failed(&mut self, next_broker: usize, url: &str, cause: Cause) {
        warn!(broker = %url, %cause, "connect failed");
        self.next_broker = next_broker;
        self.link_down(cause);
    }

    /// The transport is gone: notify, then schedule a reconnect or finish.
    pub(super) fn link_down(&mut self, cause: Cause) {
        if !self.written.is_empty() {
            debug!(
                lost = self.written.len(),
                "QoS 0 messages not written before the connection ended"
            );
        }
        for (_, done) in self.written.drain(..) {
            done.send(Err(ClientError::ConnectionLost));
        }
        self.status.last_cause = Some(cause.clone());
        self.notify(ConnectionEvent::Disconnected {
            cause: cause.clone(),
        });
        match self.reconnect {
            Some(backoff) if self.disconnecting.is_empty() => {
                let delay = backoff.delay(self.attempt);
                self.attempt = self.attempt.saturating_add(1);
                info!(attempt = self.attempt, ?delay, "reconnecting");
                self.status.state = LinkState::Reconnecting;
                self.status.reconnects += 1;
                self.notify(ConnectionEvent::Reconnecting {
                    attempt: self.attempt,
                    delay,
                });
                self.link = Link::Idle {
                    retry_at: Some(StdInstant::now() + delay),
                };
            }
            _ => {
                self.link = Link::Idle { retry_at: None };
                self.finished = Some(if self.disconnecting.is_empty() {
                    Err(ClientError::Connection(cause))
                } else {
                    Ok(())
                });
            }
        }
    }
}
