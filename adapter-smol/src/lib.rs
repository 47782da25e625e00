//! MQTT for smol: a [`Client`] handle, [`Subscription`] streams, automatic reconnect,
//! over TCP, TLS (rustls) and WebSocket. The driver is generic over `futures-io`
//! streams and `async-io` timers; the protocol is the `mqtt-session` state machine.
//!
//! ```no_run
//! use mqtt_smol::{Options, QoS};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     smol::block_on(async {
//!         let (client, event_loop) = mqtt_smol::connect(Options::parse("mqtt://127.0.0.1:1883")?)?;
//!         let mut sub = client.subscribe("sensors/#", QoS::AtLeastOnce).await?;
//!         client.publish("sensors/1", "21.5", QoS::AtLeastOnce, false).await?;
//!         let msg = sub.recv().await.expect("subscribed");
//!         println!("{}: {:?}", msg.topic(), msg.payload());
//!         client.disconnect().await?;
//!         event_loop.await?;
//!         Ok(())
//!     })
//! }
//! ```
//!
//! Everything but the runtime glue is in [`mqtt_client`], re-exported here.

#![forbid(unsafe_code)]

use std::io;
use std::time::Instant;

pub use mqtt_client::*;

/// smol's (async-io's) TCP sockets and timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl Runtime for Smol {
    fn connect_tcp(host: String, port: u16) -> BoxFuture<io::Result<BoxIo>> {
        Box::pin(async move {
            let stream = smol::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxIo)
        })
    }

    fn sleep_until(deadline: Instant) -> BoxFuture<()> {
        Box::pin(async move {
            smol::Timer::at(deadline).await;
        })
    }

    fn set_read_low_water(io: &mut dyn Io, bytes: usize) -> io::Result<bool> {
        #[cfg(unix)]
        if let Some(tcp) = io.as_any_mut().downcast_mut::<smol::net::TcpStream>() {
            return set_receive_low_water(std::os::fd::AsFd::as_fd(tcp), bytes);
        }
        let _ = (io, bytes);
        Ok(false)
    }
}

/// The event loop on smol.
pub type EventLoop = mqtt_client::EventLoop<Smol>;

/// A client and its event loop, not yet running: call [`Client::subscribe`] first if
/// a resumed session may deliver messages right after CONNACK, then spawn
/// [`EventLoop::run`].
pub fn client(options: Options) -> Result<(Client, EventLoop), OptionsError> {
    mqtt_client::new_client::<Smol>(options)
}

/// A client whose event loop is spawned on smol's global executor. The task resolves
/// when the event loop ends (dropping it cancels the event loop: `detach` it to keep
/// it running unobserved).
pub fn connect(
    options: Options,
) -> Result<(Client, smol::Task<Result<(), ClientError>>), OptionsError> {
    let (client, event_loop) = client(options)?;
    Ok((client, smol::spawn(event_loop.run())))
}
