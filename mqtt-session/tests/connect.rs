//! Connecting: CONNECT first, CONNACK awaited, refusals and timeouts.

mod common;

use common::*;
use core::time::Duration;
use mqtt_proto::{Connack, ConnectReturnCode, Packet, QoS};
use mqtt_session::{DisconnectReason, Event, Outcome, ProtocolError, Session, State};

// [MQTT-3.1.0-1]: CONNECT is the first packet; commands wait for CONNACK.
#[test]
fn commands_before_connack_wait_for_it() {
    let mut s = Session::new(config());
    let op = s
        .publish(t(0), msg("a", b"early", QoS::AtLeastOnce))
        .unwrap();
    s.subscribe(t(0), &[(filter("b/#"), QoS::ExactlyOnce)])
        .unwrap();
    assert!(sent(&mut s).is_empty(), "nothing before connect");
    s.connect(t(1)).unwrap();
    let p = sent(&mut s);
    assert_eq!(p.len(), 1);
    let Packet::Connect(c) = &p[0] else {
        panic!("{p:?}")
    };
    assert_eq!(c.client_id.as_str(), "test-client");
    assert_eq!(c.keep_alive, 60);
    assert!(c.clean_session);
    assert_eq!(s.state(), State::Connecting);
    assert!(sent(&mut s).is_empty(), "still waiting for CONNACK");

    feed(&mut s, t(2), &[connack(false)]);
    assert_eq!(s.state(), State::Connected);
    let p = sent(&mut s);
    assert!(
        matches!(&p[..], [Packet::Publish(x), Packet::Subscribe(_)] if x.payload == "early"),
        "{p:?}"
    );
    assert_eq!(
        events(&mut s),
        [Event::Connected {
            session_present: false
        }]
    );
    feed(&mut s, t(3), &[Packet::Puback(pid(1))]);
    assert_eq!(
        events(&mut s),
        [Event::Completed {
            op,
            outcome: Outcome::Acknowledged
        }]
    );
}

#[test]
fn refused_connack_ends_the_connection_with_its_code() {
    for code in [
        ConnectReturnCode::UnacceptableProtocolVersion,
        ConnectReturnCode::IdentifierRejected,
        ConnectReturnCode::ServerUnavailable,
        ConnectReturnCode::BadUserNameOrPassword,
        ConnectReturnCode::NotAuthorized,
    ] {
        let mut s = Session::new(config());
        s.connect(t(0)).unwrap();
        let _ = sent(&mut s);
        feed(
            &mut s,
            t(1),
            &[Packet::Connack(Connack {
                session_present: false,
                code,
            })],
        );
        assert_eq!(s.state(), State::Disconnected);
        assert_eq!(
            events(&mut s),
            [Event::Disconnected {
                reason: DisconnectReason::Refused(code)
            }]
        );
    }
}

#[test]
fn no_connack_within_the_timeout_ends_the_connection() {
    let mut cfg = config();
    cfg.connect_timeout = Duration::from_secs(5);
    let mut s = Session::new(cfg);
    s.connect(t(1000)).unwrap();
    let _ = sent(&mut s);
    assert_eq!(s.poll_timeout(), Some(t(6000)));
    s.handle_timeout(t(5999));
    assert_eq!(s.state(), State::Connecting, "early calls are no-ops");
    s.handle_timeout(t(6000));
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::ConnackTimeout
        }]
    );
    assert_eq!(s.poll_timeout(), None);
}

// [MQTT-3.2.0-1]: the server's first packet must be CONNACK.
#[test]
fn a_first_packet_other_than_connack_is_a_protocol_error() {
    let mut s = Session::new(config());
    s.connect(t(0)).unwrap();
    let _ = sent(&mut s);
    feed(&mut s, t(1), &[Packet::Pingresp]);
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Protocol(ProtocolError::UnexpectedPacket(
                mqtt_proto::PacketType::Pingresp
            ))
        }]
    );
}

// [MQTT-3.2.2-1]: clean session means no session present.
#[test]
fn session_present_on_clean_session_is_a_protocol_error() {
    let mut s = Session::new(config());
    s.connect(t(0)).unwrap();
    let _ = sent(&mut s);
    feed(&mut s, t(1), &[connack(true)]);
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Protocol(ProtocolError::SessionPresentOnCleanSession)
        }]
    );
}

#[test]
fn connect_twice_is_refused_at_the_call() {
    let mut s = connected(config());
    assert_eq!(s.connect(t(1)), Err(mqtt_session::Error::AlreadyConnected));
}

#[test]
fn will_and_credentials_go_in_connect_and_not_in_debug() {
    let mut cfg = config();
    cfg.username = Some(mqtt_proto::Str::from_string("user".into()).unwrap());
    cfg.password = Some(bytes::Bytes::from_static(b"s3cret"));
    cfg.will = Some(mqtt_proto::LastWill {
        topic: topic("status/test-client"),
        message: bytes::Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: true,
    });
    assert!(!format!("{cfg:?}").contains("s3cret"));
    let mut s = Session::new(cfg);
    assert!(!format!("{s:?}").contains("s3cret"));
    s.connect(t(0)).unwrap();
    let p = sent(&mut s);
    let Packet::Connect(c) = &p[0] else { panic!() };
    assert_eq!(c.password.as_deref(), Some(&b"s3cret"[..]));
    assert_eq!(
        c.will.as_ref().unwrap().topic.as_str(),
        "status/test-client"
    );
}

#[test]
fn disconnect_sends_disconnect_after_queued_packets() {
    let mut s = connected(config());
    s.publish(t(1), msg("a", b"x", QoS::AtMostOnce)).unwrap();
    s.disconnect(t(1));
    let p = sent(&mut s);
    assert!(
        matches!(&p[..], [Packet::Publish(_), Packet::Disconnect]),
        "{p:?}"
    );
    let e = events(&mut s);
    assert!(
        e.contains(&Event::Disconnected {
            reason: DisconnectReason::Local
        }),
        "{e:?}"
    );
    assert_eq!(s.state(), State::Disconnected);
}
