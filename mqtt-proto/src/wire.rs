//! Field-level reading and writing shared by every packet.

use crate::{varint, DecodeError, EncodeError, PacketId, Storage, Str, TopicFilter, TopicName};

/// Reads the fields of one packet (`src` holds exactly that packet).
pub struct Reader<'s, S> {
    src: &'s S,
    pos: usize,
}

impl<'s, S: Storage> Reader<'s, S> {
    /// A reader over `src` starting at byte `pos` (just after the fixed header).
    pub fn new(src: &'s S, pos: usize) -> Self {
        Reader { src, pos }
    }

    fn bytes(&self) -> &'s [u8] {
        self.src.as_ref()
    }

    /// Bytes left in the packet.
    pub fn remaining(&self) -> usize {
        self.bytes().len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<(usize, usize), DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated);
        }
        let start = self.pos;
        self.pos += n;
        Ok((start, self.pos))
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let (s, _) = self.take(1)?;
        Ok(self.bytes()[s])
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        let (s, _) = self.take(2)?;
        let b = self.bytes();
        Ok(u16::from_be_bytes([b[s], b[s + 1]]))
    }

    /// A four-byte big-endian integer (MQTT 5.0).
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let (s, _) = self.take(4)?;
        let b = self.bytes();
        Ok(u32::from_be_bytes([b[s], b[s + 1], b[s + 2], b[s + 3]]))
    }

    /// A variable byte integer inside a packet (MQTT 5.0): at most four bytes and in
    /// its shortest form [MQTT-1.5.5-1]; running past the packet is `Truncated`.
    pub fn var_int(&mut self) -> Result<u32, DecodeError> {
        match varint::decode(&self.bytes()[self.pos..]) {
            Ok(Some((v, n))) if n == varint::len(v) => {
                self.pos += n;
                Ok(v)
            }
            Ok(None) => Err(DecodeError::Truncated),
            _ => Err(DecodeError::MalformedVariableByteInteger),
        }
    }

    /// The next `n` bytes as storage, without copying.
    pub fn bytes_n(&mut self, n: usize) -> Result<S, DecodeError> {
        let (s, e) = self.take(n)?;
        Ok(self.src.slice(s, e))
    }

    /// The position in the packet.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// All the bytes read from, whatever the position.
    pub fn src_bytes(&self) -> &'s [u8] {
        self.bytes()
    }

    /// Moves to position `end`, which must not be past the end.
    pub fn advance_to(&mut self, end: usize) -> Result<(), DecodeError> {
        if end > self.bytes().len() || end < self.pos {
            return Err(DecodeError::Truncated);
        }
        self.pos = end;
        Ok(())
    }

    pub fn packet_id(&mut self) -> Result<PacketId, DecodeError> {
        PacketId::decode(self.u16()?) // [MQTT-2.3.1-1]
    }

    /// A two-byte length followed by that many bytes.
    pub fn binary(&mut self) -> Result<S, DecodeError> {
        let n = self.u16()? as usize;
        let (s, e) = self.take(n)?;
        Ok(self.src.slice(s, e))
    }

    /// The raw bytes of a length-prefixed field, without copying them out.
    pub fn binary_slice(&mut self) -> Result<&'s [u8], DecodeError> {
        let n = self.u16()? as usize;
        let (s, e) = self.take(n)?;
        Ok(&self.bytes()[s..e])
    }

    pub fn string(&mut self) -> Result<Str<S>, DecodeError> {
        Ok(Str::from_storage(self.binary()?)?)
    }

    pub fn topic_name(&mut self) -> Result<TopicName<S>, DecodeError> {
        Ok(TopicName::from_storage(self.binary()?)?)
    }

    pub fn topic_filter(&mut self) -> Result<TopicFilter<S>, DecodeError> {
        Ok(TopicFilter::from_storage(self.binary()?)?)
    }

    /// Everything up to the end of the packet.
    pub fn rest(&mut self) -> S {
        let (s, e) = (self.pos, self.bytes().len());
        self.pos = e;
        self.src.slice(s, e)
    }

    /// Errs if any byte is left unread.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// Where encoded bytes go: a slice or a `BufMut`. Writers never fail: the size was
/// checked before writing started.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);

    fn put_u8(&mut self, b: u8) {
        self.put(&[b]);
    }

    fn put_u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    fn put_u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    /// A variable byte integer (at most [`varint::MAX_REMAINING_LENGTH`]).
    fn put_var_int(&mut self, v: u32) {
        let mut b = [0u8; 4];
        let n = varint::write(v, &mut b);
        self.put(&b[..n]);
    }

    /// A two-byte length and the bytes; the caller checked the length fits.
    fn put_prefixed(&mut self, bytes: &[u8]) {
        self.put_u16(bytes.len() as u16);
        self.put(bytes);
    }
}

/// Writes into a slice that is known to be large enough.
pub struct SliceSink<'b> {
    pub buf: &'b mut [u8],
    pub pos: usize,
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn put_u8(&mut self, b: u8) {
        if let Some(dst) = self.buf.get_mut(self.pos) {
            *dst = b;
        }
        self.pos += 1;
    }

    #[inline]
    fn put_u16(&mut self, v: u16) {
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + 2) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
        self.pos += 2;
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        } else {
            debug_assert!(false, "encoded length was miscomputed");
        }
        self.pos = end;
    }
}

#[cfg(feature = "bytes")]
impl<B: bytes::BufMut> Sink for BufSink<'_, B> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.put_slice(bytes);
    }
}

/// Writes into any `BufMut`.
#[cfg(feature = "bytes")]
pub struct BufSink<'b, B>(pub &'b mut B);

/// Length of a two-byte-prefixed field, or an error past 65,535 bytes.
pub fn prefixed_len(bytes: &[u8]) -> Result<usize, EncodeError> {
    if bytes.len() > u16::MAX as usize {
        return Err(EncodeError::FieldTooLong);
    }
    Ok(2 + bytes.len())
}
