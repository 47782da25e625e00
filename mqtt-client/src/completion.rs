//! Publish acknowledgements without an allocation each: a client's [`crate::Ack`]s
//! and the event loop's [`Completer`]s meet in slots of one table that the client
//! and its event loop share, reused as publishes complete.
//!
//! A slot has two owners, the `Ack` (the application's side) and the `Completer` (the
//! event loop's), and is free again only when both are gone, so an index is never
//! reused while either side can still reach it. A `Completer` dropped without a result
//! (the event loop ended) completes with [`ClientError::Closed`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::error::ClientError;

type Outcome = Result<(), ClientError>;

/// The table of slots.
#[derive(Default)]
pub(crate) struct Completions {
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    entries: Vec<Slot>,
    free: Vec<usize>,
}

#[derive(Default)]
struct Slot {
    outcome: Option<Outcome>,
    waker: Option<Waker>,
    /// The `Ack` exists.
    ack: bool,
    /// The `Completer` exists.
    completer: bool,
}

/// Slots kept after they all became free: a burst of publishes larger than this
/// gives its memory back once it is over.
const KEEP: usize = 1024;

impl Completions {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new slot: the event loop's side and the application's.
    pub(crate) fn pair(self: &Arc<Self>) -> (Completer, AckSlot) {
        let mut slots = self.lock();
        let fresh = Slot {
            outcome: None,
            waker: None,
            ack: true,
            completer: true,
        };
        let index = match slots.free.pop() {
            Some(i) => {
                slots.entries[i] = fresh;
                i
            }
            None => {
                slots.entries.push(fresh);
                slots.entries.len() - 1
            }
        };
        drop(slots);
        (
            Completer {
                table: Some(self.clone()),
                index,
            },
            AckSlot {
                table: self.clone(),
                index,
            },
        )
    }

    /// Slots in use (tests).
    #[cfg(test)]
    fn in_use(&self) -> usize {
        let slots = self.lock();
        slots.entries.len() - slots.free.len()
    }
}

impl Slots {
    fn release(&mut self, index: usize) {
        self.entries[index] = Slot::default();
        self.free.push(index);
        if self.free.len() == self.entries.len() && self.entries.capacity() > KEEP {
            self.entries = Vec::new();
            self.free = Vec::new();
        }
    }
}

/// The event loop's side of a publish's acknowledgement.
pub(crate) struct Completer {
    /// `None` once completed.
    table: Option<Arc<Completions>>,
    index: usize,
}

impl Completer {
    /// Completes the publish: its `Ack` resolves with `outcome`.
    pub(crate) fn send(mut self, outcome: Outcome) {
        self.complete(outcome);
    }

    fn complete(&mut self, outcome: Outcome) {
        let Some(table) = self.table.take() else {
            return;
        };
        let mut slots = table.lock();
        let slot = &mut slots.entries[self.index];
        slot.completer = false;
        let waker = slot.waker.take();
        if slot.ack {
            slot.outcome = Some(outcome);
        } else {
            slots.release(self.index);
        }
        drop(slots);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        self.complete(Err(ClientError::Closed));
    }
}

/// The application's side, inside an [`crate::Ack`].
pub(crate) struct AckSlot {
    table: Arc<Completions>,
    index: usize,
}

impl Future for AckSlot {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut slots = self.table.lock();
        let slot = &mut slots.entries[self.index];
        if let Some(outcome) = slot.outcome.take() {
            return Poll::Ready(outcome);
        }
        if !slot.completer {
            // Polled again after its outcome was taken.
            return Poll::Ready(Err(ClientError::Closed));
        }
        match &mut slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for AckSlot {
    fn drop(&mut self) {
        let mut slots = self.table.lock();
        let slot = &mut slots.entries[self.index];
        slot.ack = false;
        slot.waker = None;
        if !slot.completer {
            slots.release(self.index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(ack: &mut AckSlot, wakes: &Arc<Count>) -> Poll<Outcome> {
        let waker = Waker::from(wakes.clone());
        Pin::new(ack).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn the_outcome_reaches_the_ack_and_wakes_it() {
        let table = Arc::new(Completions::default());
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        let (done, mut ack) = table.pair();
        assert!(poll(&mut ack, &wakes).is_pending());
        done.send(Err(ClientError::QueueFull));
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            poll(&mut ack, &wakes),
            Poll::Ready(Err(ClientError::QueueFull))
        ));
        drop(ack);
        assert_eq!(table.in_use(), 0);
    }

    #[test]
    fn a_completer_dropped_without_an_outcome_closes() {
        let table = Arc::new(Completions::default());
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        let (done, mut ack) = table.pair();
        assert!(poll(&mut ack, &wakes).is_pending());
        drop(done);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            poll(&mut ack, &wakes),
            Poll::Ready(Err(ClientError::Closed))
        ));
    }

    /// A slot is reused only when both sides are gone, whichever goes first.
    #[test]
    fn slots_are_reused_only_when_both_sides_are_gone() {
        let table = Arc::new(Completions::default());
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        let (done_a, ack_a) = table.pair();
        drop(ack_a); // the application does not wait
        assert_eq!(table.in_use(), 1, "the event loop still holds it");
        let (done_b, mut ack_b) = table.pair();
        assert_ne!(done_a.index, done_b.index);
        done_a.send(Ok(()));
        assert_eq!(table.in_use(), 1);
        let (done_c, mut ack_c) = table.pair();
        assert_eq!(done_c.index, 0, "a's slot, free again");
        done_c.send(Err(ClientError::QueueFull));
        done_b.send(Ok(()));
        assert!(matches!(poll(&mut ack_b, &wakes), Poll::Ready(Ok(()))));
        assert!(matches!(
            poll(&mut ack_c, &wakes),
            Poll::Ready(Err(ClientError::QueueFull))
        ));
        drop((ack_b, ack_c));
        assert_eq!(table.in_use(), 0);
    }

    /// After a burst larger than `KEEP`, the table gives its memory back.
    #[test]
    fn a_burst_gives_its_memory_back() {
        let table = Arc::new(Completions::default());
        let pairs: Vec<_> = (0..KEEP * 2).map(|_| table.pair()).collect();
        assert!(table.lock().entries.capacity() >= KEEP * 2);
        for (done, ack) in pairs {
            done.send(Ok(()));
            drop(ack);
        }
        assert_eq!(table.lock().entries.capacity(), 0);
    }
}
