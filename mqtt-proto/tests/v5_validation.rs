//! Every rule the MQTT 5.0 decoder enforces, each with the spec statement it comes
//! from (or, for the rules the spec states without an identifier, its section).

use std::num::NonZeroU16;

use bytes::BytesMut;
use mqtt_proto::v5::{self, *};
use mqtt_proto::{
    decode, DecodeError, DecodeOptions, EncodeError, FixedHeader, PacketId, PacketType, QoS,
    QosPid, Str, TopicFilter, TopicName,
};

/// The error both 5.0 decoders give for `bytes`.
fn err(bytes: &[u8]) -> DecodeError {
    match v5::decode(bytes, &DecodeOptions::v5()) {
        Err(e) => {
            let mut b = BytesMut::from(bytes);
            assert_eq!(v5::decode_buf(&mut b, &DecodeOptions::v5()), Err(e));
            e
        }
        other => panic!("{bytes:02x?} decoded to {other:?}"),
    }
}

/// Decodes `bytes` as one whole 5.0 packet.
fn ok(bytes: &[u8]) -> Packet<&[u8]> {
    let (p, n) = v5::decode(bytes, &DecodeOptions::v5())
        .unwrap_or_else(|e| panic!("{bytes:02x?}: {e:?}"))
        .unwrap();
    assert_eq!(n, bytes.len());
    p
}

/// A packet with this first byte and body (remaining length in its shortest form).
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![first];
    let mut n = body.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        p.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
    p.extend_from_slice(body);
    p
}

/// A PUBACK 1 with reason 0x00 and this property block (length prefix included).
fn puback_with(props: &[u8]) -> Vec<u8> {
    packet(0x40, &[&[0, 1, 0][..], props].concat())
}

/// A QoS 0 PUBLISH to `t` with this property block.
fn publish_with(props: &[u8]) -> Vec<u8> {
    packet(0x30, &[&b"\x00\x01t"[..], props, b"payload"].concat())
}

/// A CONNECT with these flags, properties and payload after the client id "c".
fn connect_with(flags: u8, props: &[u8], rest: &[u8]) -> Vec<u8> {
    let head = [&b"\x00\x04MQTT\x05"[..], &[flags], b"\x00\x3c"].concat();
    packet(0x10, &[&head[..], props, b"\x00\x01c", rest].concat())
}

/// A property block: the length, then `props`.
fn block(props: &[u8]) -> Vec<u8> {
    assert!(props.len() < 128);
    [&[props.len() as u8][..], props].concat()
}

// AUTH is packet type 15: a 5.0 packet, reserved in 3.1.1 [MQTT-2.1.3-1].
#[test]
fn auth_is_known_only_in_5_0() {
    assert!(matches!(ok(b"\xf0\x00"), Packet::Auth(_)));
    assert_eq!(
        decode(b"\xf0\x00", &DecodeOptions::default()),
        Err(DecodeError::ReservedPacketType(15))
    );
    assert_eq!(
        FixedHeader::decode(b"\xf0\x00", &DecodeOptions::default()),
        Err(DecodeError::ReservedPacketType(15))
    );
    let h = FixedHeader::decode(b"\xf0\x00", &DecodeOptions::v5())
        .unwrap()
        .unwrap();
    assert_eq!(h.packet_type, PacketType::Auth);
    // The 3.1.1 packet decoder refuses AUTH even after a 5.0 fixed header.
    assert_eq!(
        mqtt_proto::Packet::<&[u8]>::decode_frame(&&b"\xf0\x00"[..], &h, &DecodeOptions::v5()),
        Err(DecodeError::ReservedPacketType(15))
    );
    assert_eq!(err(b"\x00\x00"), DecodeError::ReservedPacketType(0));
}

// [MQTT-2.1.3-1], [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1], [MQTT-3.14.1-1],
// [MQTT-3.15.1-1]: reserved flag bits must have their listed values.
#[test]
fn reserved_flag_bits() {
    let cases: &[(&[u8], PacketType, u8)] = &[
        (b"\x11\x00", PacketType::Connect, 1),
        (b"\x28\x03\x00\x00\x00", PacketType::Connack, 8),
        (b"\x41\x02\x00\x01", PacketType::Puback, 1),
        (b"\x52\x02\x00\x01", PacketType::Pubrec, 2),
        (b"\x60\x02\x00\x01", PacketType::Pubrel, 0), // [MQTT-3.6.1-1]
        (b"\x73\x02\x00\x01", PacketType::Pubcomp, 3),
        (b"\x80\x02\x00\x01", PacketType::Subscribe, 0), // [MQTT-3.8.1-1]
        (b"\x94\x03\x00\x01\x00", PacketType::Suback, 4),
        (b"\xa0\x02\x00\x01", PacketType::Unsubscribe, 0), // [MQTT-3.10.1-1]
        (b"\xbf\x02\x00\x01", PacketType::Unsuback, 15),
        (b"\xc2\x00", PacketType::Pingreq, 2),
        (b"\xd1\x00", PacketType::Pingresp, 1),
        (b"\xe8\x00", PacketType::Disconnect, 8), // [MQTT-3.14.1-1]
        (b"\xf1\x00", PacketType::Auth, 1),       // [MQTT-3.15.1-1]
    ];
    for &(bytes, packet_type, flags) in cases {
        assert_eq!(
            err(bytes),
            DecodeError::InvalidFlags { packet_type, flags },
            "{bytes:02x?}"
        );
    }
}

