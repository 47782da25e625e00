//! The broker's ceiling (`e2e --client ceiling`): the same run with the least work a
//! client can do, so that what is left is the broker's. Packets are encoded by
//! hand into one buffer per write, each connection is a thread on a blocking socket
//! with `TCP_NODELAY`, and there is no MQTT state beyond counting: the publisher
//! writes as many publishes as the in-flight window allows in one write, and the
//! subscriber answers all that one read brought in one write.
//!
//! After each read a connection sleeps (`--ceiling-pause US`, 1 ms by default), so
//! that the next read takes a batch: the broker writes every packet on its own, and
//! a client that reads as soon as one has arrived answers each with a write of its
//! own, which costs the broker more per message (a pause of 0 shows it). The
//! highest rate over a few pauses is the most any client can get through the
//! broker.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mqtt_proto::{DecodeOptions, FixedHeader};

use super::clients::{Load, Measured};
use super::measure::cpu_time;

/// Outgoing QoS 1/2 messages in flight: the other clients' setting.
const INFLIGHT: usize = 1000;
/// A QoS 0 subscriber stops after this much silence (the broker may drop QoS 0).
const IDLE: Duration = Duration::from_secs(3);

/// `e2e --ceiling-pause US`: the sleep after each read, in microseconds.
pub static PAUSE_US: AtomicU64 = AtomicU64::new(1000);

fn pause() {
    let us = PAUSE_US.load(Ordering::Relaxed);
    if us > 0 {
        thread::sleep(Duration::from_micros(us));
    }
}

/// Runs `load` through the broker on `port`.
pub fn run(port: u16, load: Load, tag: &str) -> Measured {
    let topic = format!("bench/{tag}");
    let mut sub = connect(port, &format!("s-{tag}")).expect("subscriber connects");
    subscribe(&mut sub, &topic, load.qos).expect("SUBACK");
    let mut publisher = connect(port, &format!("p-{tag}")).expect("publisher connects");
    let (started_tx, started) = mpsc::channel();
    let n = load.messages;
    let subscriber = thread::spawn(move || {
        let t0: Instant = started.recv().expect("start");
        let (received, last) = receive(&mut sub, n).expect("subscriber");
        let _ = sub.write_all(&[0xE0, 0]);
        (t0, received, last)
    });
    let cpu0 = cpu_time();
    started_tx.send(Instant::now()).expect("subscriber alive");
    publish(&mut publisher, &topic, load).expect("publisher");
    let (t0, received, last) = subscriber.join().expect("subscriber thread");
    let cpu = cpu_time() - cpu0;
    let _ = publisher.write_all(&[0xE0, 0]);
    Measured {
        received,
        elapsed: last.saturating_duration_since(t0),
        cpu,
    }
}

fn connect(port: u16, id: &str) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_nodelay(true)?;
    // CONNECT 3.1.1, clean session, keep alive 60 s.
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60];
    put_str(&mut body, id);
    let mut out = Vec::new();
    put_packet(&mut out, 0x10, &body);
    s.write_all(&out)?;
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack)?;
    assert_eq!(connack, [0x20, 2, 0, 0], "CONNACK accepted");
    Ok(s)
}

fn subscribe(s: &mut TcpStream, topic: &str, qos: u8) -> io::Result<()> {
    let mut body = vec![0, 1];
    put_str(&mut body, topic);
    body.push(qos);
    let mut out = Vec::new();
    put_packet(&mut out, 0x82, &body);
    s.write_all(&out)?;
    let mut suback = [0u8; 5];
    s.read_exact(&mut suback)?;
    assert_eq!(suback, [0x90, 3, 0, 1, qos], "SUBACK granted");
    Ok(())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_packet(out: &mut Vec<u8>, first: u8, body: &[u8]) {
    out.push(first);
    let mut len = body.len();
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        out.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
}

/// Bytes read and not yet handled: `data[at..end]`. Allocated and zeroed once, with
/// room for twice what a pause lets in (1,000 messages of 4 KiB in flight: 4 MiB).
struct ReadBuf {
    data: Vec<u8>,
    at: usize,
    end: usize,
}

impl ReadBuf {
    fn new() -> Self {
        ReadBuf {
            data: vec![0; 8 << 20],
            at: 0,
            end: 0,
        }
    }

    /// One read; false at the end (or after `IDLE` of silence).
    fn fill(&mut self, s: &mut TcpStream) -> io::Result<bool> {
        self.data.copy_within(self.at..self.end, 0);
        (self.end, self.at) = (self.end - self.at, 0);
        let n = match s.read(&mut self.data[self.end..]) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                0
            }
            Err(e) => return Err(e),
        };
        self.end += n;
        Ok(n > 0)
    }

    /// The packets read whole: each one's first byte and body (fixed headers
    /// decoded by mqtt-proto, which also rejects what the broker should not send).
    fn packets(&mut self, mut each: impl FnMut(u8, &[u8])) {
        let opts = DecodeOptions::default();
        loop {
            let rest = &self.data[self.at..self.end];
            let Some(h) = FixedHeader::decode(rest, &opts).expect("a valid fixed header") else {
                return;
            };
            if rest.len() < h.packet_len() {
                return;
            }
            each(rest[0], &rest[h.header_len..h.packet_len()]);
            self.at += h.packet_len();
        }
    }
}

