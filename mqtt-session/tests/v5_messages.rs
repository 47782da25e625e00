//! MQTT 5.0 message properties both ways (payload format, expiry, content type,
//! response topic, correlation data, user properties, subscription identifiers) and
//! subscriptions (options, identifiers, shared subscriptions, resubscription).

mod common;

use bytes::Bytes;
use common::v5::*;
use common::*;
use mqtt_proto::v5::{
    DisconnectReasonCode, PayloadFormat, PropertyValues, PubackReasonCode, RetainHandling,
    SubackReasonCode, SubackReasonCodes, SubscriptionId, SubscriptionOptions,
};
use mqtt_proto::{EncodeError, QoS, QosPid, Str, TopicName};
use mqtt_session::{
    DisconnectReason, Error, Event, Message, MessageProperties, Outcome, ProtocolError, Session,
    State,
};

fn s(v: &'static str) -> Str<Bytes> {
    Str::from_static(v).unwrap()
}

fn request() -> MessageProperties {
    MessageProperties {
        payload_format_indicator: Some(PayloadFormat::Utf8),
        message_expiry_interval: Some(30),
        content_type: Some(s("application/json")),
        response_topic: Some(TopicName::from_static("replies/1").unwrap()),
        correlation_data: Some(Bytes::from_static(b"\x00\x01corr")),
        user_properties: vec![(s("k"), s("v1")), (s("k"), s("v2")), (s("a"), s("b"))],
    }
}

fn plain() -> Session {
    connected5(config5(), &PropertyValues::default())
}

// Section 3.3.2.3: every property of the message goes out with it, user properties in
// their order.
#[test]
fn message_properties_go_out_with_the_message() {
    let mut session = plain();
    let m = msg("req/a", b"{\"q\":1}", QoS::AtLeastOnce).with_properties(request());
    session.publish(t(1), m).unwrap();
    let p = sent5(&mut session);
    let [P5::Publish(p)] = &p[..] else {
        panic!("{p:?}")
    };
    let props = &p.properties;
    assert_eq!(props.payload_format_indicator(), Some(PayloadFormat::Utf8));
    assert_eq!(props.message_expiry_interval(), Some(30));
    assert_eq!(props.content_type().unwrap().as_str(), "application/json");
    assert_eq!(props.response_topic().unwrap().as_str(), "replies/1");
    assert_eq!(&props.correlation_data().unwrap()[..], b"\x00\x01corr");
    let users: Vec<_> = props
        .user_properties()
        .map(|(k, v)| format!("{}={}", k.as_str(), v.as_str()))
        .collect();
    assert_eq!(users, ["k=v1", "k=v2", "a=b"]);
    // [MQTT-3.3.4-6]: a client never sends a Subscription Identifier.
    assert_eq!(props.subscription_identifiers().count(), 0);
}

// Properties are ignored by a 3.1.1 session: a plain 3.1.1 PUBLISH goes out.
#[test]
fn message_properties_are_ignored_under_3_1_1() {
    let mut session = connected(config());
    let m = msg("req/a", b"x", QoS::AtMostOnce).with_properties(request());
    session.publish(t(1), m).unwrap();
    let p = sent(&mut session);
    assert!(matches!(&p[..], [mqtt_proto::Packet::Publish(p)] if p.payload == "x"));
}

// Section 3.3.2.3.2: a payload that breaks the promise of UTF-8 is refused locally.
#[test]
fn a_payload_that_is_not_utf8_is_refused_locally() {
    let mut session = plain();
    let bad = msg("a/b", b"\xff\xfe", QoS::AtLeastOnce).with_properties(MessageProperties {
        payload_format_indicator: Some(PayloadFormat::Utf8),
        ..MessageProperties::default()
    });
    assert_eq!(session.publish(t(1), bad), Err(Error::PayloadFormatInvalid));
    let unspecified =
        msg("a/b", b"\xff\xfe", QoS::AtLeastOnce).with_properties(MessageProperties {
            payload_format_indicator: Some(PayloadFormat::Unspecified),
            ..MessageProperties::default()
        });
    session.publish(t(1), unspecified).unwrap();
    // Correlation data longer than a binary field can hold.
    let long = msg("a/b", b"x", QoS::AtMostOnce).with_properties(MessageProperties {
        correlation_data: Some(Bytes::from(vec![0u8; 70_000])),
        ..MessageProperties::default()
    });
    assert_eq!(
        session.publish(t(1), long),
        Err(Error::InvalidProperties(EncodeError::FieldTooLong))
    );
}

