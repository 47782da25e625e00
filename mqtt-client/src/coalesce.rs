//! Acknowledgement coalescing: while the broker streams, the PUBACK, PUBREC, PUBREL
//! and PUBCOMP its packets call for wait a moment (at most [`DELAY`], at most the
//! current cap) so that one write carries several.
//!
//! Why: the broker writes one packet per segment, so a subscriber that answers every
//! read pays one `writev` (and, on loopback, the broker's TCP receive path) per
//! message: a quarter of a QoS 1 client's CPU and more at QoS 2. The application never
//! waits on these acknowledgements; only the broker's in-flight window does. So:
//!
//! - Only while streaming: a read that follows the previous one within
//!   [`STREAM_GAP`]. The first message of a burst, and every message of a slow
//!   stream, is acknowledged at once, so a quiet connection takes no extra timer wake.
//! - Anything else (a PUBLISH, SUBSCRIBE, PINGREQ, DISCONNECT) goes out at once and
//!   takes the held acknowledgements with it.
//! - A held PUBREL delays the PUBCOMP that frees a slot of our own window; when the
//!   window is what limits us, nothing arrives while it is held, which is the stall
//!   pattern below.
//! - A broker whose window is smaller than what we hold stops sending until the
//!   deadline flush, then resumes within a round trip. That pattern (nothing read
//!   while acknowledgements were held, the deadline flush, then a read within
//!   [`STALL_GAP`]) in [`STALLS`] of the last [`OUTCOMES`] holds halves the cap to
//!   what fitted. One alone proves little: a busy broker pauses too, and under QoS 2
//!   the broker forwards a message only once the publisher's PUBREL came; a hold that
//!   ends because the cap was reached proves that data kept coming; sixty-four
//!   flushes in a row that reach the cap double it again, up to [`MAX_HELD`]. A
//!   window of one message turns coalescing off after the first stall; it is tried
//!   again after [`RETRY_AFTER`] (one stall of at most [`DELAY`] each time).

use std::time::{Duration, Instant};

/// Which acknowledgements may wait while the broker streams (`Options::ack_coalescing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckCoalescing {
    /// Every acknowledgement is written as soon as it is due.
    Off,
    /// PUBREC, PUBREL and PUBCOMP (the QoS 2 flows) may wait; PUBACK never does. The
    /// default: at QoS 2 it halves the client's CPU per message at an equal or
    /// better rate, also against a broker that leaves Nagle's algorithm on.
    #[default]
    Qos2,
    /// PUBACK may wait too: about a quarter less CPU per QoS 1 message, but against a
    /// broker that leaves Nagle's algorithm on (mosquitto's default) about 10 % fewer
    /// messages per second, as its next small PUBLISH waits for our TCP
    /// acknowledgement, which waits with the held PUBACKs.
    All,
}

/// Most acknowledgements held back at once.
pub(crate) const MAX_HELD: usize = 8;
/// Longest an acknowledgement is held.
pub(crate) const DELAY: Duration = Duration::from_millis(1);
/// Reads this close together are a stream.
pub(crate) const STREAM_GAP: Duration = Duration::from_millis(1);
/// A read this soon after a deadline flush means the broker was waiting for it.
pub(crate) const STALL_GAP: Duration = Duration::from_millis(5);
/// Stalls among the last [`OUTCOMES`] holds that shrink the cap.
pub(crate) const STALLS: u32 = 6;
/// How many of the last holds [`STALLS`] counts over.
pub(crate) const OUTCOMES: u32 = 8;
/// Flushes in a row that reached the cap before the cap grows again.
const GROW_AFTER: u32 = 64;
/// How long coalescing stays off after stalls turned it off.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(10);

/// What to do with what is queued for writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Write it now.
    Write,
    /// Only acknowledgements are queued: hold them until this instant (or until
    /// more come, or anything else does).
    HoldUntil(Instant),
}

/// The coalescing state of one connection.
#[derive(Debug)]
pub(crate) struct Coalescer {
    /// Acknowledgements held at most; 1 or less holds none.
    cap: usize,
    /// The last read came within [`STREAM_GAP`] of the one before.
    streaming: bool,
    last_read: Option<Instant>,
    /// When the acknowledgements now queued started waiting.
    held_since: Option<Instant>,
    /// Something was read while they waited: the broker was not waiting on them.
    read_while_held: bool,
    /// The last flush that the deadline forced, and how many it carried.
    deadline_flush: Option<(Instant, usize)>,
    /// Flushes in a row that reached the cap.
    full_flushes: u32,
    /// The last holds, newest in bit 0: 1 for a stall.
    outcomes: u8,
    /// How many holds `outcomes` holds (at most [`OUTCOMES`]).
    seen: u32,
    /// Since when stalls have turned coalescing off.
    off_since: Option<Instant>,
}