// [MQTT-1.5.5-1]: a variable byte integer has at most four bytes, in its shortest
// form: the remaining length, a Property Length, a Subscription Identifier.
#[test]
fn malformed_variable_byte_integers() {
    // Remaining length of five bytes, and 2 written as two bytes.
    assert_eq!(
        err(b"\x30\xff\xff\xff\xff\x01"),
        DecodeError::MalformedRemainingLength
    );
    assert_eq!(
        err(b"\x40\x82\x00\x00\x01"),
        DecodeError::MalformedRemainingLength
    );
    // Property Length of five bytes, and 0 written as two bytes.
    assert_eq!(
        err(&puback_with(b"\x80\x80\x80\x80\x01")),
        DecodeError::MalformedVariableByteInteger
    );
    assert_eq!(
        err(&puback_with(b"\x80\x00")),
        DecodeError::MalformedVariableByteInteger
    );
    // Subscription Identifier of five bytes, and 1 written as two bytes.
    assert_eq!(
        err(&publish_with(&block(b"\x0b\xff\xff\xff\xff\x01"))),
        DecodeError::MalformedVariableByteInteger
    );
    assert_eq!(
        err(&publish_with(&block(b"\x0b\x81\x00"))),
        DecodeError::MalformedVariableByteInteger
    );
    // The 3.1.1 decoder accepts a longer remaining length, as it always did.
    assert!(decode(b"\x40\x82\x00\x00\x01", &DecodeOptions::default())
        .unwrap()
        .is_some());
}

// Section 2.2.2.1: the Property Length counts the properties, which end inside the
// packet; each property ends inside its block.
#[test]
fn property_length_past_the_packet() {
    assert_eq!(err(&puback_with(b"\x05")), DecodeError::Truncated);
    assert_eq!(
        err(&puback_with(b"\x05\x1f\x00\x00")),
        DecodeError::Truncated
    );
    // A Reason String announcing 5 bytes in a block of 3.
    assert_eq!(
        err(&puback_with(b"\x03\x1f\x00\x05abcde")),
        DecodeError::Truncated
    );
    // A four-byte integer cut by the end of its block.
    assert_eq!(
        err(&publish_with(b"\x03\x02\x00\x00")),
        DecodeError::Truncated
    );
    // A CONNACK must have a Property Length.
    assert_eq!(err(b"\x20\x02\x00\x00"), DecodeError::Truncated);
}

// [MQTT-2.2.2-1]: no properties is a Property Length of zero.
#[test]
fn empty_property_blocks() {
    let Packet::Connack(c) = ok(b"\x20\x03\x00\x00\x00") else {
        panic!()
    };
    assert!(c.properties.is_empty());
    assert_eq!(c.properties.iter().count(), 0);
}

// Section 2.2.2.2: an identifier the spec does not define is a Malformed Packet.
#[test]
fn unknown_properties() {
    for id in [
        0x00u8, 0x04, 0x0a, 0x10, 0x14, 0x1b, 0x20, 0x2b, 0x7f, 0x80, 0xff,
    ] {
        assert_eq!(
            err(&puback_with(&block(&[id, 0, 0]))),
            DecodeError::UnknownProperty(id),
            "{id:#04x}"
        );
    }
}

// Section 2.2.2.2 and table 2-4: each property only in the packets it belongs to.
#[test]
fn property_not_allowed_in_this_packet() {
    use PropertyId as Id;
    let not_allowed = |packet_type, property| DecodeError::PropertyNotAllowed {
        packet_type,
        property,
    };
    // Topic Alias in CONNECT; Will Delay Interval in CONNECT's own properties.
    assert_eq!(
        err(&connect_with(0x02, &block(b"\x23\x00\x01"), b"")),
        not_allowed(PacketType::Connect, Id::TopicAlias)
    );
    assert_eq!(
        err(&connect_with(0x02, &block(b"\x18\x00\x00\x00\x01"), b"")),
        not_allowed(PacketType::Connect, Id::WillDelayInterval)
    );
    // Session Expiry Interval in Will Properties.
    assert_eq!(
        err(&connect_with(
            0x06,
            b"\x00",
            &[&block(b"\x11\x00\x00\x00\x01")[..], b"\x00\x01w\x00\x00"].concat()
        )),
        DecodeError::PropertyNotAllowedInWill(Id::SessionExpiryInterval)
    );
    // Session Expiry Interval in PUBLISH.
    assert_eq!(
        err(&publish_with(&block(b"\x11\x00\x00\x00\x01"))),
        not_allowed(PacketType::Publish, Id::SessionExpiryInterval)
    );
    // Topic Alias in PUBACK; Reason String in SUBSCRIBE; Subscription Identifier in
    // UNSUBSCRIBE; Server Keep Alive in DISCONNECT; Content Type in AUTH.
    assert_eq!(
        err(&puback_with(&block(b"\x23\x00\x01"))),
        not_allowed(PacketType::Puback, Id::TopicAlias)
    );
    assert_eq!(
        err(&packet(0x82, b"\x00\x01\x04\x1f\x00\x01r\x00\x01a\x00")),
        not_allowed(PacketType::Subscribe, Id::ReasonString)
    );
    assert_eq!(
        err(&packet(0xa2, b"\x00\x01\x02\x0b\x01\x00\x01a")),
        not_allowed(PacketType::Unsubscribe, Id::SubscriptionIdentifier)
    );
    assert_eq!(
        err(b"\xe0\x05\x00\x03\x13\x00\x01"),
        not_allowed(PacketType::Disconnect, Id::ServerKeepAlive)
    );
    assert_eq!(
        err(b"\xf0\x06\x18\x04\x03\x00\x01x"),
        not_allowed(PacketType::Auth, Id::ContentType)
    );
    // Every acknowledgement allows Reason String and User Property, nothing else.
    for first in [0x40u8, 0x50, 0x62, 0x70] {
        let p = packet(
            first,
            b"\x00\x01\x00\x0b\x1f\x00\x01r\x26\x00\x01k\x00\x01v",
        );
        ok(&p);
        let bad = packet(first, b"\x00\x01\x00\x03\x21\x00\x01");
        assert!(matches!(
            err(&bad),
            DecodeError::PropertyNotAllowed {
                property: Id::ReceiveMaximum,
                ..
            }
        ));
    }
    // The table, as the identifiers report it.
    assert!(Id::UserProperty.allowed_in(PacketType::Auth));
    assert!(Id::UserProperty.allowed_in_will());
    assert!(!Id::UserProperty.allowed_in(PacketType::Pingreq));
    assert!(Id::SubscriptionIdentifier.allowed_in(PacketType::Publish));
    assert!(!Id::SubscriptionIdentifier.allowed_in_will());
    for t in [
        PacketType::Pubrec,
        PacketType::Pubrel,
        PacketType::Pubcomp,
        PacketType::Suback,
    ] {
        for id in Id::ALL {
            assert_eq!(
                id.allowed_in(t),
                id.allowed_in(PacketType::Unsuback),
                "{id:?} {t:?}"
            );
        }
    }
}

