//! Read pacing: while the broker streams, the next read waits a moment
//! (`Options::read_pacing`, 1 ms by default) so that one read takes many packets.
//!
//! Why: mosquitto writes every packet on its own, so a client that reads as soon as
//! the socket is readable wakes, reads and answers once per segment: per QoS 1
//! message a wake, a read, and a `writev` for the PUBACK, whose receive path the
//! kernel charges to us on loopback. Waiting a millisecond lets the segments pile up
//! (and a broker with Nagle's algorithm on merges them, as our acknowledgements come
//! less often), so one wake reads dozens of packets and one write answers them all.
//! Measured on mosquitto 2.0.11: half the client CPU per QoS 1 message, same rate.
//!
//! - Only while streaming: after a burst of reads drained the socket, the next
//!   read waits only if this burst began within [`STREAM_GAP`] of the previous one's
//!   end, or if it followed a wait and took at least [`WORTH`] packets. The first
//!   message after a quiet spell, and every message of a slow stream, is read at once.
//! - A wait that brought fewer than [`WORTH`] packets was useless: the broker was
//!   waiting on us (a window of one message, a request and its response). Such
//!   stalls in [`STALLS`] of the last [`OUTCOMES`] waits turn pacing off for
//!   [`RETRY_AFTER`].
//! - A broker that keeps only a few messages in flight before it waits for their
//!   acknowledgements is held up by every wait, though each still brings many
//!   packets: [`probe`] compares the rate under the usual waits with the rate under
//!   longer ones now and then, and a stream that runs slower in proportion to the
//!   wait turns pacing off for [`RETRY_AFTER`] too.
//! - Not while our own publishes wait for an in-flight window that a wait fills
//!   [`WINDOW_SHARE`] of (three quarters): the acknowledgements that open it are
//!   what the read would bring, and the window ran nearly dry during the wait.
//!   A wait that brings less leaves the broker a share of the window to work on
//!   while we wait. (A quarter, the rule before, fired through a saturated mosquitto
//!   whenever tokio's timer woke the publisher a few milliseconds late: its reads
//!   then went unpaced, at 3.3-7.9 against 1.8 ms of CPU per 1,000 QoS 1 messages.)
//! - Writes, timers and commands never wait: only the socket read is deferred.
//! - During a wait the event loop raises the socket's receive low-water mark
//!   (`Runtime::set_read_low_water`, see `low_water`) and lowers it before reading.

mod probe;

use std::time::{Duration, Instant};

use probe::{Probe, Verdict, LONG};

/// A burst that begins this soon after the previous one drained is a stream.
pub(crate) const STREAM_GAP: Duration = Duration::from_millis(1);
/// Packets a wait must bring to have been worth it.
pub(crate) const WORTH: u64 = 2;
/// Useless waits among the last [`OUTCOMES`] that turn pacing off.
pub(crate) const STALLS: u32 = 6;
/// How many of the last waits [`STALLS`] counts over: the bits of `Pacer::history`.
pub(crate) const OUTCOMES: u32 = u8::BITS;
const _: () = assert!(STALLS <= OUTCOMES, "a history cannot hold that many stalls");
/// While our publishes wait for the in-flight window, a wait that brings this
/// fraction of it (numerator, denominator) or more is not repeated.
pub(crate) const WINDOW_SHARE: (u64, u64) = (3, 4);
/// How long reads of a blocked publisher go unpaced before a wait measures again.
pub(crate) const RECHECK: Duration = Duration::from_millis(20);
/// How long pacing stays off after stalls turned it off.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(10);

/// The read pacing state of one connection.
#[derive(Debug)]
pub(crate) struct Pacer {
    delay: Duration,
    /// When the last burst of reads drained the socket.
    last_drain: Option<Instant>,
    /// The burst in progress began after a wait we imposed.
    paced: bool,
    /// The last [`OUTCOMES`] waits' outcomes, newest in bit 0: set for a useless one.
    history: u8,
    /// Pacing is off until then.
    off_until: Option<Instant>,
    /// Whether pacing costs the stream its rate.
    probe: Probe,
    /// Packets the last wait brought.
    wait_brought: u64,
    /// Since then reads are not paced because a wait fills the blocked window.
    unpaced_since: Option<Instant>,
}

