//! MQTT 5.0 reason codes surfaced: acknowledgements that refuse, SUBACK / UNSUBACK
//! codes per filter, DISCONNECT both ways, protocol violations answered with a
//! DISCONNECT.

mod common;

use bytes::Bytes;
use common::v5::*;
use common::*;
use mqtt_proto::v5::{
    self, AckProperties, DisconnectProperties, DisconnectReasonCode, PropertyValues,
    PubackReasonCode, SubackReasonCode, SubackReasonCodes, SubscriptionOptions, UnsubackReasonCode,
    UnsubackReasonCodes,
};
use mqtt_proto::{PacketType, QoS, Str};
use mqtt_session::{DisconnectReason, Error, Event, Outcome, ProtocolError, Session, State};

fn completed(s: &mut Session) -> Vec<(mqtt_session::OpId, Outcome)> {
    events(s)
        .into_iter()
        .filter_map(|e| match e {
            Event::Completed { op, outcome } => Some((op, outcome)),
            _ => None,
        })
        .collect()
}

fn plain() -> Session {
    connected5(config5(), &PropertyValues::default())
}

fn persistent() -> mqtt_session::Config {
    let mut c = config5();
    c.clean_session = false;
    c
}

fn reason(text: &'static str) -> AckProperties<Bytes> {
    AckProperties::from_values(&PropertyValues {
        reason_string: Some(Str::new(text).unwrap()),
        ..PropertyValues::default()
    })
    .unwrap()
}

// [MQTT-3.4.2-1], [MQTT-4.4.0-2]: a PUBACK of 0x80 or above completes the publish with
// the code (and the Reason String); it is never sent again, not even on resumption.
#[test]
fn a_failed_puback_completes_with_its_reason_code() {
    let mut s = connected5(persistent(), &PropertyValues::default());
    let op = s.publish(t(1), msg("a/b", b"x", QoS::AtLeastOnce)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(2),
        &[P5::Puback(v5::Puback {
            packet_id: pid(1),
            reason_code: PubackReasonCode::NotAuthorized,
            properties: reason("not yours"),
        })],
    );
    assert_eq!(
        completed(&mut s),
        [(
            op,
            Outcome::Rejected {
                reason_code: PubackReasonCode::NotAuthorized,
                reason_string: Some(Str::from_static("not yours").unwrap()),
            }
        )]
    );
    s.handle_transport_closed(t(3));
    s.connect(t(4)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(4), &[connack5(true, &PropertyValues::default())]);
    assert!(sent5(&mut s).is_empty(), "not resent [MQTT-4.4.0-2]");
}

// Section 3.4.2.1: 0x10 (No matching subscribers) is a success.
#[test]
fn a_puback_without_subscribers_is_still_acknowledged() {
    let mut s = plain();
    let op = s.publish(t(1), msg("a/b", b"x", QoS::AtLeastOnce)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(2),
        &[puback5(1, PubackReasonCode::NoMatchingSubscribers)],
    );
    assert_eq!(completed(&mut s), [(op, Outcome::Acknowledged)]);
}

// [MQTT-4.3.3-4], [MQTT-4.4.0-2]: a PUBREC of 0x80 or above ends the QoS 2 flow: no
// PUBREL, the publish completes with the code, its identifier is free.
#[test]
fn a_failed_pubrec_ends_the_qos2_flow() {
    let mut s = plain();
    let op = s.publish(t(1), msg("a/b", b"x", QoS::ExactlyOnce)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(2), &[pubrec5(1, PubackReasonCode::QuotaExceeded)]);
    assert!(sent5(&mut s).is_empty(), "no PUBREL");
    assert_eq!(
        completed(&mut s),
        [(
            op,
            Outcome::Rejected {
                reason_code: PubackReasonCode::QuotaExceeded,
                reason_string: None,
            }
        )]
    );
    assert_eq!(s.stats().inflight, 0);
    // A PUBCOMP for it now is for nothing.
    feed5(&mut s, t(3), &[pubcomp5(1)]);
    assert_eq!(s.state(), State::Disconnected);
}

