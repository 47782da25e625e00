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

/// A raw MQTT 5.0 connection on the codec alone.
mod v5_conn {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use bytes::{Bytes, BytesMut};
    use mqtt_proto::v5::{self, Packet};
    use mqtt_proto::DecodeOptions;

    pub struct Conn {
        stream: TcpStream,
        buf: BytesMut,
    }

    impl Conn {
        pub fn open(addr: &str) -> Conn {
            let stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            Conn {
                stream,
                buf: BytesMut::new(),
            }
        }

        /// Encodes with `encode` (a stack-sized slice) or `encode_to`, alternately.
        pub fn send(&mut self, packet: &Packet<&[u8]>) {
            let mut out = BytesMut::new();
            packet.encode_to(&mut out).unwrap();
            let mut slice = vec![0u8; packet.encoded_len().unwrap()];
            packet.encode(&mut slice).unwrap();
            assert_eq!(&out[..], &slice[..]);
            self.stream.write_all(&out).unwrap();
        }

        /// The next packet, or `None` once the broker has closed the connection.
        pub fn recv(&mut self) -> Option<Packet<Bytes>> {
            loop {
                if let Some(p) = v5::decode_buf(&mut self.buf, &DecodeOptions::v5()).unwrap() {
                    return Some(p);
                }
                let mut chunk = [0u8; 4096];
                match self.stream.read(&mut chunk) {
                    Ok(0) => return None,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
    }
}

/// The 5.0 codec against mosquitto: CONNECT with properties and the CONNACK's
/// properties, SUBSCRIBE with options and a Subscription Identifier, PUBLISH at QoS
/// 1 and 2 with properties (one by Topic Alias alone) through the broker and back,
/// No Local, a will published on DISCONNECT 0x04, and a DISCONNECT from the broker.
#[test]
fn mqtt5_through_mosquitto() {
    use std::num::NonZeroU16;

    use bytes::Bytes;
    use mqtt_proto::v5::*;
    use mqtt_proto::{PacketId, QosPid, Str, TopicFilter, TopicName};

    let broker = Mosquitto::start();
    let s = |v| Str::new(v).unwrap();
    let pid = |v| PacketId::new(v).unwrap();
    let fail = |what: &str, got: &dyn std::fmt::Debug| -> ! {
        panic!("{what}: {got:?}; broker log:\n{}", broker.log())
    };

    // CONNECT, level 5, with Session Expiry, Receive Maximum, Topic Alias Maximum
    // and a User Property.
    let mut a = v5_conn::Conn::open(&broker.addr());
    let mut scratch = [0u8; 128];
    let properties = ConnectProperties::write_into(
        &PropertyValues {
            session_expiry_interval: Some(60),
            receive_maximum: NonZeroU16::new(16),
            topic_alias_maximum: Some(4),
            request_problem_information: Some(true),
            user_properties: &[(s("client"), s("mqtt-proto"))],
            ..PropertyValues::default()
        },
        &mut scratch,
    )
    .unwrap();
    a.send(&Packet::Connect(Connect {
        properties,
        ..Connect::new(s("v5-a"), 30, true)
    }));
    let connack = match a.recv() {
        Some(Packet::Connack(c)) => c,
        other => fail("CONNACK", &other),
    };
    assert_eq!(connack.reason_code, ConnectReasonCode::Success);
    assert!(!connack.session_present);
    // mosquitto 2.0 announces its topic alias and in-flight limits (defaults 10, 20).
    let alias_max = connack.properties.topic_alias_maximum();
    assert!(alias_max.is_some_and(|m| m >= 1), "{connack:?}");
    assert!(
        connack.properties.receive_maximum().is_some(),
        "{connack:?}"
    );
    println!("CONNACK properties: {:?}", connack.properties);

    // SUBSCRIBE with options: one filter with a Subscription Identifier, Retain As
    // Published, QoS 2; one with No Local.
    let mut scratch2 = [0u8; 64];
    let ids = [SubscriptionId::new(7).unwrap()];
    let sub_props = SubscribeProperties::write_into(
        &PropertyValues {
            subscription_identifiers: &ids,
            user_properties: &[(s("why"), s("test"))],
            ..PropertyValues::default()
        },
        &mut scratch2,
    )
    .unwrap();
    let items = [
        (
            TopicFilter::new("v5/test/#").unwrap(),
            SubscriptionOptions {
                retain_as_published: true,
                ..SubscriptionOptions::new(mqtt_proto::QoS::ExactlyOnce)
            },
        ),
        (
            TopicFilter::new("v5/nolocal").unwrap(),
            SubscriptionOptions {
                no_local: true,
                ..SubscriptionOptions::new(mqtt_proto::QoS::AtLeastOnce)
            },
        ),
    ];
    let mut scratch3 = [0u8; 64];
    a.send(&Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        properties: sub_props,
        filters: SubscribeFilters::write_into(&items, &mut scratch3).unwrap(),
    }));
    match a.recv() {
        Some(Packet::Suback(sa)) if sa.packet_id == pid(1) => assert_eq!(
            sa.reason_codes.iter().collect::<Vec<_>>(),
            [SubackReasonCode::GrantedQoS2, SubackReasonCode::GrantedQoS1]
        ),
        other => fail("SUBACK", &other),
    }