// Every property at most once, except User Property and, in PUBLISH, Subscription
// Identifier (e.g. section 3.1.2.11.2: "It is a Protocol Error to include the Session
// Expiry Interval more than once").
#[test]
fn duplicate_properties() {
    use PropertyId as Id;
    assert_eq!(
        err(&connect_with(
            0x02,
            &block(b"\x11\x00\x00\x00\x01\x11\x00\x00\x00\x02"),
            b""
        )),
        DecodeError::DuplicateProperty(Id::SessionExpiryInterval)
    );
    assert_eq!(
        err(&publish_with(&block(b"\x23\x00\x01\x23\x00\x02"))),
        DecodeError::DuplicateProperty(Id::TopicAlias)
    );
    assert_eq!(
        err(&puback_with(&block(b"\x1f\x00\x01a\x1f\x00\x01b"))),
        DecodeError::DuplicateProperty(Id::ReasonString)
    );
    // Section 3.8.2.1.2: one Subscription Identifier in SUBSCRIBE.
    assert_eq!(
        err(&packet(0x82, b"\x00\x01\x04\x0b\x01\x0b\x02\x00\x01a\x00")),
        DecodeError::DuplicateProperty(Id::SubscriptionIdentifier)
    );
    // Section 3.3.4: several in a PUBLISH; User Property anywhere, any number.
    let bytes = publish_with(&block(b"\x0b\x01\x0b\x02\x0b\x01"));
    let Packet::Publish(p) = ok(&bytes) else {
        panic!()
    };
    assert_eq!(p.properties.subscription_identifiers().count(), 3);
    let bytes = puback_with(&block(
        b"\x26\x00\x01k\x00\x01v\x26\x00\x01k\x00\x01v\x26\x00\x00\x00\x00",
    ));
    let Packet::Puback(a) = ok(&bytes) else {
        panic!()
    };
    assert_eq!(a.properties.user_properties().count(), 3);
}

// Values out of range: section 3.3.2.3.2 (Payload Format Indicator 0/1), 3.1.2.11.3
// (Receive Maximum 0), 3.1.2.11.4 (Maximum Packet Size 0), [MQTT-3.3.2-8] (Topic
// Alias 0), 3.8.2.1.2 (Subscription Identifier 0), 3.2.2.3.4 (Maximum QoS 0/1), and
// the yes/no properties (0/1).
#[test]
fn property_values_out_of_range() {
    use PropertyId as Id;
    let invalid = DecodeError::InvalidPropertyValue;
    assert_eq!(
        err(&publish_with(&block(b"\x01\x02"))),
        invalid(Id::PayloadFormatIndicator)
    );
    assert_eq!(
        err(&publish_with(&block(b"\x23\x00\x00"))),
        invalid(Id::TopicAlias) // [MQTT-3.3.2-8]
    );
    assert_eq!(
        err(&publish_with(&block(b"\x0b\x00"))),
        invalid(Id::SubscriptionIdentifier)
    );
    assert_eq!(
        err(&packet(0x82, b"\x00\x01\x02\x0b\x00\x00\x01a\x00")),
        invalid(Id::SubscriptionIdentifier)
    );
    assert_eq!(
        err(&connect_with(0x02, &block(b"\x21\x00\x00"), b"")),
        invalid(Id::ReceiveMaximum)
    );
    assert_eq!(
        err(&connect_with(0x02, &block(b"\x27\x00\x00\x00\x00"), b"")),
        invalid(Id::MaximumPacketSize)
    );
    assert_eq!(
        err(&connect_with(0x02, &block(b"\x17\x02"), b"")),
        invalid(Id::RequestProblemInformation)
    );
    assert_eq!(
        err(&connect_with(0x02, &block(b"\x19\x02"), b"")),
        invalid(Id::RequestResponseInformation)
    );
    let connack = |props: &[u8]| packet(0x20, &[&b"\x00\x00"[..], &block(props)].concat());
    for (props, id) in [
        (&b"\x24\x02"[..], Id::MaximumQoS),
        (b"\x25\x02", Id::RetainAvailable),
        (b"\x28\x02", Id::WildcardSubscriptionAvailable),
        (b"\x29\xff", Id::SubscriptionIdentifierAvailable),
        (b"\x2a\x02", Id::SharedSubscriptionAvailable),
        (b"\x21\x00\x00", Id::ReceiveMaximum),
        (b"\x27\x00\x00\x00\x00", Id::MaximumPacketSize),
    ] {
        assert_eq!(err(&connack(props)), invalid(id), "{id:?}");
    }
    // The edges that are fine.
    ok(&connack(
        b"\x24\x00\x25\x01\x21\x00\x01\x27\x00\x00\x00\x01\x22\x00\x00",
    ));
    ok(&publish_with(&block(b"\x23\xff\xff\x0b\xff\xff\xff\x7f")));
}