// A successful QoS 2 flow, and PUBCOMP 0x92 (Packet Identifier not found) still ends it.
#[test]
fn qos2_flow_and_a_pubcomp_not_found() {
    let mut s = plain();
    let op = s.publish(t(1), msg("a/b", b"x", QoS::ExactlyOnce)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(2), &[pubrec5(1, PubackReasonCode::Success)]);
    assert_eq!(sent5(&mut s), [pubrel5(1)]);
    feed5(
        &mut s,
        t(3),
        &[P5::Pubcomp(v5::Pubcomp {
            packet_id: pid(1),
            reason_code: v5::PubcompReasonCode::PacketIdentifierNotFound,
            properties: Default::default(),
        })],
    );
    assert_eq!(completed(&mut s), [(op, Outcome::Acknowledged)]);
}

// [MQTT-3.9.3-1], [MQTT-3.8.4-7]: SUBACK reason codes per filter, in order; only the
// granted filters count as subscriptions.
#[test]
fn suback_reason_codes_per_filter() {
    let mut s = plain();
    let o = SubscriptionOptions::new(QoS::ExactlyOnce);
    let op = s
        .subscribe_with(
            t(1),
            &[(filter("a/#"), o), (filter("b/#"), o), (filter("c/#"), o)],
            &PropertyValues::default(),
        )
        .unwrap();
    let p = sent5(&mut s);
    let [P5::Subscribe(sub)] = &p[..] else {
        panic!("{p:?}")
    };
    let codes = SubackReasonCodes::from_reason_codes(&[
        SubackReasonCode::GrantedQoS1,
        SubackReasonCode::NotAuthorized,
        SubackReasonCode::GrantedQoS2,
    ])
    .unwrap();
    feed5(
        &mut s,
        t(2),
        &[P5::Suback(v5::Suback {
            packet_id: sub.packet_id,
            properties: Default::default(),
            reason_codes: codes.clone(),
        })],
    );
    assert_eq!(completed(&mut s), [(op, Outcome::SubscribedV5(codes))]);
    let subs: Vec<_> = s
        .subscriptions()
        .map(|(f, q)| (f.as_str().to_owned(), q))
        .collect();
    assert_eq!(
        subs,
        [
            ("a/#".to_owned(), QoS::AtLeastOnce),
            ("c/#".to_owned(), QoS::ExactlyOnce)
        ]
    );
}

// [MQTT-3.8.4-6]: one reason code per filter; a wrong count is a protocol error.
#[test]
fn a_suback_with_the_wrong_count_is_a_protocol_error() {
    let mut s = plain();
    s.subscribe(t(1), &[(filter("a"), QoS::AtMostOnce)])
        .unwrap();
    let _ = sent5(&mut s);
    let codes = SubackReasonCodes::from_reason_codes(&[
        SubackReasonCode::GrantedQoS0,
        SubackReasonCode::GrantedQoS0,
    ])
    .unwrap();
    feed5(
        &mut s,
        t(2),
        &[P5::Suback(v5::Suback {
            packet_id: pid(1),
            properties: Default::default(),
            reason_codes: codes,
        })],
    );
    assert_eq!(
        events(&mut s).last(),
        Some(&Event::Disconnected {
            reason: DisconnectReason::Protocol(ProtocolError::SubackCountMismatch {
                expected: 1,
                got: 2
            })
        })
    );
    assert_eq!(
        disconnect_code(&sent5(&mut s)),
        Some(DisconnectReasonCode::ProtocolError)
    );
}

fn subscribed(s: &mut Session, filters: &[&str]) {
    let items: Vec<_> = filters
        .iter()
        .map(|f| (filter(f), QoS::AtLeastOnce))
        .collect();
    s.subscribe(t(1), &items).unwrap();
    let p = sent5(s);
    let [P5::Subscribe(sub)] = &p[..] else {
        panic!("{p:?}")
    };
    let codes: Vec<_> = filters
        .iter()
        .map(|_| SubackReasonCode::GrantedQoS1)
        .collect();
    feed5(
        s,
        t(1),
        &[P5::Suback(v5::Suback {
            packet_id: sub.packet_id,
            properties: Default::default(),
            reason_codes: SubackReasonCodes::from_reason_codes(&codes).unwrap(),
        })],
    );
    let _ = events(s);
}

