//! Where a decoded packet's bytes live: borrowed from the input, or shared `Bytes`.

/// The byte container of a packet: `&[u8]` (no allocator, borrows the input) or, with
/// the `bytes` feature, `bytes::Bytes` (owned, and still zero-copy: every field is a
/// reference-counted view of the read buffer).
///
/// The trait is sealed: the codec relies on `slice` returning exactly the bytes asked
/// for, because validated strings are views into it.
pub trait Storage: AsRef<[u8]> + Clone + sealed::Sealed {
    /// The bytes `start..end` of `self`, without copying.
    #[doc(hidden)]
    fn slice(&self, start: usize, end: usize) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &[u8] {}
    #[cfg(feature = "bytes")]
    impl Sealed for bytes::Bytes {}
}

impl Storage for &[u8] {
    #[inline]
    fn slice(&self, start: usize, end: usize) -> Self {
        &self[start..end]
    }
}

#[cfg(feature = "bytes")]
impl Storage for bytes::Bytes {
    #[inline]
    fn slice(&self, start: usize, end: usize) -> Self {
        bytes::Bytes::slice(self, start..end)
    }
}
