//! MQTT 5.0 enhanced authentication (section 4.12), played by hand: the exchange
//! during connect, re-authentication, and every way it fails.

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::v5::*;
use common::*;
use mqtt_proto::v5::{
    self, AuthProperties, AuthReasonCode, ConnackProperties, ConnectReasonCode,
    DisconnectReasonCode, PropertyValues,
};
use mqtt_proto::{QoS, Str};
use mqtt_session::{
    AuthError, AuthOutcome, Authenticator, DisconnectReason, Error, Event, ProtocolError, Session,
    State,
};

/// A toy mechanism: "hello" first, "r:<challenge>" for each challenge, and the
/// server's final data must be "ok". Logs every call.
struct Toy {
    log: Arc<Mutex<Vec<String>>>,
}

impl Authenticator for Toy {
    fn method(&self) -> Str<Bytes> {
        Str::from_static("TOY").unwrap()
    }

    fn initial_data(&mut self) -> Option<Bytes> {
        self.log.lock().unwrap().push("start".into());
        Some(Bytes::from_static(b"hello"))
    }

    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError> {
        let c = String::from_utf8_lossy(data.unwrap_or_default()).into_owned();
        self.log.lock().unwrap().push(format!("challenge {c}"));
        if c == "bad" {
            return Err(AuthError("bad challenge"));
        }
        Ok(Some(Bytes::from(format!("r:{c}"))))
    }

    fn outcome(&mut self, outcome: AuthOutcome<'_>) -> Result<(), AuthError> {
        let line = match outcome {
            AuthOutcome::Success(d) => {
                format!("success {}", String::from_utf8_lossy(d.unwrap_or_default()))
            }
            _ => "failed".into(),
        };
        let ok = line == "success ok";
        self.log.lock().unwrap().push(line);
        if ok || outcome == AuthOutcome::Failed {
            Ok(())
        } else {
            Err(AuthError("server not verified"))
        }
    }
}

fn with_toy(config: mqtt_session::Config) -> (Session, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut s = Session::new(config);
    s.set_authenticator(Box::new(Toy { log: log.clone() }))
        .unwrap();
    (s, log)
}

fn auth(code: AuthReasonCode, method: &str, data: Option<&'static [u8]>) -> P5<Bytes> {
    P5::Auth(v5::Auth {
        reason_code: code,
        properties: AuthProperties::from_values(&PropertyValues {
            authentication_method: Some(Str::new(method).unwrap()),
            authentication_data: data,
            ..PropertyValues::default()
        })
        .unwrap(),
    })
}

fn connack_auth(data: &'static [u8]) -> P5<Bytes> {
    connack5(
        false,
        &PropertyValues {
            authentication_method: Some(Str::new("TOY").unwrap()),
            authentication_data: Some(data),
            ..PropertyValues::default()
        },
    )
}

fn data_of(p: &P5<Bytes>) -> (AuthReasonCode, String, String) {
    let P5::Auth(a) = p else { panic!("{p:?}") };
    (
        a.reason_code,
        a.properties
            .authentication_method()
            .unwrap()
            .as_str()
            .to_owned(),
        String::from_utf8_lossy(&a.properties.authentication_data().unwrap()).into_owned(),
    )
}

fn log(l: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    std::mem::take(&mut *l.lock().unwrap())
}

/// Connects through one challenge.
fn authenticated() -> (Session, Arc<Mutex<Vec<String>>>) {
    let (mut s, l) = with_toy(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(0),
        &[auth(
            AuthReasonCode::ContinueAuthentication,
            "TOY",
            Some(b"c1"),
        )],
    );
    let _ = sent5(&mut s);
    feed5(&mut s, t(0), &[connack_auth(b"ok")]);
    assert_eq!(s.state(), State::Connected);
    let _ = events(&mut s);
    let _ = log(&l);
    (s, l)
}

