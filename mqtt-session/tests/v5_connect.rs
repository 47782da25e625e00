//! MQTT 5.0 connecting: what CONNECT announces, what CONNACK allows, refusals.

mod common;

use core::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use common::v5::*;
use common::*;
use mqtt_proto::v5::{
    self, ConnackProperties, ConnectReasonCode, DisconnectReasonCode, PropertyValues,
    RetainHandling, SubscriptionId, SubscriptionOptions, WillProperties,
};
use mqtt_proto::{LastWill, QoS, Str};
use mqtt_session::{DisconnectReason, Event, NotSent, Outcome, ProtocolError, Session, State};

fn connect_of(s: &mut Session) -> v5::Connect<Bytes> {
    s.connect(t(0)).unwrap();
    match &sent5(s)[..] {
        [P5::Connect(c)] => c.clone(),
        other => panic!("{other:?}"),
    }
}

fn s(v: &'static str) -> Str<Bytes> {
    Str::from_static(v).unwrap()
}

// Sections 3.1.2.2 and 3.1.2.11: protocol level 5 and the CONNECT properties from the
// configuration.
#[test]
fn connect_announces_the_5_0_settings() {
    let mut c = config5();
    c.session_expiry_interval = Some(3600);
    c.receive_maximum = 10;
    c.max_packet_size = 4096;
    c.topic_alias_maximum = 7;
    c.request_response_information = true;
    c.request_problem_information = false;
    c.user_properties = vec![(s("site"), s("north"))];
    c.will = Some(LastWill {
        topic: topic("will/t"),
        message: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
    });
    c.will_properties = WillProperties::from_values(&PropertyValues {
        will_delay_interval: Some(30),
        content_type: Some(Str::new("text/plain").unwrap()),
        ..PropertyValues::default()
    })
    .unwrap();
    let mut session = Session::new(c);
    let connect = connect_of(&mut session);
    assert!(connect.clean_start);
    assert_eq!(connect.keep_alive, 60);
    assert_eq!(connect.client_id.as_str(), "test-client");
    let p = &connect.properties;
    assert_eq!(p.session_expiry_interval(), Some(3600));
    assert_eq!(p.receive_maximum(), NonZeroU16::new(10));
    assert_eq!(p.maximum_packet_size(), NonZeroU32::new(4096));
    assert_eq!(p.topic_alias_maximum(), Some(7));
    assert_eq!(p.request_response_information(), Some(true));
    assert_eq!(p.request_problem_information(), Some(false));
    let users: Vec<_> = p
        .user_properties()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
        .collect();
    assert_eq!(users, [("site".to_owned(), "north".to_owned())]);
    let will = connect.will.unwrap();
    assert_eq!(will.topic.as_str(), "will/t");
    assert_eq!(will.properties.will_delay_interval(), Some(30));
    assert_eq!(
        will.properties.content_type().unwrap().as_str(),
        "text/plain"
    );
}

// Section 3.1.2.11.2: no Session Expiry Interval means 0; by default it follows
// clean_session, as a 3.1.1 session does.
#[test]
fn session_expiry_follows_clean_session_by_default() {
    let connect = connect_of(&mut Session::new(config5()));
    assert_eq!(connect.properties.session_expiry_interval(), None);
    let mut c = config5();
    c.clean_session = false;
    let connect = connect_of(&mut Session::new(c));
    assert!(!connect.clean_start);
    assert_eq!(connect.properties.session_expiry_interval(), Some(u32::MAX));
    // Defaults announce nothing the spec's defaults already say.
    let p = connect.properties;
    assert_eq!(p.receive_maximum(), None);
    assert_eq!(p.maximum_packet_size(), NonZeroU32::new(16 * 1024 * 1024));
    assert_eq!(p.request_problem_information(), None);
}

// [MQTT-3.2.2-21], [MQTT-3.1.2-21]: the Server Keep Alive replaces ours.
#[test]
fn server_keep_alive_replaces_ours() {
    let s = connected5(
        config5(),
        &PropertyValues {
            server_keep_alive: Some(5),
            ..PropertyValues::default()
        },
    );
    assert_eq!(s.poll_timeout(), Some(t(5_000)));
    assert_eq!(s.server_limits().unwrap().server_keep_alive, Some(5));
    let mut s = s;
    s.handle_timeout(t(5_000));
    assert_eq!(sent5(&mut s), [P5::Pingreq]);
}

