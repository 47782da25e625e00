//! MQTT over WebSocket (`ws://`, `wss://`): binary messages carry the byte stream.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;

use crate::runtime::{BoxIo, Io};

/// Runs the WebSocket handshake over `io` with the `mqtt` subprotocol [MQTT-6.0.0-3].
pub(crate) async fn connect(
    io: BoxIo,
    secure: bool,
    host: &str,
    port: u16,
    path: &str,
) -> io::Result<BoxIo> {
    let scheme = if secure { "wss" } else { "ws" };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let mut request = format!("{scheme}://{host}:{port}{path}")
        .into_client_request()
        .map_err(ws_error)?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let (ws, _response) = async_tungstenite::client_async(request, io)
        .await
        .map_err(ws_error)?;
    Ok(Box::new(WsIo {
        ws,
        read: Bytes::new(),
    }))
}

fn ws_error(e: async_tungstenite::tungstenite::Error) -> io::Error {
    match e {
        async_tungstenite::tungstenite::Error::Io(e) => e,
        e => io::Error::other(format!("WebSocket: {e}")),
    }
}

/// The transport under a WebSocket transport, or `None` if `io` is not one.
pub(crate) fn inner(io: &mut dyn Io) -> Option<&mut dyn Io> {
    let ws = io.as_any_mut().downcast_mut::<WsIo>()?;
    Some(&mut **ws.ws.get_mut())
}

/// A WebSocket as a byte stream. Each (vectored) write becomes one binary message,
/// so a batch of MQTT packets travels in one frame.
struct WsIo {
    ws: WebSocketStream<BoxIo>,
    read: Bytes,
}

impl AsyncRead for WsIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if !self.read.is_empty() {
                let n = buf.len().min(self.read.len());
                buf[..n].copy_from_slice(&self.read[..n]);
                self.read.advance(n);
                return Poll::Ready(Ok(n));
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(b))) => self.read = b,
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(0)),
                // [MQTT-6.0.0-1]: a text frame closes the connection.
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "WebSocket text frame: MQTT needs binary frames",
                    )))
                }
                Some(Ok(_)) => {} // ping, pong: tungstenite answers pings itself
                Some(Err(e)) => return Poll::Ready(Err(ws_error(e))),
            }
        }
    }
}

impl AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(ws_error)?;
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        let mut message = BytesMut::with_capacity(len);
        for b in bufs {
            message.extend_from_slice(b);
        }
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(message.freeze()))
            .map_err(ws_error)?;
        Poll::Ready(Ok(len))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(ws_error)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(ws_error)
    }
}