// Section 3.1.2.11.10: Authentication Data needs an Authentication Method.
#[test]
fn authentication_data_without_method() {
    assert_eq!(
        err(&connect_with(0x02, &block(b"\x16\x00\x01x"), b"")),
        DecodeError::AuthenticationDataWithoutMethod
    );
    assert_eq!(
        err(b"\xf0\x06\x18\x04\x16\x00\x01x"),
        DecodeError::AuthenticationDataWithoutMethod
    );
    ok(b"\xf0\x0a\x18\x08\x16\x00\x01x\x15\x00\x01m");
}

// [MQTT-3.1.2-1]
#[test]
fn connect_protocol_name() {
    assert_eq!(
        err(b"\x10\x0d\x00\x04MQTX\x05\x02\x00\x3c\x00\x00\x00"),
        DecodeError::InvalidProtocolName
    );
}

// [MQTT-3.1.2-2]: the 5.0 decoder takes protocol level 5 only, the 3.1.1 one level 4
// only, so a server can answer either with its "unsupported version" code.
#[test]
fn connect_protocol_level() {
    let level4 = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00";
    assert_eq!(err(level4), DecodeError::UnsupportedProtocolLevel(4));
    assert!(decode(level4, &DecodeOptions::default()).unwrap().is_some());
    let level5 = connect_with(0x02, b"\x00", b"");
    assert_eq!(
        decode(&level5, &DecodeOptions::default()),
        Err(DecodeError::UnsupportedProtocolLevel(5))
    );
    ok(&level5);
}

// [MQTT-3.1.2-3]
#[test]
fn connect_reserved_flag() {
    assert_eq!(
        err(&connect_with(0x03, b"\x00", b"")),
        DecodeError::ConnectReservedFlag
    );
}

// [MQTT-3.1.2-11], [MQTT-3.1.2-12], [MQTT-3.1.2-13]: Will QoS and Will Retain only
// with the Will Flag, and Will QoS never 3.
#[test]
fn connect_will_flags() {
    assert_eq!(
        err(&connect_with(0x0a, b"\x00", b"")),
        DecodeError::InvalidWillFlags // [MQTT-3.1.2-11]
    );
    assert_eq!(
        err(&connect_with(0x22, b"\x00", b"")),
        DecodeError::InvalidWillFlags // [MQTT-3.1.2-13]
    );
    assert_eq!(
        err(&connect_with(0x1e, b"\x00", b"\x00\x00\x01w\x00\x00")),
        DecodeError::InvalidQos // [MQTT-3.1.2-12]
    );
    // A will topic with a wildcard [MQTT-3.1.3-11], [MQTT-4.7.0-1].
    assert_eq!(
        err(&connect_with(0x06, b"\x00", b"\x00\x00\x01#\x00\x00")),
        DecodeError::WildcardInTopicName
    );
    // Will QoS 2 with retain is fine.
    ok(&connect_with(0x36, b"\x00", b"\x00\x00\x01w\x00\x00"));
}

// [MQTT-3.1.2-19]: in 5.0 a password may come without a user name; 3.1.1 refuses it
// ([MQTT-3.1.2-22] of 3.1.1).
#[test]
fn connect_password_without_user_name_is_allowed() {
    let bytes = connect_with(0x42, b"\x00", b"\x00\x01p");
    let Packet::Connect(c) = ok(&bytes) else {
        panic!()
    };
    assert_eq!((c.username, c.password), (None, Some(&b"p"[..])));
    let v311 = b"\x10\x10\x00\x04MQTT\x04\x42\x00\x3c\x00\x01c\x00\x01p";
    assert_eq!(
        decode(v311, &DecodeOptions::default()),
        Err(DecodeError::PasswordWithoutUsername)
    );
}

// [MQTT-3.1.2-9], [MQTT-3.1.2-17], [MQTT-3.1.2-19]: a flag promises fields that must
// be there.
#[test]
fn connect_missing_fields() {
    assert_eq!(
        err(&connect_with(0x06, b"\x00", b"")),
        DecodeError::Truncated
    );
    assert_eq!(
        err(&connect_with(0x06, b"\x00", b"\x00")),
        DecodeError::Truncated
    );
    assert_eq!(
        err(&connect_with(0x82, b"\x00", b"")),
        DecodeError::Truncated
    );
    assert_eq!(
        err(&connect_with(0x42, b"\x00", b"")),
        DecodeError::Truncated
    );
}

