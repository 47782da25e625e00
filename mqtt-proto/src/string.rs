//! UTF-8 encoded strings as MQTT defines them [MQTT-1.5.3].

use core::fmt;

use crate::{Storage, StrError};

/// Checks the MQTT string rules: well-formed UTF-8 (so no surrogates)
/// [MQTT-1.5.3-1], no U+0000 [MQTT-1.5.3-2], at most 65,535 bytes.
pub(crate) fn validate(bytes: &[u8]) -> Result<&str, StrError> {
    if bytes.len() > u16::MAX as usize {
        return Err(StrError::TooLong);
    }
    let s = core::str::from_utf8(bytes).map_err(|_| StrError::InvalidUtf8)?;
    if bytes.contains(&0) {
        return Err(StrError::NullCharacter);
    }
    Ok(s)
}

/// A validated MQTT string held in `S` (`&[u8]` or `Bytes`).
///
/// Built only by validating, so its bytes are always well-formed UTF-8 without U+0000
/// and at most 65,535 bytes long. U+FEFF is kept as is [MQTT-1.5.3-3].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Str<S>(S);

impl<'a> Str<&'a [u8]> {
    /// Validates a borrowed string.
    pub fn new(s: &'a str) -> Result<Self, StrError> {
        Str::from_storage(s.as_bytes())
    }
}

impl<S: Storage> Str<S> {
    /// Validates bytes already in a storage container.
    pub fn from_storage(s: S) -> Result<Self, StrError> {
        validate(s.as_ref())?;
        Ok(Str(s))
    }

    /// The string. The check is repeated (it is cheap and keeps the crate free of
    /// `unsafe`); it cannot fail.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.0.as_ref()).unwrap_or_default()
    }

    /// The raw bytes (UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// The storage, e.g. a `Bytes` view of the read buffer.
    pub fn into_inner(self) -> S {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.as_ref().len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_empty()
    }

    /// A borrowed view of the same string.
    pub fn as_borrowed(&self) -> Str<&[u8]> {
        Str(self.0.as_ref())
    }

    /// Wraps bytes that are known to be valid (they were validated, or are a view of
    /// something validated).
    pub(crate) fn trusted(s: S) -> Self {
        debug_assert!(validate(s.as_ref()).is_ok());
        Str(s)
    }
}

#[cfg(feature = "bytes")]
impl Str<bytes::Bytes> {
    /// Validates an owned string without copying it.
    pub fn from_string(s: alloc::string::String) -> Result<Self, StrError> {
        Str::from_storage(bytes::Bytes::from(s))
    }

    /// Validates a static string.
    pub fn from_static(s: &'static str) -> Result<Self, StrError> {
        Str::from_storage(bytes::Bytes::from_static(s.as_bytes()))
    }

    /// Copies a borrowed string into an owned one.
    pub fn copy_from(s: &Str<&[u8]>) -> Self {
        Str(bytes::Bytes::copy_from_slice(s.0))
    }
}

impl<S: Storage> fmt::Debug for Str<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<S: Storage> fmt::Display for Str<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // [MQTT-1.5.3-1]: ill-formed UTF-8, including encoded surrogates, is refused.
    #[test]
    fn ill_formed_utf8_is_refused() {
        assert_eq!(validate(&[0xff]), Err(StrError::InvalidUtf8));
        assert_eq!(validate(&[0xc3]), Err(StrError::InvalidUtf8));
        // U+D800 encoded as if it were a scalar value.
        assert_eq!(validate(&[0xed, 0xa0, 0x80]), Err(StrError::InvalidUtf8));
        // Overlong encoding of '/'.
        assert_eq!(validate(&[0xc0, 0xaf]), Err(StrError::InvalidUtf8));
    }

    // [MQTT-1.5.3-2]: U+0000 is refused.
    #[test]
    fn null_character_is_refused() {
        assert_eq!(validate(b"a\0b"), Err(StrError::NullCharacter));
        assert_eq!(Str::new("\0").unwrap_err(), StrError::NullCharacter);
    }

    // [MQTT-1.5.3-3]: U+FEFF is not stripped.
    #[test]
    fn byte_order_mark_is_kept() {
        let s = Str::new("\u{feff}A").unwrap();
        assert_eq!(s.as_bytes(), &[0xef, 0xbb, 0xbf, b'A']);
    }

    #[test]
    fn length_limit() {
        let long = [b'a'; 65_536];
        assert_eq!(validate(&long), Err(StrError::TooLong));
        assert!(validate(&long[..65_535]).is_ok());
    }
}
