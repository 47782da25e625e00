//! Whether pacing costs the stream its rate, measured: now and then a window of
//! paced reads is followed by a window of unpaced ones, and their rates compared.
//!
//! Why: a broker that sends us only a few messages before it waits for their
//! acknowledgements (rumqttd keeps 100 in flight per subscriber) is held up by every
//! wait; the stream slows to that window per wait (measured: 24,000 against 140,000
//! msg/s). The waits still bring many packets each, so only the rate shows it.
//! When the stream's rate is set by its publisher, both windows see the same rate
//! and pacing stays on.

use std::time::{Duration, Instant};

/// How long each of the two windows lasts (a dozen paced waits).
pub(crate) const WINDOW: Duration = Duration::from_millis(20);
/// How often a stream is probed (the unpaced window costs the CPU pacing saves):
/// first after [`FIRST_EVERY`], the interval doubling up to this.
pub(crate) const EVERY: Duration = Duration::from_secs(1);
/// The interval after the first probe: one connection's probe may be upset by
/// another's on the same broker (a publisher's and its subscriber's), so a stream
/// is probed a few times early on.
pub(crate) const FIRST_EVERY: Duration = Duration::from_millis(100);
/// Pairs of windows in a row the unpaced one must win: a saturated broker's rate
/// wanders by a third over 20 ms now and then (seen with mosquitto at QoS 2).
pub(crate) const CONFIRM: u8 = 2;
/// Fewer packets than this in the unpaced window: too slow a stream to judge.
pub(crate) const MIN_PACKETS: u64 = 50;
/// The unpaced rate must beat the paced one by this ratio (numerator, denominator)
/// for pacing to be judged a throttle: reads of a broker that is itself saturated
/// lose 7-12 % of the rate to pacing, which its saving in CPU is worth.
pub(crate) const GAIN: (u64, u64) = (4, 3);

/// What the probe says about the next read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Pace it.
    Pace,
    /// Read at once: the unpaced window is being measured.
    Unpaced,
    /// Pacing throttles this stream: turn it off.
    Throttles,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Idle,
    /// Paced reads since then, and the packets they took.
    Paced {
        since: Instant,
        packets: u64,
    },
    /// Unpaced reads since then, their packets, and the paced window's outcome.
    Unpaced {
        since: Instant,
        packets: u64,
        paced: (u64, Duration),
    },
}

/// The probe of one connection.
#[derive(Debug)]
pub(crate) struct Probe {
    phase: Phase,
    /// The next probe starts at the first stream from then on (`None`: the next one).
    next_at: Option<Instant>,
    /// Pairs the unpaced window has won in this probe.
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

