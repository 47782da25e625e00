//! Read pacing against a broker that keeps only a window of messages in flight to
//! a subscriber and sends the next ones only once they are acknowledged (rumqttd
//! keeps 100). Every paced wait then holds the whole stream up, though each still
//! brings a full window of packets; the pacer's probe must see the stream run
//! slower under longer waits and turn pacing off.
//!
//! The mirror case: a publisher whose messages wait for an in-flight window that
//! one wait would fill must read the acknowledgements that open it at once.
//!
//! The brokers are scripted here (a thread on 127.0.0.1), so that the window is exact
//! and the test does not depend on another broker's timing. What is checked is how
//! many waits raised the receive low-water mark (see [`low_water`]): one per window
//! without the probe, a probe's worth with it.
//!
//! [`low_water`]: crate::low_water

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use mqtt_client::{Options, QoS};
use mqtt_proto::{decode, DecodeOptions, Packet};

use crate::low_water::{marks, reset_marks};
use crate::{start, Harness};

/// Messages per window: rumqttd's.
const WINDOW: u16 = 100;
/// Windows streamed.
const WINDOWS: u32 = 1000;

/// Reads the client's packets into `buf`; returns each one's first byte and packet
/// id (0 when it has none).
fn next_packet(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u8, u16)> {
    loop {
        match decode(buf, &DecodeOptions::default()) {
            Ok(Some((p, used))) => {
                let id = match &p {
                    Packet::Puback(id) => id.get(),
                    Packet::Publish(p) => p.qos_pid.packet_id().map_or(0, |id| id.get()),
                    Packet::Subscribe(s) => s.packet_id.get(),
                    _ => 0,
                };
                let first = buf[0];
                buf.drain(..used);
                return Some((first, id));
            }
            Ok(None) => {}
            Err(e) => panic!("the client sent garbage: {e:?}"),
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Accepts the client and answers its CONNECT with a CONNACK; returns the stream
/// and what was read past the CONNECT.
fn connected(listener: &TcpListener) -> (TcpStream, Vec<u8>) {
    let (mut s, _) = listener.accept().expect("the client connects");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    let (first, _) = next_packet(&mut s, &mut buf).expect("CONNECT");
    assert_eq!(first >> 4, 1, "CONNECT first");
    s.write_all(&[0x20, 2, 0, 0]).unwrap();
    (s, buf)
}

/// A QoS 1 PUBLISH on `w/t` with packet id `id` and the message number as payload.
fn publish(id: u16, n: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x32, 11, 0, 3, b'w', b'/', b't']);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&n.to_be_bytes());
}

/// The broker: CONNACK, SUBACK, then `WINDOWS` windows of `WINDOW` messages, each
/// sent in one write once the previous one is all acknowledged; then it waits for
/// the client to close.
fn broker(listener: TcpListener) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let (mut s, mut buf) = connected(&listener);
        let (first, id) = next_packet(&mut s, &mut buf).expect("SUBSCRIBE");
        assert_eq!(first >> 4, 8, "then SUBSCRIBE");
        let [hi, lo] = id.to_be_bytes();
        s.write_all(&[0x90, 3, hi, lo, 1]).unwrap();
        let mut out = Vec::new();
        for w in 0..WINDOWS {
            out.clear();
            for id in 1..=WINDOW {
                publish(id, w * u32::from(WINDOW) + u32::from(id) - 1, &mut out);
            }
            s.write_all(&out).unwrap();
            let mut acked = 0;
            while acked < WINDOW {
                let (first, id) = next_packet(&mut s, &mut buf).expect("the client acknowledges");
                match first >> 4 {
                    4 => {
                        assert!((1..=WINDOW).contains(&id), "PUBACK {id} of this window");
                        acked += 1;
                    }
                    12 => s.write_all(&[0xD0, 0]).unwrap(), // PINGRESP
                    t => panic!("unexpected packet type {t} while streaming"),
                }
            }
        }
        while next_packet(&mut s, &mut buf).is_some() {}
    })
}

