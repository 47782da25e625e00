//! The three codecs agree on the benchmarked packets, so the bench compares the same
//! work: identical bytes out of every encoder, identical fields out of every decoder.

use bytes::BytesMut;
use mqtt_bench::{payload, proto_publish, wire, PACKET_ID, PAYLOADS, TOPIC};
use mqtt_proto::{decode, decode_buf, DecodeOptions, Packet};
use rumqttc::mqttbytes::{v4, QoS};

#[test]
fn encoders_write_the_same_bytes() {
    for (len, _) in PAYLOADS {
        let expected = wire(len);

        let mut out = vec![0u8; expected.len()];
        let n = Packet::Publish(proto_publish(len))
            .encode(&mut out)
            .unwrap();
        assert_eq!(&out[..n], &expected[..]);

        let mut header = BytesMut::new();
        proto_publish(len).encode_header(&mut header).unwrap();
        assert_eq!(&header[..], &expected[..expected.len() - len]);

        let mut r = v4::Publish::from_bytes(TOPIC, QoS::AtLeastOnce, payload(len));
        r.pkid = PACKET_ID;
        let mut out = BytesMut::new();
        r.write(&mut out).unwrap();
        assert_eq!(&out[..], &expected[..]);

        let body = payload(len);
        let m = mqttrs::Packet::Publish(mqttrs::Publish {
            dup: false,
            qospid: mqttrs::QosPid::AtLeastOnce(mqttrs::Pid::try_from(PACKET_ID).unwrap()),
            retain: false,
            topic_name: TOPIC,
            payload: &body,
        });
        let mut out = vec![0u8; expected.len()];
        mqttrs::encode_slice(&m, &mut out).unwrap();
        assert_eq!(&out[..], &expected[..]);
    }
}

#[test]
fn decoders_read_the_same_fields() {
    let opts = DecodeOptions::default();
    for (len, _) in PAYLOADS {
        let w = wire(len);
        let expected = Packet::Publish(proto_publish(len));

        let (p, used) = decode(&w, &opts).unwrap().unwrap();
        assert_eq!(used, w.len());
        assert_eq!(p, expected.as_borrowed());

        let mut buf = BytesMut::from(&w[..]);
        assert_eq!(decode_buf(&mut buf, &opts).unwrap().unwrap(), expected);
        assert!(buf.is_empty());

        let mut buf = BytesMut::from(&w[..]);
        match v4::Packet::read(&mut buf, usize::MAX).unwrap() {
            v4::Packet::Publish(p) => {
                assert_eq!(p.topic, TOPIC);
                assert_eq!(p.pkid, PACKET_ID);
                assert_eq!(p.qos, QoS::AtLeastOnce);
                assert_eq!(p.payload, payload(len));
            }
            other => panic!("{other:?}"),
        }
        assert!(buf.is_empty());

        match mqttrs::decode_slice(&w).unwrap().unwrap() {
            mqttrs::Packet::Publish(p) => {
                assert_eq!(p.topic_name, TOPIC);
                assert_eq!(p.qospid.pid().map(|p| p.get()), Some(PACKET_ID));
                assert_eq!(p.payload, &payload(len)[..]);
            }
            other => panic!("{other:?}"),
        }
    }
}