/// Counts `n` messages, acknowledging each read's worth in one write.
fn receive(s: &mut TcpStream, n: usize) -> io::Result<(usize, Instant)> {
    s.set_read_timeout(Some(IDLE))?;
    let (mut buf, mut out) = (ReadBuf::new(), Vec::new());
    let (mut received, mut last) = (0, Instant::now());
    while received < n {
        if !buf.fill(s)? {
            break; // silence (QoS 0 dropped) or closed
        }
        buf.packets(|first, body| match first >> 4 {
            3 => {
                received += 1;
                let qos = (first >> 1) & 3;
                if qos > 0 {
                    let topic = usize::from(u16::from_be_bytes([body[0], body[1]]));
                    let id = &body[2 + topic..4 + topic];
                    out.extend_from_slice(&[if qos == 1 { 0x40 } else { 0x50 }, 2, id[0], id[1]]);
                }
            }
            6 => out.extend_from_slice(&[0x70, 2, body[0], body[1]]), // PUBREL -> PUBCOMP
            _ => {}
        });
        last = Instant::now();
        if !out.is_empty() {
            s.write_all(&out)?;
            out.clear();
        }
        pause();
    }
    Ok((received, last))
}

/// Sends `load.messages` publishes, at QoS 1/2 at most `INFLIGHT` unacknowledged.
fn publish(s: &mut TcpStream, topic: &str, load: Load) -> io::Result<()> {
    let payload = vec![0xA5u8; load.payload];
    let first = 0x30 | (load.qos << 1);
    let mut body = Vec::new();
    put_str(&mut body, topic);
    let id_at = body.len();
    if load.qos > 0 {
        body.extend_from_slice(&[0, 0]);
    }
    body.extend_from_slice(&payload);
    let (mut sent, mut done, mut out) = (0usize, 0usize, Vec::new());
    let mut buf = ReadBuf::new();
    while done < load.messages {
        while sent < load.messages && (load.qos == 0 || sent - done < INFLIGHT) {
            if load.qos > 0 {
                let id = (sent % 65535) as u16 + 1;
                body[id_at..id_at + 2].copy_from_slice(&id.to_be_bytes());
            }
            put_packet(&mut out, first, &body);
            sent += 1;
            if load.qos == 0 && out.len() >= 64 * 1024 {
                break; // QoS 0 has no window: written in slices
            }
        }
        if !out.is_empty() {
            s.write_all(&out)?;
            out.clear();
        }
        if load.qos == 0 {
            done = sent;
            continue;
        }
        if !buf.fill(s)? {
            return Err(io::Error::other("the broker went silent"));
        }
        buf.packets(|first, body| match first >> 4 {
            4 | 7 => done += 1,                                       // PUBACK, PUBCOMP
            5 => out.extend_from_slice(&[0x62, 2, body[0], body[1]]), // PUBREC -> PUBREL
            _ => {}
        });
        pause();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::{decode, DecodeOptions, Packet};

    /// A QoS 1 PUBLISH on `t` with packet id 7 and `len` payload bytes, as the
    /// ceiling's publisher writes it.
    fn publish(len: usize) -> Vec<u8> {
        let mut body = Vec::new();
        put_str(&mut body, "t");
        body.extend_from_slice(&7u16.to_be_bytes());
        body.resize(body.len() + len, 0xA5);
        let mut out = Vec::new();
        put_packet(&mut out, 0x32, &body);
        out
    }

    /// The hand-encoded packets are valid MQTT for every size of the Remaining Length
    /// (one to three bytes), and the reader splits a stream of them at their
    /// boundaries, keeping a packet that is not whole for the next read.
    #[test]
    fn packets_encode_and_split_at_every_length_size() {
        let mut stream = Vec::new();
        let lens = [0, 118, 119, 16_378, 16_379, 2_000_000];
        for len in lens {
            let p = publish(len);
            let Ok(Some((Packet::Publish(decoded), used))) = decode(&p, &DecodeOptions::default())
            else {
                panic!("not a PUBLISH: {len}");
            };
            assert_eq!((decoded.payload.len(), used), (len, p.len()));
            stream.extend_from_slice(&p);
        }
        let mut buf = ReadBuf::new();
        let cut = stream.len() - 5;
        buf.data[..cut].copy_from_slice(&stream[..cut]);
        buf.end = cut;
        let mut seen = Vec::new();
        buf.packets(|first, body| {
            assert_eq!((first, &body[..5]), (0x32, &[0, 1, b't', 0, 7][..]));
            seen.push(body.len() - 5);
        });
        assert_eq!(seen, lens[..5], "the last one is not whole yet");
        let tail = stream.len() - buf.at;
        buf.data.copy_within(buf.at..buf.end, 0);
        (buf.end, buf.at) = (buf.end - buf.at, 0);
        buf.data[buf.end..tail].copy_from_slice(&stream[cut..]);
        buf.end = tail;
        buf.packets(|_, body| seen.push(body.len() - 5));
        assert_eq!(seen, lens);
    }
}