// [MQTT-3.1.3-6]: an empty client id needs no Clean Start in 5.0 (3.1.1 required it to
// encode); both directions accept it.
#[test]
fn empty_client_id_without_clean_start() {
    let c = Connect::<&[u8]>::new(Str::new("").unwrap(), 0, false);
    let mut out = [0u8; 32];
    let n = Packet::Connect(c.clone()).encode(&mut out).unwrap();
    assert_eq!(ok(&out[..n]), Packet::Connect(c));
}

// [MQTT-3.2.2-1]: reserved bits of the acknowledge flags; [MQTT-3.2.2-6]: no session
// with a refusal; [MQTT-3.2.2-8]: CONNACK reason codes only.
#[test]
fn connack_flags_and_reason_codes() {
    assert_eq!(
        err(b"\x20\x03\x02\x00\x00"),
        DecodeError::InvalidConnackFlags
    );
    assert_eq!(
        err(b"\x20\x03\x01\x87\x00"),
        DecodeError::InvalidConnackFlags
    );
    for code in [0x01u8, 0x04, 0x8b, 0x8d, 0x92, 0xa2, 0xff] {
        assert_eq!(
            err(&[0x20, 3, 0, code, 0]),
            DecodeError::InvalidReasonCode {
                packet_type: PacketType::Connack,
                code
            }
        );
    }
    ok(b"\x20\x03\x01\x00\x00");
}

// [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1], [MQTT-3.9.3-2],
// [MQTT-3.11.3-2], [MQTT-3.14.2-1], [MQTT-3.15.2-1]: each packet carries only its own
// reason codes.
#[test]
fn reason_codes_per_packet() {
    let cases: &[(&[u8], PacketType, u8)] = &[
        (b"\x40\x03\x00\x01\x92", PacketType::Puback, 0x92),
        (b"\x40\x03\x00\x01\x11", PacketType::Puback, 0x11),
        (b"\x50\x03\x00\x01\x04", PacketType::Pubrec, 0x04),
        (b"\x62\x03\x00\x01\x10", PacketType::Pubrel, 0x10),
        (b"\x70\x03\x00\x01\x80", PacketType::Pubcomp, 0x80),
        (b"\x90\x04\x00\x01\x00\x03", PacketType::Suback, 0x03),
        (b"\x90\x05\x00\x01\x00\x00\x11", PacketType::Suback, 0x11),
        (b"\xb0\x04\x00\x01\x00\x10", PacketType::Unsuback, 0x10),
        (b"\xb0\x04\x00\x01\x00\x01", PacketType::Unsuback, 0x01),
        (b"\xe0\x01\x01", PacketType::Disconnect, 0x01),
        (b"\xe0\x01\x84", PacketType::Disconnect, 0x84),
        (b"\xf0\x02\x01\x00", PacketType::Auth, 0x01),
        (b"\xf0\x02\x80\x00", PacketType::Auth, 0x80),
    ];
    for &(bytes, packet_type, code) in cases {
        assert_eq!(
            err(bytes),
            DecodeError::InvalidReasonCode { packet_type, code },
            "{bytes:02x?}"
        );
    }
    // Every code of every type, and nothing else, decodes.
    for b in 0..=255u8 {
        assert_eq!(
            PubackReasonCode::from_u8(b).is_some(),
            PubackReasonCode::ALL.iter().any(|c| c.to_u8() == b)
        );
        assert_eq!(
            DisconnectReasonCode::from_u8(b).is_some(),
            DisconnectReasonCode::ALL.iter().any(|c| c.to_u8() == b)
        );
    }
    assert!(DisconnectReasonCode::ServerBusy.is_error());
    assert!(!PubackReasonCode::NoMatchingSubscribers.is_error());
}

// Section 3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and there
// is no Topic Alias" (the spec gives this sentence no identifier).
#[test]
fn empty_topic_name_needs_a_topic_alias() {
    assert_eq!(
        err(b"\x30\x03\x00\x00\x00"),
        DecodeError::EmptyTopicWithoutAlias
    );
    assert_eq!(
        err(b"\x30\x08\x00\x00\x05\x01\x00\x03\x00\x00"),
        DecodeError::EmptyTopicWithoutAlias
    );
    let Packet::Publish(p) = ok(b"\x30\x06\x00\x00\x03\x23\x00\x07") else {
        panic!()
    };
    assert_eq!(
        (p.topic, p.properties.topic_alias()),
        (None, NonZeroU16::new(7))
    );
    // The 3.1.1 rule stays: an empty topic is refused there [MQTT-4.7.3-1].
    assert_eq!(
        decode(b"\x30\x02\x00\x00", &DecodeOptions::default()),
        Err(DecodeError::EmptyTopic)
    );
}

// [MQTT-3.3.2-2], [MQTT-4.7.0-1]: no wildcard in a topic name; [MQTT-3.3.2-14]: nor in
// a Response Topic, which is a UTF-8 string [MQTT-3.3.2-13] and not empty
// [MQTT-4.7.3-1].
#[test]
fn wildcards_in_topic_names() {
    assert_eq!(
        err(b"\x30\x06\x00\x03a/+\x00"),
        DecodeError::WildcardInTopicName
    );
    assert_eq!(
        err(b"\x30\x04\x00\x01#\x00"),
        DecodeError::WildcardInTopicName
    );
    assert_eq!(
        err(&publish_with(&block(b"\x08\x00\x03a/#"))),
        DecodeError::WildcardInTopicName
    );
    assert_eq!(
        err(&publish_with(&block(b"\x08\x00\x01\xff"))),
        DecodeError::InvalidUtf8
    );
    assert_eq!(
        err(&publish_with(&block(b"\x08\x00\x00"))),
        DecodeError::EmptyTopic
    );
}