// [MQTT-3.11.3-1], [MQTT-3.11.3-2]: UNSUBACK reason codes per filter; a refused
// unsubscribe keeps its subscription; a wrong count is a protocol error.
#[test]
fn unsuback_reason_codes_per_filter() {
    let mut s = plain();
    subscribed(&mut s, &["a", "b", "c"]);
    let op = s
        .unsubscribe(t(2), &[filter("a"), filter("b"), filter("z")])
        .unwrap();
    let p = sent5(&mut s);
    let [P5::Unsubscribe(u)] = &p[..] else {
        panic!("{p:?}")
    };
    let codes = UnsubackReasonCodes::from_reason_codes(&[
        UnsubackReasonCode::Success,
        UnsubackReasonCode::NotAuthorized,
        UnsubackReasonCode::NoSubscriptionExisted,
    ])
    .unwrap();
    feed5(
        &mut s,
        t(3),
        &[P5::Unsuback(v5::Unsuback {
            packet_id: u.packet_id,
            properties: Default::default(),
            reason_codes: codes.clone(),
        })],
    );
    assert_eq!(completed(&mut s), [(op, Outcome::UnsubscribedV5(codes))]);
    let subs: Vec<_> = s
        .subscriptions()
        .map(|(f, _)| f.as_str().to_owned())
        .collect();
    assert_eq!(subs, ["b", "c"]);

    s.unsubscribe(t(4), &[filter("c")]).unwrap();
    let p = sent5(&mut s);
    let [P5::Unsubscribe(u)] = &p[..] else {
        panic!("{p:?}")
    };
    let two = UnsubackReasonCodes::from_reason_codes(&[
        UnsubackReasonCode::Success,
        UnsubackReasonCode::Success,
    ])
    .unwrap();
    feed5(
        &mut s,
        t(5),
        &[P5::Unsuback(v5::Unsuback {
            packet_id: u.packet_id,
            properties: Default::default(),
            reason_codes: two,
        })],
    );
    assert_eq!(
        events(&mut s).last(),
        Some(&Event::Disconnected {
            reason: DisconnectReason::Protocol(ProtocolError::UnsubackCountMismatch {
                expected: 1,
                got: 2
            })
        })
    );
}

// Section 3.14: the server's DISCONNECT ends the connection with its reason code; the
// session answers nothing [MQTT-3.14.4-1] and keeps its unacknowledged work.
#[test]
fn the_servers_disconnect_ends_the_connection_with_its_reason() {
    let mut s = connected5(persistent(), &PropertyValues::default());
    let op = s.publish(t(1), msg("a/b", b"x", QoS::AtLeastOnce)).unwrap();
    let _ = sent5(&mut s);
    let properties = DisconnectProperties::from_values(&PropertyValues {
        reason_string: Some(Str::new("shutting down").unwrap()),
        server_reference: Some(Str::new("b2:1883").unwrap()),
        ..PropertyValues::default()
    })
    .unwrap();
    feed5(
        &mut s,
        t(2),
        &[P5::Disconnect(v5::Disconnect {
            reason_code: DisconnectReasonCode::ServerShuttingDown,
            properties,
        })],
    );
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Server(DisconnectReasonCode::ServerShuttingDown)
        }]
    );
    let d = s.server_disconnect().unwrap();
    assert_eq!(
        d.properties.reason_string().unwrap().as_str(),
        "shutting down"
    );
    assert_eq!(d.properties.server_reference().unwrap().as_str(), "b2:1883");
    assert!(sent5(&mut s).is_empty(), "nothing answered");
    // The publish waits for the next connection.
    s.connect(t(3)).unwrap();
    let _ = sent5(&mut s);
    assert!(s.server_disconnect().is_none(), "a new connection");
    feed5(&mut s, t(3), &[connack5(true, &PropertyValues::default())]);
    let p = sent5(&mut s);
    assert!(matches!(&p[..], [P5::Publish(p)] if p.dup), "{p:?}");
    feed5(&mut s, t(4), &[puback5(1, PubackReasonCode::Success)]);
    assert_eq!(completed(&mut s), [(op, Outcome::Acknowledged)]);
}

