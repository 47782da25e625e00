//! Byte-exact vectors for every MQTT 5.0 packet type, both directions, with the short
//! forms and every property type: the packet encodes to exactly these bytes, and
//! these bytes decode to exactly the packet, borrowed and from a `BytesMut`.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use mqtt_proto::v5::{self, *};
use mqtt_proto::{DecodeOptions, EncodeError, PacketId, QoS, QosPid, Str, TopicFilter, TopicName};

fn pid(v: u16) -> PacketId {
    PacketId::new(v).unwrap()
}

fn s(v: &str) -> Str<&[u8]> {
    Str::new(v).unwrap()
}

fn props<K: PropertyKind>(v: &PropertyValues<'_>) -> Properties<Bytes, K> {
    Properties::from_values(v).unwrap()
}

fn check(packet: &Packet<Bytes>, bytes: &[u8]) {
    let opts = DecodeOptions::v5();
    let borrowed = packet.as_borrowed();
    // Encode into a slice, exactly sized; one byte less names the size needed.
    let mut out = vec![0u8; bytes.len()];
    assert_eq!(borrowed.encode(&mut out), Ok(bytes.len()), "{packet:?}");
    assert_eq!(out, bytes, "encode {packet:?}");
    assert_eq!(packet.encoded_len(), Ok(bytes.len()));
    let mut short = vec![0u8; bytes.len() - 1];
    assert_eq!(
        packet.encode(&mut short),
        Err(EncodeError::BufferTooSmall {
            needed: bytes.len()
        })
    );
    // Encode into a BufMut.
    let mut buf = BytesMut::new();
    packet.encode_to(&mut buf).unwrap();
    assert_eq!(&buf[..], bytes);
    // Decode, borrowed; every strict prefix needs more bytes.
    let (decoded, used) = v5::decode(bytes, &opts).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(decoded, borrowed, "decode {bytes:02x?}");
    for cut in 0..bytes.len() {
        assert_eq!(v5::decode(&bytes[..cut], &opts), Ok(None));
    }
    // Decode from BytesMut into Bytes storage; the copying conversion agrees.
    let mut rb = BytesMut::from(bytes);
    let owned = v5::decode_buf(&mut rb, &opts).unwrap().unwrap();
    assert!(rb.is_empty());
    assert_eq!(&owned, packet);
    assert_eq!(decoded.to_bytes(), owned);
}

#[test]
fn connect_minimal() {
    let c = Connect::new(Str::from_static("abc").unwrap(), 60, true);
    check(
        &Packet::Connect(c),
        b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x03abc",
    );
}

