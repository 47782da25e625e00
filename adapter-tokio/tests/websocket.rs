//! MQTT over WebSocket, section 6, against a WebSocket server of the test's own
//! (mosquitto's WebSocket listener, in the adapter suite, cannot show what is on the
//! wire): the client asks for the `mqtt` subprotocol [MQTT-6.0.0-3], sends MQTT in
//! binary frames [MQTT-6.0.0-1] (several packets may share one, and one may span
//! several [MQTT-6.0.0-2]), and closes the connection when a text frame arrives.

// tungstenite's handshake callback type returns its large error response by value.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use async_tungstenite::tungstenite::handshake::server::{Request, Response};
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::Message;
use futures_util::StreamExt;
use mqtt_session::proto::{decode, Connack, ConnectReturnCode, DecodeOptions, Packet};
use mqtt_tokio::{Cause, ConnectionEvent, Options, TokioIo};

fn connack() -> Vec<u8> {
    let mut out = vec![0u8; 4];
    let n = Packet::<&[u8]>::Connack(Connack {
        session_present: false,
        code: ConnectReturnCode::Accepted,
    })
    .encode(&mut out)
    .unwrap();
    out.truncate(n);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frames_with_the_mqtt_subprotocol_and_text_frames_close() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut asked = None;
        let mut ws = async_tungstenite::accept_hdr_async(
            TokioIo(tcp),
            |req: &Request, mut resp: Response| {
                asked = req
                    .headers()
                    .get("Sec-WebSocket-Protocol")
                    .map(|v| v.to_str().unwrap().to_owned());
                resp.headers_mut()
                    .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
                Ok(resp)
            },
        )
        .await
        .unwrap();
        assert_eq!(asked.as_deref(), Some("mqtt"), "[MQTT-6.0.0-3]");
        // CONNECT, in a binary frame [MQTT-6.0.0-1].
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => {
                let (packet, used) = decode(&b, &DecodeOptions::default()).unwrap().unwrap();
                assert!(matches!(packet, Packet::Connect(_)), "{packet:?}");
                assert_eq!(used, b.len());
            }
            other => panic!("expected a binary frame, got {other:?}"),
        }
        // CONNACK split over two frames [MQTT-6.0.0-2].
        let ack = connack();
        ws.send(Message::Binary(ack[..1].to_vec().into()))
            .await
            .unwrap();
        ws.send(Message::Binary(ack[1..].to_vec().into()))
            .await
            .unwrap();
        // A PUBLISH from the client arrives in binary frames too.
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => {
                let (packet, _) = decode(&b, &DecodeOptions::default()).unwrap().unwrap();
                assert!(matches!(packet, Packet::Publish(_)), "{packet:?}");
            }
            other => panic!("expected a binary frame, got {other:?}"),
        }
        ws.send(Message::Text("not MQTT".into())).await.unwrap();
        // The client closes the connection: the stream ends (or errors).
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Close(_))) | None | Some(Err(_))) => break,
                Ok(Some(Ok(_))) => {}
                Err(_) => panic!("the client kept the connection after a text frame"),
            }
        }
    });
    let opts = Options::parse(&format!("ws://127.0.0.1:{port}/mqtt?client_id=ws-frames"))
        .unwrap()
        .reconnect(None);
    let (client, event_loop) = mqtt_tokio::client(opts).unwrap();
    let mut events = client.connection_events();
    let event_loop = tokio::spawn(event_loop.run());
    assert!(matches!(
        events.recv().await,
        Some(ConnectionEvent::Connected { .. })
    ));
    let _ack = client
        .try_publish("t", "x", mqtt_tokio::QoS::AtMostOnce, false)
        .unwrap();
    match event_loop.await.unwrap() {
        Err(mqtt_tokio::ClientError::Connection(Cause::Io(e))) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        }
        other => panic!("expected the text frame to end the connection, got {other:?}"),
    }
    server.await.unwrap();
}
