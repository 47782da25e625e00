//! Whether pacing costs the stream its rate, measured: now and then a window of
//! reads paced by waits [`LONG`] times as long as usual is followed by a window of
//! reads paced by the usual wait, and their rates compared.
//!
//! Why: a broker that sends us only a few messages before it waits for their
//! acknowledgements (rumqttd keeps 100 in flight per subscriber) is held up by every
//! wait; the stream slows to that window per wait (measured: 24,000 against 140,000
//! msg/s). The waits still bring many packets each, so only the rate shows it: such a
//! stream brings the same packets per wait whatever the wait, so longer waits make it
//! slower in proportion. When the stream's rate is set by its publisher, or by a
//! broker that is busy anyway, a longer wait just collects more packets: both
//! windows see the same rate and pacing stays on.
//!
//! An earlier probe compared a paced window with an unpaced one. Unpaced reads cost
//! a wake, a read and a write per packet: through a saturated mosquitto its windows
//! were a quarter of the client's CPU in a two-second run (QoS 1: 1.8 against 1.3 ms
//! per 1,000 messages without a probe). Longer waits cost less CPU, not more.

use std::time::{Duration, Instant};

/// The long waits' length, in usual waits.
pub(crate) const LONG: u32 = 2;
/// How long each of the two windows lasts at least (a dozen usual waits)...
pub(crate) const WINDOW: Duration = Duration::from_millis(20);
/// ...and how many waits it takes at least (for usual waits of several
/// milliseconds, as the scripted-broker tests use).
pub(crate) const WAITS: u32 = 6;
/// How often a stream is probed: first after [`FIRST_EVERY`], the interval
/// doubling up to this.
pub(crate) const EVERY: Duration = Duration::from_secs(1);
/// The interval after the first probe: one connection's probe may be upset by
/// another's on the same broker (a publisher's and its subscriber's), so a stream
/// is probed a few times early on.
pub(crate) const FIRST_EVERY: Duration = Duration::from_millis(100);
/// Pairs of windows in a row the usual waits must win: a saturated broker's rate
/// wanders by a third over 20 ms now and then (seen with mosquitto at QoS 2).
pub(crate) const CONFIRM: u8 = 2;
/// Fewer packets than this in the long window: too slow a stream to judge.
pub(crate) const MIN_PACKETS: u64 = 50;
/// The usual waits' rate must beat the long waits' by this ratio (numerator,
/// denominator) for pacing to be judged a throttle. A window-bound stream runs
/// about [`LONG`] times as fast (less the time its round trip takes), a stream
/// set by anything else at the same rate.
pub(crate) const GAIN: (u64, u64) = (4, 3);

/// What the probe says about the next read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Pace it by the usual wait.
    Pace,
    /// Pace it by a long wait: the long window is being measured.
    PaceLong,
    /// Pacing throttles this stream: turn it off.
    Throttles,
}

/// One window of the probe: reads paced alike since `since`.
#[derive(Debug, Clone, Copy)]
struct Window {
    since: Instant,
    packets: u64,
    waits: u32,
}

impl Window {
    fn starting(now: Instant) -> Window {
        Window {
            since: now,
            packets: 0,
            waits: 0,
        }
    }

    /// A wait brought `packets`; once the window is long enough, its packets and
    /// length.
    fn add(&mut self, now: Instant, packets: u64) -> Option<(u64, Duration)> {
        self.packets += packets;
        self.waits += 1;
        let elapsed = now.saturating_duration_since(self.since);
        (elapsed >= WINDOW && self.waits >= WAITS).then_some((self.packets, elapsed))
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Idle,
    /// Reads paced by long waits.
    Long(Window),
    /// Reads paced by the usual wait, and the long window's packets and length.
    /// Second, so that a stream still speeding up (as every stream does at its
    /// start) speaks for turning pacing off, not for keeping it.
    Usual(Window, (u64, Duration)),
}

/// The probe of one connection.
#[derive(Debug)]
pub(crate) struct Probe {
    phase: Phase,
    /// The next probe starts at the first stream from then on (`None`: the next one).
    next_at: Option<Instant>,
    /// Pairs the usual waits have won in this probe.
    wins: u8,
    /// From one probe to the next.
    every: Duration,
}

impl Probe {
    pub(crate) fn new() -> Probe {
        Probe {
            phase: Phase::Idle,
            next_at: None,
            wins: 0,
            every: FIRST_EVERY,
        }
    }

