//! Liveness over the model connection (see `model`): whatever the broker's pace, its
//! in-flight window and the client's read pacing and acknowledgement coalescing,
//! every message arrives, in order and once, and every publish of the same client
//! meanwhile is acknowledged. A stall (a wait nobody polls, a mark nobody lowers, an
//! acknowledgement held with no timer) fails a case with the case's settings.
//!
//! The cases are drawn from a fixed seed, so a failure reproduces: 30 of them, or
//! `LIVENESS_CASES` (a longer soak), from `LIVENESS_SEED` if set.

mod model;

use std::collections::VecDeque;
use std::pin::pin;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use mqtt_client::{AckCoalescing, Client, Options, QoS, Runtime};

use model::{accept_subscriber, block_on, next_connection, send, try_packet, Model, Shared};

/// How the broker and the client behave in one case.
#[derive(Debug, Clone, Copy)]
struct Case {
    qos: u8,
    /// Messages the broker sends.
    messages: u32,
    /// QoS 1/2 messages the broker keeps unacknowledged at most.
    window: usize,
    /// Segments per burst, and PUBLISH packets per segment, at most.
    burst: u32,
    per_segment: u32,
    /// How long the broker waits for the client between bursts.
    gap: Duration,
    read_pacing: Duration,
    coalescing: AckCoalescing,
    /// QoS 1 messages the client publishes meanwhile.
    publishes: u32,
}

/// xorshift64*: small, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.next() % from.len() as u64) as usize]
    }

    /// In `1..=max`.
    fn upto(&mut self, max: u32) -> u32 {
        (self.next() % u64::from(max)) as u32 + 1
    }
}

fn case(rng: &mut Rng) -> Case {
    let qos = rng.pick(&[0, 1, 2]);
    Case {
        qos,
        messages: if qos == 2 { 600 } else { 1000 },
        window: rng.pick(&[1, 7, 32, 100, 1000]),
        burst: rng.upto(12),
        per_segment: rng.upto(6),
        gap: Duration::from_micros(rng.pick(&[0, 50, 300, 1500])),
        read_pacing: Duration::from_millis(rng.pick(&[0, 1, 2])),
        coalescing: rng.pick(&[AckCoalescing::Off, AckCoalescing::Qos2, AckCoalescing::All]),
        publishes: rng.pick(&[0, 300]),
    }
}

fn publish_packet(qos: u8, id: u16, n: u32) -> Vec<u8> {
    let mut p = vec![0x30 | (qos << 1), 0, 0, 3, b'm', b'/', b't'];
    if qos > 0 {
        p.extend_from_slice(&id.to_be_bytes());
    }
    p.extend_from_slice(&n.to_be_bytes());
    p[1] = (p.len() - 2) as u8;
    p
}

fn ack(kind: u8, id: u16) -> Vec<u8> {
    let [hi, lo] = id.to_be_bytes();
    vec![kind, 2, hi, lo]
}

/// The broker: CONNACK and SUBACK, then the case's messages in bursts within its
/// window, answering the client's packets between bursts, until DISCONNECT.
fn broker(wire: Shared, c: Case, seed: u64) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut rng = Rng(seed);
        let mut at = accept_subscriber(&wire, c.qos);
        let (mut next, mut inflight) = (0u32, VecDeque::<u16>::new());
        let give_up = Instant::now() + Duration::from_secs(30);
        while Instant::now() < give_up {
            let room = |inflight: &VecDeque<u16>| c.qos == 0 || inflight.len() < c.window;
            if next < c.messages && room(&inflight) {
                let mut segments = Vec::new();
                'burst: for _ in 0..rng.upto(c.burst) {
                    let mut segment = Vec::new();
                    for _ in 0..rng.upto(c.per_segment) {
                        if next == c.messages || !room(&inflight) {
                            segments.push(segment);
                            break 'burst;
                        }
                        let id = (next % 65_535) as u16 + 1;
                        segment.extend_from_slice(&publish_packet(c.qos, id, next));
                        if c.qos > 0 {
                            inflight.push_back(id);
                        }
                        next += 1;
                    }
                    segments.push(segment);
                }
                segments.retain(|s| !s.is_empty());
                send(&wire, segments);
            }
            let mut wait = c.gap;
            while let Some((first, id)) = try_packet(&wire, &mut at, wait) {
                wait = Duration::ZERO;
                match first >> 4 {
                    3 => send(&wire, [ack(0x40, id)]), // the client's QoS 1 PUBLISH
                    4 | 7 => inflight.retain(|&i| i != id), // PUBACK, PUBCOMP
                    5 => send(&wire, [ack(0x62, id)]), // PUBREC -> PUBREL
                    12 => send(&wire, [vec![0xD0, 0]]),
                    14 => return,
                    t => panic!("unexpected packet type {t}"),
                }
            }
        }
    })
}

/// The client's publishes while it receives, each acknowledged.
fn publisher(client: Client, n: u32) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        block_on(async {
            let mut acks = Vec::new();
            for i in 0..n {
                let ack = client
                    .queue_publish("p/t", i.to_be_bytes().to_vec(), QoS::AtLeastOnce, false)
                    .await
                    .expect("queued");
                acks.push(ack);
            }
            for ack in acks {
                ack.await.expect("PUBACK");
            }
        })
    })
}

fn run(c: Case, seed: u64) -> Result<(), String> {
    let wire = Shared::default();
    next_connection(&wire);
    let broker = broker(wire.clone(), c, seed);
    let opts = Options::new("127.0.0.1", 1883)
        .client_id("liveness")
        .keep_alive(Duration::from_secs(600))
        .max_inflight(100)
        .read_pacing(c.read_pacing)
        .ack_coalescing(c.coalescing)
        .reconnect(None);
    let (client, event_loop) = mqtt_client::new_client::<Model>(opts).expect("options");
    let looping = thread::spawn(move || block_on(event_loop.run()));
    let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][usize::from(c.qos)];
    let mut sub = block_on(client.subscribe("m/t", qos)).expect("SUBACK");
    let publishing = publisher(client.clone(), c.publishes);
    let deadline = Instant::now() + Duration::from_secs(10);
    for n in 0..c.messages {
        let next = pin!(sub.recv());
        let timeout = pin!(Model::sleep_until(deadline));
        match block_on(select(next, timeout)) {
            Either::Left((Some(m), _)) if m.payload() == &n.to_be_bytes()[..] => {}
            Either::Left((Some(m), _)) => {
                return Err(format!("message {n} expected, got {:?}", m.payload()));
            }
            Either::Left((None, _)) => return Err(format!("subscription ended at {n}")),
            Either::Right(_) => {
                let w = wire.0.lock().unwrap();
                return Err(format!(
                    "message {n} not received in 10 s: {} bytes wait under a mark of {}",
                    w.queued, w.mark
                ));
            }
        }
    }
    publishing.join().map_err(|_| "the publishes failed")?;
    block_on(client.disconnect()).map_err(|e| format!("disconnect: {e}"))?;
    looping
        .join()
        .expect("event loop")
        .map_err(|e| format!("event loop: {e}"))?;
    broker.join().map_err(|_| "the broker failed")?;
    Ok(())
}

#[test]
fn every_message_arrives_whatever_the_pace() {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let mut rng = Rng(env("LIVENESS_SEED").unwrap_or(0x5EED_2026_1207) | 1);
    for i in 0..env("LIVENESS_CASES").unwrap_or(30) {
        let c = case(&mut rng);
        let seed = rng.next() | 1;
        if let Err(e) = run(c, seed) {
            panic!("case {i} ({c:?}, broker seed {seed:#x}): {e}");
        }
    }
}
