//! Every rule the decoder enforces, each with the spec statement it comes from.

use mqtt_proto::*;

fn err(bytes: &[u8]) -> DecodeError {
    match decode(bytes, &DecodeOptions::default()) {
        Err(e) => {
            // The BytesMut path agrees.
            let mut b = bytes::BytesMut::from(bytes);
            assert_eq!(decode_buf(&mut b, &DecodeOptions::default()), Err(e));
            e
        }
        other => panic!("{bytes:02x?} decoded to {other:?}"),
    }
}

#[test]
fn reserved_packet_types() {
    assert_eq!(err(b"\x00\x00"), DecodeError::ReservedPacketType(0));
    assert_eq!(err(b"\xf0\x00"), DecodeError::ReservedPacketType(15));
}

// [MQTT-2.2.2-1], [MQTT-2.2.2-2]: fixed flags must have their fixed values.
#[test]
fn reserved_flag_bits() {
    let cases: &[(&[u8], PacketType, u8)] = &[
        (b"\x11\x00", PacketType::Connect, 1),
        (b"\x28\x02\x00\x00", PacketType::Connack, 8),
        (b"\x41\x02\x00\x01", PacketType::Puback, 1),
        (b"\x52\x02\x00\x01", PacketType::Pubrec, 2),
        (b"\x60\x02\x00\x01", PacketType::Pubrel, 0), // PUBREL needs 0010
        (b"\x73\x02\x00\x01", PacketType::Pubcomp, 3),
        (b"\x80\x02\x00\x01", PacketType::Subscribe, 0), // needs 0010
        (b"\x94\x03\x00\x01\x00", PacketType::Suback, 4),
        (b"\xa0\x02\x00\x01", PacketType::Unsubscribe, 0), // needs 0010
        (b"\xbf\x02\x00\x01", PacketType::Unsuback, 15),
        (b"\xc2\x00", PacketType::Pingreq, 2),
        (b"\xd1\x00", PacketType::Pingresp, 1),
        (b"\xe8\x00", PacketType::Disconnect, 8),
    ];
    for &(bytes, packet_type, flags) in cases {
        assert_eq!(
            err(bytes),
            DecodeError::InvalidFlags { packet_type, flags },
            "{bytes:02x?}"
        );
    }
}

// [MQTT-2.2.3]: the remaining length is at most four bytes.
#[test]
fn five_byte_remaining_length() {
    assert_eq!(
        err(b"\x30\xff\xff\xff\xff\x01"),
        DecodeError::MalformedRemainingLength
    );
}

#[test]
fn max_packet_size_is_enforced_from_the_header_alone() {
    let opts = DecodeOptions::with_max_packet_size(100);
    // Announces 268,435,455 bytes; only the five header bytes are present.
    let r = decode(b"\x30\xff\xff\xff\x7f", &opts);
    assert_eq!(
        r,
        Err(DecodeError::PacketTooLarge {
            size: 268_435_460,
            max: 100
        })
    );
    // Exactly at the limit is fine: 2 header bytes + 98 body bytes.
    let mut p = vec![0x30, 98, 0, 1, b't'];
    p.resize(100, 0);
    assert!(decode(&p, &opts).unwrap().is_some());
    p[1] = 99;
    p.push(0);
    assert_eq!(
        decode(&p, &opts),
        Err(DecodeError::PacketTooLarge {
            size: 101,
            max: 100
        })
    );
}

// [MQTT-3.3.1-4]
#[test]
fn publish_qos3() {
    assert_eq!(err(b"\x36\x05\x00\x01t\x00\x01"), DecodeError::InvalidQos);
}

// [MQTT-3.3.1-2]
#[test]
fn publish_qos0_with_dup() {
    assert_eq!(err(b"\x38\x03\x00\x01t"), DecodeError::DupWithQos0);
}

