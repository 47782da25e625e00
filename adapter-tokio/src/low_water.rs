//! The receive low-water mark (`SO_RCVLOWAT`) of a tokio TCP socket, which read
//! pacing raises while it defers a read (`Runtime::set_read_low_water`).
//!
//! tokio registers sockets with edge-triggered epoll for good: every segment that
//! arrives wakes the reactor, whether or not a read waits. While the client defers
//! a read, mosquitto's one segment per packet meant about ten `epoll_wait` wakes per
//! read (measured: 20,600 against 2,340 reads for 200,000 QoS 1 messages). Below the
//! mark, Linux does not signal the socket readable; lowering the mark signals it if
//! data is waiting, so the read that ends the wait is woken at once.
//!
//! No crate the workspace uses sets this option (socket2 and rustix do not), hence
//! the one `setsockopt` call below.

#![allow(unsafe_code)]

use std::io;

/// Sets `SO_RCVLOWAT` on `socket` (clamped to `c_int`).
#[cfg(target_os = "linux")]
pub(crate) fn set(socket: &tokio::net::TcpStream, bytes: usize) -> io::Result<bool> {
    use std::os::fd::AsRawFd;

    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: the descriptor belongs to `socket`, which is borrowed for the call;
    // the option value is a `c_int` on the stack, passed with its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(true)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere the option's effect on readiness differs (kqueue): not used.
#[cfg(not(target_os = "linux"))]
pub(crate) fn set(_socket: &tokio::net::TcpStream, _bytes: usize) -> io::Result<bool> {
    Ok(false)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// Below the mark the socket does not become readable; lowering the mark makes
    /// it readable with the bytes already there.
    #[tokio::test]
    async fn the_mark_holds_readiness_back_and_lowering_it_releases_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        assert!(set(&client, 1000).unwrap());

        server.write_all(&[7; 10]).await.unwrap();
        let early = tokio::time::timeout(Duration::from_millis(200), client.readable()).await;
        assert!(early.is_err(), "10 bytes are below a mark of 1000");

        assert!(set(&client, 1).unwrap());
        tokio::time::timeout(Duration::from_secs(10), client.readable())
            .await
            .expect("readable once the mark is lowered")
            .unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(client.try_read(&mut buf).unwrap(), 10);
    }
}
