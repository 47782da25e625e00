//! A PUBLISH head (fixed header, topic, packet identifier) written straight into a
//! `BytesMut` with fixed-size moves only.
//!
//! Through `BufMut` the topic goes out as one `put_slice` of a length known only at
//! run time: a call into `memcpy` that takes about a fifth of a 64 B header encode,
//! and after which the buffer's length is reloaded from memory. Here the head gets a
//! zeroed slot of constant size (a few vector stores), each field is stored at its
//! offset, the topic as two overlapping moves of a power-of-two size, and the slot is
//! cut to the head's length. All of it is safe code.

use bytes::BytesMut;

/// Longest topic the fast path takes: the pieces go up to 32 bytes.
const SHORT_TOPIC: usize = 64;
/// Bytes of a head besides the topic: at most 3 of fixed header (remaining length
/// below 16 KiB), 2 of topic length, 2 of packet identifier.
const FIELDS: usize = 7;
/// The longest head the fast path writes.
const LONGEST: usize = SHORT_TOPIC + FIELDS;

/// Writes the head of a PUBLISH whose remaining length is `body` and returns true, or
/// writes nothing and returns false when the head does not fit the fast path (a topic
/// over 64 bytes, a body of 16 KiB or more, or not enough spare capacity for the
/// slot: the fast path never makes the buffer grow). The slot is the smallest of 32,
/// 48 and 80 bytes that holds the head: zeroing it is a good part of the cost.
#[inline(always)]
pub(super) fn put_short_head(
    out: &mut BytesMut,
    first: u8,
    body: usize,
    topic: &[u8],
    id: Option<u16>,
) -> bool {
    if body >= 16_384 {
        return false;
    }
    match topic.len() + FIELDS {
        0..=32 => put_in_slot::<32>(out, first, body, topic, id),
        33..=48 => put_in_slot::<48>(out, first, body, topic, id),
        49..=LONGEST => put_in_slot::<80>(out, first, body, topic, id),
        _ => false,
    }
}

/// [`put_short_head`] with a slot of `SLOT` bytes, which holds the head.
#[inline(always)]
fn put_in_slot<const SLOT: usize>(
    out: &mut BytesMut,
    first: u8,
    body: usize,
    topic: &[u8],
    id: Option<u16>,
) -> bool {
    if out.capacity() - out.len() < SLOT {
        return false;
    }
    let start = out.len();
    // `put_bytes` inlines to constant-size stores; `resize` is an out-of-line call.
    bytes::BufMut::put_bytes(out, 0, SLOT);
    let Some((slot, _)) = out[start..].split_first_chunk_mut::<SLOT>() else {
        out.truncate(start);
        return false;
    };
    slot[0] = first;
    let at = if body < 128 {
        slot[1] = body as u8;
        2
    } else {
        slot[1] = body as u8 | 0x80;
        slot[2] = (body >> 7) as u8;
        3
    };
    slot[at..at + 2].copy_from_slice(&(topic.len() as u16).to_be_bytes());
    let mut end = at + 2;
    copy_short(&mut slot[end..], topic);
    end += topic.len();
    if let Some(id) = id {
        slot[end..end + 2].copy_from_slice(&id.to_be_bytes());
        end += 2;
    }
    out.truncate(start + end);
    true
}

/// Copies `src` (at most 64 bytes) to the front of `dst` as two overlapping moves of
/// the largest power of two not above its length, so that no length is variable.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n >= 32 {
        overlapping::<32>(dst, src);
    } else if n >= 16 {
        overlapping::<16>(dst, src);
    } else if n >= 8 {
        overlapping::<8>(dst, src);
    } else if n >= 4 {
        overlapping::<4>(dst, src);
    } else if n >= 2 {
        overlapping::<2>(dst, src);
    } else if n == 1 {
        dst[0] = src[0];
    }
}

/// `src` (`K` to `2 K` bytes) as its first and its last `K` bytes.
#[inline(always)]
fn overlapping<const K: usize>(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    dst[..K].copy_from_slice(&src[..K]);
    dst[n - K..n].copy_from_slice(&src[n - K..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every topic length up to the limit, at both remaining-length sizes, with and
    // without a packet identifier, after bytes already in the buffer.
    #[test]
    fn writes_the_same_bytes_as_field_by_field() {
        let topic: [u8; SHORT_TOPIC + 1] = core::array::from_fn(|i| b'a' + (i % 26) as u8);
        for len in 0..=SHORT_TOPIC {
            for body in [len + 2, 127, 128, 16_383] {
                for id in [None, Some(0xA1B2)] {
                    let mut out = BytesMut::with_capacity(256);
                    out.extend_from_slice(b"xyz");
                    assert!(put_short_head(&mut out, 0x32, body, &topic[..len], id));
                    let mut want = b"xyz".to_vec();
                    want.push(0x32);
                    if body < 128 {
                        want.push(body as u8);
                    } else {
                        want.extend([body as u8 | 0x80, (body >> 7) as u8]);
                    }
                    want.extend((len as u16).to_be_bytes());
                    want.extend(&topic[..len]);
                    want.extend(id.map(u16::to_be_bytes).into_iter().flatten());
                    assert_eq!(&out[..], &want[..], "topic {len}, body {body}, id {id:?}");
                }
            }
        }
    }

    #[test]
    fn declines_what_it_cannot_take_and_writes_nothing() {
        let topic = [b't'; SHORT_TOPIC + 1];
        let mut out = BytesMut::with_capacity(256);
        assert!(!put_short_head(&mut out, 0x30, 70, &topic, None));
        assert!(!put_short_head(&mut out, 0x30, 16_384, &topic[..4], None));
        for (len, slot) in [(25, 32), (41, 48), (64, 80)] {
            let mut tight = BytesMut::with_capacity(slot - 1);
            assert!(!put_short_head(&mut tight, 0x30, 70, &topic[..len], None));
            assert!(tight.is_empty());
            assert_eq!(tight.capacity(), slot - 1, "never grows the buffer");
        }
        assert!(out.is_empty());
    }
}
