//! A hostile broker: a TCP server on 127.0.0.1 that answers CONNECT with whatever a
//! test scripts, in raw bytes (valid packets from the mqtt-proto encoder, invalid
//! ones written by hand). For each case the client must end the connection with a
//! typed reason (seen both in `connection_events()` and in the event loop's result),
//! never panic, and keep its memory bounded: the test measures the process's peak
//! resident set (`VmHWM`, reset per case through `/proc/self/clear_refs`) and the
//! heap's peak (a counting allocator) around each case and prints both
//! (`cargo test -p mqtt-tokio --test hostile_broker -- --nocapture`).
//!
//! A test binary of its own, its cases one at a time: memory figures of one case are
//! not mixed with another's, nor with the fault tests' streams.

#![allow(unsafe_code)] // a global allocator is unsafe to implement

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mqtt_session::proto::{
    decode, Connack, ConnectReturnCode, DecodeError, DecodeOptions, Packet, PacketId, PacketType,
    Publish, QosPid, TopicName,
};
use mqtt_session::ProtocolError;
use mqtt_tokio::{Cause, ClientError, ConnectionEvent, DisconnectReason, Options};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One case at a time, so that each one's memory is its own.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs a case alone, on a runtime of its own.
fn serial<F: std::future::Future>(case: F) -> F::Output {
    let _alone = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(case)
}

const MIB: usize = 1 << 20;

/// `VmHWM` (peak resident set) of this process, in KiB.
fn peak_rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Memory around one case.
struct Memory {
    rss_before_kib: usize,
    rss_reset: bool,
    heap_before: usize,
}

impl Memory {
    fn start() -> Memory {
        // "5" resets VmHWM to the current resident set (Linux 4.0+).
        let rss_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        LARGEST.store(0, Ordering::Relaxed);
        Memory {
            rss_before_kib: peak_rss_kib(),
            rss_reset,
            heap_before: LIVE.load(Ordering::Relaxed),
        }
    }

    /// Prints the figures; returns (peak RSS growth, peak heap growth, largest
    /// allocation), in bytes.
    fn finish(self, case: &str) -> (usize, usize, usize) {
        let rss_after = peak_rss_kib();
        let rss_growth = rss_after.saturating_sub(self.rss_before_kib) * 1024;
        let heap_growth = PEAK
            .load(Ordering::Relaxed)
            .saturating_sub(self.heap_before);
        let largest = LARGEST.load(Ordering::Relaxed);
        eprintln!(
            "{case}: peak RSS {} KiB -> {rss_after} KiB (+{} KiB{}); heap peak +{} KiB; largest allocation {} KiB",
            self.rss_before_kib,
            rss_growth / 1024,
            if self.rss_reset { "" } else { ", not reset" },
            heap_growth / 1024,
            largest / 1024
        );
        (rss_growth, heap_growth, largest)
    }
}

fn enc(p: Packet<&[u8]>) -> Vec<u8> {
    let mut buf = vec![0u8; p.encoded_len().expect("encodable")];
    let n = p.encode(&mut buf).expect("encode");
    buf.truncate(n);
    buf
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn connack() -> Vec<u8> {
    enc(Packet::Connack(Connack {
        session_present: false,
        code: ConnectReturnCode::Accepted,
    }))
}

/// A QoS 0 PUBLISH with raw topic bytes (so they may be invalid UTF-8).
fn publish_raw_topic(topic: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    let body = 2 + topic.len() + payload.len();
    assert!(body < 128);
    out.push(body as u8);
    out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    out.extend_from_slice(topic);
    out.extend_from_slice(payload);
    out
}

/// The client's side of the conversation, as seen by the hostile broker.
struct Peer {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    /// The next packet from the client (type and packet id), or `None` once it
    /// closed the connection (or a read timed out).
    fn next(&mut self) -> Option<(PacketType, Option<u16>)> {
        match self.read_packet() {
            Next::Packet(p) => Some(p),
            Next::Closed | Next::Quiet => None,
        }
    }

    fn read_packet(&mut self) -> Next {
        loop {
            let decoded =
                decode(&self.buf, &DecodeOptions::default()).expect("client sent garbage");
            if let Some((p, used)) = decoded {
                let id = match &p {
                    Packet::Puback(id)
                    | Packet::Pubrec(id)
                    | Packet::Pubrel(id)
                    | Packet::Pubcomp(id)
                    | Packet::Unsuback(id) => Some(id.get()),
                    Packet::Publish(p) => p.qos_pid.packet_id().map(|id| id.get()),
                    Packet::Subscribe(s) => Some(s.packet_id.get()),
                    _ => None,
                };
                let summary = (p.packet_type(), id);
                self.buf.drain(..used);
                return Next::Packet(summary);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Next::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Next::Quiet
                }
                Err(_) => return Next::Closed, // reset: closed too
            }
        }
    }

    /// Writes bytes; false when the client has closed the connection.
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Reads until the client closes the connection (or nothing comes for 10 s):
    /// the packets it sent meanwhile, and whether it closed.
    fn until_closed(&mut self) -> (Vec<(PacketType, Option<u16>)>, bool) {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut got = Vec::new();
        loop {
            match self.read_packet() {
                Next::Packet(p) => got.push(p),
                Next::Closed => return (got, true),
                Next::Quiet => return (got, false),
            }
        }
    }
}

