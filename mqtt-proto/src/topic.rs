//! Topic names and topic filters [MQTT-4.7].

use core::fmt;

use crate::{string, Storage, Str, StrError};

/// A topic name: a non-empty MQTT string without wildcards, what a PUBLISH is sent to.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName<S>(Str<S>);

/// A topic filter: what a subscription matches, with `+` and `#` wildcards.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter<S>(Str<S>);

/// Checks a topic name: non-empty [MQTT-4.7.3-1], an MQTT string ([MQTT-1.5.3-1],
/// [MQTT-1.5.3-2]) and free of wildcards [MQTT-3.3.2-2]. On the decode hot path.
#[inline(always)]
pub(crate) fn check_name(bytes: &[u8]) -> Result<(), StrError> {
    if bytes.is_empty() {
        return Err(StrError::EmptyTopic); // [MQTT-4.7.3-1]
    }
    if bytes.len() > u16::MAX as usize {
        return Err(StrError::TooLong);
    }
    // One pass for the byte rules, eight bytes at a time. `+`, `#` and U+0000 are single
    // bytes that never occur inside a multi-byte UTF-8 sequence, so scanning bytes is
    // exact for any input; only a name with a non-ASCII byte needs the UTF-8 check.
    let (high, special) = scan(bytes);
    if high && core::str::from_utf8(bytes).is_err() {
        return Err(StrError::InvalidUtf8); // [MQTT-1.5.3-1]
    }
    if special {
        return Err(special_error(bytes));
    }
    Ok(())
}