impl Coalescer {
    /// `enabled`: `Options::ack_coalescing` is not `Off`.
    pub(crate) fn new(enabled: bool) -> Coalescer {
        Coalescer {
            cap: if enabled { MAX_HELD } else { 0 },
            streaming: false,
            last_read: None,
            held_since: None,
            read_while_held: false,
            deadline_flush: None,
            full_flushes: 0,
            outcomes: 0,
            seen: 0,
            off_since: None,
        }
    }

    /// The acknowledgements held at most now.
    #[cfg(test)]
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// A read returned data at `now`.
    pub(crate) fn on_read(&mut self, now: Instant) {
        self.read_while_held |= self.held_since.is_some();
        if let Some((at, held)) = self.deadline_flush.take() {
            let stalled = now.saturating_duration_since(at) < STALL_GAP;
            self.record(now, stalled, held);
        }
        self.streaming = self
            .last_read
            .is_some_and(|t| now.saturating_duration_since(t) < STREAM_GAP);
        self.last_read = Some(now);
    }

    /// How a hold of `held` acknowledgements ended: `stalled` when the peer resumed
    /// as soon as it had them (its window may be about that).
    fn record(&mut self, now: Instant, stalled: bool, held: usize) {
        self.outcomes = (self.outcomes << 1) | u8::from(stalled);
        self.seen = (self.seen + 1).min(OUTCOMES);
        if stalled && self.seen == OUTCOMES && self.outcomes.count_ones() >= STALLS {
            // Hold at most half of what fitted.
            self.cap = self.cap.min(held / 2);
            self.full_flushes = 0;
            self.outcomes = 0;
            self.seen = 0;
            if self.cap <= 1 {
                self.off_since = Some(now);
            }
        }
    }

    /// Something other than acknowledgements is queued: it is written now, and the
    /// acknowledgements with it. Needs no clock (the common case of a publisher).
    pub(crate) fn write_other(&mut self) {
        self.held_since = None;
    }

    /// Something is queued at `now`: `acks` acknowledgements, and `only_acks` when
    /// nothing else is.
    pub(crate) fn decide(&mut self, now: Instant, only_acks: bool, acks: usize) -> Decision {
        if self
            .off_since
            .is_some_and(|t| now.saturating_duration_since(t) >= RETRY_AFTER)
        {
            self.off_since = None;
            self.cap = 2;
        }
        if !only_acks {
            self.write_other();
            return Decision::Write;
        }
        if self.cap <= 1 || !self.streaming {
            self.held_since = None;
            return Decision::Write;
        }
        let since = *self.held_since.get_or_insert_with(|| {
            self.read_while_held = false;
            now
        });
        if acks >= self.cap {
            self.held_since = None;
            self.record(now, false, acks);
            self.full_flushes += 1;
            if self.full_flushes >= GROW_AFTER && self.cap < MAX_HELD {
                self.cap = (self.cap * 2).min(MAX_HELD);
                self.full_flushes = 0;
            }
            return Decision::Write;
        }
        let deadline = since + DELAY;
        if now >= deadline {
            self.held_since = None;
            self.full_flushes = 0;
            if self.read_while_held {
                self.record(now, false, acks);
            } else {
                self.deadline_flush = Some((now, acks));
            }
            return Decision::Write;
        }
        Decision::HoldUntil(deadline)
    }
}

/// Counts the packets in `head` when every one is a PUBREC, PUBREL or PUBCOMP, or a
/// PUBACK when `puback` (3.1.1 or 5.0); `None` when any is something else or `head`
/// does not parse as whole packets.
pub(crate) fn count_acks(head: &[u8], puback: bool) -> Option<usize> {
    let mut rest = head;
    let mut n = 0;
    while let [first, tail @ ..] = rest {
        match first >> 4 {
            5..=7 => {}
            4 if puback => {}
            _ => return None,
        }
        let (len, used) = remaining_length(tail)?;
        rest = tail.get(used + len..)?;
        n += 1;
    }
    Some(n)
}