// [MQTT-3.2.2-16], [MQTT-3.1.3-7]: an empty Client Identifier is assigned one, which
// the session then uses on every reconnect.
#[test]
fn assigned_client_identifier_is_used_on_reconnect() {
    let mut c = config5();
    c.client_id = Str::from_static("").unwrap();
    let mut s = Session::new(c);
    assert_eq!(connect_of(&mut s).client_id.as_str(), "");
    feed5(
        &mut s,
        t(1),
        &[connack5(
            false,
            &PropertyValues {
                assigned_client_identifier: Some(Str::new("srv-42").unwrap()),
                ..PropertyValues::default()
            },
        )],
    );
    assert_eq!(s.assigned_client_id().unwrap().as_str(), "srv-42");
    s.handle_transport_closed(t(2));
    assert_eq!(connect_of(&mut s).client_id.as_str(), "srv-42");
}

// Section 3.2.2.3.2: the server's Session Expiry Interval is the one in force.
#[test]
fn the_servers_session_expiry_interval_is_in_force() {
    let mut c = config5();
    c.session_expiry_interval = Some(3600);
    let s = connected5(
        c,
        &PropertyValues {
            session_expiry_interval: Some(60),
            ..PropertyValues::default()
        },
    );
    assert_eq!(s.server_limits().unwrap().session_expiry_interval, 60);
    let s = connected5(config5(), &PropertyValues::default());
    assert_eq!(s.server_limits().unwrap().session_expiry_interval, 0);
}

// [MQTT-3.2.2-7], [MQTT-4.13.2-1]: a CONNACK of 0x80 or above ends the connection;
// the refusal is typed, its properties kept.
#[test]
fn a_refusal_ends_the_connection_with_its_reason_code() {
    for code in [
        ConnectReasonCode::UnspecifiedError,
        ConnectReasonCode::UnsupportedProtocolVersion,
        ConnectReasonCode::ClientIdentifierNotValid,
        ConnectReasonCode::BadUserNameOrPassword,
        ConnectReasonCode::NotAuthorized,
        ConnectReasonCode::ServerBusy,
        ConnectReasonCode::Banned,
        ConnectReasonCode::QuotaExceeded,
        ConnectReasonCode::UseAnotherServer,
    ] {
        let mut s = Session::new(config5());
        s.connect(t(0)).unwrap();
        let _ = sent5(&mut s);
        let properties = ConnackProperties::from_values(&PropertyValues {
            reason_string: Some(Str::new("no").unwrap()),
            server_reference: Some(Str::new("other:1883").unwrap()),
            ..PropertyValues::default()
        })
        .unwrap();
        feed5(
            &mut s,
            t(1),
            &[P5::Connack(v5::Connack {
                session_present: false,
                reason_code: code,
                properties,
            })],
        );
        assert_eq!(s.state(), State::Disconnected);
        assert_eq!(
            events(&mut s),
            [Event::Disconnected {
                reason: DisconnectReason::RefusedV5(code)
            }]
        );
        let connack = s.connack().unwrap();
        assert_eq!(connack.properties.reason_string().unwrap().as_str(), "no");
        assert_eq!(
            connack.properties.server_reference().unwrap().as_str(),
            "other:1883"
        );
        assert!(sent5(&mut s).is_empty(), "nothing sent after a refusal");
    }
}

// [MQTT-3.2.2-2], [MQTT-3.2.2-4]: Session Present with Clean Start is a protocol error;
// under 5.0 the session says so with DISCONNECT 0x82 (section 4.13.1).
#[test]
fn session_present_on_clean_start_is_a_protocol_error() {
    let mut s = Session::new(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(1), &[connack5(true, &PropertyValues::default())]);
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Protocol(ProtocolError::SessionPresentOnCleanSession)
        }]
    );
    assert_eq!(
        sent5(&mut s),
        [P5::Disconnect(v5::Disconnect::new(
            DisconnectReasonCode::ProtocolError
        ))]
    );
}

fn completed(s: &mut Session) -> Vec<(mqtt_session::OpId, Outcome)> {
    events(s)
        .into_iter()
        .filter_map(|e| match e {
            Event::Completed { op, outcome } => Some((op, outcome)),
            _ => None,
        })
        .collect()
}