#[cold]
fn special_error(bytes: &[u8]) -> StrError {
    if bytes.contains(&0) {
        StrError::NullCharacter // [MQTT-1.5.3-2]
    } else {
        StrError::WildcardInTopicName // [MQTT-3.3.2-2], [MQTT-4.7.1-1]
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Non-zero if and only if some byte of `w` is zero. (Bytes above the first zero byte
/// may be flagged wrongly, which does not matter for a yes-or-no answer.)
#[inline(always)]
fn has_zero(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// Non-zero if and only if some byte of `w` is 0, `+` or `#`.
#[inline(always)]
fn special_bytes(w: u64) -> u64 {
    // `#` (0x23) and `+` (0x2b) differ only in bit 3: setting bit 3 turns both, and
    // nothing else, into 0x2b.
    has_zero(w) | has_zero((w | (LO * 0x08)) ^ (LO * b'+' as u64))
}

#[inline(always)]
fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn u32_at(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[i..i + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// Whether any byte has its high bit set (not ASCII), and whether any byte is 0, `+`
/// or `#`.
#[inline(always)]
fn scan(bytes: &[u8]) -> (bool, bool) {
    let n = bytes.len();
    if n > 16 {
        return scan_long(bytes);
    }
    // Up to 16 bytes (most topic names) as two words that between them cover every
    // byte, some possibly twice: no loop.
    let (a, b) = if n >= 8 {
        (u64_at(bytes, 0), u64_at(bytes, n - 8))
    } else if n >= 4 {
        let w = u32_at(bytes, 0) | (u32_at(bytes, n - 4) << 32);
        (w, w)
    } else {
        // First, middle and last byte cover 1 to 3 bytes; the rest is 'a', which
        // trips no test.
        let b = |i: usize| u64::from(bytes.get(i).copied().unwrap_or(b'a'));
        let w = b(0) | (b(n / 2) << 8) | (b(n.wrapping_sub(1)) << 16);
        let w = w | ((LO * b'a' as u64) << 24);
        (w, w)
    };
    ((a | b) & HI != 0, special_bytes(a) | special_bytes(b) != 0)
}

/// [`scan`] for more than 16 bytes.
#[inline(never)]
fn scan_long(bytes: &[u8]) -> (bool, bool) {
    let n = bytes.len();
    let (mut any, mut special) = (0u64, 0u64);
    let mut i = 0;
    while i + 8 <= n {
        let w = u64_at(bytes, i);
        any |= w;
        special |= special_bytes(w);
        i += 8;
    }
    if i < n {
        // The last eight bytes, overlapping what was already scanned.
        let w = u64_at(bytes, n - 8);
        any |= w;
        special |= special_bytes(w);
    }
    (any & HI != 0, special != 0)
}

fn check_filter(bytes: &[u8]) -> Result<(), StrError> {
    string::validate(bytes)?;
    if bytes.is_empty() {
        return Err(StrError::EmptyTopic); // [MQTT-4.7.3-1]
    }
    let mut levels = bytes.split(|&b| b == b'/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        // [MQTT-4.7.1-2]: `#` alone in the last level.
        if level.contains(&b'#') && (level != b"#" || !last) {
            return Err(StrError::InvalidWildcard);
        }
        // [MQTT-4.7.1-3]: `+` fills its whole level.
        if level.contains(&b'+') && level != b"+" {
            return Err(StrError::InvalidWildcard);
        }
    }
    Ok(())
}

/// Does `filter` match `topic`? Both are raw bytes already validated.
fn matches(filter: &[u8], topic: &[u8]) -> bool {
    // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match `$` topics.
    if topic.first() == Some(&b'$') && matches!(filter.first(), Some(b'+' | b'#')) {
        return false;
    }
    let mut f = filter.split(|&b| b == b'/');
    let mut t = topic.split(|&b| b == b'/');
    loop {
        match (f.next(), t.next()) {
            // `#` also matches the parent level: "sport/#" matches "sport".
            (Some(b"#"), _) => return true,
            (Some(b"+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

macro_rules! topic_common {
    ($ty:ident, $check:ident) => {
        impl<'a> $ty<&'a [u8]> {
            /// Validates a borrowed string.
            pub fn new(s: &'a str) -> Result<Self, StrError> {
                $ty::from_storage(s.as_bytes())
            }
        }

        impl<S: Storage> $ty<S> {
            /// Validates bytes in a storage container.
            pub fn from_storage(s: S) -> Result<Self, StrError> {
                $check(s.as_ref())?;
                Ok($ty(Str::trusted(s)))
            }

            /// Validates an MQTT string.
            pub fn from_mqtt_str(s: Str<S>) -> Result<Self, StrError> {
                $check(s.as_bytes())?;
                Ok($ty(s))
            }

            /// The topic as a string.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The topic's bytes.
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }

            /// The underlying MQTT string.
            pub fn as_mqtt_str(&self) -> &Str<S> {
                &self.0
            }

            /// The storage.
            pub fn into_inner(self) -> S {
                self.0.into_inner()
            }

            /// A borrowed view.
            pub fn as_borrowed(&self) -> $ty<&[u8]> {
                $ty(self.0.as_borrowed())
            }

            #[allow(dead_code)] // not every topic type needs it
            pub(crate) fn trusted(s: S) -> Self {
                debug_assert!($check(s.as_ref()).is_ok());
                $ty(Str::trusted(s))
            }

            /// [`Self::trusted`], or the empty name of a 5.0 PUBLISH sent with a Topic
            /// Alias alone (section 3.3.2.1), which is no valid topic.
            #[allow(dead_code)] // not every topic type needs it
            pub(crate) fn trusted_or_empty(s: S) -> Self {
                debug_assert!(s.as_ref().is_empty() || $check(s.as_ref()).is_ok());
                $ty(Str::trusted(s))
            }
        }

        #[cfg(feature = "bytes")]
        impl $ty<bytes::Bytes> {
            /// Validates an owned string without copying it.
            pub fn from_string(s: alloc::string::String) -> Result<Self, StrError> {
                $ty::from_storage(bytes::Bytes::from(s))
            }

            /// Validates a static string.
            pub fn from_static(s: &'static str) -> Result<Self, StrError> {
                $ty::from_storage(bytes::Bytes::from_static(s.as_bytes()))
            }
        }

        impl<S: Storage> fmt::Debug for $ty<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl<S: Storage> fmt::Display for $ty<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

topic_common!(TopicName, check_name);
topic_common!(TopicFilter, check_filter);

impl<S: Storage> TopicFilter<S> {
    /// Whether a message published to `topic` matches this filter, following the
    /// wildcard rules of [MQTT-4.7.1] and the `$` rule [MQTT-4.7.2-1].
    pub fn matches<T: Storage>(&self, topic: &TopicName<T>) -> bool {
        matches(self.as_bytes(), topic.as_bytes())
    }

    /// Whether the filter has any wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.as_bytes().iter().any(|&b| b == b'+' || b == b'#')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> TopicName<&[u8]> {
        TopicName::new(s).unwrap()
    }
    fn filter(s: &str) -> TopicFilter<&[u8]> {
        TopicFilter::new(s).unwrap()
    }

    // [MQTT-4.7.3-1]
    #[test]
    fn empty_is_refused() {
        assert_eq!(TopicName::new("").unwrap_err(), StrError::EmptyTopic);
        assert_eq!(TopicFilter::new("").unwrap_err(), StrError::EmptyTopic);
    }

    // [MQTT-3.3.2-2], [MQTT-4.7.1-1]
    #[test]
    fn wildcards_are_refused_in_names() {
        for s in ["+", "#", "a/+", "a/#", "a+b", "sport/tennis#"] {
            assert_eq!(
                TopicName::new(s).unwrap_err(),
                StrError::WildcardInTopicName,
                "{s}"
            );
        }
        for s in ["/", "a", "a/b", "$SYS/x", " ", "a//b"] {
            assert!(TopicName::new(s).is_ok(), "{s}");
        }
    }

    // [MQTT-4.7.1-2], [MQTT-4.7.1-3]: the examples of 4.7.1.2 and 4.7.1.3.
    #[test]
    fn wildcard_placement_in_filters() {
        for s in [
            "#",
            "sport/#",
            "sport/tennis/#",
            "+",
            "+/tennis/#",
            "sport/+/player1",
            "/+",
            "+/+",
        ] {
            assert!(TopicFilter::new(s).is_ok(), "{s}");
        }
        for s in [
            "sport/tennis#",
            "sport/tennis/#/ranking",
            "sport+",
            "#/",
            "a/b#",
            "+a",
            "##",
            "++",
        ] {
            assert_eq!(
                TopicFilter::new(s).unwrap_err(),
                StrError::InvalidWildcard,
                "{s}"
            );
        }
    }

    #[test]
    fn multi_level_wildcard_matches() {
        let f = filter("sport/tennis/player1/#");
        assert!(f.matches(&name("sport/tennis/player1")));
        assert!(f.matches(&name("sport/tennis/player1/ranking")));
        assert!(f.matches(&name("sport/tennis/player1/score/wimbledon")));
        assert!(!f.matches(&name("sport/tennis/player2")));
        assert!(filter("sport/#").matches(&name("sport")));
        assert!(filter("#").matches(&name("a/b/c")));
    }

    #[test]
    fn single_level_wildcard_matches() {
        let f = filter("sport/tennis/+");
        assert!(f.matches(&name("sport/tennis/player1")));
        assert!(!f.matches(&name("sport/tennis/player1/ranking")));
        assert!(!filter("sport/+").matches(&name("sport")));
        assert!(filter("sport/+").matches(&name("sport/")));
        assert!(filter("+/+").matches(&name("/finance")));
        assert!(filter("/+").matches(&name("/finance")));
        assert!(!filter("+").matches(&name("/finance")));
    }

    // [MQTT-4.7.2-1]: wildcard-first filters do not match `$` topics.
    #[test]
    fn dollar_topics() {
        assert!(!filter("#").matches(&name("$SYS/broker/uptime")));
        assert!(!filter("+/monitor/Clients").matches(&name("$SYS/monitor/Clients")));
        assert!(filter("$SYS/#").matches(&name("$SYS/monitor/Clients")));
        assert!(filter("$SYS/monitor/+").matches(&name("$SYS/monitor/Clients")));
    }

    #[test]
    fn exact_match_is_case_sensitive() {
        assert!(filter("a/b").matches(&name("a/b")));
        assert!(!filter("a/b").matches(&name("A/b")));
        assert!(!filter("a/b").matches(&name("a/b/c")));
        assert!(!filter("a/b/c").matches(&name("a/b")));
    }
}

#[cfg(test)]
mod scan_tests {
    use super::scan;

    // Every byte value at every position of every length up to 40: exact.
    #[test]
    fn scan_flags_exactly_the_special_and_high_bytes() {
        for len in 1..=40 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = [b'a'; 40];
                    bytes[at] = b;
                    let expected = (b >= 0x80, matches!(b, 0 | b'+' | b'#'));
                    assert_eq!(scan(&bytes[..len]), expected, "{b:#04x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn scan_matches_a_plain_byte_loop() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..40 {
            for _ in 0..200 {
                let bytes: [u8; 40] = core::array::from_fn(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Mostly printable ASCII with the special bytes and high bytes mixed in.
                    match x % 16 {
                        0 => 0,
                        1 => b'+',
                        2 => b'#',
                        3 => 0x80 | (x >> 8) as u8,
                        _ => b' ' + (x >> 8) as u8 % 90,
                    }
                });
                let b = &bytes[..len];
                let expected = (
                    b.iter().any(|&c| c >= 0x80),
                    b.iter().any(|&c| matches!(c, 0 | b'+' | b'#')),
                );
                assert_eq!(scan(b), expected, "{b:02x?}");
            }
        }
    }
}