// [MQTT-3.3.1-4], [MQTT-3.3.1-2], [MQTT-2.2.1-3], [MQTT-2.2.1-4]
#[test]
fn publish_header_rules() {
    assert_eq!(
        err(b"\x36\x06\x00\x01t\x00\x01\x00"),
        DecodeError::InvalidQos
    );
    assert_eq!(err(b"\x38\x04\x00\x01t\x00"), DecodeError::DupWithQos0);
    assert_eq!(
        err(b"\x32\x06\x00\x01t\x00\x00\x00"),
        DecodeError::ZeroPacketId
    );
    assert_eq!(err(b"\x40\x02\x00\x00"), DecodeError::ZeroPacketId);
    assert_eq!(
        err(b"\x82\x07\x00\x00\x00\x00\x01a\x00"),
        DecodeError::ZeroPacketId
    );
}

// [MQTT-1.5.4-1], [MQTT-1.5.4-2]: UTF-8 rules for every string, [MQTT-1.5.7-1] both
// strings of a pair, [MQTT-3.3.2-19] the Content Type, [MQTT-3.1.3-4] the client id.
#[test]
fn utf8_rules() {
    // Ill-formed, an encoded surrogate, an overlong '/', U+0000.
    for (bad, e) in [
        (&b"\xff"[..], DecodeError::InvalidUtf8),
        (b"\xed\xa0\x80", DecodeError::InvalidUtf8),
        (b"\xc0\xaf", DecodeError::InvalidUtf8),
        (b"a\x00", DecodeError::NullCharacter),
    ] {
        let string = [&[0, bad.len() as u8][..], bad].concat();
        // Reason String, Content Type, both halves of a User Property.
        let reason = [&[0x1f][..], &string].concat();
        assert_eq!(err(&puback_with(&block(&reason))), e);
        let content_type = [&[0x03][..], &string].concat();
        assert_eq!(err(&publish_with(&block(&content_type))), e);
        let name = [&[0x26][..], &string, b"\x00\x01v"].concat();
        assert_eq!(err(&puback_with(&block(&name))), e);
        let value = [&b"\x26\x00\x01k"[..], &string].concat();
        assert_eq!(err(&puback_with(&block(&value))), e);
        // Client id.
        let head = b"\x00\x04MQTT\x05\x02\x00\x3c\x00";
        assert_eq!(err(&packet(0x10, &[&head[..], &string].concat())), e);
    }
    // [MQTT-1.5.4-3]: U+FEFF is kept as it is.
    let bytes = puback_with(&block(b"\x1f\x00\x04\xef\xbb\xbfA"));
    let Packet::Puback(a) = ok(&bytes) else {
        panic!()
    };
    assert_eq!(a.properties.reason_string().unwrap().as_str(), "\u{feff}A");
}

// [MQTT-3.8.3-5]: reserved bits of the Subscription Options; Retain Handling 3 is a
// Protocol Error (section 3.8.3.1); QoS 3 [MQTT-3.3.1-4].
#[test]
fn subscription_options() {
    let sub = |options: u8| packet(0x82, &[&b"\x00\x01\x00\x00\x01a"[..], &[options]].concat());
    assert_eq!(err(&sub(0x40)), DecodeError::InvalidSubscriptionOptions);
    assert_eq!(err(&sub(0x80)), DecodeError::InvalidSubscriptionOptions);
    assert_eq!(err(&sub(0x30)), DecodeError::InvalidSubscriptionOptions);
    assert_eq!(err(&sub(0x03)), DecodeError::InvalidQos);
    let bytes = sub(0x2e);
    let Packet::Subscribe(s) = ok(&bytes) else {
        panic!()
    };
    let (_, o) = s.filters.iter().next().unwrap();
    assert_eq!(
        o,
        SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::DoNotSend,
        }
    );
}

// [MQTT-3.8.3-2], [MQTT-3.10.3-2]: at least one filter; a SUBACK or UNSUBACK has at
// least one reason code ([MQTT-3.8.4-6], [MQTT-3.11.3-1]).
#[test]
fn no_filters() {
    assert_eq!(err(b"\x82\x03\x00\x01\x00"), DecodeError::EmptyList);
    assert_eq!(err(b"\xa2\x03\x00\x01\x00"), DecodeError::EmptyList);
    assert_eq!(err(b"\x90\x03\x00\x01\x00"), DecodeError::EmptyList);
    assert_eq!(err(b"\xb0\x03\x00\x01\x00"), DecodeError::EmptyList);
}

// [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1], [MQTT-3.8.3-1], [MQTT-3.10.3-1]:
// the topic filter rules, shared with 3.1.1.
#[test]
fn topic_filter_rules() {
    let sub = |f: &[u8]| {
        packet(
            0x82,
            &[&b"\x00\x01\x00"[..], &[0, f.len() as u8], f, b"\x00"].concat(),
        )
    };
    let unsub = |f: &[u8]| {
        packet(
            0xa2,
            &[&b"\x00\x01\x00"[..], &[0, f.len() as u8], f].concat(),
        )
    };
    for (f, e) in [
        (&b"a/#/b"[..], DecodeError::InvalidWildcard), // [MQTT-4.7.1-1]
        (b"a#", DecodeError::InvalidWildcard),
        (b"a+", DecodeError::InvalidWildcard), // [MQTT-4.7.1-2]
        (b"", DecodeError::EmptyTopic),        // [MQTT-4.7.3-1]
        (b"\xff", DecodeError::InvalidUtf8),
        (b"a\x00", DecodeError::NullCharacter),
    ] {
        assert_eq!(err(&sub(f)), e, "{f:02x?}");
        assert_eq!(err(&unsub(f)), e, "{f:02x?}");
    }
}

