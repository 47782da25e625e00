//! MQTT for async-std: the same futures-io driver as `mqtt-smol`, with async-std's
//! sockets and tasks.
//!
//! **async-std is discontinued upstream**; new code should use `mqtt-smol` (same API,
//! same driver). This crate keeps existing async-std applications working.
//!
//! ```no_run
//! use mqtt_async_std::{Options, QoS};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     async_std::task::block_on(async {
//!         let (client, event_loop) = mqtt_async_std::connect(Options::parse("mqtt://127.0.0.1:1883")?)?;
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

#![forbid(unsafe_code)]

use std::io;
use std::time::Instant;

pub use mqtt_client::*;

/// async-std's TCP sockets; timers from async-io, the reactor async-std runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    fn connect_tcp(host: String, port: u16) -> BoxFuture<io::Result<BoxIo>> {
        Box::pin(async move {
            let stream = async_std::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxIo)
        })
    }

    fn sleep_until(deadline: Instant) -> BoxFuture<()> {
        Box::pin(async move {
            async_io::Timer::at(deadline).await;
        })
    }
}

/// The event loop on async-std.
pub type EventLoop = mqtt_client::EventLoop<AsyncStd>;

/// A client and its event loop, not yet running (see `mqtt_smol::client`).
pub fn client(options: Options) -> Result<(Client, EventLoop), OptionsError> {
    mqtt_client::new_client::<AsyncStd>(options)
}

/// A client whose event loop is spawned as an async-std task.
pub fn connect(
    options: Options,
) -> Result<(Client, async_std::task::JoinHandle<Result<(), ClientError>>), OptionsError> {
    let (client, event_loop) = client(options)?;
    Ok((client, async_std::task::spawn(event_loop.run())))
}
