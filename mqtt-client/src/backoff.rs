//! Reconnect delays: exponential backoff with jitter.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How long to wait before each reconnect attempt: `initial`, doubled per failed
/// attempt up to `max`, with "equal jitter" (a random point in the upper half of the
/// delay) so that many clients cut off together do not reconnect in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first attempt after a connection ends.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Randomise each delay within its upper half.
    pub jitter: bool,
}

impl Default for Backoff {
    /// 100 ms doubling up to 30 s, with jitter.
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            jitter: true,
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (0 for the first after a drop).
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max);
        if !self.jitter || base.is_zero() {
            return base;
        }
        let half = base / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(random_u64() % nanos.saturating_add(1))
    }
}

/// A random number from the standard library's per-process hash keys (no extra
/// dependency; good enough for jitter and default client ids, not for secrets).
pub(crate) fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: false,
        };
        let d: Vec<u128> = (0..6).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_varies() {
        let b = Backoff::default();
        let delays: Vec<Duration> = (0..50).map(|_| b.delay(3)).collect();
        for d in &delays {
            assert!(*d >= Duration::from_millis(400) && *d <= Duration::from_millis(800));
        }
        assert!(delays.iter().any(|d| *d != delays[0]), "no jitter at all");
    }
}