    /// A paced burst of `packets` drained the socket at `now`, in a stream that
    /// pacing waits on: how long the next wait is.
    pub(crate) fn streaming(&mut self, now: Instant, packets: u64) -> Verdict {
        match &mut self.phase {
            Phase::Idle => {
                if self.next_at.is_some_and(|t| now < t) {
                    return Verdict::Pace;
                }
                self.phase = Phase::Long(Window::starting(now));
                Verdict::PaceLong
            }
            Phase::Long(window) => {
                let Some(long) = window.add(now, packets) else {
                    return Verdict::PaceLong;
                };
                self.phase = Phase::Usual(Window::starting(now), long);
                Verdict::Pace
            }
            Phase::Usual(window, (long_packets, long_time)) => {
                let Some((usual_packets, usual_time)) = window.add(now, packets) else {
                    return Verdict::Pace;
                };
                // usual / usual_time >= GAIN * long / long_time, in integers.
                let faster = u128::from(usual_packets) * long_time.as_micros() * u128::from(GAIN.1)
                    >= u128::from(*long_packets) * usual_time.as_micros() * u128::from(GAIN.0);
                if *long_packets >= MIN_PACKETS && faster {
                    self.wins += 1;
                    if self.wins < CONFIRM {
                        // Once more, at once: long waits, then usual ones.
                        self.phase = Phase::Long(Window::starting(now));
                        return Verdict::PaceLong;
                    }
                }
                let verdict = if self.wins >= CONFIRM {
                    Verdict::Throttles
                } else {
                    Verdict::Pace
                };
                self.wins = 0;
                self.phase = Phase::Idle;
                self.next_at = Some(now + self.every);
                self.every = (self.every * 2).min(EVERY);
                verdict
            }
        }
    }

    /// The stream ended (or pacing was turned off): a probe in progress is void.
    pub(crate) fn ended(&mut self) {
        self.phase = Phase::Idle;
        self.wins = 0;
    }

