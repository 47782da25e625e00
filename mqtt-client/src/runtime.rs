//! What a runtime adapter provides: TCP connections and timers.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A byte stream the client can run over: any `futures-io` reader and writer.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed transport.
pub type BoxIo = Box<dyn Io>;

/// The two things the driver needs from an async runtime. The adapters implement it
/// (tokio, smol, async-std); nothing else in this crate is runtime-specific.
pub trait Runtime: Send + Sync + 'static {
    /// Opens a TCP connection (with `TCP_NODELAY`: MQTT packets are small and the
    /// driver batches writes itself).
    fn connect_tcp(host: String, port: u16) -> BoxFuture<io::Result<BoxIo>>;

    /// A future that completes at `deadline`.
    fn sleep_until(deadline: Instant) -> BoxFuture<()>;
}