// [MQTT-4.12.0-2], [MQTT-4.12.0-3], [MQTT-4.12.0-5]: CONNECT carries the method and
// the first data; each AUTH 0x18 from the server is answered with an AUTH 0x18 with
// the same method; CONNACK 0x00 (with the method) ends it; nothing but AUTH goes out
// before CONNACK [MQTT-3.1.2-30].
#[test]
fn the_exchange_during_connect() {
    let (mut s, l) = with_toy(config5());
    s.publish(t(0), msg("a/b", b"x", QoS::AtLeastOnce)).unwrap();
    s.connect(t(0)).unwrap();
    let p = sent5(&mut s);
    let [P5::Connect(c)] = &p[..] else {
        panic!("{p:?}")
    };
    assert_eq!(
        c.properties.authentication_method().unwrap().as_str(),
        "TOY"
    );
    assert_eq!(
        c.properties.authentication_data().as_deref(),
        Some(&b"hello"[..])
    );
    for challenge in [&b"c1"[..], b"c2"] {
        feed5(
            &mut s,
            t(1),
            &[auth(
                AuthReasonCode::ContinueAuthentication,
                "TOY",
                Some(challenge),
            )],
        );
        let p = sent5(&mut s);
        assert_eq!(p.len(), 1, "AUTH only, the publish waits: {p:?}");
        let expect = format!("r:{}", String::from_utf8_lossy(challenge));
        assert_eq!(
            data_of(&p[0]),
            (AuthReasonCode::ContinueAuthentication, "TOY".into(), expect)
        );
    }
    assert_eq!(s.state(), State::Connecting);
    feed5(&mut s, t(2), &[connack_auth(b"ok")]);
    assert_eq!(s.state(), State::Connected);
    assert!(matches!(&sent5(&mut s)[..], [P5::Publish(_)]));
    assert_eq!(
        log(&l),
        ["start", "challenge c1", "challenge c2", "success ok"]
    );
}

// [MQTT-4.12.1-2]: the authenticator refusing the server (its final data, or a
// challenge) ends the connection with DISCONNECT.
#[test]
fn our_authenticator_refusing_ends_the_connection() {
    let (mut s, _l) = with_toy(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(1), &[connack_auth(b"forged")]);
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Auth(AuthError("server not verified"))
        }]
    );
    assert_eq!(
        disconnect_code(&sent5(&mut s)),
        Some(DisconnectReasonCode::UnspecifiedError)
    );
    let (mut s, _l) = with_toy(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(1),
        &[auth(
            AuthReasonCode::ContinueAuthentication,
            "TOY",
            Some(b"bad"),
        )],
    );
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Auth(AuthError("bad challenge"))
        }]
    );
    assert_eq!(
        disconnect_code(&sent5(&mut s)),
        Some(DisconnectReasonCode::UnspecifiedError)
    );
}

// [MQTT-4.12.0-1], [MQTT-4.12.0-4]: the server refusing is a typed CONNACK refusal,
// and the authenticator hears of it.
#[test]
fn the_server_refusing_is_a_typed_refusal() {
    let (mut s, l) = with_toy(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(1),
        &[P5::Connack(v5::Connack {
            session_present: false,
            reason_code: ConnectReasonCode::BadAuthenticationMethod,
            properties: ConnackProperties::default(),
        })],
    );
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::RefusedV5(ConnectReasonCode::BadAuthenticationMethod)
        }]
    );
    assert_eq!(log(&l), ["start", "failed"]);
}

fn protocol_error(s: &mut Session) -> ProtocolError {
    let e = events(s);
    match e.last() {
        Some(Event::Disconnected {
            reason: DisconnectReason::Protocol(p),
        }) => {
            assert_eq!(
                disconnect_code(&sent5(s)),
                Some(DisconnectReasonCode::ProtocolError)
            );
            *p
        }
        other => panic!("{other:?}"),
    }
}

// [MQTT-4.12.0-5], [MQTT-4.12.0-6]: AUTH, or a method in CONNACK, only with our
// method and only in an exchange; AUTH 0x00 is no answer during connect (CONNACK is).
#[test]
fn auth_out_of_place_is_a_protocol_error() {
    // Another method.
    let (mut s, _l) = with_toy(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(1),
        &[auth(
            AuthReasonCode::ContinueAuthentication,
            "OTHER",
            Some(b"c"),
        )],
    );
    assert_eq!(protocol_error(&mut s), ProtocolError::UnexpectedAuth);
    // A CONNACK without our method.
    let (mut s, _l) = with_toy(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(1), &[connack5(false, &PropertyValues::default())]);
    assert_eq!(protocol_error(&mut s), ProtocolError::UnexpectedAuth);
    // AUTH 0x00 during connect.
    let (mut s, _l) = with_toy(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(1), &[auth(AuthReasonCode::Success, "TOY", None)]);
    assert_eq!(protocol_error(&mut s), ProtocolError::UnexpectedAuth);
    // No method in CONNECT: no AUTH, no method in CONNACK.
    let mut s = Session::new(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(1),
        &[auth(AuthReasonCode::ContinueAuthentication, "TOY", None)],
    );
    assert_eq!(protocol_error(&mut s), ProtocolError::UnexpectedAuth);
    let mut s = Session::new(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(1), &[connack_auth(b"ok")]);
    assert_eq!(protocol_error(&mut s), ProtocolError::UnexpectedAuth);
    // AUTH after CONNACK without a re-authentication.
    let (mut s, _l) = authenticated();
    feed5(
        &mut s,
        t(1),
        &[auth(AuthReasonCode::ContinueAuthentication, "TOY", None)],
    );
    assert_eq!(protocol_error(&mut s), ProtocolError::UnexpectedAuth);
}