// [MQTT-3.1.3-3], [MQTT-3.1.3-1]: the Client Identifier is the first payload field,
// then Will Properties, Will Topic, Will Payload, User Name and Password, in order.
#[test]
fn connect_with_every_property_will_and_credentials() {
    let connect_props = props(&PropertyValues {
        session_expiry_interval: Some(3600),
        authentication_method: Some(s("SCRAM")),
        authentication_data: Some(b"xy"),
        request_problem_information: Some(false),
        request_response_information: Some(true),
        receive_maximum: NonZeroU16::new(20),
        topic_alias_maximum: Some(10),
        user_properties: &[(s("a"), s("b"))],
        maximum_packet_size: NonZeroU32::new(1024),
        ..PropertyValues::default()
    });
    let will_props = props(&PropertyValues {
        payload_format_indicator: Some(PayloadFormat::Utf8),
        message_expiry_interval: Some(60),
        content_type: Some(s("t/p")),
        response_topic: Some(TopicName::new("r").unwrap()),
        correlation_data: Some(&[1, 2]),
        will_delay_interval: Some(5),
        user_properties: &[(s("k"), s("v"))],
        ..PropertyValues::default()
    });
    let c = Connect {
        clean_start: true,
        keep_alive: 10,
        properties: connect_props,
        client_id: Str::from_static("c").unwrap(),
        will: Some(LastWill {
            properties: will_props,
            topic: TopicName::from_static("w").unwrap(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: true,
        }),
        username: Some(Str::from_static("u").unwrap()),
        password: Some(Bytes::from_static(b"p")),
    };
    let bytes = [
        &b"\x10\x67\x00\x04MQTT\x05\xee\x00\x0a"[..],
        b"\x28",                                   // property length 40
        b"\x11\x00\x00\x0e\x10",                   // session expiry interval 3600
        b"\x15\x00\x05SCRAM",                      // authentication method
        b"\x16\x00\x02xy",                         // authentication data
        b"\x17\x00",                               // request problem information 0
        b"\x19\x01",                               // request response information 1
        b"\x21\x00\x14",                           // receive maximum 20
        b"\x22\x00\x0a",                           // topic alias maximum 10
        b"\x26\x00\x01a\x00\x01b",                 // user property a=b
        b"\x27\x00\x00\x04\x00",                   // maximum packet size 1024
        b"\x00\x01c",                              // client id
        b"\x22",                                   // will property length 34
        b"\x01\x01",                               // payload format indicator: UTF-8
        b"\x02\x00\x00\x00\x3c",                   // message expiry interval 60
        b"\x03\x00\x03t/p",                        // content type
        b"\x08\x00\x01r",                          // response topic
        b"\x09\x00\x02\x01\x02",                   // correlation data
        b"\x18\x00\x00\x00\x05",                   // will delay interval 5
        b"\x26\x00\x01k\x00\x01v",                 // user property k=v
        b"\x00\x01w\x00\x03bye\x00\x01u\x00\x01p", // will topic, payload, user, password
    ]
    .concat();
    check(&Packet::Connect(c.clone()), &bytes);
    // The accessors read every value back.
    let p = &c.properties;
    assert_eq!(p.session_expiry_interval(), Some(3600));
    assert_eq!(p.authentication_method().unwrap().as_str(), "SCRAM");
    assert_eq!(p.authentication_data().as_deref(), Some(&b"xy"[..]));
    assert_eq!(p.request_problem_information(), Some(false));
    assert_eq!(p.request_response_information(), Some(true));
    assert_eq!(p.receive_maximum(), NonZeroU16::new(20));
    assert_eq!(p.topic_alias_maximum(), Some(10));
    assert_eq!(p.maximum_packet_size(), NonZeroU32::new(1024));
    assert_eq!(p.len(), 9);
    let w = &c.will.as_ref().unwrap().properties;
    assert_eq!(w.payload_format_indicator(), Some(PayloadFormat::Utf8));
    assert_eq!(w.message_expiry_interval(), Some(60));
    assert_eq!(w.content_type().unwrap().as_str(), "t/p");
    assert_eq!(w.response_topic().unwrap().as_str(), "r");
    assert_eq!(w.correlation_data().as_deref(), Some(&[1u8, 2][..]));
    assert_eq!(w.will_delay_interval(), Some(5));
    let users: Vec<_> = w
        .user_properties()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(users, [("k".to_string(), "v".to_string())]);
}

// [MQTT-3.1.2-19]: 5.0 allows a password without a user name (3.1.1 did not).
#[test]
fn connect_password_without_user_name() {
    let c = Connect {
        password: Some(Bytes::from_static(b"p")),
        ..Connect::new(Str::from_static("c").unwrap(), 0, true)
    };
    check(
        &Packet::Connect(c),
        b"\x10\x11\x00\x04MQTT\x05\x42\x00\x00\x00\x00\x01c\x00\x01p",
    );
}

#[test]
fn connack_with_every_property() {
    let c = Connack {
        session_present: true,
        reason_code: ConnectReasonCode::Success,
        properties: props(&PropertyValues {
            session_expiry_interval: Some(120),
            assigned_client_identifier: Some(s("id")),
            server_keep_alive: Some(30),
            authentication_method: Some(s("M")),
            authentication_data: Some(b"d"),
            response_information: Some(s("ri")),
            server_reference: Some(s("sr")),
            reason_string: Some(s("ok")),
            receive_maximum: NonZeroU16::new(100),
            topic_alias_maximum: Some(10),
            maximum_qos: Some(QoS::AtLeastOnce),
            retain_available: Some(false),
            user_properties: &[(s("x"), s("y"))],
            maximum_packet_size: NonZeroU32::new(268_435_460),
            wildcard_subscription_available: Some(true),
            subscription_identifier_available: Some(false),
            shared_subscription_available: Some(true),
            ..PropertyValues::default()
        }),
    };
    let bytes = [
        &b"\x20\x43\x01\x00\x40"[..],
        b"\x11\x00\x00\x00\x78", // session expiry interval 120
        b"\x12\x00\x02id",       // assigned client identifier
        b"\x13\x00\x1e",         // server keep alive 30
        b"\x15\x00\x01M",        // authentication method
        b"\x16\x00\x01d",        // authentication data
        b"\x1a\x00\x02ri",       // response information
        b"\x1c\x00\x02sr",       // server reference
        b"\x1f\x00\x02ok",       // reason string
        b"\x21\x00\x64",         // receive maximum 100
        b"\x22\x00\x0a",         // topic alias maximum 10
        b"\x24\x01",             // maximum QoS 1
        b"\x25\x00",             // retain available 0
        b"\x26\x00\x01x\x00\x01y",
        b"\x27\x10\x00\x00\x04", // maximum packet size 268,435,460
        b"\x28\x01",             // wildcard subscription available
        b"\x29\x00",             // subscription identifier available
        b"\x2a\x01",             // shared subscription available
    ]
    .concat();
    check(&Packet::Connack(c.clone()), &bytes);
    let p = &c.properties;
    assert_eq!(p.assigned_client_identifier().unwrap().as_str(), "id");
    assert_eq!(p.server_keep_alive(), Some(30));
    assert_eq!(p.response_information().unwrap().as_str(), "ri");
    assert_eq!(p.server_reference().unwrap().as_str(), "sr");
    assert_eq!(p.reason_string().unwrap().as_str(), "ok");
    assert_eq!(p.maximum_qos(), Some(QoS::AtLeastOnce));
    assert_eq!(p.retain_available(), Some(false));
    assert_eq!(p.wildcard_subscription_available(), Some(true));
    assert_eq!(p.subscription_identifier_available(), Some(false));
    assert_eq!(p.shared_subscription_available(), Some(true));
    assert_eq!(p.maximum_packet_size(), NonZeroU32::new(268_435_460));
    // Nothing that was not sent.
    assert_eq!(p.topic_alias(), None);
    assert_eq!(p.will_delay_interval(), None);
}

#[test]
fn connack_refusals() {
    for &code in ConnectReasonCode::ALL {
        let c = Connack::new(false, code);
        check(&Packet::Connack(c), &[0x20, 3, 0, code.to_u8(), 0]);
    }
}

#[test]
fn publish_qos0_without_properties() {
    let p = Publish::new(
        TopicName::from_static("a/b").unwrap(),
        QosPid::AtMostOnce,
        Bytes::from_static(b"hi"),
    );
    check(&Packet::Publish(p), b"\x30\x08\x00\x03a/b\x00hi");
}

#[test]
fn publish_qos1_with_every_property() {
    let ids = [
        SubscriptionId::new(1).unwrap(),
        SubscriptionId::new(268_435_455).unwrap(),
    ];
    let p = Publish {
        dup: true,
        qos_pid: QosPid::AtLeastOnce(pid(10)),
        retain: true,
        topic: Some(TopicName::from_static("t").unwrap()),
        properties: props(&PropertyValues {
            payload_format_indicator: Some(PayloadFormat::Unspecified),
            message_expiry_interval: Some(300),
            content_type: Some(s("json")),
            response_topic: Some(TopicName::new("re/sp").unwrap()),
            correlation_data: Some(&[0xff]),
            subscription_identifiers: &ids,
            topic_alias: NonZeroU16::new(1),
            user_properties: &[(s("a"), s("1")), (s("a"), s("2"))],
            ..PropertyValues::default()
        }),
        payload: Bytes::from_static(b"x"),
    };
    let bytes = [
        &b"\x3b\x39\x00\x01t\x00\x0a"[..],
        b"\x32",                 // property length 50
        b"\x01\x00",             // payload format indicator: unspecified bytes
        b"\x02\x00\x00\x01\x2c", // message expiry interval 300
        b"\x03\x00\x04json",     // content type
        b"\x08\x00\x05re/sp",    // response topic
        b"\x09\x00\x01\xff",     // correlation data
        b"\x0b\x01",             // subscription identifier 1
        b"\x0b\xff\xff\xff\x7f", // subscription identifier 268,435,455
        b"\x23\x00\x01",         // topic alias 1
        b"\x26\x00\x01a\x00\x011",
        b"\x26\x00\x01a\x00\x012",
        b"x",
    ]
    .concat();
    check(&Packet::Publish(p.clone()), &bytes);
    let got: Vec<u32> = p
        .properties
        .subscription_identifiers()
        .map(SubscriptionId::get)
        .collect();
    assert_eq!(got, [1, 268_435_455]);
    let users: Vec<_> = p
        .properties
        .user_properties()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(users, ["a=1", "a=2"], "order kept [MQTT-3.3.2-18]");
    assert_eq!(p.properties.topic_alias(), NonZeroU16::new(1));

    // The header-only encode is the packet without its payload.
    let mut head = BytesMut::new();
    p.encode_header(&mut head).unwrap();
    assert_eq!(&head[..], &bytes[..bytes.len() - 1]);
    assert_eq!(p.encoded_len(), Ok(bytes.len()));
}

// Section 3.3.2.1: an empty topic name with a Topic Alias.
#[test]
fn publish_qos2_by_topic_alias_alone() {
    let p = Publish {
        topic: None,
        properties: props(&PropertyValues {
            topic_alias: NonZeroU16::new(5),
            ..PropertyValues::default()
        }),
        ..Publish::new(
            TopicName::from_static("unused").unwrap(),
            QosPid::ExactlyOnce(pid(0x1234)),
            Bytes::new(),
        )
    };
    check(
        &Packet::Publish(p),
        b"\x34\x08\x00\x00\x12\x34\x03\x23\x00\x05",
    );
}

#[test]
fn publish_with_two_byte_remaining_length() {
    let payload = Bytes::from(vec![0xab; 200]);
    let p = Publish::new(
        TopicName::from_static("t").unwrap(),
        QosPid::AtMostOnce,
        payload.clone(),
    );
    let mut expected = vec![0x30, 0xcc, 0x01, 0x00, 0x01, b't', 0x00]; // 204 = 0xcc 0x01
    expected.extend_from_slice(&payload);
    check(&Packet::Publish(p.clone()), &expected);
    let mut head = BytesMut::new();
    p.encode_header(&mut head).unwrap();
    assert_eq!(&head[..], &expected[..7]);
}

#[test]
fn publish_responses_short_and_long_forms() {
    let reason = props(&PropertyValues {
        reason_string: Some(s("e")),
        ..PropertyValues::default()
    });
    let user = props(&PropertyValues {
        user_properties: &[(s("k"), s("v"))],
        ..PropertyValues::default()
    });
    let ack = |id, code| Puback {
        packet_id: pid(id),
        reason_code: code,
        properties: AckProperties::default(),
    };
    let rel = |id, code| Pubrel {
        packet_id: pid(id),
        reason_code: code,
        properties: AckProperties::default(),
    };
    // Remaining length 2: success and no properties.
    check(&Packet::Puback(Puback::new(pid(7))), b"\x40\x02\x00\x07");
    check(&Packet::Pubrec(Pubrec::new(pid(1))), b"\x50\x02\x00\x01");
    check(
        &Packet::Pubrel(Pubrel::new(pid(0xffff))),
        b"\x62\x02\xff\xff",
    );
    check(&Packet::Pubcomp(Pubcomp::new(pid(1))), b"\x70\x02\x00\x01");
    // Remaining length 3: a reason code and no properties.
    check(
        &Packet::Puback(ack(7, PubackReasonCode::NoMatchingSubscribers)),
        b"\x40\x03\x00\x07\x10",
    );
    check(
        &Packet::Pubrec(ack(1, PubrecReasonCode::PacketIdentifierInUse)),
        b"\x50\x03\x00\x01\x91",
    );
    check(
        &Packet::Pubrel(rel(1, PubrelReasonCode::PacketIdentifierNotFound)),
        b"\x62\x03\x00\x01\x92",
    );
    check(
        &Packet::Pubcomp(rel(1, PubcompReasonCode::PacketIdentifierNotFound)),
        b"\x70\x03\x00\x01\x92",
    );
    // The full form: reason code and properties, even for success.
    check(
        &Packet::Puback(Puback {
            properties: reason,
            ..ack(7, PubackReasonCode::UnspecifiedError)
        }),
        b"\x40\x08\x00\x07\x80\x04\x1f\x00\x01e",
    );
    check(
        &Packet::Pubrel(Pubrel {
            properties: user,
            ..rel(1, PubrelReasonCode::Success)
        }),
        b"\x62\x0b\x00\x01\x00\x07\x26\x00\x01k\x00\x01v",
    );
    // Every PUBACK / PUBREC code in the short form.
    for &code in PubackReasonCode::ALL.iter().skip(1) {
        check(
            &Packet::Puback(ack(3, code)),
            &[0x40, 3, 0, 3, code.to_u8()],
        );
        check(
            &Packet::Pubrec(ack(3, code)),
            &[0x50, 3, 0, 3, code.to_u8()],
        );
    }
}

#[test]
fn subscribe_with_options_and_properties() {
    let ids = [SubscriptionId::new(5).unwrap()];
    let items = [
        (
            TopicFilter::from_static("a/+").unwrap(),
            SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::DoNotSend,
            },
        ),
        (
            TopicFilter::from_static("$share/g/x/#").unwrap(),
            SubscriptionOptions::new(QoS::ExactlyOnce),
        ),
    ];
    let sub = Subscribe {
        packet_id: pid(1),
        properties: props(&PropertyValues {
            subscription_identifiers: &ids,
            user_properties: &[(s("k"), s("v"))],
            ..PropertyValues::default()
        }),
        filters: SubscribeFilters::from_items(&items).unwrap(),
    };
    let bytes = [
        &b"\x82\x21\x00\x01"[..],
        b"\x09\x0b\x05\x26\x00\x01k\x00\x01v",
        b"\x00\x03a/+\x2d",
        b"\x00\x0c$share/g/x/#\x02",
    ]
    .concat();
    check(&Packet::Subscribe(sub.clone()), &bytes);
    assert_eq!(sub.filters.iter().collect::<Vec<_>>(), items.to_vec());
    assert_eq!(
        sub.properties
            .subscription_identifiers()
            .map(SubscriptionId::get)
            .collect::<Vec<_>>(),
        [5]
    );
    assert_eq!(
        shared_subscription(&items[1].0),
        Some(("g", "x/#")),
        "[MQTT-4.8.2-1]"
    );
    // Built without an allocator, the same bytes.
    let mut scratch = [0u8; 32];
    let filters = SubscribeFilters::write_into(&items, &mut scratch).unwrap();
    assert_eq!(filters.as_wire(), sub.filters.as_wire());
}

