//! The receive low-water mark (`SO_RCVLOWAT`) of a TCP socket, which read pacing
//! raises while it defers a read ([`Runtime::set_read_low_water`]).
//!
//! tokio registers a socket with edge-triggered epoll for good, and async-io arms
//! its one-shot registration whenever a read finds nothing: either way a segment
//! that arrives while the client defers its read wakes the runtime. mosquitto
//! sends one segment per packet; on tokio that was about ten `epoll_wait` wakes per
//! read (measured: 20,600 against 2,340 reads for 200,000 QoS 1 messages). Below
//! the mark, Linux does not signal the socket readable; lowering the mark signals it
//! if data is waiting, so the read that ends the wait is woken at once.
//!
//! No crate the workspace uses sets this option (socket2 and rustix do not), hence
//! the one `setsockopt` call below, the only unsafe code of this crate.
//!
//! [`Runtime::set_read_low_water`]: crate::Runtime::set_read_low_water

#![allow(unsafe_code)]

use std::io;

/// Sets the receive low-water mark (`SO_RCVLOWAT`, clamped to a C `int`) of the TCP
/// socket `socket`, for an adapter's [`Runtime::set_read_low_water`]. `Ok(false)`
/// where it is not used: off Linux, where readiness may not follow the mark (kqueue
/// does not signal when it is lowered).
///
/// [`Runtime::set_read_low_water`]: crate::Runtime::set_read_low_water
#[cfg(target_os = "linux")]
pub fn set_receive_low_water(
    socket: std::os::fd::BorrowedFd<'_>,
    bytes: usize,
) -> io::Result<bool> {
    use std::os::fd::AsRawFd;

    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: `socket` is a descriptor borrowed for the call; the option value is a
    // `c_int` on the stack, passed with its size.
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

/// Off Linux: not used (see the Linux version).
#[cfg(all(unix, not(target_os = "linux")))]
pub fn set_receive_low_water(
    socket: std::os::fd::BorrowedFd<'_>,
    bytes: usize,
) -> io::Result<bool> {
    let _ = (socket, bytes);
    Ok(false)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::{AsFd, AsRawFd};

    use super::*;

    /// Whether `socket` reports readable within `ms` milliseconds (`poll(2)`).
    fn readable(socket: &TcpStream, ms: i32) -> bool {
        let mut fds = [libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid `pollfd` for a live socket, with the array's length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
        n == 1 && fds[0].revents & libc::POLLIN != 0
    }

    /// Below the mark the socket does not report readable; at the mark it does, and
    /// lowering the mark makes it readable with the bytes already there.
    #[test]
    fn the_mark_holds_readiness_back_and_lowering_it_releases_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert!(set_receive_low_water(client.as_fd(), 1000).unwrap());

        server.write_all(&[7; 10]).unwrap();
        assert!(!readable(&client, 200), "10 bytes are below a mark of 1000");
        server.write_all(&[7; 990]).unwrap();
        assert!(readable(&client, 10_000), "1000 bytes reach the mark");

        assert!(set_receive_low_water(client.as_fd(), 5000).unwrap());
        assert!(
            !readable(&client, 200),
            "1000 bytes are below a mark of 5000"
        );
        assert!(set_receive_low_water(client.as_fd(), 1).unwrap());
        assert!(
            readable(&client, 10_000),
            "readable once the mark is lowered"
        );
    }
}