// [MQTT-4.12.1-1]: re-authentication on demand: AUTH 0x19 with our method and first
// data, challenges answered, AUTH 0x00 ends it; other packets keep flowing meanwhile.
#[test]
fn reauthentication() {
    let (mut s, l) = authenticated();
    s.reauthenticate(t(1)).unwrap();
    let p = sent5(&mut s);
    assert_eq!(
        data_of(&p[0]),
        (AuthReasonCode::ReAuthenticate, "TOY".into(), "hello".into())
    );
    assert_eq!(s.reauthenticate(t(1)), Err(Error::AuthenticationInProgress));
    // A publish goes out while the exchange runs.
    s.publish(t(2), msg("a/b", b"x", QoS::AtMostOnce)).unwrap();
    assert!(matches!(&sent5(&mut s)[..], [P5::Publish(_)]));
    feed5(
        &mut s,
        t(3),
        &[auth(
            AuthReasonCode::ContinueAuthentication,
            "TOY",
            Some(b"c9"),
        )],
    );
    assert_eq!(
        data_of(&sent5(&mut s)[0]),
        (
            AuthReasonCode::ContinueAuthentication,
            "TOY".into(),
            "r:c9".into()
        )
    );
    feed5(
        &mut s,
        t(4),
        &[auth(AuthReasonCode::Success, "TOY", Some(b"ok"))],
    );
    assert!(events(&mut s).contains(&Event::Reauthenticated));
    assert_eq!(log(&l), ["start", "challenge c9", "success ok"]);
    // And again, later.
    s.reauthenticate(t(5)).unwrap();
    let _ = sent5(&mut s);
    // [MQTT-4.12.1-2]: the server refusing ends the connection with its DISCONNECT.
    feed5(
        &mut s,
        t(6),
        &[P5::Disconnect(v5::Disconnect::new(
            DisconnectReasonCode::NotAuthorized,
        ))],
    );
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::Server(DisconnectReasonCode::NotAuthorized)
        }]
    );
    assert_eq!(log(&l), ["start", "failed"]);
}

// Re-authentication needs a 5.0 connection authenticated with a method
// [MQTT-4.12.0-7].
#[test]
fn reauthentication_needs_an_authenticated_connection() {
    let mut s = connected5(config5(), &PropertyValues::default());
    assert_eq!(s.reauthenticate(t(1)), Err(Error::NoAuthentication));
    let mut old = connected(config());
    assert_eq!(old.reauthenticate(t(1)), Err(Error::Unsupported));
    assert!(matches!(
        old.set_authenticator(Box::new(Toy {
            log: Default::default()
        })),
        Err(Error::Unsupported)
    ));
    let (mut s, _l) = with_toy(config5());
    assert_eq!(s.reauthenticate(t(0)), Err(Error::NoAuthentication));
    s.connect(t(0)).unwrap();
    assert_eq!(s.reauthenticate(t(0)), Err(Error::AuthenticationInProgress));
}

// [MQTT-3.15.2-2], [MQTT-3.15.2-3]: the session's AUTH carries the method and data
// alone, never a Reason String or User Property; one the server's Maximum Packet
// Size cannot take is not sent.
#[test]
fn auth_stays_within_the_maximum_packet_size() {
    let (mut s, _l) = with_toy(config5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(
        &mut s,
        t(0),
        &[auth(
            AuthReasonCode::ContinueAuthentication,
            "TOY",
            Some(b"c1"),
        )],
    );
    let p = sent5(&mut s);
    let [P5::Auth(a)] = &p[..] else {
        panic!("{p:?}")
    };
    assert!(a.properties.reason_string().is_none());
    assert_eq!(a.properties.user_properties().count(), 0);
    // The re-authentication AUTH would be 18 bytes: over a maximum of 17.
    feed5(
        &mut s,
        t(1),
        &[connack5(
            false,
            &PropertyValues {
                authentication_method: Some(Str::new("TOY").unwrap()),
                authentication_data: Some(b"ok"),
                maximum_packet_size: core::num::NonZeroU32::new(17),
                ..PropertyValues::default()
            },
        )],
    );
    let _ = events(&mut s);
    assert_eq!(s.reauthenticate(t(2)), Err(Error::PacketTooLarge));
    assert!(sent5(&mut s).is_empty());
    assert_eq!(s.state(), mqtt_session::State::Connected);
}