#[test]
fn every_retain_handling() {
    for (rh, bits) in [
        (RetainHandling::SendAtSubscribe, 0x00u8),
        (RetainHandling::SendAtSubscribeIfNew, 0x10),
        (RetainHandling::DoNotSend, 0x20),
    ] {
        let options = SubscriptionOptions {
            retain_handling: rh,
            ..SubscriptionOptions::new(QoS::AtMostOnce)
        };
        assert_eq!(options.to_u8(), bits);
        let sub = Subscribe {
            packet_id: pid(9),
            properties: SubscribeProperties::default(),
            filters: SubscribeFilters::from_items(&[(
                TopicFilter::from_static("t").unwrap(),
                options,
            )])
            .unwrap(),
        };
        check(
            &Packet::Subscribe(sub),
            &[0x82, 7, 0, 9, 0, 0, 1, b't', bits],
        );
    }
}

#[test]
fn suback_every_reason_code() {
    let codes = SubackReasonCode::ALL;
    let s = Suback {
        packet_id: pid(1),
        properties: props(&PropertyValues {
            reason_string: Some(s("r")),
            ..PropertyValues::default()
        }),
        reason_codes: SubackReasonCodes::from_reason_codes(codes).unwrap(),
    };
    check(
        &Packet::Suback(s.clone()),
        b"\x90\x13\x00\x01\x04\x1f\x00\x01r\x00\x01\x02\x80\x83\x87\x8f\x91\x97\x9e\xa1\xa2",
    );
    assert_eq!(s.reason_codes.iter().collect::<Vec<_>>(), codes.to_vec());
    assert_eq!(
        codes.iter().map(|c| c.granted_qos()).collect::<Vec<_>>()[..4],
        [
            Some(QoS::AtMostOnce),
            Some(QoS::AtLeastOnce),
            Some(QoS::ExactlyOnce),
            None
        ]
    );
    let plain = Suback {
        packet_id: pid(2),
        properties: AckProperties::default(),
        reason_codes: SubackReasonCodes::from_reason_codes(&[SubackReasonCode::GrantedQoS1])
            .unwrap(),
    };
    check(&Packet::Suback(plain), b"\x90\x04\x00\x02\x00\x01");
}