enum Next {
    Packet((PacketType, Option<u16>)),
    Closed,
    Quiet,
}

/// Accepts one connection on 127.0.0.1, reads its CONNECT, then runs `script`.
/// The script's result comes back from the handle.
fn hostile<T: Send + 'static>(
    script: impl FnOnce(&mut Peer) -> T + Send + 'static,
) -> (u16, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        let mut peer = Peer {
            stream,
            buf: Vec::new(),
        };
        let first = peer.next().expect("CONNECT");
        assert_eq!(first.0, PacketType::Connect);
        script(&mut peer)
    });
    (port, handle)
}

fn options(port: u16, id: &str) -> Options {
    Options::parse(&format!("mqtt://127.0.0.1:{port}"))
        .unwrap()
        .client_id(id)
        .keep_alive(Duration::from_secs(5))
        .reconnect(None)
}

/// Runs a client against a hostile broker until its event loop ends; returns why
/// the connection ended (from the connection events; the loop's result must say the
/// same) and whether it connected first. Fails if the event loop panicked.
async fn run_client(options: Options) -> (Cause, bool, mqtt_tokio::Client) {
    run_client_with(options, |_| {}).await
}

/// [`run_client`], with commands given to the client (`prepare`) before its event
/// loop starts.
async fn run_client_with(
    options: Options,
    prepare: impl FnOnce(&mqtt_tokio::Client),
) -> (Cause, bool, mqtt_tokio::Client) {
    let (client, event_loop) = mqtt_tokio::client(options).unwrap();
    let mut events = client.connection_events();
    prepare(&client);
    let task = tokio::spawn(event_loop.run());
    let result = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the event loop ends within 20 s")
        .unwrap_or_else(|e| panic!("the event loop panicked: {e}"));
    let mut connected = false;
    let mut cause = None;
    while let Some(ev) = events.recv().await {
        match ev {
            ConnectionEvent::Connected { .. } => connected = true,
            ConnectionEvent::Disconnected { cause: c } => cause = Some(c),
            _ => {}
        }
    }
    let cause = cause.expect("a Disconnected event");
    match &result {
        Err(ClientError::Connection(c)) => assert_eq!(
            format!("{c:?}"),
            format!("{cause:?}"),
            "the event loop's result and the event agree"
        ),
        other => panic!("unexpected ending: {other:?}"),
    }
    (cause, connected, client)
}

fn protocol(cause: &Cause) -> ProtocolError {
    match cause {
        Cause::Session(DisconnectReason::Protocol(e)) => *e,
        other => panic!("not a protocol error: {other:?}"),
    }
}

