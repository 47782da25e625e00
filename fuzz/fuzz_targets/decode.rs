//! Arbitrary bytes through both decoders: no panic, the two agree, and whatever
//! decodes re-encodes to a packet that decodes to the same thing.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::{decode, decode_buf, DecodeOptions, EncodeError};

fuzz_target!(|data: &[u8]| {
    let opts = DecodeOptions::with_max_packet_size(64 * 1024);
    let mut rest = data;
    let mut buf = BytesMut::from(data);
    loop {
        let borrowed = decode(rest, &opts);
        let owned = decode_buf(&mut buf, &opts);
        match (borrowed, owned) {
            (Ok(Some((p, used))), Ok(Some(o))) => {
                assert_eq!(p, o.as_borrowed());
                rest = &rest[used..];
                let len = match p.encoded_len() {
                    Ok(len) => len,
                    // A server must accept this CONNECT and refuse it with CONNACK 0x02
                    // [MQTT-3.1.3-8]; a client must never send it [MQTT-3.1.3-7].
                    Err(EncodeError::EmptyClientIdWithoutCleanSession) => continue,
                    Err(e) => panic!("decoded packet does not encode: {e:?}"),
                };
                let mut out = vec![0u8; len];
                p.encode(&mut out).unwrap();
                let (again, n) = decode(&out, &opts).unwrap().unwrap();
                assert_eq!(n, out.len());
                assert_eq!(again, p);
            }
            (Ok(None), Ok(None)) => break,
            (Err(a), Err(b)) => {
                assert_eq!(a, b);
                break;
            }
            (a, b) => panic!("decoders disagree: {a:?} vs {b:?}"),
        }
    }
});