#[test]
fn unsubscribe_with_a_shared_filter() {
    let items = [
        TopicFilter::from_static("a/b").unwrap(),
        TopicFilter::from_static("$share/g/c").unwrap(),
    ];
    let u = Unsubscribe {
        packet_id: pid(2),
        properties: props(&PropertyValues {
            user_properties: &[(s("k"), s("v"))],
            ..PropertyValues::default()
        }),
        filters: UnsubscribeFilters::from_items(&items).unwrap(),
    };
    check(
        &Packet::Unsubscribe(u),
        b"\xa2\x1b\x00\x02\x07\x26\x00\x01k\x00\x01v\x00\x03a/b\x00\x0a$share/g/c",
    );
}

#[test]
fn unsuback_every_reason_code() {
    let u = Unsuback {
        packet_id: pid(2),
        properties: AckProperties::default(),
        reason_codes: UnsubackReasonCodes::from_reason_codes(UnsubackReasonCode::ALL).unwrap(),
    };
    check(
        &Packet::Unsuback(u),
        b"\xb0\x0a\x00\x02\x00\x00\x11\x80\x83\x87\x8f\x91",
    );
}

#[test]
fn pings() {
    check(&Packet::Pingreq, b"\xc0\x00");
    check(&Packet::Pingresp, b"\xd0\x00");
}