// [MQTT-2.3.1-1]: packet identifiers are non-zero.
#[test]
fn zero_packet_ids() {
    assert_eq!(err(b"\x32\x05\x00\x01t\x00\x00"), DecodeError::ZeroPacketId);
    assert_eq!(err(b"\x40\x02\x00\x00"), DecodeError::ZeroPacketId);
    assert_eq!(err(b"\x50\x02\x00\x00"), DecodeError::ZeroPacketId);
    assert_eq!(err(b"\x62\x02\x00\x00"), DecodeError::ZeroPacketId);
    assert_eq!(err(b"\x70\x02\x00\x00"), DecodeError::ZeroPacketId);
    assert_eq!(
        err(b"\x82\x06\x00\x00\x00\x01a\x00"),
        DecodeError::ZeroPacketId
    );
    assert_eq!(err(b"\x90\x03\x00\x00\x00"), DecodeError::ZeroPacketId);
    assert_eq!(err(b"\xa2\x05\x00\x00\x00\x01a"), DecodeError::ZeroPacketId);
    assert_eq!(err(b"\xb0\x02\x00\x00"), DecodeError::ZeroPacketId);
}

// [MQTT-1.5.3-1]: ill-formed UTF-8, including surrogates, in a topic, a client id.
#[test]
fn malformed_utf8() {
    assert_eq!(err(b"\x30\x03\x00\x01\xff"), DecodeError::InvalidUtf8);
    assert_eq!(
        err(b"\x30\x05\x00\x03\xed\xa0\x80"),
        DecodeError::InvalidUtf8
    );
    assert_eq!(
        err(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x00\x00\x01\xc0"),
        DecodeError::InvalidUtf8
    );
}

// [MQTT-1.5.3-2]
#[test]
fn null_character() {
    assert_eq!(err(b"\x30\x05\x00\x03a\x00b"), DecodeError::NullCharacter);
    assert_eq!(
        err(b"\x82\x06\x00\x01\x00\x01\x00\x00"),
        DecodeError::NullCharacter
    );
}

// [MQTT-3.3.2-2], [MQTT-4.7.1-1]
#[test]
fn wildcards_in_topic_name() {
    assert_eq!(
        err(b"\x30\x05\x00\x03a/+"),
        DecodeError::WildcardInTopicName
    );
    assert_eq!(err(b"\x30\x03\x00\x01#"), DecodeError::WildcardInTopicName);
}

// [MQTT-4.7.1-2], [MQTT-4.7.1-3]
#[test]
fn misplaced_wildcards_in_filters() {
    // SUBSCRIBE "a/#/b"
    assert_eq!(
        err(b"\x82\x0a\x00\x01\x00\x05a/#/b\x00"),
        DecodeError::InvalidWildcard
    );
    // SUBSCRIBE "a+"
    assert_eq!(
        err(b"\x82\x07\x00\x01\x00\x02a+\x00"),
        DecodeError::InvalidWildcard
    );
    // UNSUBSCRIBE "a#"
    assert_eq!(
        err(b"\xa2\x06\x00\x01\x00\x02a#"),
        DecodeError::InvalidWildcard
    );
}

// [MQTT-4.7.3-1]
#[test]
fn empty_topics() {
    assert_eq!(err(b"\x30\x02\x00\x00"), DecodeError::EmptyTopic);
    assert_eq!(
        err(b"\x82\x05\x00\x01\x00\x00\x00"),
        DecodeError::EmptyTopic
    );
    assert_eq!(err(b"\xa2\x04\x00\x01\x00\x00"), DecodeError::EmptyTopic);
}

// [MQTT-3.8.3-3], [MQTT-3.10.3-2]
#[test]
fn no_filters() {
    assert_eq!(err(b"\x82\x02\x00\x01"), DecodeError::EmptyList);
    assert_eq!(err(b"\xa2\x02\x00\x01"), DecodeError::EmptyList);
    assert_eq!(err(b"\x90\x02\x00\x01"), DecodeError::EmptyList);
}

// [MQTT-3-8.3-4]: reserved bits of the requested QoS byte, and QoS 3.
#[test]
fn subscribe_options() {
    assert_eq!(
        err(b"\x82\x06\x00\x01\x00\x01a\x04"),
        DecodeError::InvalidSubscriptionOptions
    );
    assert_eq!(
        err(b"\x82\x06\x00\x01\x00\x01a\x03"),
        DecodeError::InvalidQos
    );
}

// [MQTT-3.9.3-2]
#[test]
fn suback_return_codes() {
    for code in [0x03u8, 0x7f, 0x81, 0xff] {
        assert_eq!(
            err(&[0x90, 0x03, 0x00, 0x01, code]),
            DecodeError::InvalidSubackReturnCode(code)
        );
    }
}

const CONNECT_HEAD: &[u8] = b"\x00\x04MQTT\x04";

fn connect(flags: u8, rest: &[u8]) -> Vec<u8> {
    let mut body = CONNECT_HEAD.to_vec();
    body.push(flags);
    body.extend_from_slice(b"\x00\x3c");
    body.extend_from_slice(rest);
    let mut p = vec![0x10, body.len() as u8];
    p.extend(body);
    p
}

// [MQTT-3.1.2-1]
#[test]
fn connect_protocol_name() {
    assert_eq!(
        err(b"\x10\x0c\x00\x04MQTX\x04\x02\x00\x3c\x00\x00"),
        DecodeError::InvalidProtocolName
    );
    assert_eq!(
        err(b"\x10\x0e\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x00"),
        DecodeError::InvalidProtocolName
    );
}

// [MQTT-3.1.2-2]
#[test]
fn connect_protocol_level() {
    assert_eq!(
        err(b"\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c\x00\x00"),
        DecodeError::UnsupportedProtocolLevel(5)
    );
}

// [MQTT-3.1.2-3]
#[test]
fn connect_reserved_flag() {
    assert_eq!(
        err(&connect(0x03, b"\x00\x00")),
        DecodeError::ConnectReservedFlag
    );
}

// [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-14], [MQTT-3.1.2-15]
#[test]
fn connect_will_flags() {
    // Will QoS 1 without the will flag.
    assert_eq!(
        err(&connect(0x0a, b"\x00\x00")),
        DecodeError::InvalidWillFlags
    );
    // Will retain without the will flag.
    assert_eq!(
        err(&connect(0x22, b"\x00\x00")),
        DecodeError::InvalidWillFlags
    );
    // Will QoS 3.
    assert_eq!(
        err(&connect(0x1e, b"\x00\x00\x00\x01w\x00\x00")),
        DecodeError::InvalidQos
    );
    // A will topic with a wildcard.
    assert_eq!(
        err(&connect(0x06, b"\x00\x00\x00\x01#\x00\x00")),
        DecodeError::WildcardInTopicName
    );
}

// [MQTT-3.1.2-22]
#[test]
fn connect_password_without_username() {
    assert_eq!(
        err(&connect(0x42, b"\x00\x00\x00\x01p")),
        DecodeError::PasswordWithoutUsername
    );
}

// [MQTT-3.1.2-19], [MQTT-3.1.2-21]: a flag promises a field that is not there.
#[test]
fn connect_missing_fields() {
    assert_eq!(err(&connect(0x82, b"\x00\x00")), DecodeError::Truncated);
    assert_eq!(err(&connect(0x06, b"\x00\x00")), DecodeError::Truncated);
}

// [MQTT-3.2.2-4] and the reserved bits of the acknowledge flags.
#[test]
fn connack_flags_and_codes() {
    assert_eq!(err(b"\x20\x02\x02\x00"), DecodeError::InvalidConnackFlags);
    assert_eq!(err(b"\x20\x02\x01\x05"), DecodeError::InvalidConnackFlags);
    assert_eq!(
        err(b"\x20\x02\x00\x06"),
        DecodeError::InvalidConnectReturnCode(6)
    );
}

#[test]
fn trailing_bytes_inside_a_packet() {
    assert_eq!(err(b"\x40\x03\x00\x01\x00"), DecodeError::TrailingBytes);
    assert_eq!(err(b"\x20\x03\x00\x00\x00"), DecodeError::TrailingBytes);
    assert_eq!(err(b"\xc0\x01\x00"), DecodeError::TrailingBytes);
    assert_eq!(
        err(&connect(0x02, b"\x00\x00\x00")),
        DecodeError::TrailingBytes
    );
}

#[test]
fn fields_past_the_end() {
    assert_eq!(err(b"\x40\x01\x00"), DecodeError::Truncated);
    assert_eq!(err(b"\x30\x03\x00\x05a"), DecodeError::Truncated);
    assert_eq!(err(b"\x32\x03\x00\x01a"), DecodeError::Truncated);
    assert_eq!(err(b"\x82\x05\x00\x01\x00\x01a"), DecodeError::Truncated);
}

// Encoding refuses what the types allow but the spec does not.
#[test]
fn encode_errors() {
    let mut out = [0u8; 64];
    let p = Publish {
        dup: true,
        ..Publish::new(TopicName::new("t").unwrap(), QosPid::AtMostOnce, &b""[..])
    };
    assert_eq!(
        Packet::Publish(p).encode(&mut out),
        Err(EncodeError::DupWithQos0)
    ); // [MQTT-3.3.1-2]

    let c = Connect {
        password: Some(&b"p"[..]),
        ..Connect::new(Str::new("c").unwrap(), 0, true)
    };
    assert_eq!(
        Packet::Connect(c).encode(&mut out),
        Err(EncodeError::PasswordWithoutUsername) // [MQTT-3.1.2-22]
    );
    let c = Connect::new(Str::new("").unwrap(), 0, false);
    assert_eq!(
        Packet::Connect(c).encode(&mut out),
        Err(EncodeError::EmptyClientIdWithoutCleanSession) // [MQTT-3.1.3-7]
    );
    let c = Connack {
        session_present: true,
        code: ConnectReturnCode::NotAuthorized,
    };
    assert_eq!(
        Packet::<&[u8]>::Connack(c).encode(&mut out),
        Err(EncodeError::SessionPresentOnRefusal)
    );

    let empty: [(TopicFilter<&[u8]>, QoS); 0] = [];
    assert_eq!(
        SubscribeFilters::write_into(&empty, &mut out).unwrap_err(),
        EncodeError::EmptyList
    );

    let big = vec![0u8; varint::MAX_REMAINING_LENGTH as usize];
    let p = Publish::new(TopicName::new("t").unwrap(), QosPid::AtMostOnce, &big[..]);
    assert_eq!(
        Packet::Publish(p).encode(&mut out),
        Err(EncodeError::PacketTooLarge)
    );
}

#[test]
fn buffer_too_small_says_how_much_is_needed() {
    let p = Packet::<&[u8]>::Puback(PacketId::new(1).unwrap());
    let mut out = [0xeeu8; 3];
    assert_eq!(
        p.encode(&mut out),
        Err(EncodeError::BufferTooSmall { needed: 4 })
    );
    assert_eq!(out, [0xee; 3], "left untouched");
}

// Found by the decode fuzz target. A server must accept a CONNECT with an empty client
// id and clean session 0, and answer CONNACK 0x02 [MQTT-3.1.3-8], so it decodes; a
// client must never send one [MQTT-3.1.3-7], so it does not encode.
#[test]
fn empty_client_id_without_clean_session_decodes_but_does_not_encode() {
    let bytes = connect(0x00, b"\x00\x00");
    let (p, _) = decode(&bytes, &DecodeOptions::default()).unwrap().unwrap();
    let Packet::Connect(c) = &p else {
        panic!("{p:?}")
    };
    assert!(c.client_id.is_empty() && !c.clean_session);
    assert_eq!(
        p.encoded_len(),
        Err(EncodeError::EmptyClientIdWithoutCleanSession)
    );
}