    // PUBLISH QoS 1 with User Property, Content Type, Message Expiry and a Topic
    // Alias (which maps alias 1 to the topic on this connection).
    let mut scratch4 = [0u8; 128];
    let pub_props = PublishProperties::write_into(
        &PropertyValues {
            message_expiry_interval: Some(120),
            content_type: Some(s("text/plain")),
            topic_alias: NonZeroU16::new(1),
            user_properties: &[(s("k1"), s("v1")), (s("k2"), s("v2"))],
            ..PropertyValues::default()
        },
        &mut scratch4,
    )
    .unwrap();
    let topic = TopicName::new("v5/test/a").unwrap();
    a.send(&Packet::Publish(Publish {
        properties: pub_props,
        ..Publish::new(topic.clone(), QosPid::AtLeastOnce(pid(10)), &b"one"[..])
    }));
    // PUBLISH QoS 2 by Topic Alias alone: an empty topic name.
    let mut scratch5 = [0u8; 16];
    let alias_only = PublishProperties::write_into(
        &PropertyValues {
            topic_alias: NonZeroU16::new(1),
            ..PropertyValues::default()
        },
        &mut scratch5,
    )
    .unwrap();
    a.send(&Packet::Publish(Publish {
        topic: None,
        properties: alias_only,
        ..Publish::new(topic.clone(), QosPid::ExactlyOnce(pid(11)), &b"two"[..])
    }));
    // PUBLISH to the No Local subscription: not delivered back to us.
    a.send(&Packet::Publish(Publish::new(
        TopicName::new("v5/nolocal").unwrap(),
        QosPid::AtLeastOnce(pid(12)),
        &b"not for me"[..],
    )));

    let mut got = Vec::new();
    let (mut puback, mut pubcomp, mut nolocal_ack) = (false, false, false);
    while got.len() < 2 || !puback || !pubcomp || !nolocal_ack {
        match a.recv() {
            Some(Packet::Puback(ack)) if ack.packet_id == pid(10) => {
                assert!(!ack.reason_code.is_error(), "{ack:?}");
                puback = true;
            }
            Some(Packet::Puback(ack)) if ack.packet_id == pid(12) => {
                // Accepted, and nobody else is subscribed.
                assert!(!ack.reason_code.is_error(), "{ack:?}");
                nolocal_ack = true;
            }
            Some(Packet::Pubrec(rec)) if rec.packet_id == pid(11) => {
                assert_eq!(rec.reason_code, PubrecReasonCode::Success);
                a.send(&Packet::Pubrel(Pubrel::new(pid(11))));
            }
            Some(Packet::Pubcomp(c)) if c.packet_id == pid(11) => {
                assert_eq!(c.reason_code, PubcompReasonCode::Success);
                pubcomp = true;
            }
            Some(Packet::Publish(p)) => {
                match p.qos_pid {
                    QosPid::AtLeastOnce(id) => a.send(&Packet::Puback(Puback::new(id))),
                    QosPid::ExactlyOnce(id) => a.send(&Packet::Pubrec(Pubrec::new(id))),
                    QosPid::AtMostOnce => {}
                }
                got.push(p);
            }
            Some(Packet::Pubrel(rel)) => {
                a.send(&Packet::Pubcomp(Pubcomp::new(rel.packet_id)));
            }
            other => fail("publish flows", &other),
        }
    }
    // A PINGRESP after everything: had No Local failed, its PUBLISH came first.
    a.send(&Packet::Pingreq);
    loop {
        match a.recv() {
            Some(Packet::Pingresp) => break,
            Some(Packet::Pubrel(rel)) => a.send(&Packet::Pubcomp(Pubcomp::new(rel.packet_id))),
            other => fail("PINGRESP (No Local)", &other),
        }
    }
    got.sort_by_key(|p| p.payload.clone());
    let (one, two) = (&got[0], &got[1]);
    // The broker delivers by name (aliases are per connection and direction), with
    // our Subscription Identifier, and keeps our properties in order.
    assert_eq!(one.payload, Bytes::from_static(b"one"));
    assert_eq!(one.topic.as_ref().unwrap().as_str(), "v5/test/a");
    assert_eq!(one.qos(), mqtt_proto::QoS::AtLeastOnce);
    assert_eq!(
        one.properties
            .subscription_identifiers()
            .map(SubscriptionId::get)
            .collect::<Vec<_>>(),
        [7]
    );
    assert_eq!(
        one.properties.content_type().unwrap().as_str(),
        "text/plain"
    );
    assert!(one
        .properties
        .message_expiry_interval()
        .is_some_and(|e| e <= 120));
    let users: Vec<_> = one
        .properties
        .user_properties()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(
        users,
        ["k1=v1", "k2=v2"],
        "[MQTT-3.3.2-17], [MQTT-3.3.2-18]"
    );
    assert_eq!(two.payload, Bytes::from_static(b"two"));
    assert_eq!(two.qos(), mqtt_proto::QoS::ExactlyOnce);
    let two_topic = two.topic.as_ref().map(|t| t.as_str().to_string());
    let two_alias = two.properties.topic_alias();
    assert!(
        two_topic.as_deref() == Some("v5/test/a") || two_alias.is_some(),
        "{two:?}"
    );

