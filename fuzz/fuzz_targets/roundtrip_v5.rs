//! Any valid MQTT 5.0 packet (from `arbitrary`) encodes and decodes to itself, on both
//! the slice and the `BytesMut` paths; a PUBLISH's header-only encode is the packet
//! without its payload.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::v5::{self, Packet};
use mqtt_proto::DecodeOptions;

fuzz_target!(|packet: Packet<bytes::Bytes>| {
    let opts = DecodeOptions::v5();
    let len = packet.encoded_len().unwrap();
    let mut out = vec![0u8; len];
    assert_eq!(packet.encode(&mut out), Ok(len));
    let (p, used) = v5::decode(&out, &opts).unwrap().unwrap();
    assert_eq!(used, len);
    assert_eq!(p, packet.as_borrowed());
    let mut buf = BytesMut::new();
    packet.encode_to(&mut buf).unwrap();
    assert_eq!(&buf[..], &out[..]);
    assert_eq!(v5::decode_buf(&mut buf, &opts).unwrap().unwrap(), packet);
    if let Packet::Publish(p) = &packet {
        let mut head = BytesMut::new();
        p.encode_header(&mut head).unwrap();
        assert_eq!(&head[..], &out[..len - p.payload.len()]);
    }
});
