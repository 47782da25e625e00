//! A connection: its transport, read buffer and window, and write queue, with its
//! read pacing and acknowledgement coalescing; reading from it and writing to it.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant as StdInstant;

use bytes::{Buf, Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};

use crate::coalesce::{Coalescer, Decision};
use crate::options::Broker;
use crate::runtime::{BoxFuture, BoxIo, Runtime};
use crate::status::Cause;

/// The read window: how many bytes one read call may take. It starts small (an idle
/// connection holds little memory, and a small read zero-fills little) and doubles
/// while reads fill it, up to the maximum; it halves again when reads come in small.
pub(super) const READ_MIN: usize = 1024;
const READ_MAX: usize = 64 * 1024;
/// The socket's receive low-water mark while a paced read waits: a full read, more
/// than a wait of a millisecond or so brings in, so the socket stays silent until
/// the wait ends.
pub(super) const PACED_LOW_WATER: usize = READ_MAX;
/// A connection that has read this much is busy: its read buffers grow by 4 KiB at
/// least (an idle one, reading a PINGRESP a minute, takes weeks to get there).
const BUSY_AFTER: u64 = 64 * 1024;
/// Most slices per vectored write (a header and a payload per PUBLISH).
const MAX_SLICES: usize = 128;

pub(super) struct Conn {
    pub(super) io: BoxIo,
    pub(super) broker: Box<Broker>,
    pub(super) rbuf: BytesMut,
    /// The bytes right after `rbuf` in its allocation that an earlier read window
    /// initialized and the read did not fill: the next window reuses them instead of
    /// zeroing them again (futures-io reads only into initialized memory).
    pub(super) spare: BytesMut,
    /// The current read window (between `READ_MIN` and `READ_MAX`).
    pub(super) read_window: usize,
    /// Bytes read on this connection so far.
    pub(super) read_total: u64,
    pub(super) wq: VecDeque<Bytes>,
    pub(super) queued_total: u64,
    pub(super) written_total: u64,
    pub(super) needs_flush: bool,
    /// DISCONNECT is queued: write everything, close, end.
    pub(super) closing: bool,
    /// Closing after a violation (5.0: the session's DISCONNECT with its reason code
    /// goes out first, section 4.13): why, and when to stop waiting for the write.
    pub(super) close_cause: Option<Box<(Cause, StdInstant)>>,
    /// `Options::ack_coalescing`: holds acknowledgements back while the broker
    /// streams. Boxed: absent unless asked for.
    pub(super) acks: Option<Box<AckHold>>,
    /// `Options::read_pacing`: defers the next read while the broker streams.
    /// Boxed: absent when turned off.
    pub(super) pace: Option<Box<super::pace::ReadPace>>,
}

/// A connection's acknowledgement coalescing (see `coalesce`).
pub(super) struct AckHold {
    /// PUBACKs may wait too (`AckCoalescing::All`).
    pub(super) puback: bool,
    pub(super) coalescer: Coalescer,
    /// Acknowledgements in `wq`, and whether `wq` holds nothing else.
    pub(super) wq_acks: usize,
    pub(super) wq_only_acks: bool,
    /// Wakes the loop when held acknowledgements are due.
    pub(super) timer: Option<(StdInstant, BoxFuture<()>)>,
}

pub(super) fn read_some(conn: &mut Conn, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
    let start = conn.rbuf.len();
    let window = conn.read_window;
    // Back to one buffer: data, then what earlier windows initialized (no copy: the
    // two are contiguous unless the buffer was replaced since).
    conn.rbuf.unsplit(std::mem::take(&mut conn.spare));
    if conn.rbuf.capacity() - start < window {
        // A new buffer when views of the old one (messages) are still alive. A quiet
        // connection takes just its window (1 KiB idle); one with traffic at least
        // 4 KiB, so that small reads share an allocation.
        conn.rbuf.truncate(start);
        let busy = conn.read_total > BUSY_AFTER;
        conn.rbuf.reserve(if busy {
            window.max(READ_MIN * 4)
        } else {
            window
        });
    }
    // Zero only what no earlier window initialized.
    if conn.rbuf.len() < start + window {
        conn.rbuf.resize(start + window, 0);
    }
    let r = Pin::new(&mut conn.io).poll_read(cx, &mut conn.rbuf[start..start + window]);
    let n = match &r {
        Poll::Ready(Ok(n)) => (*n).min(window),
        _ => 0,
    };
    conn.spare = conn.rbuf.split_off(start + n);
    conn.read_total += n as u64;
    if n == window {
        conn.read_window = (window * 2).min(READ_MAX);
    } else if matches!(r, Poll::Ready(Ok(_))) && n < window / 4 {
        conn.read_window = (window / 2).max(READ_MIN);
    }
    r
}

impl Conn {
    /// True while only acknowledgements are queued and the coalescer holds them.
    pub(super) fn hold_acks<R: Runtime>(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(a) = &mut self.acks else {
            return false;
        };
        if self.wq.is_empty() || self.closing {
            return false;
        }
        if !a.wq_only_acks {
            // Written now: no clock read on a publisher's every write.
            a.coalescer.write_other();
            a.timer = None;
            return false;
        }
        let now = StdInstant::now();
        let Decision::HoldUntil(due) = a.coalescer.decide(now, a.wq_only_acks, a.wq_acks) else {
            a.timer = None;
            return false;
        };
        if a.timer.as_ref().is_none_or(|(at, _)| *at != due) {
            a.timer = Some((due, R::sleep_until(due)));
        }
        let (_, sleep) = a.timer.as_mut().expect("armed above");
        if sleep.as_mut().poll(cx).is_pending() {
            return true;
        }
        // Due: this decision records a flush forced by the deadline.
        a.timer = None;
        let _ = a.coalescer.decide(now.max(due), a.wq_only_acks, a.wq_acks);
        false
    }

    pub(super) fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.queued_total += b.len() as u64;
            self.wq.push_back(b);
        }
    }

    /// The write mark of everything handed out so far.
    pub(super) fn queued_total_after(&self) -> u64 {
        self.queued_total
    }

    /// Writes what it can (vectored); true when bytes moved or a flush completed.
    pub(super) fn flush_some(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let mut progress = false;
        while !self.wq.is_empty() {
            // On the stack: no allocation per write.
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, b) in slices.iter_mut().zip(self.wq.iter()) {
                *slot = IoSlice::new(b);
                count += 1;
            }
            match Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(mut n)) => {
                    progress = true;
                    self.needs_flush = true;
                    self.written_total += n as u64;
                    while n > 0 {
                        let front = self.wq.front_mut().expect("wrote more than queued");
                        if n >= front.len() {
                            n -= front.len();
                            self.wq.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(progress),
            }
        }
        if let Some(a) = &mut self.acks {
            a.wq_acks = 0;
            a.wq_only_acks = true;
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }
}
