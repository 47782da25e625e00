//! The codec against a real broker: every byte mosquitto sends decodes, and every
//! packet the codec encodes is accepted, at each QoS and payload sizes from 0 bytes
//! to 3 MiB (a four-byte remaining length).

#[path = "../examples/raw_client.rs"]
#[allow(dead_code)]
mod raw_client;

use mqtt_proto::QoS;
use mqtt_test_broker::Mosquitto;

#[test]
fn publish_and_subscribe_at_every_qos_through_mosquitto() {
    let broker = Mosquitto::start();
    let big = vec![0x5au8; 3 * 1024 * 1024];
    let mid = vec![0xa5u8; 70_000];
    let payloads: [&[u8]; 6] = [b"", &big, &mid, b"zero", b"one", b"two"];
    let got = raw_client::run(&broker.addr(), "codec-test", "codec/test", &payloads)
        .unwrap_or_else(|e| panic!("{e}: broker log:\n{}", broker.log()));
    assert_eq!(got.len(), payloads.len());
    // One connection, so the broker keeps our order per QoS [MQTT-4.6.0-6]; QoS 0
    // may overtake, so compare as sets keyed by payload.
    for (i, payload) in payloads.iter().enumerate() {
        let expected_qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][i % 3];
        let m = got
            .iter()
            .find(|m| &m.payload[..] == *payload)
            .expect("message arrived");
        assert_eq!(m.qos, expected_qos);
        assert_eq!(m.topic, "codec/test");
    }
}
