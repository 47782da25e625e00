//! MQTT for tokio: a [`Client`] handle, [`Subscription`] streams, automatic
//! reconnect, over TCP, TLS (rustls) and WebSocket. The protocol is the `mqtt-session`
//! state machine; this crate only gives it tokio's sockets and timers.
//!
//! ```no_run
//! use mqtt_tokio::{Options, QoS};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (client, event_loop) = mqtt_tokio::connect(Options::parse("mqtt://127.0.0.1:1883")?)?;
//!     let mut sub = client.subscribe("sensors/#", QoS::AtLeastOnce).await?;
//!     client.publish("sensors/1", "21.5", QoS::AtLeastOnce, false).await?; // PUBACK received
//!     let msg = sub.recv().await.expect("subscribed");
//!     println!("{}: {:?}", msg.topic(), msg.payload());
//!     client.disconnect().await?;
//!     event_loop.await??;
//!     Ok(())
//! }
//! ```
//!
//! MQTT 5.0 (`Options::protocol`): messages with properties, request / response,
//! subscription options, the server's limits:
//!
//! ```no_run
//! use std::time::Duration;
//! use mqtt_tokio::{Options, ProtocolVersion, QoS, SubscriptionOptions};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let opts = Options::parse("mqtt://127.0.0.1:1883?client_id=v5-quickstart")?
//!         .protocol(ProtocolVersion::V5)
//!         .session_expiry(3600); // the broker keeps the session an hour after a drop
//!     let (client, _event_loop) = mqtt_tokio::connect(opts)?;
//!     let _sensors = client // a Subscription: a stream of the messages it matches
//!         .subscribe_with("sensors/#", SubscriptionOptions { no_local: true, ..SubscriptionOptions::new(QoS::AtLeastOnce) })
//!         .await?;
//!     client
//!         .message("sensors/1", "21.5")
//!         .qos(QoS::AtLeastOnce)
//!         .content_type("text/plain")
//!         .user_property("unit", "celsius")
//!         .message_expiry(Duration::from_secs(300))
//!         .publish()
//!         .await?; // PUBACK; a refusal is ClientError::Rejected { reason_code, .. }
//!     let answer = client.request("service/time", "now?", QoS::AtLeastOnce).await?; // a responder calls client.respond(&msg, ..)
//!     println!("{:?} {:?}", answer.payload(), client.server_limits());
//!     Ok(())
//! }
//! ```
//!
//! Everything but the runtime glue is in [`mqtt_client`], re-exported here.

#![forbid(unsafe_code)]

mod io;

use std::time::Instant;

pub use io::TokioIo;
pub use mqtt_client::*;

/// tokio's TCP sockets and timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    fn connect_tcp(host: String, port: u16) -> BoxFuture<std::io::Result<BoxIo>> {
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(TokioIo(stream)) as BoxIo)
        })
    }

    fn sleep_until(deadline: Instant) -> BoxFuture<()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn set_read_low_water(io: &mut dyn Io, bytes: usize) -> std::io::Result<bool> {
        #[cfg(unix)]
        if let Some(tcp) = io
            .as_any_mut()
            .downcast_mut::<TokioIo<tokio::net::TcpStream>>()
        {
            return set_receive_low_water(std::os::fd::AsFd::as_fd(&tcp.0), bytes);
        }
        let _ = (io, bytes);
        Ok(false)
    }
}

/// The event loop on tokio.
pub type EventLoop = mqtt_client::EventLoop<Tokio>;

/// A client and its event loop, not yet running: call [`Client::subscribe`] first if
/// a resumed session may deliver messages right after CONNACK, then spawn
/// [`EventLoop::run`].
pub fn client(options: Options) -> Result<(Client, EventLoop), OptionsError> {
    mqtt_client::new_client::<Tokio>(options)
}

/// A client whose event loop is spawned on the current tokio runtime (must be
/// called from within one). The handle resolves when the event loop ends.
pub fn connect(
    options: Options,
) -> Result<(Client, tokio::task::JoinHandle<Result<(), ClientError>>), OptionsError> {
    let (client, event_loop) = client(options)?;
    Ok((client, tokio::spawn(event_loop.run())))
}

/// Wraps any tokio stream (`AsyncRead + AsyncWrite`) as a transport for
/// [`Options::with_connector`].
pub fn transport<S>(stream: S) -> BoxIo
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    Box::new(TokioIo(stream))
}
