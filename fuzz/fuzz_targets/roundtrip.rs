//! Any valid packet (from `arbitrary`) encodes and decodes to itself, on both the
//! slice and the `BytesMut` paths.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::{decode, decode_buf, DecodeOptions, Packet};

fuzz_target!(|packet: Packet<bytes::Bytes>| {
    let opts = DecodeOptions::default();
    let len = packet.encoded_len().unwrap();
    let mut out = vec![0u8; len];
    assert_eq!(packet.encode(&mut out), Ok(len));
    let (p, used) = decode(&out, &opts).unwrap().unwrap();
    assert_eq!(used, len);
    assert_eq!(p, packet.as_borrowed());
    let mut buf = BytesMut::new();
    packet.encode_to(&mut buf).unwrap();
    assert_eq!(&buf[..], &out[..]);
    assert_eq!(decode_buf(&mut buf, &opts).unwrap().unwrap(), packet);
});
