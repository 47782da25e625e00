//! What a runtime adapter provides: TCP connections and timers.

use std::any::Any;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A byte stream the client can run over: any `futures-io` reader and writer.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {
    /// This transport as `Any`, so that a runtime adapter can find its own socket type
    /// under a boxed transport ([`Runtime::set_read_low_water`]). Call it on the
    /// `dyn Io` (`(*boxed).as_any_mut()`): a `BoxIo` is an `Io` too.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

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

    /// Sets how many received bytes the TCP socket `io` must hold before it reports
    /// readable (`SO_RCVLOWAT`); 1 is the normal behaviour. Read pacing raises it
    /// while it defers a read and lowers it again before reading, so that a reactor
    /// that watches the socket all the time (tokio's edge-triggered epoll) does not
    /// wake for every segment that arrives meanwhile. Lowering it must make the
    /// socket report readable if data is waiting (Linux does).
    ///
    /// `Ok(false)`: `io` is not this runtime's TCP socket, or the platform has no such
    /// option. The default does nothing: a reactor that only watches a socket while a
    /// read waits on it (async-io's one-shot registrations, under smol and
    /// async-std) does not wake for a read that is deferred.
    fn set_read_low_water(io: &mut dyn Io, bytes: usize) -> io::Result<bool> {
        let _ = (io, bytes);
        Ok(false)
    }
}