#[test]
fn disconnect_short_and_long_forms() {
    // Remaining length 0: normal disconnection.
    check(
        &Packet::Disconnect(Disconnect::new(DisconnectReasonCode::NormalDisconnection)),
        b"\xe0\x00",
    );
    // Remaining length 1: a reason code, no properties.
    for &code in DisconnectReasonCode::ALL.iter().skip(1) {
        check(
            &Packet::Disconnect(Disconnect::new(code)),
            &[0xe0, 1, code.to_u8()],
        );
    }
    let d = Disconnect {
        reason_code: DisconnectReasonCode::SessionTakenOver,
        properties: props(&PropertyValues {
            session_expiry_interval: Some(0),
            server_reference: Some(s("s")),
            reason_string: Some(s("by")),
            ..PropertyValues::default()
        }),
    };
    check(
        &Packet::Disconnect(d),
        b"\xe0\x10\x8e\x0e\x11\x00\x00\x00\x00\x1c\x00\x01s\x1f\x00\x02by",
    );
}

#[test]
fn auth_short_and_long_forms() {
    check(
        &Packet::Auth(Auth::new(AuthReasonCode::Success)),
        b"\xf0\x00",
    );
    check(
        &Packet::Auth(Auth::new(AuthReasonCode::ReAuthenticate)),
        b"\xf0\x02\x19\x00",
    );
    let a = Auth {
        reason_code: AuthReasonCode::ContinueAuthentication,
        properties: props(&PropertyValues {
            authentication_method: Some(s("SCRAM")),
            authentication_data: Some(b"abc"),
            reason_string: Some(s("go")),
            user_properties: &[(s("k"), s("v"))],
            ..PropertyValues::default()
        }),
    };
    check(
        &Packet::Auth(a),
        b"\xf0\x1c\x18\x1a\x15\x00\x05SCRAM\x16\x00\x03abc\x1f\x00\x02go\x26\x00\x01k\x00\x01v",
    );
}

