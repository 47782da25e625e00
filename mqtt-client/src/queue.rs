//! The buffer between the event loop and one [`crate::Subscription`].
//!
//! The event loop never waits on it, so a slow subscriber cannot stall the
//! connection (nor a publisher awaiting its PUBACK on the same task). Past the
//! capacity, QoS 0 messages are dropped (at most once allows it; they are counted),
//! and QoS 1/2 messages are still queued but their PUBACK/PUBREC is held until the
//! subscriber takes them: the broker's in-flight window then stops the flow, so
//! memory stays bounded by what the broker may send unacknowledged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use mqtt_proto::QoS;
use mqtt_session::DeliveryId;

use crate::client::Control;
use crate::message::Message;

/// At most this many messages past the capacity: a broker has no more distinct
/// packet identifiers to send unacknowledged ones with.
const HELD_LIMIT: usize = 65_535;

/// Sends the held acknowledgement of a message once every subscription that held it
/// has handed it to the application.
pub(crate) struct AckToken {
    pub(crate) delivery: DeliveryId,
    pub(crate) control: async_channel::Sender<Control>,
}

impl Drop for AckToken {
    fn drop(&mut self) {
        // Unbounded channel: never blocks, fails only when the event loop is gone.
        let _ = self.control.try_send(Control::Ack(self.delivery));
    }
}

/// What [`SubQueue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// Queued over capacity; the ack waits for the token.
    Held,
    Dropped,
    Closed,
}

struct Inner {
    items: VecDeque<(Message, Option<Arc<AckToken>>)>,
    capacity: usize,
    waker: Option<Waker>,
    closed: bool,
    dropped: u64,
}

pub(crate) struct SubQueue {
    inner: Mutex<Inner>,
    #[cfg(test)]
    test_id: std::sync::atomic::AtomicU64,
}

impl SubQueue {
    pub(crate) fn new(capacity: usize) -> SubQueue {
        SubQueue {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                capacity,
                waker: None,
                closed: false,
                dropped: 0,
            }),
            #[cfg(test)]
            test_id: Default::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not make every later message panic too.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Offers a message; `hold` makes (or shares) the token of a held ack.
    pub(crate) fn push(
        &self,
        msg: &Message,
        qos: QoS,
        hold: &mut dyn FnMut() -> Arc<AckToken>,
    ) -> Pushed {
        let mut q = self.lock();
        if q.closed {
            return Pushed::Closed;
        }
        let len = q.items.len();
        let pushed = if len < q.capacity {
            q.items.push_back((msg.clone(), None));
            Pushed::Queued
        } else if qos == QoS::AtMostOnce || len >= q.capacity + HELD_LIMIT {
            q.dropped += 1;
            Pushed::Dropped
        } else {
            q.items.push_back((msg.clone(), Some(hold())));
            Pushed::Held
        };
        if pushed != Pushed::Dropped {
            if let Some(w) = q.waker.take() {
                drop(q);
                w.wake();
            }
        }
        pushed
    }

    /// The next message; `None` once closed and drained.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let mut q = self.lock();
        match q.items.pop_front() {
            Some((msg, token)) => {
                drop(q);
                drop(token); // may release a held ack
                Poll::Ready(Some(msg))
            }
            None if q.closed => Poll::Ready(None),
            None => {
                q.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Ends the stream after the queued messages; held acks are released.
    pub(crate) fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        for (_, token) in q.items.iter_mut() {
            token.take();
        }
        if let Some(w) = q.waker.take() {
            drop(q);
            w.wake();
        }
    }

    /// Messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// QoS 0 messages dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    #[cfg(test)]
    pub(crate) fn id_for_tests(&self) -> u64 {
        self.test_id.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn set_id_for_tests(&self, id: u64) {
        self.test_id.store(id, std::sync::atomic::Ordering::Relaxed)
    }
}
