//! Shared inputs for comparing mqtt-proto's codec with other MQTT 3.1.1 codecs.
//!
//! The `compare` bench (`cargo bench -p mqtt-bench --bench compare`) runs the same
//! QoS 1 PUBLISH, with a 16-byte topic and a 64 B or 4 KiB payload, through
//! mqtt-proto, rumqttc's own codec (`rumqttc::mqttbytes::v4`) and mqttrs, decoding
//! and encoding it. `report.sh` beside this crate turns the results into a table.
//!
//! This crate is a workspace member but not a default member, so a plain
//! `cargo test` never builds the competitors.

use bytes::{Bytes, BytesMut};
use mqtt_proto::{Packet, PacketId, Publish, QosPid, TopicName};

/// The topic name of every benchmarked PUBLISH: 16 bytes.
pub const TOPIC: &str = "sensors/room1/t0";

/// The packet identifier of every benchmarked PUBLISH (QoS 1).
pub const PACKET_ID: u16 = 1;

/// Payload sizes benchmarked, with the label used in benchmark names.
pub const PAYLOADS: [(usize, &str); 2] = [(64, "64B"), (4096, "4KiB")];

/// A deterministic payload of `len` bytes.
pub fn payload(len: usize) -> Bytes {
    (0..len).map(|i| i as u8).collect::<Vec<u8>>().into()
}

/// The benchmarked PUBLISH as an mqtt-proto packet, payload of `len` bytes.
pub fn proto_publish(len: usize) -> Publish<Bytes> {
    Publish::new(
        TopicName::from_static(TOPIC).expect("valid topic"),
        QosPid::AtLeastOnce(PacketId::new(PACKET_ID).expect("non-zero id")),
        payload(len),
    )
}

/// The benchmarked PUBLISH on the wire (as mqtt-proto encodes it), payload of `len`
/// bytes.
pub fn wire(len: usize) -> Bytes {
    let mut buf = BytesMut::new();
    Packet::Publish(proto_publish(len))
        .encode_to(&mut buf)
        .expect("encodable");
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_layout() {
        let w = wire(64);
        // Fixed header (2) + topic length (2) + topic (16) + packet id (2) + payload.
        assert_eq!(w.len(), 2 + 2 + 16 + 2 + 64);
        assert_eq!(w[0], 0x32);
        assert_eq!(TOPIC.len(), 16);
    }
}
