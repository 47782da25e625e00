//! A connection's read pacing (see `pacing`): the wait before the next read, and the
//! socket's receive low-water mark raised for its length.

use std::io;
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use mqtt_session::Stats;

use super::conn::PACED_LOW_WATER;
use crate::pacing::Pacer;
use crate::runtime::{BoxFuture, Io, Runtime};
use crate::transport::set_read_low_water;

/// A connection's read pacing.
pub(super) struct ReadPace {
    pacer: Pacer,
    /// The burst of reads in progress: when it began, and the packets received
    /// before it.
    burst: Option<(StdInstant, u64)>,
    /// The next read waits for this.
    wait: Option<BoxFuture<()>>,
    /// The runtime can raise the socket's receive low-water mark: false once it
    /// said it cannot.
    low_water: bool,
    /// The mark is raised for the wait in progress.
    raised: bool,
    /// The mark was lowered and no read has brought data since. A read that finds
    /// the socket not ready may have seen the readiness from before the wait (the
    /// lowering makes the socket report readable, and that wake is on its way), so
    /// it neither ends the burst nor starts a wait. Until a read brings data the mark
    /// stays down: raised again before the reactor has seen that wake, it would hide
    /// the data already waiting (epoll checks the mark when it reports the event).
    rearmed: bool,
}

impl ReadPace {
    /// Pacing by `wait` (not zero).
    pub(super) fn new(wait: Duration) -> Self {
        ReadPace {
            pacer: Pacer::new(wait),
            burst: None,
            wait: None,
            low_water: true,
            raised: false,
            rearmed: false,
        }
    }

    /// `Ready(Ok)` when the socket may be read: no wait, or the wait is over (and
    /// the mark lowered again). `Err`: the mark could not be lowered; below it the
    /// socket would stay silent, so the connection must be given up.
    pub(super) fn poll_wait<R: Runtime>(
        &mut self,
        io: &mut dyn Io,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(wait) = self.wait.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        if wait.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.wait = None;
        if std::mem::take(&mut self.raised) {
            set_read_low_water::<R>(io, 1)?;
            self.rearmed = true;
        }
        Poll::Ready(Ok(()))
    }

    /// A read brought data, when `stats` (read before the data is handled) held
    /// the packets received so far.
    pub(super) fn on_read(&mut self, now: StdInstant, stats: impl FnOnce() -> Stats) {
        self.rearmed = false;
        if self.burst.is_none() {
            self.burst = Some((now, stats().packets_received));
        }
    }

    /// A read found the socket empty. Returns true when a wait began, which the
    /// caller must poll ([`ReadPace::poll_wait`]) before the task sleeps: an
    /// unpolled timer wakes nothing, and under the raised mark neither does the
    /// socket, so data would sit unread until some other event came.
    pub(super) fn drained<R: Runtime>(
        &mut self,
        io: &mut dyn Io,
        now: StdInstant,
        stats: Stats,
        max_inflight: u16,
    ) -> bool {
        if self.rearmed {
            return false; // not the end of a burst: see `rearmed`
        }
        let received = stats.packets_received;
        let (start, before) = self.burst.take().unwrap_or((now, received));
        let blocked = (stats.queued > 0 && stats.inflight > 0).then(|| u64::from(max_inflight));
        let next = self.pacer.drained(start, now, received - before, blocked);
        self.wait = next.map(R::sleep_until);
        if self.wait.is_none() {
            return false;
        }
        if self.low_water {
            // Segments that arrive during the wait no longer wake the runtime, one
            // wake each.
            match set_read_low_water::<R>(io, PACED_LOW_WATER) {
                Ok(raised) => (self.low_water, self.raised) = (raised, raised),
                Err(e) => {
                    tracing::debug!(error = %e, "no receive low-water mark");
                    self.low_water = false;
                }
            }
        }
        true
    }
}