impl Pacer {
    /// Pacing with waits of `delay`.
    pub(crate) fn new(delay: Duration) -> Pacer {
        Pacer {
            delay,
            last_drain: None,
            paced: false,
            history: 0,
            off_until: None,
            probe: Probe::new(),
            wait_brought: 0,
            unpaced_since: None,
        }
    }

    /// A burst of reads that began at `start` drained the socket at `now`, having
    /// taken `packets` whole packets (0 when a read after a wait found nothing).
    /// `blocked`: publishes of ours wait for an in-flight window of this size,
    /// which only the acknowledgements still to be read can open. Returns when the
    /// next read may happen; `None`: as soon as data arrives.
    pub(crate) fn drained(
        &mut self,
        start: Instant,
        now: Instant,
        packets: u64,
        blocked: Option<u64>,
    ) -> Option<Instant> {
        if packets == 0 && !self.paced {
            return None; // a wake that found nothing: no burst to judge
        }
        let streaming = if self.paced {
            self.paced = false;
            self.wait_brought = packets;
            let useless = packets < WORTH;
            self.record(useless, now);
            !useless
        } else {
            packets > 0
                && self
                    .last_drain
                    .is_some_and(|t| start.saturating_duration_since(t) < STREAM_GAP)
        };
        self.last_drain = Some(now);
        if self.off_until.is_some_and(|t| now < t) {
            return None;
        }
        let fills = blocked
            .is_some_and(|window| self.wait_brought * WINDOW_SHARE.1 >= window * WINDOW_SHARE.0);
        if fills && now < *self.unpaced_since.get_or_insert(now) + RECHECK {
            // Another wait would hold our own stream up: read the acknowledgements
            // at once while it is blocked, and measure a wait again now and then
            // (one large batch of acknowledgements is not a rate).
            self.probe.ended();
            return None;
        }
        self.unpaced_since = None;
        if !streaming {
            self.probe.ended();
            return None;
        }
        if self.off_until.take().is_some() {
            self.probe.reset();
        }
        let wait = match self.probe.streaming(now, packets) {
            Verdict::Pace => self.delay,
            Verdict::PaceLong => self.delay * LONG,
            Verdict::Throttles => {
                self.turn_off(now);
                return None;
            }
        };
        self.paced = true;
        Some(now + wait)
    }

    /// Whether pacing is currently turned off by stalls.
    #[cfg(test)]
    pub(crate) fn is_off(&self, now: Instant) -> bool {
        self.off_until.is_some_and(|t| now < t)
    }

    fn record(&mut self, useless: bool, now: Instant) {
        self.history = self.history << 1 | u8::from(useless);
        if self.history.count_ones() >= STALLS {
            self.turn_off(now);
        }
    }