// Section 3.3.2.3: the properties of an incoming message, its Subscription Identifiers
// [MQTT-3.3.4-3] included, are exposed as received.
#[test]
fn incoming_message_properties_are_exposed() {
    let mut session = plain();
    let ids = [
        SubscriptionId::new(3).unwrap(),
        SubscriptionId::new(70_000).unwrap(),
    ];
    let users = [(Str::new("k").unwrap(), Str::new("v").unwrap())];
    feed5(
        &mut session,
        t(1),
        &[publish5(
            "in/x",
            QosPid::AtLeastOnce(pid(4)),
            b"hello",
            &PropertyValues {
                payload_format_indicator: Some(PayloadFormat::Utf8),
                message_expiry_interval: Some(12),
                content_type: Some(Str::new("text/plain").unwrap()),
                response_topic: Some(TopicName::new("back/x").unwrap()),
                correlation_data: Some(b"c"),
                subscription_identifiers: &ids,
                user_properties: &users,
                ..PropertyValues::default()
            },
        )],
    );
    let e = events(&mut session);
    let [Event::Message(m)] = &e[..] else {
        panic!("{e:?}")
    };
    assert_eq!((m.topic(), m.payload()), ("in/x", &b"hello"[..]));
    let p = m.properties();
    assert_eq!(p.payload_format_indicator(), Some(PayloadFormat::Utf8));
    assert_eq!(p.message_expiry_interval(), Some(12));
    assert_eq!(p.content_type().unwrap().as_str(), "text/plain");
    assert_eq!(p.response_topic().unwrap().as_str(), "back/x");
    assert_eq!(p.correlation_data(), Some(&b"c"[..]));
    let got: Vec<u32> = p.subscription_identifiers().map(|i| i.get()).collect();
    assert_eq!(got, [3, 70_000]);
    assert_eq!(p.user_properties().count(), 1);
    assert_eq!(sent5(&mut session), [puback5(4, PubackReasonCode::Success)]);
}

// Section 3.3.2.3.2: this receiver checks the promise of UTF-8 and treats a broken one
// as a protocol error, DISCONNECT 0x99 (the spec also allows accepting it, or a
// PUBACK / PUBREC 0x99; see ProtocolError::PayloadFormatInvalid).
#[test]
fn an_incoming_payload_that_is_not_utf8_ends_the_connection() {
    let mut session = plain();
    feed5(
        &mut session,
        t(1),
        &[publish5(
            "in/x",
            QosPid::AtLeastOnce(pid(4)),
            b"\xc3\x28",
            &PropertyValues {
                payload_format_indicator: Some(PayloadFormat::Utf8),
                ..PropertyValues::default()
            },
        )],
    );
    assert_eq!(session.state(), State::Disconnected);
    let e = events(&mut session);
    assert_eq!(
        e,
        [Event::Disconnected {
            reason: DisconnectReason::Protocol(ProtocolError::PayloadFormatInvalid)
        }],
        "not delivered"
    );
    assert_eq!(
        disconnect_code(&sent5(&mut session)),
        Some(DisconnectReasonCode::PayloadFormatInvalid),
        "and no PUBACK"
    );
}

fn expiring(interval: u32, qos: QoS) -> Message {
    msg("a/b", b"x", qos).with_properties(MessageProperties {
        message_expiry_interval: Some(interval),
        ..MessageProperties::default()
    })
}

// Section 3.3.2.3.3: a message still queued when its expiry passes is not sent (it
// completes as expired); one sent late carries what is left of its interval.
#[test]
fn message_expiry_while_queued() {
    let mut session = Session::new(config5());
    let gone = session
        .publish(t(0), expiring(10, QoS::AtLeastOnce))
        .unwrap();
    let gone0 = session
        .publish(t(0), expiring(10, QoS::AtMostOnce))
        .unwrap();
    let late = session
        .publish(t(0), expiring(30, QoS::AtLeastOnce))
        .unwrap();
    let forever = session
        .publish(t(0), msg("a/b", b"y", QoS::AtMostOnce))
        .unwrap();
    session.connect(t(12_500)).unwrap();
    let _ = sent5(&mut session);
    feed5(
        &mut session,
        t(12_500),
        &[connack5(false, &PropertyValues::default())],
    );
    let e = events(&mut session);
    assert!(e.contains(&Event::Completed {
        op: gone,
        outcome: Outcome::Expired
    }));
    assert!(e.contains(&Event::Completed {
        op: gone0,
        outcome: Outcome::Expired
    }));
    let p = sent5(&mut session);
    let expiries: Vec<_> = p
        .iter()
        .map(|p| match p {
            P5::Publish(p) => p.properties.message_expiry_interval(),
            other => panic!("{other:?}"),
        })
        .collect();
    // 30 s less the 12 whole seconds it waited; none for the one without expiry.
    assert_eq!(expiries, [Some(18), None]);
    assert!(events(&mut session).contains(&Event::Completed {
        op: forever,
        outcome: Outcome::Sent
    }));
    feed5(
        &mut session,
        t(13_000),
        &[puback5(1, PubackReasonCode::Success)],
    );
    assert_eq!(
        events(&mut session),
        [Event::Completed {
            op: late,
            outcome: Outcome::Acknowledged
        }]
    );
}