    // A second client with a will, ending with DISCONNECT 0x04: the broker publishes
    // the will, with its properties.
    let mut b = v5_conn::Conn::open(&broker.addr());
    let mut scratch6 = [0u8; 64];
    let will_props = WillProperties::write_into(
        &PropertyValues {
            content_type: Some(s("text/plain")),
            user_properties: &[(s("reason"), s("test"))],
            ..PropertyValues::default()
        },
        &mut scratch6,
    )
    .unwrap();
    b.send(&Packet::Connect(Connect {
        will: Some(LastWill {
            properties: will_props,
            topic: TopicName::new("v5/test/will").unwrap(),
            payload: &b"gone"[..],
            qos: mqtt_proto::QoS::AtLeastOnce,
            retain: false,
        }),
        ..Connect::new(s("v5-b"), 30, true)
    }));
    match b.recv() {
        Some(Packet::Connack(c)) if c.reason_code == ConnectReasonCode::Success => {}
        other => fail("CONNACK b", &other),
    }
    let mut scratch7 = [0u8; 32];
    b.send(&Packet::Disconnect(Disconnect {
        reason_code: DisconnectReasonCode::DisconnectWithWillMessage,
        properties: DisconnectProperties::write_into(
            &PropertyValues {
                reason_string: Some(s("testing the will")),
                ..PropertyValues::default()
            },
            &mut scratch7,
        )
        .unwrap(),
    }));
    assert!(b.recv().is_none(), "the broker closes after DISCONNECT");
    match a.recv() {
        Some(Packet::Publish(w)) => {
            assert_eq!(w.topic.unwrap().as_str(), "v5/test/will");
            assert_eq!(w.payload, Bytes::from_static(b"gone"));
            assert_eq!(w.properties.content_type().unwrap().as_str(), "text/plain");
            assert_eq!(w.properties.user_properties().count(), 1);
            if let QosPid::AtLeastOnce(id) = w.qos_pid {
                a.send(&Packet::Puback(Puback::new(id)));
            }
        }
        other => fail("will", &other),
    }

    // A third client breaks a rule (a Topic Alias above the maximum the broker
    // announced): the broker answers with a DISCONNECT carrying its reason code.
    let mut c = v5_conn::Conn::open(&broker.addr());
    c.send(&Packet::Connect(Connect::new(s("v5-c"), 30, true)));
    let max = match c.recv() {
        Some(Packet::Connack(k)) => k.properties.topic_alias_maximum().unwrap_or(0),
        other => fail("CONNACK c", &other),
    };
    let mut scratch8 = [0u8; 16];
    let too_high = PublishProperties::write_into(
        &PropertyValues {
            topic_alias: NonZeroU16::new(max + 1),
            ..PropertyValues::default()
        },
        &mut scratch8,
    )
    .unwrap();
    c.send(&Packet::Publish(Publish {
        properties: too_high,
        ..Publish::new(topic.clone(), QosPid::AtMostOnce, &b"x"[..])
    }));
    match c.recv() {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(
                d.reason_code,
                DisconnectReasonCode::TopicAliasInvalid,
                "{d:?}"
            );
        }
        other => fail("DISCONNECT from the broker", &other),
    }
    assert!(c.recv().is_none());

    // Normal disconnection, with a Reason String.
    let mut scratch9 = [0u8; 16];
    a.send(&Packet::Disconnect(Disconnect {
        reason_code: DisconnectReasonCode::NormalDisconnection,
        properties: DisconnectProperties::write_into(
            &PropertyValues {
                reason_string: Some(s("done")),
                ..PropertyValues::default()
            },
            &mut scratch9,
        )
        .unwrap(),
    }));
    assert!(a.recv().is_none());
}
