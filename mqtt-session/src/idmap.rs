//! Tables keyed by packet identifier. Identifiers are small integers that the broker
//! partly chooses (incoming QoS 2), so the hash mixes every bit into the low bits the
//! table indexes by: no choice of identifiers piles them into one bucket. The client
//! keys its operations ([`crate::OpId`]) with the same hash.

use core::hash::{BuildHasher, Hasher};

/// A hash table keyed by packet identifier.
pub(crate) type IdMap<V> = hashbrown::HashMap<u16, V, IdHash>;
/// A set of packet identifiers.
pub(crate) type IdSet = hashbrown::HashSet<u16, IdHash>;

/// A `BuildHasher` for tables keyed by integers such as packet identifiers and
/// [`crate::OpId`]s: one multiplication, folded so that consecutive or aligned keys
/// spread over the low bits a table indexes by. Not for keys an attacker picks freely
/// in large numbers (there are only 65,535 packet identifiers).
#[derive(Debug, Clone, Copy, Default)]
pub struct IdHash;

impl BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

/// The hasher [`IdHash`] builds: a multiplicative hash folded so the high bits of the
/// product reach the low bits.
#[derive(Debug, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ (h >> 29)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.0 = u64::from(n);
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) fn id_map<V>() -> IdMap<V> {
    IdMap::with_hasher(IdHash)
}

pub(crate) fn id_set() -> IdSet {
    IdSet::with_hasher(IdHash)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Identifiers that agree in their low bits still spread over the low bits of the
    /// hash (what a table indexes by).
    #[test]
    fn aligned_ids_spread_over_buckets() {
        let mut buckets = [0u32; 64];
        for k in 0..1024u16 {
            let mut h = IdHash.build_hasher();
            h.write_u16(k * 64);
            buckets[(h.finish() & 63) as usize] += 1;
        }
        let max = buckets.iter().max().copied().unwrap_or(0);
        assert!(max <= 48, "{max} of 1024 aligned ids in one of 64 buckets");
    }

    /// Sequence numbers (operation ids), consecutive or aligned, spread too.
    #[test]
    fn sequential_u64_keys_spread_over_buckets() {
        for step in [1u64, 64, 1024] {
            let mut buckets = [0u32; 64];
            for k in 0..4096u64 {
                let mut h = IdHash.build_hasher();
                h.write_u64(k * step);
                buckets[(h.finish() & 63) as usize] += 1;
            }
            let max = buckets.iter().max().copied().unwrap_or(0);
            assert!(
                max <= 128,
                "step {step}: {max} of 4096 keys in one of 64 buckets"
            );
        }
    }
}