// A message already sent is resent whatever its expiry (the server may hold its
// packet identifier; for QoS 2 see [MQTT-4.3.3-7]), with what is left, or 0.
#[test]
fn message_expiry_on_resend() {
    let mut c = config5();
    c.clean_session = false;
    let mut session = connected5(c, &PropertyValues::default());
    session
        .publish(t(0), expiring(10, QoS::AtLeastOnce))
        .unwrap();
    session
        .publish(t(0), expiring(100, QoS::ExactlyOnce))
        .unwrap();
    let _ = sent5(&mut session);
    session.handle_transport_closed(t(1_000));
    session.connect(t(40_000)).unwrap();
    let _ = sent5(&mut session);
    feed5(
        &mut session,
        t(40_000),
        &[connack5(true, &PropertyValues::default())],
    );
    let again: Vec<_> = sent5(&mut session)
        .into_iter()
        .map(|p| match p {
            P5::Publish(p) => (p.dup, p.properties.message_expiry_interval()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(again, [(true, Some(0)), (true, Some(60))]);
}

// Section 3.8.3.1: the Subscription Options and the Subscription Identifier go out as
// asked.
#[test]
fn subscription_options_and_identifier_go_out() {
    let mut session = plain();
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::SendAtSubscribeIfNew,
    };
    let ids = [SubscriptionId::new(42).unwrap()];
    let users = [(Str::new("who").unwrap(), Str::new("me").unwrap())];
    session
        .subscribe_with(
            t(1),
            &[(filter("a/#"), options)],
            &PropertyValues {
                subscription_identifiers: &ids,
                user_properties: &users,
                ..PropertyValues::default()
            },
        )
        .unwrap();
    let p = sent5(&mut session);
    let [P5::Subscribe(sub)] = &p[..] else {
        panic!("{p:?}")
    };
    let entries: Vec<_> = sub.filters.iter().collect();
    assert_eq!(entries, [(filter("a/#"), options)]);
    let got: Vec<u32> = sub
        .properties
        .subscription_identifiers()
        .map(|i| i.get())
        .collect();
    assert_eq!(got, [42]);
    assert_eq!(sub.properties.user_properties().count(), 1);
    // At most one identifier per SUBSCRIBE.
    let two = [
        SubscriptionId::new(1).unwrap(),
        SubscriptionId::new(2).unwrap(),
    ];
    assert!(matches!(
        session.subscribe_with(
            t(2),
            &[(filter("b"), options)],
            &PropertyValues {
                subscription_identifiers: &two,
                ..PropertyValues::default()
            }
        ),
        Err(Error::InvalidProperties(_))
    ));
}

// [MQTT-4.8.2-1], [MQTT-4.8.2-2], [MQTT-3.8.3-4]: a shared subscription must be well
// formed and never No Local; refused locally, never sent.
#[test]
fn shared_subscriptions_are_checked_before_they_go_out() {
    let mut session = plain();
    let o = SubscriptionOptions::new(QoS::AtLeastOnce);
    let no_local = SubscriptionOptions {
        no_local: true,
        ..o
    };
    assert_eq!(
        session.subscribe_with(
            t(1),
            &[(filter("$share/g/a/#"), no_local)],
            &PropertyValues::default()
        ),
        Err(Error::InvalidFilter(
            EncodeError::NoLocalOnSharedSubscription
        ))
    );
    assert_eq!(
        session.subscribe_with(t(1), &[(filter("$share/g"), o)], &PropertyValues::default()),
        Err(Error::InvalidFilter(EncodeError::InvalidSharedSubscription))
    );
    assert_eq!(
        session.unsubscribe(t(1), &[filter("$share/+/a")]),
        Err(Error::InvalidFilter(EncodeError::InvalidSharedSubscription))
    );
    assert!(sent5(&mut session).is_empty());
    session
        .subscribe_with(
            t(1),
            &[(filter("$share/g/a/#"), o)],
            &PropertyValues::default(),
        )
        .unwrap();
    let p = sent5(&mut session);
    assert!(matches!(&p[..], [P5::Subscribe(_)]));
    // Under 3.1.1, "$share/g" is just a topic filter.
    let mut old = connected(config());
    old.subscribe(t(1), &[(filter("$share/g"), QoS::AtMostOnce)])
        .unwrap();
}

fn suback(session: &mut Session, packet_id: mqtt_proto::PacketId, codes: &[SubackReasonCode]) {
    feed5(
        session,
        t(1),
        &[P5::Suback(mqtt_proto::v5::Suback {
            packet_id,
            properties: Default::default(),
            reason_codes: SubackReasonCodes::from_reason_codes(codes).unwrap(),
        })],
    );
}

// [MQTT-3.2.2-5]-style recovery: after a lost session the session subscribes again
// with each filter's options and Subscription Identifier (one SUBSCRIBE per
// identifier), at the QoS granted.
#[test]
fn resubscription_after_a_lost_session_keeps_the_options() {
    let mut c = config5();
    c.clean_session = false;
    let mut session = connected5(c, &PropertyValues::default());
    let keep = SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    };
    let ids = [SubscriptionId::new(9).unwrap()];
    session
        .subscribe_with(
            t(1),
            &[(filter("a/#"), keep), (filter("b/#"), keep)],
            &PropertyValues {
                subscription_identifiers: &ids,
                ..PropertyValues::default()
            },
        )
        .unwrap();
    session
        .subscribe(t(1), &[(filter("c"), QoS::AtMostOnce)])
        .unwrap();
    let p = sent5(&mut session);
    let ids_of: Vec<_> = p
        .iter()
        .map(|p| match p {
            P5::Subscribe(s) => s.packet_id,
            other => panic!("{other:?}"),
        })
        .collect();
    suback(
        &mut session,
        ids_of[0],
        &[SubackReasonCode::GrantedQoS1, SubackReasonCode::GrantedQoS2],
    );
    suback(&mut session, ids_of[1], &[SubackReasonCode::GrantedQoS0]);
    let _ = events(&mut session);
    session.handle_transport_closed(t(2));
    session.connect(t(3)).unwrap();
    let _ = sent5(&mut session);
    feed5(
        &mut session,
        t(3),
        &[connack5(false, &PropertyValues::default())],
    );
    let e = events(&mut session);
    assert!(e.contains(&Event::SessionLost {
        republished: 0,
        failed: 0,
        resubscribed: 3
    }));
    type Resubscribe = (Vec<u32>, Vec<(String, SubscriptionOptions)>);
    let mut again: Vec<Resubscribe> = sent5(&mut session)
        .into_iter()
        .map(|p| match p {
            P5::Subscribe(s) => (
                s.properties
                    .subscription_identifiers()
                    .map(|i| i.get())
                    .collect(),
                s.filters
                    .iter()
                    .map(|(f, o)| (f.as_str().to_owned(), o))
                    .collect(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    again.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        again,
        [
            (
                vec![],
                vec![("c".to_owned(), SubscriptionOptions::new(QoS::AtMostOnce))]
            ),
            (
                vec![9],
                vec![
                    (
                        "a/#".to_owned(),
                        SubscriptionOptions {
                            qos: QoS::AtLeastOnce,
                            ..keep
                        }
                    ),
                    ("b/#".to_owned(), keep),
                ]
            ),
        ]
    );
}

// Under 3.1.1, subscribe_with uses each filter's QoS alone.
#[test]
fn subscribe_with_under_3_1_1_uses_the_qos_alone() {
    let mut session = connected(config());
    let o = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::new(QoS::AtLeastOnce)
    };
    session
        .subscribe_with(t(1), &[(filter("a"), o)], &PropertyValues::default())
        .unwrap();
    let p = sent(&mut session);
    let [mqtt_proto::Packet::Subscribe(s)] = &p[..] else {
        panic!("{p:?}")
    };
    assert_eq!(
        s.filters.iter().collect::<Vec<_>>(),
        [(filter("a"), QoS::AtLeastOnce)]
    );
}