// [MQTT-3.2.2-11]: never a publish above the server's Maximum QoS; it fails locally
// instead of going out at a lower QoS.
#[test]
fn maximum_qos_refuses_higher_publishes_locally() {
    let mut s = connected5(
        config5(),
        &PropertyValues {
            maximum_qos: Some(QoS::AtLeastOnce),
            ..PropertyValues::default()
        },
    );
    let two = s.publish(t(1), msg("a/b", b"2", QoS::ExactlyOnce)).unwrap();
    let one = s.publish(t(1), msg("a/b", b"1", QoS::AtLeastOnce)).unwrap();
    assert_eq!(
        completed(&mut s),
        [(
            two,
            Outcome::NotSent(NotSent::QoSNotSupported {
                maximum: QoS::AtLeastOnce
            })
        )]
    );
    let p = sent5(&mut s);
    assert!(
        matches!(&p[..], [P5::Publish(p)] if p.qos() == QoS::AtLeastOnce && p.payload == "1"),
        "{p:?}"
    );
    feed5(&mut s, t(2), &[puback5(1, v5::PubackReasonCode::Success)]);
    assert_eq!(completed(&mut s), [(one, Outcome::Acknowledged)]);
}

// [MQTT-3.2.2-14]: no retained publish without Retain Available.
#[test]
fn retain_unavailable_refuses_retained_publishes() {
    let mut s = connected5(
        config5(),
        &PropertyValues {
            retain_available: Some(false),
            ..PropertyValues::default()
        },
    );
    let mut m = msg("a/b", b"r", QoS::AtMostOnce);
    m.retain = true;
    let op = s.publish(t(1), m).unwrap();
    assert_eq!(
        completed(&mut s),
        [(op, Outcome::NotSent(NotSent::RetainNotSupported))]
    );
    assert!(sent5(&mut s).is_empty());
}

// Sections 3.2.2.3.11 to 3.2.2.3.13: a subscribe needing a feature the server has not
// got fails locally.
#[test]
fn unavailable_subscription_features_refuse_the_subscribe() {
    let mut s = connected5(
        config5(),
        &PropertyValues {
            wildcard_subscription_available: Some(false),
            subscription_identifier_available: Some(false),
            shared_subscription_available: Some(false),
            ..PropertyValues::default()
        },
    );
    let o = SubscriptionOptions::new(QoS::AtLeastOnce);
    let wild = s
        .subscribe_with(t(1), &[(filter("a/+"), o)], &PropertyValues::default())
        .unwrap();
    let shared = s
        .subscribe_with(
            t(1),
            &[(filter("$share/g/a/b"), o)],
            &PropertyValues::default(),
        )
        .unwrap();
    let id = [SubscriptionId::new(7).unwrap()];
    let with_id = s
        .subscribe_with(
            t(1),
            &[(filter("a/b"), o)],
            &PropertyValues {
                subscription_identifiers: &id,
                ..PropertyValues::default()
            },
        )
        .unwrap();
    let _plain = s
        .subscribe_with(t(1), &[(filter("a/b"), o)], &PropertyValues::default())
        .unwrap();
    assert_eq!(
        completed(&mut s),
        [
            (
                wild,
                Outcome::NotSent(NotSent::WildcardSubscriptionsNotSupported)
            ),
            (
                shared,
                Outcome::NotSent(NotSent::SharedSubscriptionsNotSupported)
            ),
            (
                with_id,
                Outcome::NotSent(NotSent::SubscriptionIdentifiersNotSupported)
            ),
        ]
    );
    let p = sent5(&mut s);
    assert!(matches!(&p[..], [P5::Subscribe(_)]), "{p:?}");
}

// Commands queued while offline meet the limits of the connection they go out on.
#[test]
fn queued_commands_meet_the_limits_of_the_next_connection() {
    let mut s = Session::new(config5());
    let op = s.publish(t(0), msg("a/b", b"1", QoS::AtLeastOnce)).unwrap();
    let sub = s
        .subscribe_with(
            t(0),
            &[(
                filter("x/#"),
                SubscriptionOptions {
                    retain_handling: RetainHandling::DoNotSend,
                    ..SubscriptionOptions::new(QoS::AtMostOnce)
                },
            )],
            &PropertyValues::default(),
        )
        .unwrap();
    s.connect(t(1)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(1),
        &[connack5(
            false,
            &PropertyValues {
                maximum_qos: Some(QoS::AtMostOnce),
                ..PropertyValues::default()
            },
        )],
    );
    let c = completed(&mut s);
    assert_eq!(
        c,
        [(
            op,
            Outcome::NotSent(NotSent::QoSNotSupported {
                maximum: QoS::AtMostOnce
            })
        )]
    );
    let p = sent5(&mut s);
    assert!(
        matches!(&p[..], [P5::Subscribe(x)] if x.filters.iter().next().unwrap().1.retain_handling == RetainHandling::DoNotSend),
        "{p:?}"
    );
    let _ = sub;
}
