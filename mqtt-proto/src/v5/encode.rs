//! Encoding MQTT 5.0 packets: into a `&mut [u8]` without an allocator, or into a
//! `BufMut`; a PUBLISH also without its payload.

use super::{Packet, Publish};
#[cfg(feature = "bytes")]
use crate::header::PacketType;
use crate::packet::write_fixed_header;
use crate::wire::{Sink, SliceSink};
use crate::{varint, EncodeError, Storage};

impl<S: Storage> Packet<S> {
    fn first_byte(&self) -> u8 {
        let t = self.packet_type();
        let flags = match self {
            Packet::Publish(p) => p.flags(),
            _ => t.fixed_flags().unwrap_or(0),
        };
        ((t as u8) << 4) | flags
    }

    /// Length of variable header plus payload; checks what the types cannot.
    fn body_len(&self) -> Result<usize, EncodeError> {
        let n = match self {
            Packet::Connect(c) => c.body_len()?,
            Packet::Connack(c) => c.body_len()?,
            Packet::Publish(p) => p.body_len()?,
            Packet::Puback(a) | Packet::Pubrec(a) => a.body_len(),
            Packet::Pubrel(a) | Packet::Pubcomp(a) => a.body_len(),
            Packet::Subscribe(s) => s.body_len(),
            Packet::Suback(s) => s.body_len(),
            Packet::Unsubscribe(u) => u.body_len(),
            Packet::Unsuback(u) => u.body_len(),
            Packet::Pingreq | Packet::Pingresp => 0,
            Packet::Disconnect(d) => d.body_len(),
            Packet::Auth(a) => a.body_len(),
        };
        if n > varint::MAX_REMAINING_LENGTH as usize {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok(n)
    }

    fn write_body<W: Sink>(&self, w: &mut W) {
        match self {
            Packet::Connect(c) => c.write_body(w),
            Packet::Connack(c) => c.write_body(w),
            Packet::Publish(p) => p.write_body(w),
            Packet::Puback(a) | Packet::Pubrec(a) => a.write_body(w),
            Packet::Pubrel(a) | Packet::Pubcomp(a) => a.write_body(w),
            Packet::Subscribe(s) => s.write_body(w),
            Packet::Suback(s) => s.write_body(w),
            Packet::Unsubscribe(u) => u.write_body(w),
            Packet::Unsuback(u) => u.write_body(w),
            Packet::Pingreq | Packet::Pingresp => {}
            Packet::Disconnect(d) => d.write_body(w),
            Packet::Auth(a) => a.write_body(w),
        }
    }

    /// The full encoded size in bytes, or why it cannot be encoded.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        let body = self.body_len()?;
        Ok(1 + varint::len(body as u32) + body)
    }

    /// Encodes the whole packet at the start of `out`, without an allocator, and
    /// returns its length. A too-small `out` gives
    /// [`EncodeError::BufferTooSmall`] with the size needed, and is left untouched.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let body = self.body_len()?;
        let needed = 1 + varint::len(body as u32) + body;
        if out.len() < needed {
            return Err(EncodeError::BufferTooSmall { needed });
        }
        let mut sink = SliceSink { buf: out, pos: 0 };
        write_fixed_header(&mut sink, self.first_byte(), body);
        self.write_body(&mut sink);
        debug_assert_eq!(sink.pos, needed);
        Ok(needed)
    }

    /// Encodes the whole packet into a `BufMut`, payload included.
    #[cfg(feature = "bytes")]
    pub fn encode_to<B: bytes::BufMut>(&self, out: &mut B) -> Result<(), EncodeError> {
        let body = self.body_len()?;
        put(out, 5 + body, |mut w| {
            write_fixed_header(&mut w, self.first_byte(), body);
            self.write_body(&mut w);
        });
        Ok(())
    }
}

/// Writes at most `max` bytes into `out`: small ones assembled on the stack and put
/// with one call (a `BufMut` call per field costs more than the bytes), larger ones
/// straight into `out`.
#[cfg(feature = "bytes")]
fn put<B: bytes::BufMut>(out: &mut B, max: usize, write: impl Fn(&mut dyn Sink)) {
    use crate::packet::STACK_HEAD;
    if max <= STACK_HEAD {
        let mut stack = [0u8; STACK_HEAD];
        let mut sink = SliceSink {
            buf: &mut stack,
            pos: 0,
        };
        write(&mut sink);
        let n = sink.pos;
        out.put_slice(&stack[..n]);
    } else {
        write(&mut crate::wire::BufSink(out));
    }
}

#[cfg(feature = "bytes")]
impl Sink for &mut dyn Sink {
    fn put(&mut self, bytes: &[u8]) {
        (**self).put(bytes);
    }
    fn put_u8(&mut self, b: u8) {
        (**self).put_u8(b);
    }
    fn put_u16(&mut self, v: u16) {
        (**self).put_u16(v);
    }
}

impl<S: Storage> Publish<S> {
    /// Length of the body, or why the packet cannot be encoded.
    fn checked_body_len(&self) -> Result<usize, EncodeError> {
        let body = self.body_len()?;
        if body > varint::MAX_REMAINING_LENGTH as usize {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok(body)
    }

    /// Size of the whole packet, payload included.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        let body = self.checked_body_len()?;
        Ok(1 + varint::len(body as u32) + body)
    }

    /// Writes everything but the payload: fixed header, topic, packet identifier and
    /// properties. The caller sends the payload after it, e.g. with a vectored write,
    /// so the payload is never copied.
    #[cfg(feature = "bytes")]
    pub fn encode_header<B: bytes::BufMut>(&self, out: &mut B) -> Result<(), EncodeError> {
        let body = self.checked_body_len()?;
        let first = (PacketType::Publish as u8) << 4 | self.flags();
        put(out, 5 + self.head_len(), |mut w| {
            write_fixed_header(&mut w, first, body);
            self.write_head(&mut w);
        });
        Ok(())
    }
}
