//! The remaining length: a variable byte integer of one to four bytes [MQTT-2.2.3].

use crate::DecodeError;

/// The largest value four bytes can carry: 268,435,455.
pub const MAX_REMAINING_LENGTH: u32 = 268_435_455;

/// Decodes a variable byte integer from the start of `buf`.
///
/// `Ok(None)` means `buf` ends before the integer does. A fifth byte is an error.
pub fn decode(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value = 0u32;
    for i in 0..4 {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    Err(DecodeError::MalformedRemainingLength)
}

/// Bytes needed to encode `value` (1 to 4; `value` must not exceed
/// [`MAX_REMAINING_LENGTH`]).
pub const fn len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes `value` into `out` and returns the number of bytes written. `out` must hold
/// at least [`len`]`(value)` bytes.
pub(crate) fn write(mut value: u32, out: &mut [u8; 4]) -> usize {
    let mut i = 0;
    loop {
        let mut b = (value & 0x7f) as u8;
        value >>= 7;
        if value > 0 {
            b |= 0x80;
        }
        out[i] = b;
        i += 1;
        if value == 0 {
            return i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The boundary values of the table in section 2.2.3.
    #[test]
    fn spec_table_boundaries() {
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
        ];
        for &(v, bytes) in cases {
            let mut out = [0u8; 4];
            let n = write(v, &mut out);
            assert_eq!(&out[..n], bytes, "encode {v}");
            assert_eq!(len(v), n);
            assert_eq!(decode(bytes), Ok(Some((v, n))), "decode {v}");
        }
    }

    #[test]
    fn partial_is_not_an_error() {
        assert_eq!(decode(&[]), Ok(None));
        assert_eq!(decode(&[0x80]), Ok(None));
        assert_eq!(decode(&[0xff, 0xff, 0xff]), Ok(None));
    }

    // [MQTT-2.2.3]: at most four bytes.
    #[test]
    fn fifth_byte_is_malformed() {
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(DecodeError::MalformedRemainingLength)
        );
        assert_eq!(
            decode(&[0x80, 0x80, 0x80, 0x80]),
            Err(DecodeError::MalformedRemainingLength)
        );
    }
}
