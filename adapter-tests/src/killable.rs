//! A transport wrapper a test can cut (the peer sees an abrupt close) or stall (the
//! socket stays open but nothing moves: a half-open connection).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_io::{AsyncRead, AsyncWrite};
use mqtt_client::BoxIo;

const OPEN: u8 = 0;
const CUT: u8 = 1;
const STALLED: u8 = 2;

/// Controls every transport wrapped with it.
#[derive(Clone, Default)]
pub struct Switch {
    state: Arc<AtomicU8>,
    wakers: Arc<Mutex<Vec<Waker>>>,
    /// Bytes written ahead of the client's next write (see [`Switch::inject`]).
    injected: Arc<Mutex<Vec<u8>>>,
}

impl Switch {
    /// Wraps a transport.
    pub fn wrap(&self, io: BoxIo) -> BoxIo {
        Box::new(Killable {
            io: Some(io),
            switch: self.clone(),
        })
    }

    /// Fails every read and write from now on and drops the socket.
    pub fn cut(&self) {
        self.set(CUT);
    }

    /// Stops moving bytes but keeps the socket open.
    pub fn stall(&self) {
        self.set(STALLED);
    }

    /// Writes `bytes` to the broker just before the client's next write: a packet
    /// the session would never send (call it while the connection is quiet, so
    /// that it lands between two packets).
    pub fn inject(&self, bytes: &[u8]) {
        self.injected.lock().unwrap().extend_from_slice(bytes);
    }

    /// New connections work again (existing cut ones stay dead).
    pub fn reset(&self) {
        self.set(OPEN);
    }

    fn register(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock().unwrap();
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    fn set(&self, s: u8) {
        self.state.store(s, Ordering::SeqCst);
        for w in self.wakers.lock().unwrap().drain(..) {
            w.wake();
        }
    }
}

struct Killable {
    io: Option<BoxIo>,
    switch: Switch,
}

impl Killable {
    /// Writes what [`Switch::inject`] queued; ready once nothing is left.
    fn write_injected(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let injected = self.switch.injected.clone();
        let mut pending = injected.lock().unwrap();
        while !pending.is_empty() {
            let io = match self.check(cx) {
                Poll::Ready(Ok(io)) => io,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match Pin::new(io).poll_write(cx, &pending) {
                Poll::Ready(Ok(n)) => drop(pending.drain(..n)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The inner stream, or why there is none.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut BoxIo>> {
        match self.switch.state.load(Ordering::SeqCst) {
            CUT => {
                self.io = None; // close the socket: the broker sees the connection die
                Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
            }
            STALLED => {
                self.switch.register(cx.waker());
                Poll::Pending
            }
            _ => {
                self.switch.register(cx.waker());
                match self.io.as_mut() {
                    Some(io) => Poll::Ready(Ok(io)),
                    None => Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())),
                }
            }
        }
    }
}

impl AsyncRead for Killable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.check(cx) {
            Poll::Ready(Ok(io)) => Pin::new(io).poll_read(cx, buf),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for Killable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.switch.state.load(Ordering::SeqCst) == STALLED {
            return Poll::Ready(Ok(buf.len())); // swallowed, like a black hole
        }
        match self.write_injected(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        match self.check(cx) {
            Poll::Ready(Ok(io)) => Pin::new(io).poll_write(cx, buf),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.switch.state.load(Ordering::SeqCst) == STALLED {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        match self.write_injected(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        match self.check(cx) {
            Poll::Ready(Ok(io)) => Pin::new(io).poll_write_vectored(cx, bufs),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.switch.state.load(Ordering::SeqCst) == STALLED {
            return Poll::Ready(Ok(()));
        }
        match self.check(cx) {
            Poll::Ready(Ok(io)) => Pin::new(io).poll_flush(cx),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.io.as_mut() {
            Some(io) => Pin::new(io).poll_close(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}