    /// Pacing resumes after being off: probe its first stream at once.
    pub(crate) fn reset(&mut self) {
        self.ended();
        self.next_at = None;
        self.every = FIRST_EVERY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds bursts for `time`: `per_burst(long)` says how many packets the wait the
    /// probe asked for (long or usual) brought and how long the wait and the read
    /// took. Returns the verdicts.
    fn run(
        probe: &mut Probe,
        t0: Instant,
        time: Duration,
        mut per_burst: impl FnMut(bool) -> (u64, Duration),
    ) -> Vec<Verdict> {
        let mut now = t0;
        let mut verdicts = Vec::new();
        let mut long = false;
        while now < t0 + time {
            let (packets, took) = per_burst(long);
            now += took;
            let v = probe.streaming(now, packets);
            long = v == Verdict::PaceLong;
            verdicts.push(v);
        }
        verdicts
    }

    /// How many probes began: long waits after usual ones (or first of all).
    fn probes(v: &[Verdict]) -> usize {
        let first = usize::from(v.first() == Some(&Verdict::PaceLong));
        first
            + v.windows(2)
                .filter(|w| w[0] != Verdict::PaceLong && w[1] == Verdict::PaceLong)
                .count()
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_broker_window_that_pacing_throttles_turns_it_off() {
        // 100 packets per round trip of 100 us whatever the wait: a round takes
        // 1.1 ms with the usual wait, 2.1 ms with a long one.
        let mut p = Probe::new();
        let t0 = Instant::now();
        let v = run(&mut p, t0, Duration::from_millis(200), |long| {
            let took = if long { 2_100 } else { 1_100 };
            (100, Duration::from_micros(took))
        });
        assert_eq!(v[0], Verdict::PaceLong, "a stream is probed at once");
        let first_usual = v.iter().position(|v| *v == Verdict::Pace).unwrap();
        assert!(first_usual >= 9, "a long window of 20 ms comes first");
        let off = v.iter().position(|v| *v == Verdict::Throttles);
        assert!(off.is_some(), "{v:?}");
        assert_eq!(probes(&v[..off.unwrap()]), 2, "confirmed by a second pair");
    }

    #[test]
    fn a_stream_set_by_its_publisher_stays_paced() {
        // 50 packets per ms whatever the wait (a wait collects them).
        let mut p = Probe::new();
        let t0 = Instant::now();
        let v = run(&mut p, t0, Duration::from_secs(3), |long| {
            if long {
                (100, 2 * MS)
            } else {
                (50, MS)
            }
        });
        assert!(!v.contains(&Verdict::Throttles));
        // Probed at once, 100 ms after the first probe, then the interval doubles
        // to 1 s: at about 0, 0.14, 0.38, 0.86, 1.8 and 2.8 s.
        assert_eq!(probes(&v), 6);
    }

    #[test]
    fn a_saturated_broker_losing_a_tenth_of_its_rate_to_long_waits_stays_paced() {
        // Usual waits: 118 packets per ms; long ones: 106 per ms.
        let mut p = Probe::new();
        let t0 = Instant::now();
        let v = run(&mut p, t0, Duration::from_millis(200), |long| {
            if long {
                (212, 2 * MS)
            } else {
                (118, MS)
            }
        });
        assert!(!v.contains(&Verdict::Throttles));
        assert!(probes(&v) >= 2, "probed, and judged");
    }

    #[test]
    fn too_slow_a_stream_is_not_judged() {
        let mut p = Probe::new();
        let t0 = Instant::now();
        // One packet per wait whatever its length: faster with the usual waits,
        // but 10 packets in the long window.
        let v = run(&mut p, t0, Duration::from_millis(200), |long| {
            (1, if long { 2 * MS } else { MS })
        });
        assert!(!v.contains(&Verdict::Throttles));
        assert!(probes(&v) >= 2, "probed, and judged");
    }

    #[test]
    fn a_window_takes_some_waits_however_long_they_are() {
        // 5 ms waits (as the scripted-broker tests use): a window is 6 waits.
        let mut p = Probe::new();
        let t0 = Instant::now();
        let v = run(&mut p, t0, Duration::from_millis(400), |long| {
            (100, if long { 10 * MS } else { 5 * MS })
        });
        let w = WAITS as usize;
        assert!(v[..w].iter().all(|v| *v == Verdict::PaceLong), "{v:?}");
        assert!(v[w..2 * w].iter().all(|v| *v == Verdict::Pace), "{v:?}");
        assert_eq!(v[2 * w], Verdict::PaceLong, "won once: a second pair");
        assert_eq!(v[4 * w], Verdict::Throttles, "{v:?}");
    }

    #[test]
    fn an_ended_stream_voids_the_probe_and_a_reset_probes_at_once() {
        let mut p = Probe::new();
        let t0 = Instant::now();
        // A burst every `step` ms after `from`, `packets` each, until the verdict
        // is no longer `v`; returns when, and the verdict then.
        let at = |p: &mut Probe, from: u64, step: u64, packets: u64, v: Verdict| {
            let mut t = from;
            loop {
                t += step;
                let got = p.streaming(t0 + Duration::from_millis(t), packets);
                if got != v {
                    return (t, got);
                }
                assert!(t < from + 1_000, "stuck at {v:?}");
            }
        };
        assert_eq!(p.streaming(t0, 10), Verdict::PaceLong);
        let (t, v) = at(&mut p, 0, 8, 10, Verdict::PaceLong);
        assert_eq!(v, Verdict::Pace);
        assert!(t >= 20);
        p.ended();
        // A new stream starts a new long window first.
        assert_eq!(
            p.streaming(t0 + Duration::from_millis(t + 10), 10),
            Verdict::PaceLong
        );
        let (t, v) = at(&mut p, t + 10, 8, 10, Verdict::PaceLong);
        assert_eq!(v, Verdict::Pace);
        // The usual waits win (10 packets per 4 ms, against 10 per 8 ms): a second
        // pair confirms it.
        let (t, v) = at(&mut p, t, 4, 10, Verdict::Pace);
        assert_eq!(v, Verdict::PaceLong, "won once: long waits again");
        let (t, v) = at(&mut p, t, 8, 10, Verdict::PaceLong);
        assert_eq!(v, Verdict::Pace);
        let (t, v) = at(&mut p, t, 4, 10, Verdict::Pace);
        assert_eq!(v, Verdict::Throttles);
        // The next probe comes after FIRST_EVERY (this was the first), or at once
        // after a reset.
        let (later, v) = at(&mut p, t, 4, 10, Verdict::Pace);
        assert_eq!(v, Verdict::PaceLong);
        assert!(later >= t + 100, "the next probe waits for its time");
        p.reset();
        assert_eq!(
            p.streaming(t0 + Duration::from_millis(later + 4), 10),
            Verdict::PaceLong
        );
    }

    #[test]
    fn one_lucky_window_is_not_enough() {
        let mut p = Probe::new();
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut t = 0;
        let mut step = |p: &mut Probe, dt: u64, packets: u64| {
            t += dt;
            p.streaming(ms(t), packets)
        };
        // A long window of 6 waits, 60 ms, 200 packets each: 20 per ms. It begins
        // at the first burst, and the sixth wait ends it.
        for _ in 0..6 {
            assert_eq!(step(&mut p, 10, 200), Verdict::PaceLong);
        }
        assert_eq!(step(&mut p, 10, 200), Verdict::Pace);
        // A usual window that did better (the broker sped up): won once.
        for _ in 0..5 {
            assert_eq!(step(&mut p, 5, 1_000), Verdict::Pace);
        }
        assert_eq!(step(&mut p, 5, 1_000), Verdict::PaceLong, "won once");
        for _ in 0..5 {
            assert_eq!(step(&mut p, 10, 200), Verdict::PaceLong);
        }
        assert_eq!(step(&mut p, 10, 200), Verdict::Pace);
        // The second pair is even: pacing stays, and the next probe is a while away.
        for _ in 0..5 {
            assert_eq!(step(&mut p, 5, 100), Verdict::Pace);
        }
        assert_eq!(step(&mut p, 5, 100), Verdict::Pace, "judged: no throttle");
        for _ in 0..19 {
            assert_eq!(step(&mut p, 5, 100), Verdict::Pace);
        }
        assert_eq!(step(&mut p, 5, 100), Verdict::PaceLong, "probed again");
    }
}
