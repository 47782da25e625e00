//! The hash of the table of operations waiting for the broker's answer, keyed by
//! [`OpId`]: sequence numbers this client chose, so no peer can pick colliding keys
//! and SipHash's protection is not needed. One multiplication instead (a publish
//! inserts and removes one entry each).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use mqtt_session::OpId;

/// Operations by id.
pub(crate) type OpMap<V> = HashMap<OpId, V, OpHash>;

/// Builds [`OpHasher`]s.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OpHash;

impl BuildHasher for OpHash {
    type Hasher = OpHasher;
    fn build_hasher(&self) -> OpHasher {
        OpHasher(0)
    }
}

/// A multiplicative hash folded so that the high bits of the product reach the low
/// bits the table indexes by: consecutive ids land in different buckets.
#[derive(Debug, Default)]
pub(crate) struct OpHasher(u64);

impl Hasher for OpHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ (h >> 32)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Consecutive ids, and ids that agree in their low bits, spread over the low
    /// bits of the hash.
    #[test]
    fn sequential_and_aligned_ids_spread_over_buckets() {
        for step in [1u64, 64, 1024] {
            let mut buckets = [0u32; 64];
            for k in 0..4096u64 {
                let mut h = OpHash.build_hasher();
                h.write_u64(k * step);
                buckets[(h.finish() & 63) as usize] += 1;
            }
            let max = buckets.iter().max().copied().unwrap_or(0);
            assert!(
                max <= 128,
                "step {step}: {max} of 4096 ids in one of 64 buckets"
            );
        }
    }
}
