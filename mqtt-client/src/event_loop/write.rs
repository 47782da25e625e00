//! Output to the transport (queued, held back for acknowledgements, written,
//! closed) and the timer that wakes the loop for the next deadline.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use futures_io::AsyncWrite;
use tracing::{debug, info, trace};

use super::{EventLoop, Link};
use crate::coalesce::count_acks;
use crate::runtime::Runtime;
use crate::status::Cause;

impl<R: Runtime> EventLoop<R> {
    // Output to the transport.

    pub(super) fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Link::Up(conn) = &mut self.link else {
            // Nothing can be written; the session re-creates what matters on connect.
            while self.session.poll_transmit().is_some() {}
            return false;
        };
        let mut progress = false;
        while let Some(t) = self.session.poll_transmit() {
            trace!(bytes = t.len(), "transmit");
            // Once anything else is queued the count no longer matters.
            if let Some(a) = conn.acks.as_mut().filter(|a| a.wq_only_acks) {
                match count_acks(&t.head, a.puback) {
                    Some(n) if t.payload.is_empty() => a.wq_acks += n,
                    _ => a.wq_only_acks = false,
                }
            }
            conn.push(t.head);
            conn.push(t.payload);
            // Handing out a QoS 0 publish completes it: run a round for that event.
            progress = true;
        }
        if conn.hold_acks::<R>(cx) {
            return progress;
        }
        match conn.flush_some(cx) {
            Ok(true) => progress = true,
            Ok(false) => {}
            Err(e) => {
                debug!(error = %e, "write failed");
                if let Some(c) = conn.close_cause.take() {
                    self.link_down(c.0);
                    return true;
                }
                self.status.last_cause = Some(Cause::Io(Arc::new(e)));
                self.session.handle_transport_closed(self.now());
                return true;
            }
        }
        let written = conn.written_total;
        while self
            .written
            .front()
            .is_some_and(|(mark, _)| *mark <= written)
        {
            if let Some((_, done)) = self.written.pop_front() {
                done.send(Ok(()));
            }
        }
        if conn.closing && conn.wq.is_empty() && !conn.needs_flush {
            match Pin::new(&mut conn.io).poll_close(cx) {
                Poll::Pending => return progress,
                Poll::Ready(r) => {
                    if let Err(e) = r {
                        debug!(error = %e, "close failed");
                    }
                    if let Some(c) = conn.close_cause.take() {
                        self.link_down(c.0);
                        return true;
                    }
                    info!("disconnected");
                    self.link = Link::Idle { retry_at: None };
                    self.finished = Some(Ok(()));
                    return true;
                }
            }
        }
        progress
    }

    pub(super) fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let mut wake: Option<StdInstant> = self.session.poll_timeout().map(|t| self.to_std(t));
        let link_deadline = match &self.link {
            Link::Idle {
                retry_at: Some(t), ..
            } => Some(*t),
            Link::Connecting { deadline, .. } => Some(*deadline),
            Link::Up(conn) => conn.close_cause.as_ref().map(|c| c.1),
            _ => None,
        };
        wake = match (wake, link_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(wake) = wake else {
            self.timer = None;
            return false;
        };
        if self.timer.as_ref().is_none_or(|(at, _)| *at > wake) {
            // Round up to the millisecond the session counts in, so that the timer
            // never fires just before a deadline and spins.
            self.timer = Some((wake, R::sleep_until(wake + Duration::from_millis(1))));
        }
        let (_, sleep) = self.timer.as_mut().expect("armed above");
        if sleep.as_mut().poll(cx).is_ready() {
            self.timer = None;
            return true;
        }
        false
    }
}
