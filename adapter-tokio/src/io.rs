//! tokio's I/O traits seen as futures-io's, forwarding vectored writes (tokio-util's
//! `Compat` does not: every slice became its own `send` system call).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A tokio stream as a `futures-io` one.
#[derive(Debug)]
pub struct TokioIo<T>(pub T);

impl<T: AsyncRead + Unpin> futures_io::AsyncRead for TokioIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        match Pin::new(&mut self.0).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> futures_io::AsyncWrite for TokioIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::io::{AsyncReadExt, AsyncWriteExt};

    /// A vectored write reaches the stream as one write of every slice.
    #[tokio::test]
    async fn vectored_writes_are_forwarded() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut a = TokioIo(a);
        let bufs = [IoSlice::new(b"head"), IoSlice::new(b"payload")];
        let n = futures_util::future::poll_fn(|cx| {
            futures_io::AsyncWrite::poll_write_vectored(Pin::new(&mut a), cx, &bufs)
        })
        .await
        .unwrap();
        assert_eq!(n, 11, "both slices in one call");
        a.close().await.unwrap();
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut b, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"headpayload");
        let (c, d) = tokio::io::duplex(64);
        let (mut c, mut d) = (TokioIo(c), TokioIo(d));
        c.write_all(b"ping").await.unwrap();
        let mut four = [0u8; 4];
        d.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"ping");
    }
}
