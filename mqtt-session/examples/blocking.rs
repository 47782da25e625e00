//! A complete MQTT client in one small loop: the session driven over a blocking
//! `std::net::TcpStream`. This is all an adapter does.
//!
//! ```text
//! cargo run -p mqtt-session --example blocking -- 127.0.0.1:1883
//! ```

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant as StdInstant};

use bytes::BytesMut;
use mqtt_session::proto::{QoS, TopicFilter, TopicName};
use mqtt_session::{Config, Event, Instant, Message, Session, State};

/// The session and one transport.
pub struct Blocking {
    /// The protocol state machine; survives transports.
    pub session: Session,
    stream: Option<TcpStream>,
    buf: BytesMut,
    start: StdInstant,
}

impl Blocking {
    /// A client for `config`, not yet connected.
    pub fn new(config: Config) -> Blocking {
        Blocking {
            session: Session::new(config),
            stream: None,
            buf: BytesMut::with_capacity(16 * 1024),
            start: StdInstant::now(),
        }
    }

    /// The session's clock: milliseconds since this client was made.
    pub fn now(&self) -> Instant {
        Instant::from_millis(self.start.elapsed().as_millis() as u64)
    }

    /// Opens a transport to `addr` and starts the MQTT connection on it; resumes the
    /// session if it was connected before.
    pub fn connect(&mut self, addr: &str) -> io::Result<()> {
        self.stream = Some(TcpStream::connect(addr)?);
        self.buf.clear();
        let now = self.now();
        self.session.connect(now).map_err(io::Error::other)
    }

    /// Drives the session until `stop` returns true for an event (which is returned
    /// with the events before it), or the connection ends.
    pub fn run_until(&mut self, stop: impl FnMut(&Event) -> bool) -> io::Result<Vec<Event>> {
        self.drive(None, stop)
    }

    /// Drives the session for `d` (keepalive included) and returns the events seen.
    pub fn run_for(&mut self, d: Duration) -> io::Result<Vec<Event>> {
        self.drive(Some(StdInstant::now() + d), |_| false)
    }

    fn drive(
        &mut self,
        until: Option<StdInstant>,
        mut stop: impl FnMut(&Event) -> bool,
    ) -> io::Result<Vec<Event>> {
        let mut seen = Vec::new();
        loop {
            // 1. Write everything the session has to send, in one vectored write each
            //    time (headers and payloads, no copies).
            self.flush()?;
            // 2. Hand out events.
            while let Some(event) = self.session.poll_event() {
                let done = stop(&event);
                let disconnected = matches!(event, Event::Disconnected { .. });
                seen.push(event);
                if done {
                    self.flush()?;
                    return Ok(seen);
                }
                if disconnected {
                    self.flush()?;
                    self.stream = None; // the session asked for the transport to close
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!("{seen:?}"),
                    ));
                }
            }
            // 3. A deadline that has passed is handled before waiting.
            let now = self.now();
            let wait = match self.session.poll_timeout() {
                Some(deadline) if deadline <= now => {
                    self.session.handle_timeout(now);
                    continue;
                }
                Some(deadline) => Some(Duration::from_millis(
                    deadline.as_millis() - now.as_millis(),
                )),
                None => None,
            };
            // 4. Wait for bytes until the deadline.
            let wait = match until {
                Some(u) if StdInstant::now() >= u => return Ok(seen),
                Some(u) => {
                    Some(wait.map_or(u - StdInstant::now(), |w| w.min(u - StdInstant::now())))
                }
                None => wait,
            };
            let wait = wait.map(|w| w.max(Duration::from_millis(1)));
            let Some(stream) = self.stream.as_mut() else {
                return Err(io::ErrorKind::NotConnected.into());
            };
            stream.set_read_timeout(wait)?;
            let mut chunk = [0u8; 16 * 1024];
            match stream.read(&mut chunk) {
                Ok(0) => self.session.handle_transport_closed(self.now()),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    let now = self.now();
                    self.session.handle_read(now, &mut self.buf);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let now = self.now();
                    self.session.handle_timeout(now);
                }
                Err(_) => self.session.handle_transport_closed(self.now()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut pending = Vec::new();
        while let Some(tx) = self.session.poll_transmit() {
            pending.push(tx.head);
            pending.push(tx.payload);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        let mut slices: Vec<IoSlice<'_>> = pending
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| IoSlice::new(b))
            .collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            let n = stream.write_vectored(slices)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut slices, n);
        }
        Ok(())
    }

    /// Writes `bytes` to the transport as they are, past the session (for tests that
    /// play a misbehaving client).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.stream.as_mut() {
            Some(stream) => stream.write_all(bytes),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Disconnects cleanly and closes the transport.
    pub fn disconnect(&mut self) -> io::Result<()> {
        let now = self.now();
        self.session.disconnect(now);
        self.flush()?;
        while self.session.poll_event().is_some() {}
        self.stream = None;
        Ok(())
    }
}

#[allow(dead_code)] // the integration tests include this file for `Blocking`
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1883".into());
    let mut client = Blocking::new(Config::new("mqtt-session-demo").map_err(io::Error::other)?);
    client.connect(&addr)?;
    client.run_until(|e| matches!(e, Event::Connected { .. }))?;
    println!("connected to {addr}");

    let now = client.now();
    let filter = TopicFilter::from_static("demo/session/#").map_err(io::Error::other)?;
    client
        .session
        .subscribe(now, &[(filter, QoS::ExactlyOnce)])
        .map_err(io::Error::other)?;
    let topic = TopicName::from_static("demo/session/greeting").map_err(io::Error::other)?;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let message = Message::new(topic.clone(), format!("hello at {qos:?}"), qos);
        let op = client
            .session
            .publish(now, message)
            .map_err(io::Error::other)?;
        println!("publish {op:?} at {qos:?}");
    }
    let (mut completed, mut received) = (0, 0);
    client.run_until(|event| {
        match event {
            Event::Completed { op, outcome } => {
                completed += 1;
                println!("{op:?} completed: {outcome:?}");
            }
            Event::Message(m) => {
                received += 1;
                println!(
                    "received on {} at {:?}: {}",
                    m.topic(),
                    m.qos(),
                    String::from_utf8_lossy(m.payload())
                );
            }
            _ => {}
        }
        completed == 4 && received == 3 // the SUBACK and three publishes; three echoes
    })?;
    assert_eq!(client.session.state(), State::Connected);
    client.disconnect()?;
    println!("disconnected cleanly");
    Ok(())
}