/// One scripted case: the broker sends `bytes` after CONNACK (when `after_connack`)
/// or instead of it; the client must close with `expected`, having sent nothing
/// back. Memory growth is bounded by `max_growth`.
async fn refused(case: &str, after_connack: bool, bytes: Vec<u8>, expected: ProtocolError) {
    let mem = Memory::start();
    let (port, server) = hostile(move |peer| {
        if after_connack {
            peer.send(&connack());
        }
        peer.send(&bytes);
        peer.until_closed()
    });
    let (cause, connected, _client) = run_client(options(port, case)).await;
    let (replies, closed) = server.join().unwrap();
    let (rss, heap, _) = mem.finish(case);
    assert_eq!(protocol(&cause), expected, "{case}");
    assert_eq!(connected, after_connack, "{case}");
    // [MQTT-4.8.0-1]: the client closes the connection on a protocol violation.
    assert!(closed, "{case}: the client closed the connection");
    assert!(
        replies.iter().all(|(t, _)| *t == PacketType::Disconnect),
        "{case}: nothing but (maybe) DISCONNECT after the violation: {replies:?}"
    );
    assert!(rss < 8 * MIB && heap < 4 * MIB, "{case}: memory grew");
}

// Malformed packets.

#[test]
fn puback_with_bad_fixed_header_flags() {
    serial(async {
        // [MQTT-2.2.2-2]: PUBACK's flags are reserved (0); 0b0010 is malformed.
        let expected = ProtocolError::Decode(DecodeError::InvalidFlags {
            packet_type: PacketType::Puback,
            flags: 0b0010,
        });
        refused(
            "bad-flags-puback",
            true,
            vec![0x42, 0x02, 0x00, 0x01],
            expected,
        )
        .await;
    })
}

#[test]
fn pubrel_with_bad_fixed_header_flags() {
    serial(async {
        // [MQTT-3.6.1-1]: PUBREL's flags must be 0b0010.
        let expected = ProtocolError::Decode(DecodeError::InvalidFlags {
            packet_type: PacketType::Pubrel,
            flags: 0,
        });
        refused(
            "bad-flags-pubrel",
            true,
            vec![0x60, 0x02, 0x00, 0x01],
            expected,
        )
        .await;
    })
}

#[test]
fn publish_with_qos_3() {
    serial(async {
        // [MQTT-3.3.1-4]: a PUBLISH with both QoS bits set is malformed.
        let expected = ProtocolError::Decode(DecodeError::InvalidQos);
        let bytes = vec![0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01];
        refused("publish-qos3", true, bytes, expected).await;
    })
}

#[test]
fn remaining_length_of_five_bytes() {
    serial(async {
        // Section 2.2.3: the remaining length takes at most four bytes; a fifth
        // continuation byte is malformed [MQTT-4.8.0-1].
        let expected = ProtocolError::Decode(DecodeError::MalformedRemainingLength);
        let bytes = vec![0x30, 0xff, 0xff, 0xff, 0xff, 0x01];
        refused("varint-5-bytes", true, bytes, expected).await;
    })
}

#[test]
fn topic_that_is_not_utf8() {
    serial(async {
        // [MQTT-1.5.3-1]: 0xC3 0x28 is not well-formed UTF-8.
        let expected = ProtocolError::Decode(DecodeError::InvalidUtf8);
        refused(
            "topic-bad-utf8",
            true,
            publish_raw_topic(&[0xc3, 0x28], b"x"),
            expected,
        )
        .await;
    })
}

#[test]
fn topic_with_an_encoded_surrogate() {
    serial(async {
        // [MQTT-1.5.3-1]: UTF-16 surrogates (here U+D800 as ED A0 80) are not allowed.
        let expected = ProtocolError::Decode(DecodeError::InvalidUtf8);
        let bytes = publish_raw_topic(&[b'a', 0xed, 0xa0, 0x80], b"x");
        refused("topic-surrogate", true, bytes, expected).await;
    })
}

#[test]
fn topic_with_a_null_character() {
    serial(async {
        // [MQTT-1.5.3-2]: U+0000 is not allowed in a string.
        let expected = ProtocolError::Decode(DecodeError::NullCharacter);
        refused(
            "topic-null",
            true,
            publish_raw_topic(b"a\0b", b"x"),
            expected,
        )
        .await;
    })
}

#[test]
fn topic_with_a_wildcard() {
    serial(async {
        // [MQTT-3.3.2-2]: a topic name in PUBLISH must not contain wildcards.
        let expected = ProtocolError::Decode(DecodeError::WildcardInTopicName);
        refused(
            "topic-wildcard",
            true,
            publish_raw_topic(b"a/+", b"x"),
            expected,
        )
        .await;
    })
}

#[test]
fn reserved_packet_type() {
    serial(async {
        let expected = ProtocolError::Decode(DecodeError::ReservedPacketType(15));
        refused("type-15", true, vec![0xf0, 0x00], expected).await;
    })
}

