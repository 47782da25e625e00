//! MQTT 5.0 behaviour mosquitto cannot show (it has no enhanced authentication
//! without a plugin, and never sends a Server Reference), against a scripted broker:
//! a thread on 127.0.0.1 that plays one side of the exchange packet by packet.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_session::proto::v5::{
    self, AuthProperties, AuthReasonCode, ConnackProperties, ConnectReasonCode, Disconnect,
    DisconnectProperties, DisconnectReasonCode, PropertyValues,
};
use mqtt_session::proto::{DecodeOptions, Str};
use mqtt_tokio::{
    AuthError, AuthOutcome, Authenticator, Backoff, Cause, ConnectionEvent, Options,
    ProtocolVersion,
};

/// One accepted connection of the scripted broker.
struct Peer {
    stream: TcpStream,
    buf: BytesMut,
}

impl Peer {
    fn accept(listener: &TcpListener) -> Peer {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Peer {
            stream,
            buf: BytesMut::new(),
        }
    }

    fn read(&mut self) -> v5::Packet<Bytes> {
        loop {
            if let Some(p) = v5::decode_buf(&mut self.buf, &DecodeOptions::default()).unwrap() {
                return p;
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("the client went quiet");
            assert!(n > 0, "the client closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn write(&mut self, p: v5::Packet<Bytes>) {
        let mut out = BytesMut::new();
        p.encode_to(&mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }
}

fn auth(code: AuthReasonCode, data: &'static [u8]) -> v5::Packet<Bytes> {
    v5::Packet::Auth(v5::Auth {
        reason_code: code,
        properties: AuthProperties::from_values(&PropertyValues {
            authentication_method: Some(Str::new("TOY").unwrap()),
            authentication_data: Some(data),
            ..PropertyValues::default()
        })
        .unwrap(),
    })
}

fn connack(code: ConnectReasonCode, props: &PropertyValues<'_>) -> v5::Packet<Bytes> {
    v5::Packet::Connack(v5::Connack {
        session_present: false,
        reason_code: code,
        properties: ConnackProperties::from_values(props).unwrap(),
    })
}

/// The Authentication Data of an AUTH or CONNECT.
fn auth_data(p: &v5::Packet<Bytes>) -> (Option<AuthReasonCode>, String) {
    let (code, method, data) = match p {
        v5::Packet::Connect(c) => (
            None,
            c.properties.authentication_method(),
            c.properties.authentication_data(),
        ),
        v5::Packet::Auth(a) => (
            Some(a.reason_code),
            a.properties.authentication_method(),
            a.properties.authentication_data(),
        ),
        other => panic!("expected CONNECT or AUTH, got {other:?}"),
    };
    assert_eq!(
        method.map(|m| m.as_str().to_owned()).as_deref(),
        Some("TOY")
    );
    let data = data.map(|d| String::from_utf8_lossy(&d).into_owned());
    (code, data.unwrap_or_default())
}

/// "hello" first, "r:<challenge>" for each challenge; the server's final data must
/// be "ok".
struct Toy;

impl Authenticator for Toy {
    fn method(&self) -> Str<Bytes> {
        Str::from_static("TOY").unwrap()
    }

    fn initial_data(&mut self) -> Option<Bytes> {
        Some(Bytes::from_static(b"hello"))
    }

    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError> {
        let c = String::from_utf8_lossy(data.unwrap_or_default()).into_owned();
        Ok(Some(Bytes::from(format!("r:{c}"))))
    }

    fn outcome(&mut self, outcome: AuthOutcome<'_>) -> Result<(), AuthError> {
        match outcome {
            AuthOutcome::Success(Some(b"ok")) => Ok(()),
            AuthOutcome::Success(_) => Err(AuthError("server not verified")),
            _ => Ok(()),
        }
    }
}

fn serve(f: impl FnOnce(TcpListener) + Send + 'static) -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (port, std::thread::spawn(move || f(listener)))
}

/// Section 4.12: `Options::authenticator` drives the AUTH exchange of CONNECT
/// (method and first data in CONNECT, a challenge answered with AUTH 0x18
/// [MQTT-4.12.0-3], the method kept throughout [MQTT-4.12.0-5]) and a
/// re-authentication started by `Client::reauthenticate` [MQTT-4.12.1-1], which
/// resolves on the server's AUTH 0x00.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhanced_authentication_and_reauthentication() {
    let (port, broker) = serve(|listener| {
        let mut peer = Peer::accept(&listener);
        assert_eq!(auth_data(&peer.read()), (None, "hello".into()));
        peer.write(auth(AuthReasonCode::ContinueAuthentication, b"c1"));
        assert_eq!(
            auth_data(&peer.read()),
            (Some(AuthReasonCode::ContinueAuthentication), "r:c1".into())
        );
        let done = PropertyValues {
            authentication_method: Some(Str::new("TOY").unwrap()),
            authentication_data: Some(b"ok"),
            ..PropertyValues::default()
        };
        peer.write(connack(ConnectReasonCode::Success, &done));
        // Re-authentication, with one more challenge.
        assert_eq!(
            auth_data(&peer.read()),
            (Some(AuthReasonCode::ReAuthenticate), "hello".into())
        );
        peer.write(auth(AuthReasonCode::ContinueAuthentication, b"c2"));
        assert_eq!(
            auth_data(&peer.read()),
            (Some(AuthReasonCode::ContinueAuthentication), "r:c2".into())
        );
        peer.write(auth(AuthReasonCode::Success, b"ok"));
        assert!(matches!(peer.read(), v5::Packet::Disconnect(_)));
    });
    let opts = Options::new("127.0.0.1", port)
        .protocol(ProtocolVersion::V5)
        .client_id("v5-auth")
        .authenticator(|| Box::new(Toy))
        .reconnect(None);
    let (client, event_loop) = mqtt_tokio::connect(opts).unwrap();
    // Before CONNACK: answered by the connection's own authentication.
    client.reauthenticate().await.unwrap();
    assert!(client.server_limits().is_some(), "connected");
    client.reauthenticate().await.unwrap();
    client.disconnect().await.unwrap();
    event_loop.await.unwrap().unwrap();
    broker.join().unwrap();
}

/// Section 4.11: a server that sends the client elsewhere, by DISCONNECT 0x9C (Use
/// another server) or by CONNACK 0x9D (Server moved) with a Server Reference, gets
/// the next attempt pointed at the referenced server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_reference_redirects_the_next_attempt() {
    let (target, target_broker) = serve(|listener| {
        for _ in 0..2 {
            let mut peer = Peer::accept(&listener);
            assert!(matches!(peer.read(), v5::Packet::Connect(_)));
            peer.write(connack(
                ConnectReasonCode::Success,
                &PropertyValues::default(),
            ));
            assert!(matches!(peer.read(), v5::Packet::Disconnect(_)));
        }
    });
    let reference = format!("127.0.0.1:{target}");
    let backoff = Some(Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(50),
        jitter: false,
    });
    // DISCONNECT 0x9C after an accepted connection.
    let r = reference.clone();
    let (port, first) = serve(move |listener| {
        let mut peer = Peer::accept(&listener);
        assert!(matches!(peer.read(), v5::Packet::Connect(_)));
        peer.write(connack(
            ConnectReasonCode::Success,
            &PropertyValues::default(),
        ));
        let props = DisconnectProperties::from_values(&PropertyValues {
            server_reference: Some(Str::new(&r).unwrap()),
            reason_string: Some(Str::new("maintenance").unwrap()),
            ..PropertyValues::default()
        })
        .unwrap();
        peer.write(v5::Packet::Disconnect(Disconnect {
            reason_code: DisconnectReasonCode::UseAnotherServer,
            properties: props,
        }));
    });
    let opts = Options::new("127.0.0.1", port)
        .protocol(ProtocolVersion::V5)
        .client_id("v5-moved")
        .reconnect(backoff);
    let (client, event_loop) = mqtt_tokio::client(opts).unwrap();
    let mut events = client.connection_events();
    let event_loop = tokio::spawn(event_loop.run());
    let mut connected = Vec::new();
    while connected.len() < 2 {
        match events.recv().await.unwrap() {
            ConnectionEvent::Connected { broker, .. } => connected.push(broker),
            ConnectionEvent::Disconnected { cause } => match cause {
                Cause::Server {
                    reason_code: DisconnectReasonCode::UseAnotherServer,
                    reason_string,
                    server_reference,
                } => {
                    assert_eq!(reason_string.as_deref(), Some("maintenance"));
                    assert_eq!(server_reference.as_deref(), Some(reference.as_str()));
                }
                other => panic!("{other:?}"),
            },
            _ => {}
        }
    }
    assert_eq!(
        connected,
        [
            format!("mqtt://127.0.0.1:{port}"),
            format!("mqtt://{reference}")
        ]
    );
    client.disconnect().await.unwrap();
    event_loop.await.unwrap().unwrap();
    first.join().unwrap();
    // CONNACK 0x9D refusing the connection.
    let r = reference.clone();
    let (port, refusing) = serve(move |listener| {
        let mut peer = Peer::accept(&listener);
        assert!(matches!(peer.read(), v5::Packet::Connect(_)));
        let moved = PropertyValues {
            server_reference: Some(Str::new(&r).unwrap()),
            ..PropertyValues::default()
        };
        peer.write(connack(ConnectReasonCode::ServerMoved, &moved));
    });
    let opts = Options::new("127.0.0.1", port)
        .protocol(ProtocolVersion::V5)
        .client_id("v5-moved-2")
        .reconnect(backoff);
    let (client, event_loop) = mqtt_tokio::client(opts).unwrap();
    let mut events = client.connection_events();
    let event_loop = tokio::spawn(event_loop.run());
    loop {
        if let ConnectionEvent::Connected { broker, .. } = events.recv().await.unwrap() {
            assert_eq!(broker, format!("mqtt://{reference}"));
            break;
        }
    }
    client.disconnect().await.unwrap();
    event_loop.await.unwrap().unwrap();
    refusing.join().unwrap();
    target_broker.join().unwrap();
}

/// Section 4.13: a broker breaking the protocol gets the session's DISCONNECT with
/// the reason code (0x82 for a second CONNACK, [MQTT-3.2.0-2]) before the client
/// closes the connection; the event loop reports the violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_violation_is_answered_with_disconnect_before_closing() {
    let (port, broker) = serve(|listener| {
        let mut peer = Peer::accept(&listener);
        assert!(matches!(peer.read(), v5::Packet::Connect(_)));
        let ack = || connack(ConnectReasonCode::Success, &PropertyValues::default());
        peer.write(ack());
        peer.write(ack());
        match peer.read() {
            v5::Packet::Disconnect(d) => {
                assert_eq!(d.reason_code, DisconnectReasonCode::ProtocolError)
            }
            other => panic!("expected DISCONNECT 0x82, got {other:?}"),
        }
        // Then the connection closes.
        let mut rest = [0u8; 16];
        assert_eq!(peer.stream.read(&mut rest).unwrap(), 0);
    });
    let opts = Options::new("127.0.0.1", port)
        .protocol(ProtocolVersion::V5)
        .client_id("v5-violated")
        .reconnect(None);
    let (_client, event_loop) = mqtt_tokio::connect(opts).unwrap();
    match event_loop.await.unwrap() {
        Err(mqtt_tokio::ClientError::Connection(Cause::Session(
            mqtt_tokio::DisconnectReason::Protocol(_),
        ))) => {}
        other => panic!("expected the violation, got {other:?}"),
    }
    broker.join().unwrap();
}