    fn turn_off(&mut self, now: Instant) {
        self.off_until = Some(now + RETRY_AFTER);
        self.history = 0;
        self.probe.ended();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_millis(1);
    /// A long wait of the probe, in microseconds.
    const LONG_US: u64 = 1_000 * probe::LONG as u64;

    fn us(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_micros(n)
    }

    #[test]
    fn a_lone_burst_is_read_at_once() {
        let t0 = Instant::now();
        let mut p = Pacer::new(D);
        assert_eq!(p.drained(t0, us(t0, 10), 3, None), None, "no earlier burst");
        // The next one comes 50 ms later: a slow stream, read at once.
        assert_eq!(p.drained(us(t0, 50_000), us(t0, 50_010), 1, None), None);
    }

    #[test]
    fn a_stream_waits_and_keeps_waiting_while_waits_pay() {
        let t0 = Instant::now();
        let mut p = Pacer::new(D);
        assert_eq!(p.drained(t0, us(t0, 10), 1, None), None);
        // Data again 20 us after the drain: streaming, so the next read waits (the
        // probe's long waits first).
        assert_eq!(
            p.drained(us(t0, 30), us(t0, 40), 1, None),
            Some(us(t0, 40 + LONG_US))
        );
        // The wait brought 100 packets: wait again.
        let t = 40 + LONG_US;
        assert_eq!(
            p.drained(us(t0, t), us(t0, t + 60), 100, None),
            Some(us(t0, t + 60 + LONG_US))
        );
    }

    #[test]
    fn useless_waits_turn_pacing_off_then_it_is_retried() {
        let t0 = Instant::now();
        let mut p = Pacer::new(D);
        let mut t = 0;
        p.drained(us(t0, t), us(t0, t + 10), 1, None);
        // A window of one: the broker sends the next packet 20 us after our answer,
        // so a wait always brings just that one.
        let mut waits = 0;
        for _ in 0..100 {
            if p.is_off(us(t0, t + 10)) {
                break;
            }
            t += 30;
            if let Some(next) = p.drained(us(t0, t), us(t0, t + 10), 1, None) {
                waits += 1;
                t = next.duration_since(t0).as_micros() as u64 - 10;
            }
        }
        assert_eq!(waits, STALLS, "one wait per useless outcome, then off");
        assert!(p.is_off(us(t0, t + 10)));
        // Off: a stream is read at once...
        assert_eq!(p.drained(us(t0, t + 40), us(t0, t + 50), 5, None), None);
        assert_eq!(p.drained(us(t0, t + 60), us(t0, t + 70), 5, None), None);
        // ...until the retry time.
        let later = t + RETRY_AFTER.as_micros() as u64;
        assert_eq!(p.drained(us(t0, later), us(t0, later + 10), 5, None), None);
        assert_eq!(
            p.drained(us(t0, later + 20), us(t0, later + 30), 5, None),
            Some(us(t0, later + 30 + LONG_US)),
            "retried, and probed at once"
        );
    }

    #[test]
    fn occasional_useless_waits_do_not_turn_it_off() {
        let t0 = Instant::now();
        let mut p = Pacer::new(D);
        let mut t = 0;
        p.drained(us(t0, t), us(t0, t + 10), 1, None);
        t += 30;
        for i in 0..100u64 {
            // One wait in three finds a single packet (a busy broker pauses).
            let packets = if i % 3 == 0 { 1 } else { 50 };
            match p.drained(us(t0, t), us(t0, t + 10), packets, None) {
                Some(next) => t = next.duration_since(t0).as_micros() as u64,
                None => {
                    assert!(!p.is_off(us(t0, t + 10)), "turned off at {i}");
                    t += 30; // a useless wait ends the stream; data comes again soon
                }
            }
        }
    }

    #[test]
    fn a_wait_that_found_nothing_counts_as_useless() {
        let t0 = Instant::now();
        let mut p = Pacer::new(D);
        p.drained(t0, us(t0, 10), 1, None);
        assert!(p.drained(us(t0, 20), us(t0, 30), 1, None).is_some());
        // The read after the wait found the socket empty.
        assert_eq!(p.drained(us(t0, 1_030), us(t0, 1_030), 0, None), None);
        assert_eq!(p.history, 1);
    }

    #[test]
    fn a_stream_that_pacing_throttles_turns_it_off_until_the_retry() {
        // A broker window of 100: a round takes the wait and 0.1 ms.
        let t0 = Instant::now();
        let mut p = Pacer::new(D);
        let mut t = 0;
        p.drained(us(t0, 0), us(t0, 10), 100, None);
        let mut rounds = 0;
        while !p.is_off(us(t0, t)) {
            rounds += 1;
            assert!(rounds < 1_000, "never turned off");
            let start = t + 50;
            t = match p.drained(us(t0, start), us(t0, start + 50), 100, None) {
                Some(next) => next.duration_since(t0).as_micros() as u64,
                None => start + 50,
            };
        }
        // Off for RETRY_AFTER: a stream is read at once, then probed again.
        assert_eq!(p.drained(us(t0, t + 50), us(t0, t + 100), 100, None), None);
        let later = t + RETRY_AFTER.as_micros() as u64;
        assert_eq!(
            p.drained(us(t0, later), us(t0, later + 50), 100, None),
            None
        );
        assert!(p
            .drained(us(t0, later + 100), us(t0, later + 150), 100, None)
            .is_some());
    }

    #[test]
    fn not_while_our_publishes_wait_for_a_window_a_wait_fills_three_quarters_of() {
        let t0 = Instant::now();
        let mut p = Pacer::new(D);
        p.drained(t0, us(t0, 10), 100, None);
        let next = p.drained(us(t0, 30), us(t0, 40), 100, Some(200));
        assert_eq!(
            next,
            Some(us(t0, 40 + LONG_US)),
            "nothing known of a wait yet"
        );
        // The wait brought 150 acknowledgements: three quarters of the window.
        assert_eq!(
            p.drained(us(t0, 1_040), us(t0, 1_050), 150, Some(200)),
            None
        );
        assert_eq!(p.drained(us(t0, 1_070), us(t0, 1_080), 10, Some(200)), None);
        // A window that a wait fills less of is paced: the broker has the rest of
        // it to work on while we wait (a late timer brings a quarter or so).
        assert!(p
            .drained(us(t0, 1_100), us(t0, 1_110), 10, Some(201))
            .is_some());
        // Not blocked: paced.
        assert!(p.drained(us(t0, 2_120), us(t0, 2_130), 150, None).is_some());
        // Blocked again after that wait of 150: unpaced, until RECHECK has passed.
        let t = 3_130;
        assert_eq!(p.drained(us(t0, t), us(t0, t + 10), 150, Some(200)), None);
        assert_eq!(
            p.drained(us(t0, t + 30), us(t0, t + 40), 5, Some(200)),
            None
        );
        // A stream of bursts 500 us apart: unpaced until RECHECK has passed.
        let recheck_at = t + 10 + RECHECK.as_micros() as u64;
        let mut u = t + 40;
        loop {
            u += 500;
            let next = p.drained(us(t0, u), us(t0, u + 10), 5, Some(200));
            if u + 10 < recheck_at {
                assert_eq!(next, None, "at {u}");
            } else {
                assert!(next.is_some(), "a wait measures again");
                break;
            }
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            /// Whatever the bursts: a wait is exactly the delay after the drain (or,
            /// while the probe measures long waits, `LONG` times the delay); a
            /// stream is only paced after a burst that began within `STREAM_GAP` of
            /// the previous drain or a wait that brought `WORTH` packets; and no
            /// more than `STALLS` useless waits come within `OUTCOMES` waits while
            /// pacing stays on.
            #[test]
            fn waits_are_bounded_and_earned(
                bursts in proptest::collection::vec((0u32..3_000, 0u32..200, 0u64..6), 1..300)
            ) {
                let delay = Duration::from_millis(1);
                let mut p = Pacer::new(delay);
                let mut now = Instant::now();
                let mut last_drain: Option<Instant> = None;
                let mut waited = false;
                let mut useless_run: Vec<bool> = Vec::new();
                for (gap, length, packets) in bursts {
                    let start = now + Duration::from_micros(gap.into());
                    let end = start + Duration::from_micros(length.into());
                    let next = p.drained(start, end, packets, None);
                    if waited {
                        useless_run.push(packets < WORTH);
                    }
                    if let Some(at) = next {
                        prop_assert!(at == end + delay || at == end + delay * probe::LONG);
                        let streaming = packets > 0
                            && last_drain.is_some_and(|t| start.saturating_duration_since(t) < STREAM_GAP);
                        let earned = if waited { packets >= WORTH } else { streaming };
                        prop_assert!(earned, "a wait not earned");
                        let recent = &useless_run[useless_run.len().saturating_sub(OUTCOMES as usize)..];
                        prop_assert!(recent.iter().filter(|u| **u).count() < STALLS as usize);
                    }
                    if p.is_off(end) {
                        useless_run.clear();
                    }
                    if packets > 0 || waited {
                        last_drain = Some(end);
                    }
                    waited = next.is_some();
                    now = next.unwrap_or(end);
                }
            }
        }
    }
}