// Longer forms than needed decode to the same packet as the shortest form, which is
// what encoding gives back.
#[test]
fn longer_forms_decode_like_the_shortest() {
    let same = [
        (&b"\x40\x04\x00\x07\x00\x00"[..], &b"\x40\x02\x00\x07"[..]),
        (b"\x40\x03\x00\x07\x00", b"\x40\x02\x00\x07"),
        (b"\x50\x04\x00\x07\x91\x00", b"\x50\x03\x00\x07\x91"),
        (b"\xe0\x01\x00", b"\xe0\x00"),
        (b"\xe0\x02\x00\x00", b"\xe0\x00"),
        (b"\xe0\x02\x04\x00", b"\xe0\x01\x04"),
        (b"\xf0\x02\x00\x00", b"\xf0\x00"),
    ];
    let opts = DecodeOptions::v5();
    for (long, short) in same {
        let (a, _) = v5::decode(long, &opts).unwrap().unwrap();
        let (b, _) = v5::decode(short, &opts).unwrap().unwrap();
        assert_eq!(a, b, "{long:02x?}");
        let mut out = vec![0u8; short.len()];
        assert_eq!(a.encode(&mut out), Ok(short.len()));
        assert_eq!(out, short);
    }
}

#[test]
fn decoded_publish_shares_the_read_buffer() {
    let mut buf = BytesMut::from(&b"\x30\x0b\x00\x03a/b\x03\x23\x00\x01hi"[..]);
    let base = buf.as_ptr() as usize;
    let Some(Packet::Publish(p)) = v5::decode_buf(&mut buf, &DecodeOptions::v5()).unwrap() else {
        panic!("not a publish");
    };
    assert_eq!(p.topic.unwrap().as_bytes().as_ptr() as usize, base + 4);
    assert_eq!(p.properties.as_wire().as_ptr() as usize, base + 8);
    assert_eq!(p.payload.as_ptr() as usize, base + 11);
}

#[test]
fn debug_never_shows_credentials() {
    let c = Connect {
        properties: props(&PropertyValues {
            authentication_method: Some(s("SCRAM")),
            authentication_data: Some(b"s3cret-token"),
            ..PropertyValues::default()
        }),
        username: Some(Str::from_static("user").unwrap()),
        password: Some(Bytes::from_static(b"hunter2")),
        ..Connect::new(Str::from_static("id").unwrap(), 30, true)
    };
    let shown = format!("{c:?} {:?}", Packet::Connect(c.clone()));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("redacted"));
    assert!(shown.contains("SCRAM"));
}