// Packets a broker must not send now.

#[test]
fn first_packet_not_connack() {
    serial(async {
        // [MQTT-3.2.0-1]: the first packet from the server is CONNACK.
        let expected = ProtocolError::UnexpectedPacket(PacketType::Pingresp);
        refused("no-connack", false, enc(Packet::Pingresp), expected).await;
    })
}

#[test]
fn session_present_on_a_clean_session() {
    serial(async {
        // [MQTT-3.2.2-1]: accepting a clean session, the server sets session present 0.
        let bytes = enc(Packet::Connack(Connack {
            session_present: true,
            code: ConnectReturnCode::Accepted,
        }));
        refused(
            "session-present",
            false,
            bytes,
            ProtocolError::SessionPresentOnCleanSession,
        )
        .await;
    })
}

#[test]
fn packet_only_a_client_sends() {
    serial(async {
        let expected = ProtocolError::UnexpectedPacket(PacketType::Pingreq);
        refused("server-pingreq", true, enc(Packet::Pingreq), expected).await;
    })
}

#[test]
fn connack_flood() {
    serial(async {
        // A second CONNACK is a protocol violation [MQTT-4.8.0-1]: the client closes
        // at the first extra one, whatever follows (10,000 more here, 40 KB).
        let expected = ProtocolError::UnexpectedPacket(PacketType::Connack);
        let flood: Vec<u8> = (0..10_000).flat_map(|_| connack()).collect();
        refused("connack-flood", true, flood, expected).await;
    })
}

#[test]
fn acknowledgements_for_unknown_packet_ids() {
    serial(async {
        // Nothing was published or subscribed: no acknowledgement is expected.
        for (case, packet, packet_type) in [
            (
                "unknown-puback",
                Packet::Puback(pid(42)),
                PacketType::Puback,
            ),
            (
                "unknown-pubrec",
                Packet::Pubrec(pid(43)),
                PacketType::Pubrec,
            ),
            (
                "unknown-pubcomp",
                Packet::Pubcomp(pid(44)),
                PacketType::Pubcomp,
            ),
            (
                "unknown-unsuback",
                Packet::Unsuback(pid(45)),
                PacketType::Unsuback,
            ),
        ] {
            let packet_id = match packet {
                Packet::Puback(id)
                | Packet::Pubrec(id)
                | Packet::Pubcomp(id)
                | Packet::Unsuback(id) => id.get(),
                _ => unreachable!(),
            };
            let expected = ProtocolError::UnknownPacketId {
                packet_type,
                packet_id,
            };
            refused(case, true, enc(packet), expected).await;
        }
    })
}

// Sizes.

/// A fixed header announcing the largest remaining length MQTT can express
/// (268,435,455 bytes), then 32 MiB of body as fast as the client reads: the client
/// refuses the packet from its header alone (the default maximum is 16 MiB) and
/// buffers none of it.
#[test]
fn remaining_length_of_268_mb_is_refused_from_the_header() {
    serial(async {
        let mem = Memory::start();
        let (port, server) = hostile(|peer| {
            peer.send(&connack());
            peer.send(&[0x30, 0xff, 0xff, 0xff, 0x7f]);
            let junk = vec![0x61u8; 64 * 1024];
            let mut sent = 0usize;
            while sent < 32 * MIB && peer.send(&junk) {
                sent += junk.len();
            }
            let (_, closed) = peer.until_closed();
            (sent, closed)
        });
        let (cause, _, _client) = run_client(options(port, "huge-length")).await;
        let (sent, closed) = server.join().unwrap();
        let (rss, heap, largest) = mem.finish("remaining-length-268MB");
        eprintln!(
            "remaining-length-268MB: the broker got {} KiB of body out",
            sent / 1024
        );
        assert_eq!(
            protocol(&cause),
            ProtocolError::Decode(DecodeError::PacketTooLarge {
                size: 268_435_455 + 5,
                max: 16 * 1024 * 1024
            })
        );
        assert!(closed);
        assert!(rss < 8 * MIB, "peak RSS grew by {} KiB", rss / 1024);
        assert!(heap < 4 * MIB, "heap peak grew by {} KiB", heap / 1024);
        assert!(largest < MIB, "an allocation of {largest} bytes");
    })
}