/// Streams the windows to a subscriber paced by 5 ms waits: every message arrives
/// in order, and pacing gave way, judged by the low-water marks raised.
/// `H::R` must be a [`Recording`](crate::low_water::Recording) of a runtime that
/// sets the mark; not to be run beside another recording test.
pub async fn pacing_gives_way_to_a_broker_window<H: Harness>() {
    reset_marks();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = broker(listener);
    let (client, event_loop) = start::<H>(
        Options::new("127.0.0.1", port)
            .client_id("windowed")
            // Long waits: the usual waits' rate beats that of the probe's longer
            // ones clearly even in a debug build.
            .read_pacing(Duration::from_millis(5))
            .reconnect(None),
    );
    let mut sub = client.subscribe("w/t", QoS::AtLeastOnce).await.unwrap();
    for n in 0..WINDOWS * u32::from(WINDOW) {
        let m = sub.recv().await.expect("subscribed");
        assert_eq!(m.payload(), &n.to_be_bytes()[..]);
    }
    client.disconnect().await.unwrap();
    assert!(event_loop.await.is_ok());
    server.join().expect("the broker's script held");
    let raised: usize = marks()
        .iter()
        .map(|m| m.iter().filter(|&&b| b > 1).count())
        .sum();
    // Without the probe a wait follows every window: about WINDOWS raises. With it,
    // two pairs of probe windows (long waits, then usual ones) of 6 waits each, and
    // two more when pacing is retried 10 s later.
    eprintln!("windowed broker: {raised} paced waits for {WINDOWS} windows");
    assert!(raised > 0, "the stream was paced at first");
    assert!(
        raised < WINDOWS as usize / 3,
        "pacing kept waiting on a broker window: {raised} waits for {WINDOWS} windows"
    );
}

/// A broker that answers every QoS 1 PUBLISH with its PUBACK, those of one read in
/// one write, until the client closes.
fn acker(listener: TcpListener) -> JoinHandle<u32> {
    std::thread::spawn(move || {
        let (mut s, mut buf) = connected(&listener);
        let mut published = 0;
        let mut acks = Vec::new();
        while let Some((first, id)) = next_packet(&mut s, &mut buf) {
            match first >> 4 {
                3 => {
                    published += 1;
                    let [hi, lo] = id.to_be_bytes();
                    acks.extend_from_slice(&[0x40, 2, hi, lo]);
                }
                12 => acks.extend_from_slice(&[0xD0, 0]),
                14 => break, // DISCONNECT
                t => panic!("unexpected packet type {t}"),
            }
            // Whole packets left in the buffer are answered with the same write.
            if !matches!(decode(&buf, &DecodeOptions::default()), Ok(Some(_))) && !acks.is_empty() {
                s.write_all(&acks).unwrap();
                acks.clear();
            }
        }
        published
    })
}

/// A publisher with a window of 20 queues `N` QoS 1 messages at once: while they
/// wait for the window, which a wait would fill, its reads of the broker's
/// acknowledgements are paced once per 20 ms at most (the low-water mark raised),
/// not once per window, and every message is acknowledged.
/// `H::R` as for [`pacing_gives_way_to_a_broker_window`].
pub async fn a_publisher_waiting_for_its_window_is_not_paced<H: Harness>() {
    const N: u32 = 20_000;
    reset_marks();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = acker(listener);
    let (client, event_loop) = start::<H>(
        Options::new("127.0.0.1", port)
            .client_id("window-bound")
            .read_pacing(Duration::from_millis(1))
            .max_inflight(20)
            .reconnect(None),
    );
    let started = std::time::Instant::now();
    let mut acks = Vec::new();
    for n in 0..N {
        let ack = client
            .queue_publish("w/t", n.to_be_bytes().to_vec(), QoS::AtLeastOnce, false)
            .await
            .unwrap();
        acks.push(ack);
    }
    for ack in acks {
        ack.await.expect("acknowledged");
    }
    client.disconnect().await.unwrap();
    assert!(event_loop.await.is_ok());
    assert_eq!(server.join().expect("the broker's script held"), N);
    let raised: usize = marks()
        .iter()
        .map(|m| m.iter().filter(|&&b| b > 1).count())
        .sum();
    eprintln!("window-bound publisher: {raised} paced waits for {N} messages");
    // A wait per window would be a thousand. With the rule, a wait fills this window
    // (20, where a wait brings more than 5), so one comes each RECHECK (20 ms) at
    // most; the probe may turn pacing off before that.
    let bound = started.elapsed().as_millis() as usize / 20 + 10;
    assert!(
        raised <= bound,
        "reads paced while our publishes waited: {raised} waits, over {bound}"
    );
}