// [MQTT-4.8.2-1], [MQTT-4.8.2-2]: `$share/{ShareName}/{filter}`, ShareName at least one
// character, no `/`, `+` or `#` in it, followed by `/` and a topic filter.
#[test]
fn shared_subscription_syntax() {
    let sub = |f: &[u8]| {
        packet(
            0x82,
            &[&b"\x00\x01\x00"[..], &[0, f.len() as u8], f, b"\x00"].concat(),
        )
    };
    let unsub = |f: &[u8]| {
        packet(
            0xa2,
            &[&b"\x00\x01\x00"[..], &[0, f.len() as u8], f].concat(),
        )
    };
    for bad in [
        &b"$share/"[..],
        b"$share//x",  // empty ShareName [MQTT-4.8.2-1]
        b"$share/g",   // no `/` after it [MQTT-4.8.2-2]
        b"$share/g/",  // no filter after it
        b"$share/+/x", // `+` in it
        b"$share/#",   // `#` as ShareName
    ] {
        assert_eq!(
            err(&sub(bad)),
            DecodeError::InvalidSharedSubscription,
            "{}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(err(&unsub(bad)), DecodeError::InvalidSharedSubscription);
    }
    for good in [
        &b"$share/g/x"[..],
        b"$share/g/#",
        b"$share/g/+/y",
        b"$share",
        b"$sharex/y",
        b"$SYS/#",
    ] {
        ok(&sub(good));
        ok(&unsub(good));
    }
    let f = TopicFilter::new("$share/g/+/y").unwrap();
    assert_eq!(shared_subscription(&f), Some(("g", "+/y")));
    assert_eq!(
        shared_subscription(&TopicFilter::new("$share").unwrap()),
        None
    );
}

// [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error.
#[test]
fn no_local_on_a_shared_subscription() {
    assert_eq!(
        err(b"\x82\x10\x00\x01\x00\x00\x0a$share/g/x\x04"),
        DecodeError::NoLocalOnSharedSubscription
    );
    ok(b"\x82\x10\x00\x01\x00\x00\x0a$share/g/x\x08");
    ok(b"\x82\x0b\x00\x01\x00\x00\x05g/x/y\x04");
}

// Section 3.15.2.1: AUTH has a Remaining Length of 0 or a reason code followed by a
// Property Length; one byte alone is refused.
#[test]
fn auth_with_only_a_reason_code() {
    assert_eq!(err(b"\xf0\x01\x18"), DecodeError::Truncated);
}

#[test]
fn trailing_bytes_inside_a_packet() {
    assert_eq!(err(b"\xc0\x01\x00"), DecodeError::TrailingBytes);
    assert_eq!(err(b"\xd0\x01\x00"), DecodeError::TrailingBytes);
    assert_eq!(
        err(b"\x40\x05\x00\x01\x00\x00\xff"),
        DecodeError::TrailingBytes
    );
    assert_eq!(err(b"\x20\x04\x00\x00\x00\xff"), DecodeError::TrailingBytes);
    assert_eq!(err(b"\xe0\x03\x00\x00\xff"), DecodeError::TrailingBytes);
    assert_eq!(err(b"\xf0\x03\x00\x00\xff"), DecodeError::TrailingBytes);
    assert_eq!(
        err(&connect_with(0x02, b"\x00", b"\x00")),
        DecodeError::TrailingBytes
    );
}

// The maximum packet size is enforced from the fixed header alone, as in 3.1.1.
#[test]
fn max_packet_size_from_the_fixed_header() {
    let opts = DecodeOptions::v5();
    let small = DecodeOptions {
        max_packet_size: 100,
        ..opts
    };
    assert_eq!(
        v5::decode(b"\x30\xff\xff\xff\x7f", &small),
        Err(DecodeError::PacketTooLarge {
            size: 268_435_460,
            max: 100
        })
    );
    let mut buf = BytesMut::from(&b"\xf0\x7f"[..]);
    assert_eq!(
        v5::decode_buf(&mut buf, &small),
        Err(DecodeError::PacketTooLarge {
            size: 129,
            max: 100
        })
    );
    // Partial input is never an error.
    assert_eq!(v5::decode(b"\x30\x05\x00\x01", &opts), Ok(None));
    assert_eq!(v5::decode(b"\x30", &opts), Ok(None));
    assert_eq!(v5::decode(b"", &opts), Ok(None));
}

// Encoding refuses what the types allow but the spec does not.
#[test]
fn encode_errors() {
    use PropertyId as Id;
    let mut out = [0u8; 256];
    let s = |v| Str::new(v).unwrap();

    // Section 3.3.2.1: no topic name and no alias.
    let p = Publish {
        topic: None,
        ..Publish::new(TopicName::new("t").unwrap(), QosPid::AtMostOnce, &b""[..])
    };
    assert_eq!(
        Packet::Publish(p.clone()).encode(&mut out),
        Err(EncodeError::EmptyTopicWithoutAlias)
    );
    assert_eq!(p.encoded_len(), Err(EncodeError::EmptyTopicWithoutAlias));
    let p = Publish {
        dup: true,
        ..Publish::new(TopicName::new("t").unwrap(), QosPid::AtMostOnce, &b""[..])
    };
    assert_eq!(
        Packet::Publish(p).encode(&mut out),
        Err(EncodeError::DupWithQos0) // [MQTT-3.3.1-2]
    );

    // A property the packet may not carry, a repeated one, a value out of range.
    let mut scratch = [0u8; 64];
    let alias = PropertyValues {
        topic_alias: NonZeroU16::new(1),
        ..PropertyValues::default()
    };
    assert_eq!(
        ConnectProperties::write_into(&alias, &mut scratch).unwrap_err(),
        EncodeError::PropertyNotAllowed(Id::TopicAlias)
    );
    assert_eq!(
        WillProperties::write_into(&alias, &mut scratch).unwrap_err(),
        EncodeError::PropertyNotAllowed(Id::TopicAlias)
    );
    let ids = [
        SubscriptionId::new(1).unwrap(),
        SubscriptionId::new(2).unwrap(),
    ];
    let two_ids = PropertyValues {
        subscription_identifiers: &ids,
        ..PropertyValues::default()
    };
    assert_eq!(
        SubscribeProperties::write_into(&two_ids, &mut scratch).unwrap_err(),
        EncodeError::DuplicateProperty(Id::SubscriptionIdentifier)
    );
    assert!(PublishProperties::write_into(&two_ids, &mut scratch).is_ok());
    let qos2 = PropertyValues {
        maximum_qos: Some(QoS::ExactlyOnce),
        ..PropertyValues::default()
    };
    assert_eq!(
        ConnackProperties::write_into(&qos2, &mut scratch).unwrap_err(),
        EncodeError::InvalidPropertyValue(Id::MaximumQoS)
    );
    let data = PropertyValues {
        authentication_data: Some(b"x"),
        ..PropertyValues::default()
    };
    assert_eq!(
        AuthProperties::write_into(&data, &mut scratch).unwrap_err(),
        EncodeError::AuthenticationDataWithoutMethod
    );
    let big = vec![0u8; 70_000];
    let long = PropertyValues {
        correlation_data: Some(&big),
        ..PropertyValues::default()
    };
    assert_eq!(
        PublishProperties::from_values(&long).unwrap_err(),
        EncodeError::FieldTooLong
    );
    let reason = PropertyValues {
        reason_string: Some(s("a reason string longer than the buffer")),
        ..PropertyValues::default()
    };
    assert_eq!(
        AckProperties::write_into(&reason, &mut [0u8; 8]).unwrap_err(),
        EncodeError::BufferTooSmall { needed: 41 }
    );

    // [MQTT-4.8.2-1], [MQTT-4.8.2-2], [MQTT-3.8.3-4] when building filters.
    let bad = [(
        TopicFilter::new("$share//x").unwrap(),
        SubscriptionOptions::new(QoS::AtMostOnce),
    )];
    assert_eq!(
        SubscribeFilters::write_into(&bad, &mut scratch).unwrap_err(),
        EncodeError::InvalidSharedSubscription
    );
    assert_eq!(
        UnsubscribeFilters::write_into(&[TopicFilter::new("$share/g").unwrap()], &mut scratch)
            .unwrap_err(),
        EncodeError::InvalidSharedSubscription
    );
    let no_local = [(
        TopicFilter::new("$share/g/x").unwrap(),
        SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::new(QoS::AtMostOnce)
        },
    )];
    assert_eq!(
        SubscribeFilters::write_into(&no_local, &mut scratch).unwrap_err(),
        EncodeError::NoLocalOnSharedSubscription
    );

    // [MQTT-3.2.2-6]
    let c = Connack::<&[u8]>::new(true, ConnectReasonCode::NotAuthorized);
    assert_eq!(
        Packet::Connack(c).encode(&mut out),
        Err(EncodeError::SessionPresentOnRefusal)
    );

    // A 3.1.1 CONNECT cannot claim to be 5.0.
    let c = mqtt_proto::Connect {
        protocol: mqtt_proto::ProtocolVersion::V5,
        ..mqtt_proto::Connect::new(Str::new("c").unwrap(), 0, true)
    };
    assert_eq!(
        mqtt_proto::Packet::Connect(c).encode(&mut out),
        Err(EncodeError::UnsupportedProtocolVersion)
    );

    // Too large for the remaining length.
    let huge = vec![0u8; mqtt_proto::varint::MAX_REMAINING_LENGTH as usize];
    let p = Publish::new(TopicName::new("t").unwrap(), QosPid::AtMostOnce, &huge[..]);
    assert_eq!(
        Packet::Publish(p.clone()).encode(&mut out),
        Err(EncodeError::PacketTooLarge)
    );
    let mut head = BytesMut::new();
    assert_eq!(p.encode_header(&mut head), Err(EncodeError::PacketTooLarge));
}

#[test]
fn buffer_too_small_leaves_the_buffer_untouched() {
    let p = Packet::<&[u8]>::Puback(Puback::new(PacketId::new(1).unwrap()));
    let mut out = [0xeeu8; 3];
    assert_eq!(
        p.encode(&mut out),
        Err(EncodeError::BufferTooSmall { needed: 4 })
    );
    assert_eq!(out, [0xee; 3]);
}