/// The same header with the client's maximum raised to MQTT's own (268,435,460
/// bytes), and then a trickle of 1 KiB and silence: the client waits for the body
/// without reserving room for the announced size, and its keepalive ends the
/// connection (no PINGRESP can get past the unfinished packet).
#[test]
fn remaining_length_of_268_mb_allowed_is_not_reserved() {
    serial(async {
        let mem = Memory::start();
        let (port, server) = hostile(|peer| {
            peer.send(&connack());
            peer.send(&[0x30, 0xff, 0xff, 0xff, 0x7f]);
            peer.send(&[0x61; 1024]);
            peer.until_closed()
        });
        let opts = options(port, "huge-allowed")
            .max_packet_size(DecodeOptions::MAX_PACKET_SIZE)
            .keep_alive(Duration::from_secs(1));
        let started = Instant::now();
        let (cause, _, _client) = run_client(opts).await;
        let (replies, closed) = server.join().unwrap();
        let (rss, heap, largest) = mem.finish("remaining-length-268MB-allowed");
        assert!(
            matches!(cause, Cause::Session(DisconnectReason::PingTimeout)),
            "{cause:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(closed);
        assert!(
            replies.iter().any(|(t, _)| *t == PacketType::Pingreq),
            "{replies:?}"
        );
        assert!(rss < 8 * MIB, "peak RSS grew by {} KiB", rss / 1024);
        assert!(heap < 4 * MIB, "heap peak grew by {} KiB", heap / 1024);
        assert!(largest < MIB, "an allocation of {largest} bytes");
    })
}

/// A PUBLISH larger than the configured maximum (1 KiB here): refused once its
/// fixed header is in, before the body is sent at all.
#[test]
fn packet_larger_than_the_configured_maximum() {
    serial(async {
        let mem = Memory::start();
        let body_len = 1997u16; // 2000 bytes in all with the 3-byte fixed header
        let (port, server) = hostile(move |peer| {
            peer.send(&connack());
            // Fixed header only: 0x30, remaining length 1997 as a 2-byte varint.
            peer.send(&[0x30, (body_len & 0x7f) as u8 | 0x80, (body_len >> 7) as u8]);
            peer.until_closed()
        });
        let (cause, _, _client) = run_client(options(port, "too-big").max_packet_size(1024)).await;
        let (_, closed) = server.join().unwrap();
        mem.finish("packet-over-maximum");
        assert_eq!(
            protocol(&cause),
            ProtocolError::Decode(DecodeError::PacketTooLarge {
                size: 2000,
                max: 1024
            })
        );
        assert!(closed, "refused from the header, before any body came");
    })
}

// Acknowledgement rules the client must follow, not refuse.

/// PUBREL for identifiers the client holds no state for: it answers PUBCOMP for
/// each, with the same identifier, in order, and stays connected [MQTT-4.3.3-2] (its
/// earlier PUBCOMP may have been lost). A PUBLISH with one of those identifiers
/// afterwards is a new message [MQTT-4.3.3-2], delivered and answered with PUBREC.
#[test]
fn pubrel_for_unknown_ids_is_answered_with_pubcomp() {
    serial(async {
        let mem = Memory::start();
        const IDS: u16 = 1000;
        let (port, server) = hostile(|peer| {
            peer.send(&connack());
            let pubrels: Vec<u8> = (1..=IDS)
                .flat_map(|i| enc(Packet::Pubrel(pid(i))))
                .collect();
            peer.send(&pubrels);
            let mut pubcomps = Vec::new();
            while pubcomps.len() < usize::from(IDS) {
                match peer.next() {
                    Some((PacketType::Pubcomp, Some(id))) => pubcomps.push(id),
                    Some((PacketType::Pingreq, _)) => {}
                    other => panic!("expected PUBCOMP, got {other:?}"),
                }
            }
            let publish = enc(Packet::Publish(Publish {
                dup: false,
                qos_pid: QosPid::ExactlyOnce(pid(7)),
                retain: false,
                topic: TopicName::new("hostile/new").unwrap(),
                payload: &b"again"[..],
            }));
            peer.send(&publish);
            let pubrec = peer.next();
            peer.send(&enc(Packet::Pubrel(pid(7))));
            let pubcomp = peer.next();
            // Then a clean end from the broker's side.
            let _ = peer.stream.shutdown(std::net::Shutdown::Both);
            (pubcomps, pubrec, pubcomp)
        });
        let (cause, connected, client) = run_client(options(port, "unknown-pubrel")).await;
        let (pubcomps, pubrec, pubcomp) = server.join().unwrap();
        mem.finish("unknown-pubrel");
        assert!(connected);
        assert_eq!(
            pubcomps,
            (1..=IDS).collect::<Vec<_>>(),
            "PUBCOMP per PUBREL, in order"
        );
        assert_eq!(pubrec, Some((PacketType::Pubrec, Some(7))));
        assert_eq!(pubcomp, Some((PacketType::Pubcomp, Some(7))));
        assert_eq!(
            client.status().messages_received,
            1,
            "the new message was delivered"
        );
        // The connection ended only because the broker closed it.
        assert!(
            matches!(cause, Cause::Session(DisconnectReason::TransportClosed)),
            "{cause:?}"
        );
    })
}

// Protocol violations that need the client to have something in flight.

/// PUBREC for a QoS 1 publish: an acknowledgement of the wrong kind for the packet
/// identifier in flight is refused like an unknown one.
#[test]
fn pubrec_for_a_qos1_publish() {
    serial(async {
        let mem = Memory::start();
        let (port, server) = hostile(|peer| {
            peer.send(&connack());
            let publish = peer.next();
            if let Some((PacketType::Publish, Some(id))) = publish {
                peer.send(&enc(Packet::Pubrec(pid(id))));
            }
            (publish, peer.until_closed().1)
        });
        let (cause, _, _client) = run_client_with(options(port, "wrong-ack"), |c| {
            // The Ack is dropped: the message is sent all the same.
            drop(
                c.try_publish("hostile/q1", "x", mqtt_tokio::QoS::AtLeastOnce, false)
                    .unwrap(),
            );
        })
        .await;
        let (publish, closed) = server.join().unwrap();
        mem.finish("pubrec-for-qos1");
        let Some((PacketType::Publish, Some(id))) = publish else {
            panic!("no PUBLISH: {publish:?}");
        };
        assert_eq!(
            protocol(&cause),
            ProtocolError::UnknownPacketId {
                packet_type: PacketType::Pubrec,
                packet_id: id
            }
        );
        assert!(closed);
    })
}

/// A SUBACK with two return codes for a SUBSCRIBE of one filter [MQTT-3.8.4-5].
#[test]
fn suback_with_the_wrong_number_of_codes() {
    serial(async {
        let mem = Memory::start();
        let (port, server) = hostile(|peer| {
            peer.send(&connack());
            let subscribe = peer.next();
            if let Some((PacketType::Subscribe, Some(id))) = subscribe {
                let [hi, lo] = id.to_be_bytes();
                peer.send(&[0x90, 0x04, hi, lo, 0x01, 0x01]);
            }
            (subscribe, peer.until_closed().1)
        });
        let (cause, _, _client) = run_client_with(options(port, "suback-count"), |c| {
            drop(tokio::spawn(
                c.subscribe("hostile/#", mqtt_tokio::QoS::AtLeastOnce),
            ));
        })
        .await;
        let (subscribe, closed) = server.join().unwrap();
        mem.finish("suback-count");
        assert!(matches!(subscribe, Some((PacketType::Subscribe, Some(_)))));
        assert_eq!(
            protocol(&cause),
            ProtocolError::SubackCountMismatch {
                expected: 1,
                got: 2
            }
        );
        assert!(closed);
    })
}

/// A broker that accepts the connection and never answers CONNECT: the client
/// gives up after its connect timeout.
#[test]
fn no_connack_at_all() {
    serial(async {
        let (port, server) = hostile(|peer| peer.until_closed());
        let started = Instant::now();
        let opts = options(port, "silent").connect_timeout(Duration::from_secs(1));
        let (cause, connected, _client) = run_client(opts).await;
        let took = started.elapsed();
        let (_, closed) = server.join().unwrap();
        assert!(
            matches!(cause, Cause::Session(DisconnectReason::ConnackTimeout)),
            "{cause:?}"
        );
        assert!(!connected && closed);
        assert!(took >= Duration::from_secs(1), "{took:?}");
    })
}