/// The remaining length varint at the start of `b`: value and bytes used.
fn remaining_length(b: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in b.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    fn streaming(c: &mut Coalescer, t0: Instant) -> Instant {
        c.on_read(t0);
        c.on_read(t0 + 10 * US);
        t0 + 10 * US
    }

    #[test]
    fn acknowledgements_are_counted_only_when_nothing_else_is_queued() {
        // PUBACK 1, PUBREC 2, PUBREL 3 (flags 0b0010), PUBCOMP 4.
        let acks = b"\x40\x02\x00\x01\x50\x02\x00\x02\x62\x02\x00\x03\x70\x02\x00\x04";
        assert_eq!(count_acks(acks, true), Some(4));
        // PUBACK waits only under `AckCoalescing::All`.
        assert_eq!(count_acks(acks, false), None);
        assert_eq!(count_acks(&acks[4..], false), Some(3));
        // 5.0: a PUBACK with a reason code and empty properties.
        assert_eq!(count_acks(b"\x40\x04\x00\x01\x10\x00", true), Some(1));
        // A PINGREQ or a PUBLISH head among them is not an acknowledgement.
        assert_eq!(count_acks(b"\x40\x02\x00\x01\xc0\x00", true), None);
        assert_eq!(count_acks(b"\x32\x07\x00\x01a\x00\x01", true), None);
        // A cut packet is not counted either.
        assert_eq!(count_acks(b"\x40\x02\x00", true), None);
        assert_eq!(count_acks(b"", true), Some(0));
    }

    #[test]
    fn a_quiet_connection_writes_at_once() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(true);
        c.on_read(t0);
        assert_eq!(c.decide(t0, true, 1), Decision::Write);
        // The next read 50 ms later is no stream either.
        c.on_read(t0 + Duration::from_millis(50));
        assert_eq!(
            c.decide(t0 + Duration::from_millis(50), true, 1),
            Decision::Write
        );
    }

    #[test]
    fn a_stream_holds_acknowledgements_up_to_the_cap_or_the_deadline() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(true);
        let t = streaming(&mut c, t0);
        assert_eq!(c.decide(t, true, 1), Decision::HoldUntil(t + DELAY));
        assert_eq!(c.decide(t + US, true, 3), Decision::HoldUntil(t + DELAY));
        assert_eq!(c.decide(t + 2 * US, true, MAX_HELD), Decision::Write);
        // A new batch starts its own deadline, which forces the write.
        let t2 = t + 3 * US;
        assert_eq!(c.decide(t2, true, 1), Decision::HoldUntil(t2 + DELAY));
        assert_eq!(c.decide(t2 + DELAY, true, 2), Decision::Write);
    }

    #[test]
    fn anything_but_acknowledgements_writes_at_once() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(true);
        let t = streaming(&mut c, t0);
        assert_eq!(c.decide(t, false, 2), Decision::Write);
        let mut off = Coalescer::new(false);
        let t = streaming(&mut off, t0);
        assert_eq!(off.decide(t, true, 1), Decision::Write);
    }

    /// A stream of `held` messages, nothing more until the deadline flush, then the
    /// broker resumes at once; returns the time of that read.
    fn stall(c: &mut Coalescer, t: Instant, held: usize) -> Instant {
        c.on_read(t + 10 * US);
        let t = t + 10 * US;
        assert!(matches!(c.decide(t, true, held), Decision::HoldUntil(_)));
        assert_eq!(c.decide(t + DELAY, true, held), Decision::Write);
        c.on_read(t + DELAY + 50 * US);
        t + DELAY + 50 * US
    }

    #[test]
    fn a_broker_waiting_on_held_acknowledgements_shrinks_the_cap() {
        let mut t = Instant::now();
        let mut c = Coalescer::new(true);
        c.on_read(t);
        // A window of 4. A few stalls prove nothing (a busy broker pauses).
        for _ in 1..OUTCOMES {
            t = stall(&mut c, t, 4);
            assert_eq!(c.cap(), MAX_HELD);
        }
        t = stall(&mut c, t, 4);
        assert_eq!(c.cap(), 2);
        // A window of one: coalescing turns off.
        for _ in 0..OUTCOMES {
            t = stall(&mut c, t, 1);
        }
        assert_eq!(c.cap(), 0);
        c.on_read(t + 10 * US);
        assert_eq!(c.decide(t + 10 * US, true, 1), Decision::Write);
        // It is tried again later, with a small cap.
        let later = t + RETRY_AFTER;
        c.on_read(later);
        c.on_read(later + US);
        assert!(matches!(
            c.decide(later + US, true, 1),
            Decision::HoldUntil(_)
        ));
        assert_eq!(c.cap(), 2);
    }

    #[test]
    fn stalls_among_holds_that_fill_up_do_not_shrink_the_cap() {
        let mut t = Instant::now();
        let mut c = Coalescer::new(true);
        c.on_read(t);
        for _ in 0..20 {
            // Two stalls, then two holds ended by the cap: data kept coming.
            t = stall(&mut c, t, 4);
            t = stall(&mut c, t, 4);
            for _ in 0..2 {
                t += 10 * US;
                c.on_read(t);
                assert!(matches!(c.decide(t, true, 1), Decision::HoldUntil(_)));
                assert_eq!(c.decide(t + US, true, MAX_HELD), Decision::Write);
            }
        }
        assert_eq!(c.cap(), MAX_HELD);
    }

    #[test]
    fn a_deadline_flush_followed_by_silence_keeps_the_cap() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(true);
        let t = streaming(&mut c, t0);
        assert!(matches!(c.decide(t, true, 3), Decision::HoldUntil(_)));
        assert_eq!(c.decide(t + DELAY, true, 3), Decision::Write);
        // The burst ended: the next read comes much later.
        c.on_read(t + Duration::from_millis(200));
        assert_eq!(c.cap(), MAX_HELD);
    }

    #[test]
    fn reads_while_holding_mean_the_broker_was_not_waiting() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(true);
        let t = streaming(&mut c, t0);
        assert!(matches!(c.decide(t, true, 1), Decision::HoldUntil(_)));
        // Packets that call for no acknowledgement (PUBACKs to a publisher) go on
        // arriving while one is held.
        c.on_read(t + 100 * US);
        assert_eq!(c.decide(t + DELAY, true, 1), Decision::Write);
        c.on_read(t + DELAY + 10 * US);
        assert_eq!(c.cap(), MAX_HELD);
    }

    #[test]
    fn the_cap_grows_back_after_flushes_that_fill_it() {
        let mut now = Instant::now();
        let mut c = Coalescer::new(true);
        c.on_read(now);
        for _ in 0..OUTCOMES {
            now = stall(&mut c, now, 4);
        }
        assert_eq!(c.cap(), 2);
        for _ in 0..GROW_AFTER {
            now += 10 * US;
            c.on_read(now);
            assert_eq!(c.decide(now, true, c.cap()), Decision::Write);
        }
        assert_eq!(c.cap(), 4);
    }

    mod prop {
        use proptest::prelude::*;

        use super::super::*;

        #[derive(Debug, Clone)]
        enum Step {
            /// Time passes (microseconds), then a read.
            Read(u32),
            /// Time passes, then a decision on `acks` queued (`only` acknowledgements).
            Decide(u32, usize, bool),
        }

        fn step() -> impl Strategy<Value = Step> {
            prop_oneof![
                (0u32..3_000).prop_map(Step::Read),
                (0u32..3_000, 0usize..12, any::<bool>())
                    .prop_map(|(d, n, o)| Step::Decide(d, n, o)),
            ]
        }

        proptest! {
            /// Whatever happens: anything but acknowledgements is written at once, no
            /// more than the cap (at most `MAX_HELD`) is ever held, and nothing is held
            /// past `DELAY` after its batch began.
            #[test]
            fn holds_are_bounded(enabled in any::<bool>(), steps in proptest::collection::vec(step(), 1..200)) {
                let mut c = Coalescer::new(enabled);
                let mut now = Instant::now();
                let mut batch_start: Option<Instant> = None;
                for s in steps {
                    match s {
                        Step::Read(d) => {
                            now += Duration::from_micros(d.into());
                            c.on_read(now);
                        }
                        Step::Decide(d, acks, only) => {
                            now += Duration::from_micros(d.into());
                            let decision = c.decide(now, only, acks);
                            let cap = c.cap();
                            match decision {
                                Decision::Write => batch_start = None,
                                Decision::HoldUntil(due) => {
                                    prop_assert!(enabled && only);
                                    prop_assert!(acks < cap && cap <= MAX_HELD);
                                    let start = *batch_start.get_or_insert(now);
                                    prop_assert!(due > now && due <= start + DELAY);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
