//! Property tests: roundtrips, streaming at any split, and hostile bytes.

use bytes::{Bytes, BytesMut};
use mqtt_proto::{decode, decode_buf, strategy, DecodeOptions, EncodeError, Packet};
use proptest::collection::vec;
use proptest::prelude::*;

fn encode_all(packets: &[Packet<Bytes>]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for p in packets {
        p.encode_to(&mut buf).unwrap();
    }
    buf.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any valid packet encodes, then decodes to itself, on every path.
    #[test]
    fn roundtrip(packet in strategy::packet()) {
        let opts = DecodeOptions::default();
        let len = packet.encoded_len().unwrap();
        let mut slice = vec![0u8; len];
        prop_assert_eq!(packet.encode(&mut slice), Ok(len));
        prop_assert_eq!(&slice[..], &encode_all(std::slice::from_ref(&packet))[..]);

        let (borrowed, used) = decode(&slice, &opts).unwrap().unwrap();
        prop_assert_eq!(used, len);
        prop_assert_eq!(&borrowed, &packet.as_borrowed());

        let mut buf = BytesMut::from(&slice[..]);
        let owned = decode_buf(&mut buf, &opts).unwrap().unwrap();
        prop_assert_eq!(&owned, &packet);
        prop_assert!(buf.is_empty());

        // Every strict prefix is "need more", never an error.
        for cut in 0..len {
            prop_assert_eq!(decode(&slice[..cut], &opts), Ok(None));
        }
        // One byte short of room: the error names the size needed.
        if len > 0 {
            let mut small = vec![0u8; len - 1];
            prop_assert_eq!(packet.encode(&mut small), Err(EncodeError::BufferTooSmall { needed: len }));
        }
    }

    /// `encode_header_buf` writes what `encode_header` writes, after any bytes
    /// already in the buffer and with any spare capacity (short of the slot it
    /// falls back), and never makes the buffer grow when the head fits.
    #[test]
    fn header_into_bytes_mut_is_the_generic_header(
        publish in strategy::publish(),
        before in vec(any::<u8>(), 0..40),
        spare in 0usize..120,
    ) {
        let mut want = BytesMut::new();
        want.extend_from_slice(&before);
        publish.encode_header(&mut want).unwrap();
        let mut got = BytesMut::with_capacity(before.len() + spare);
        got.extend_from_slice(&before);
        let capacity = got.capacity();
        publish.encode_header_buf(&mut got).unwrap();
        prop_assert_eq!(&got[..], &want[..]);
        if want.len() <= capacity {
            prop_assert_eq!(got.capacity(), capacity);
        }
    }

    /// A stream of valid packets cut into random chunks decodes to the same packets.
    #[test]
    fn stream_in_random_chunks(
        packets in vec(strategy::packet(), 1..12),
        cuts in vec(any::<prop::sample::Index>(), 0..24),
    ) {
        let opts = DecodeOptions::default();
        let wire = encode_all(&packets);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();

        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut from = 0;
        for to in points {
            buf.extend_from_slice(&wire[from..to]);
            from = to;
            while let Some(p) = decode_buf(&mut buf, &opts).unwrap() {
                got.push(p);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, packets);
    }

    /// Arbitrary bytes never panic: each decode either needs more, fails with a
    /// typed error, or yields a packet that re-encodes to the same bytes.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let opts = DecodeOptions::with_max_packet_size(1024);
        let mut rest = &bytes[..];
        while let Ok(Some((packet, used))) = decode(rest, &opts) {
            let mut out = vec![0u8; used + 8];
            let n = packet.encode(&mut out).unwrap();
            // A non-minimal remaining length re-encodes shorter; the body is identical.
            prop_assert_eq!(&out[n - body_len(&out[..n])..n], &rest[used - body_len(&rest[..used])..used]);
            rest = &rest[used..];
        }
    }

    /// Arbitrary bytes with a plausible packet start, to get past the fixed header.
    #[test]
    fn arbitrary_bodies_never_panic(first in any::<u8>(), body in vec(any::<u8>(), 0..127)) {
        let mut bytes = vec![first, body.len() as u8];
        bytes.extend_from_slice(&body);
        let _ = decode(&bytes, &DecodeOptions::default());
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = decode_buf(&mut buf, &DecodeOptions::default());
    }
}

/// Length of the body of one complete packet.
fn body_len(packet: &[u8]) -> usize {
    let (len, _) = mqtt_proto::varint::decode(&packet[1..]).unwrap().unwrap();
    len as usize
}

#[test]
fn many_packets_in_one_buffer_decode_one_by_one() {
    let wire = b"\x40\x02\x00\x01\x50\x02\x00\x02\xd0\x00\x30\x03\x00\x01t";
    let opts = DecodeOptions::default();
    let mut rest = &wire[..];
    let mut kinds = Vec::new();
    while let Some((p, used)) = decode(rest, &opts).unwrap() {
        kinds.push(p.packet_type());
        rest = &rest[used..];
    }
    use mqtt_proto::PacketType::*;
    assert_eq!(kinds, [Puback, Pubrec, Pingresp, Publish]);
    assert!(rest.is_empty());
}