    /// A burst of `packets` drained the socket at `now`, in a stream that pacing
    /// would otherwise wait on.
    pub(crate) fn streaming(&mut self, now: Instant, packets: u64) -> Verdict {
        match &mut self.phase {
            Phase::Idle => {
                if self.next_at.is_none_or(|t| now >= t) {
                    self.phase = Phase::Paced {
                        since: now,
                        packets: 0,
                    };
                }
                Verdict::Pace
            }
            Phase::Paced { since, packets: n } => {
                *n += packets;
                let elapsed = now.saturating_duration_since(*since);
                if elapsed < WINDOW {
                    return Verdict::Pace;
                }
                self.phase = Phase::Unpaced {
                    since: now,
                    packets: 0,
                    paced: (*n, elapsed),
                };
                Verdict::Unpaced
            }
            Phase::Unpaced {
                since,
                packets: n,
                paced: (paced_packets, paced_time),
            } => {
                *n += packets;
                let elapsed = now.saturating_duration_since(*since);
                if elapsed < WINDOW {
                    return Verdict::Unpaced;
                }
                // unpaced / elapsed >= GAIN * paced / paced_time, in integers.
                let faster = u128::from(*n) * paced_time.as_micros() * u128::from(GAIN.1)
                    >= u128::from(*paced_packets) * elapsed.as_micros() * u128::from(GAIN.0);
                if *n >= MIN_PACKETS && faster {
                    self.wins += 1;
                    if self.wins < CONFIRM {
                        // Once more, at once: paced, then unpaced.
                        self.phase = Phase::Paced {
                            since: now,
                            packets: 0,
                        };
                        return Verdict::Pace;
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

    /// Whether the unpaced window is being measured.
    pub(crate) fn is_unpaced(&self) -> bool {
        matches!(self.phase, Phase::Unpaced { .. })
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

    /// Feeds bursts of `per_burst` packets every `gap` while the probe lets the
    /// reads be paced by `wait` (else every `gap`), for `time`; returns the verdicts.
    fn run(
        probe: &mut Probe,
        t0: Instant,
        time: Duration,
        mut per_burst: impl FnMut(bool) -> (u64, Duration),
    ) -> Vec<Verdict> {
        let mut now = t0;
        let mut verdicts = Vec::new();
        let mut paced = true;
        while now < t0 + time {
            let (packets, took) = per_burst(paced);
            now += took;
            let v = probe.streaming(now, packets);
            paced = v == Verdict::Pace;
            verdicts.push(v);
        }
        verdicts
    }

    #[test]
    fn a_broker_window_that_pacing_throttles_turns_it_off() {
        // 100 packets per round trip: a 1 ms wait makes a round 1.1 ms, an unpaced
        // one 0.1 ms.
        let mut p = Probe::new();
        let t0 = Instant::now();
        let v = run(&mut p, t0, Duration::from_millis(100), |paced| {
            let took = if paced { 1_100 } else { 100 };
            (100, Duration::from_micros(took))
        });
        let first_unpaced = v.iter().position(|v| *v == Verdict::Unpaced).unwrap();
        assert!(first_unpaced >= 15, "a paced window of 20 ms comes first");
        assert!(v.contains(&Verdict::Throttles), "{v:?}");
    }

    #[test]
    fn a_stream_set_by_its_publisher_stays_paced() {
        // 50 packets per ms whether paced or not (a wait collects them).
        let mut p = Probe::new();
        let t0 = Instant::now();
        let v = run(&mut p, t0, Duration::from_secs(3), |paced| {
            if paced {
                (50, Duration::from_millis(1))
            } else {
                (5, Duration::from_micros(100))
            }
        });
        assert!(!v.contains(&Verdict::Throttles));
        // Probed 100 ms after the first probe, then the interval doubles to 1 s:
        // at about 0, 0.14, 0.38, 0.86, 1.8 and 2.8 s.
        let windows = v
            .windows(2)
            .filter(|w| w[0] == Verdict::Pace && w[1] == Verdict::Unpaced)
            .count();
        assert_eq!(windows, 6);
    }

    #[test]
    fn a_saturated_broker_losing_a_tenth_of_its_rate_stays_paced() {
        // Unpaced: 130 packets per ms; paced: 118.
        let mut p = Probe::new();
        let t0 = Instant::now();
        let v = run(&mut p, t0, Duration::from_millis(100), |paced| {
            if paced {
                (118, Duration::from_millis(1))
            } else {
                (13, Duration::from_micros(100))
            }
        });
        assert!(!v.contains(&Verdict::Throttles));
        assert!(v.contains(&Verdict::Unpaced));
    }

    #[test]
    fn too_slow_a_stream_is_not_judged() {
        let mut p = Probe::new();
        let t0 = Instant::now();
        // 1 packet per ms paced, 1 per 0.5 ms unpaced: faster, but 40 in 20 ms.
        let v = run(&mut p, t0, Duration::from_millis(100), |paced| {
            if paced {
                (1, Duration::from_millis(1))
            } else {
                (1, Duration::from_micros(500))
            }
        });
        assert!(!v.contains(&Verdict::Throttles));
    }

    #[test]
    fn an_ended_stream_voids_the_probe_and_a_reset_probes_at_once() {
        let mut p = Probe::new();
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        assert_eq!(p.streaming(ms(0), 10), Verdict::Pace);
        assert_eq!(p.streaming(ms(25), 10), Verdict::Unpaced);
        p.ended();
        // A new stream starts a new paced window first.
        assert_eq!(p.streaming(ms(30), 10), Verdict::Pace);
        assert_eq!(p.streaming(ms(40), 10), Verdict::Pace);
        assert_eq!(p.streaming(ms(51), 10), Verdict::Unpaced);
        // The unpaced window wins: a second pair confirms it.
        assert_eq!(p.streaming(ms(72), 1_000), Verdict::Pace);
        assert_eq!(p.streaming(ms(93), 20), Verdict::Unpaced);
        assert_eq!(p.streaming(ms(114), 1_000), Verdict::Throttles);
        // Next probe a second later, or at once after a reset.
        assert_eq!(p.streaming(ms(115), 10), Verdict::Pace);
        assert_eq!(p.streaming(ms(140), 10), Verdict::Pace);
        p.reset();
        assert_eq!(p.streaming(ms(141), 10), Verdict::Pace);
        assert_eq!(p.streaming(ms(162), 10), Verdict::Unpaced);
    }

    #[test]
    fn one_lucky_unpaced_window_is_not_enough() {
        let mut p = Probe::new();
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        assert_eq!(p.streaming(ms(0), 10), Verdict::Pace);
        assert_eq!(p.streaming(ms(21), 100), Verdict::Unpaced);
        assert_eq!(p.streaming(ms(42), 1_000), Verdict::Pace, "won once");
        assert_eq!(p.streaming(ms(63), 100), Verdict::Unpaced);
        // The second pair is even: pacing stays, and the next probe is a second away.
        assert_eq!(p.streaming(ms(84), 100), Verdict::Pace);
        assert_eq!(p.streaming(ms(110), 100), Verdict::Pace);
        assert_eq!(p.streaming(ms(140), 100), Verdict::Pace);
    }
}