// [MQTT-3.14.0-1]: no DISCONNECT before CONNACK.
#[test]
fn a_disconnect_before_connack_is_a_protocol_error() {
    let mut s = Session::new(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(1),
        &[P5::Disconnect(v5::Disconnect::new(
            DisconnectReasonCode::ServerBusy,
        ))],
    );
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Protocol(ProtocolError::UnexpectedPacket(
                PacketType::Disconnect
            ))
        }]
    );
    assert_eq!(
        disconnect_code(&sent5(&mut s)),
        Some(DisconnectReasonCode::ProtocolError)
    );
}

// Section 3.14.2: the client's DISCONNECT with a reason code and a new Session Expiry
// Interval; a non-zero one after a CONNECT with zero is refused (section 3.14.2.2.2).
#[test]
fn disconnect_with_a_reason_code_and_a_session_expiry() {
    let mut c = config5();
    c.session_expiry_interval = Some(60);
    let mut s = connected5(c, &PropertyValues::default());
    s.disconnect_with(
        t(1),
        DisconnectReasonCode::DisconnectWithWillMessage,
        &PropertyValues {
            session_expiry_interval: Some(600),
            ..PropertyValues::default()
        },
    )
    .unwrap();
    let p = sent5(&mut s);
    let [P5::Disconnect(d)] = &p[..] else {
        panic!("{p:?}")
    };
    assert_eq!(
        d.reason_code,
        DisconnectReasonCode::DisconnectWithWillMessage
    );
    assert_eq!(d.properties.session_expiry_interval(), Some(600));
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Local
        }]
    );
    assert_eq!(s.server_limits().unwrap().session_expiry_interval, 600);

    let mut s = plain();
    assert_eq!(
        s.disconnect_with(
            t(1),
            DisconnectReasonCode::NormalDisconnection,
            &PropertyValues {
                session_expiry_interval: Some(10),
                ..PropertyValues::default()
            },
        ),
        Err(Error::SessionExpiryWasZero)
    );
    assert_eq!(
        s.state(),
        State::Connected,
        "a refused command changes nothing"
    );
    // A plain disconnect is DISCONNECT 0x00.
    s.disconnect(t(2));
    assert_eq!(
        sent5(&mut s),
        [P5::Disconnect(v5::Disconnect::new(
            DisconnectReasonCode::NormalDisconnection
        ))]
    );
}

// Section 4.13.1: a protocol violation by the server is answered with a DISCONNECT
// carrying its reason code, then the connection ends.
#[test]
fn protocol_violations_are_answered_with_a_disconnect() {
    // An ack for nothing: 0x82.
    let mut s = plain();
    feed5(&mut s, t(1), &[puback5(9, PubackReasonCode::Success)]);
    assert_eq!(
        disconnect_code(&sent5(&mut s)),
        Some(DisconnectReasonCode::ProtocolError)
    );
    assert_eq!(s.state(), State::Disconnected);
    // A second CONNACK [MQTT-3.2.0-2]: 0x82.
    let mut s = plain();
    feed5(&mut s, t(1), &[connack5(false, &PropertyValues::default())]);
    assert_eq!(
        disconnect_code(&sent5(&mut s)),
        Some(DisconnectReasonCode::ProtocolError)
    );
    // Bytes that are no packet: 0x81 (a PUBACK with a reason code only PUBREL has).
    let mut s = plain();
    feed_raw(&mut s, t(1), b"\x40\x03\x00\x01\x92");
    assert_eq!(
        disconnect_code(&sent5(&mut s)),
        Some(DisconnectReasonCode::MalformedPacket)
    );
    // Nothing more goes out after the DISCONNECT [MQTT-3.14.4-1].
    s.publish(t(2), msg("a/b", b"x", QoS::AtMostOnce)).unwrap();
    assert!(sent5(&mut s).is_empty());
}

// Under 3.1.1 nothing changes: a violation closes without a packet.
#[test]
fn a_3_1_1_session_closes_without_a_disconnect() {
    let mut s = connected(config());
    feed(&mut s, t(1), &[mqtt_proto::Packet::Puback(pid(9))]);
    assert_eq!(s.state(), State::Disconnected);
    assert!(sent(&mut s).is_empty());
}
