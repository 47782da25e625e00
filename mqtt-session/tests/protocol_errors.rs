//! What the broker must not do ends the connection with a typed reason.

mod common;

use bytes::Bytes;
use common::*;
use mqtt_proto::{DecodeError, Packet, PacketType, QoS, Suback, SubackCodes, SubackReturnCode};
use mqtt_session::{Config, DisconnectReason, Event, ProtocolError, Session, State};

fn closed_with(s: &mut Session) -> ProtocolError {
    assert_eq!(s.state(), State::Disconnected);
    let e = events(s);
    match e.last() {
        Some(Event::Disconnected {
            reason: DisconnectReason::Protocol(p),
        }) => *p,
        other => panic!("{other:?} in {e:?}"),
    }
}

#[test]
fn a_second_connack() {
    let mut s = connected(config());
    feed(&mut s, t(1), &[connack(false)]);
    assert_eq!(
        closed_with(&mut s),
        ProtocolError::UnexpectedPacket(PacketType::Connack)
    );
}

#[test]
fn packets_only_a_client_sends() {
    for p in [Packet::Pingreq, Packet::Disconnect] {
        let mut s = connected(config());
        let kind = p.packet_type();
        feed(&mut s, t(1), &[p]);
        assert_eq!(closed_with(&mut s), ProtocolError::UnexpectedPacket(kind));
    }
    let mut s = connected(config());
    // SUBSCRIBE 1 "a" QoS 0
    feed_raw(&mut s, t(1), b"\x82\x06\x00\x01\x00\x01a\x00");
    assert_eq!(
        closed_with(&mut s),
        ProtocolError::UnexpectedPacket(PacketType::Subscribe)
    );
}

#[test]
fn acks_for_unknown_ids() {
    for (p, kind) in [
        (Packet::Puback(pid(9)), PacketType::Puback),
        (Packet::Pubrec(pid(9)), PacketType::Pubrec),
        (Packet::Pubcomp(pid(9)), PacketType::Pubcomp),
        (Packet::Unsuback(pid(9)), PacketType::Unsuback),
    ] {
        let mut s = connected(config());
        feed(&mut s, t(1), &[p]);
        assert_eq!(
            closed_with(&mut s),
            ProtocolError::UnknownPacketId {
                packet_type: kind,
                packet_id: 9
            }
        );
    }
}

#[test]
fn puback_for_a_qos2_publish() {
    let mut s = connected(config());
    s.publish(t(1), msg("a", b"", QoS::ExactlyOnce)).unwrap();
    let _ = sent(&mut s);
    feed(&mut s, t(1), &[Packet::Puback(pid(1))]);
    assert_eq!(
        closed_with(&mut s),
        ProtocolError::UnknownPacketId {
            packet_type: PacketType::Puback,
            packet_id: 1
        }
    );
}

// [MQTT-3.8.4-5]
#[test]
fn suback_with_the_wrong_number_of_codes() {
    let mut s = connected(config());
    s.subscribe(
        t(1),
        &[
            (filter("a"), QoS::AtMostOnce),
            (filter("b"), QoS::AtMostOnce),
        ],
    )
    .unwrap();
    let _ = sent(&mut s);
    let codes = SubackCodes::from_codes(&[SubackReturnCode::Failure]).unwrap();
    feed(
        &mut s,
        t(1),
        &[Packet::Suback(Suback {
            packet_id: pid(1),
            codes,
        })],
    );
    assert_eq!(
        closed_with(&mut s),
        ProtocolError::SubackCountMismatch {
            expected: 2,
            got: 1
        }
    );
}

#[test]
fn malformed_bytes() {
    let mut s = connected(config());
    feed_raw(&mut s, t(1), b"\x30\x03\x00\x01+"); // wildcard in a topic name
    assert_eq!(
        closed_with(&mut s),
        ProtocolError::Decode(DecodeError::WildcardInTopicName)
    );
}

#[test]
fn a_packet_over_the_maximum_size_is_refused_from_its_header() {
    let mut cfg: Config = config();
    cfg.max_packet_size = 1024;
    let mut s = connected(cfg);
    // Announces 268 MB; only the header is here.
    feed_raw(&mut s, t(1), b"\x30\xff\xff\xff\x7f");
    assert_eq!(
        closed_with(&mut s),
        ProtocolError::Decode(DecodeError::PacketTooLarge {
            size: 268_435_460,
            max: 1024
        })
    );
}

#[test]
fn pubrel_before_the_application_acked() {
    let mut cfg = config();
    cfg.manual_acks = true;
    let mut s = connected(cfg);
    let p = mqtt_proto::Publish::new(
        topic("x"),
        mqtt_proto::QosPid::ExactlyOnce(pid(3)),
        Bytes::from_static(b""),
    );
    feed(&mut s, t(1), &[Packet::Publish(p), Packet::Pubrel(pid(3))]);
    assert_eq!(closed_with(&mut s), ProtocolError::PubrelBeforePubrec(3));
}

#[test]
fn bytes_after_a_violation_are_ignored() {
    let mut s = connected(config());
    // A second CONNACK followed by a valid PUBLISH: the PUBLISH is not delivered.
    feed(&mut s, t(1), &[connack(false), Packet::Pingresp]);
    assert_eq!(
        closed_with(&mut s),
        ProtocolError::UnexpectedPacket(PacketType::Connack)
    );
    assert!(events(&mut s).is_empty());
}

/// A broker acknowledging a message before it was sent (it cannot have seen it) gets
/// no PUBLISH afterwards, and the message is not sent twice: the send queue refers to
/// the operation, which the early acknowledgement ended.
#[test]
fn an_ack_before_the_publish_went_out_sends_nothing_stale() {
    let mut s = connected(config());
    let a = s.publish(t(1), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    let b = s.publish(t(1), msg("b", b"2", QoS::ExactlyOnce)).unwrap();
    // Neither has been handed to the transport yet.
    feed(
        &mut s,
        t(2),
        &[Packet::Puback(pid(1)), Packet::Pubrec(pid(2))],
    );
    assert_eq!(acknowledged(events(&mut s)), vec![a]);
    // Only the PUBREL of the released QoS 2 message goes out: its PUBLISH, whose
    // payload the session no longer holds, is never sent [MQTT-4.3.3-1].
    assert_eq!(sent(&mut s), vec![Packet::Pubrel(pid(2))]);
    feed(&mut s, t(3), &[Packet::Pubcomp(pid(2))]);
    assert_eq!(acknowledged(events(&mut s)), vec![b]);
    assert!(sent(&mut s).is_empty());
}
