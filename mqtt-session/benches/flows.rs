//! Complete publish flows through the session alone, against a minimal hand-written
//! peer: pre-encoded PUBACK / PUBREC / PUBCOMP bytes, no broker logic, so the figure
//! is the session's own cost.
//!
//! Each iteration publishes 100 messages (a 16-byte topic, a 64-byte payload), drains
//! what the session sends, feeds the 100 acknowledgements the broker would send back
//! (for QoS 2, PUBREC then, after the session's PUBRELs, PUBCOMP), and drains the
//! completion events. Figures are flows per second (`Throughput::Elements`): one
//! flow is a publish, handed out, acknowledged and completed. QoS 0 completes when
//! handed out.
//!
//! The payload is never copied: setup checks that each `Transmit.payload` is the
//! caller's own memory (0 bytes copied per payload).
//!
//! `cargo bench -p mqtt-session --bench flows -- --noplot --measurement-time 3`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mqtt_proto::{Connack, ConnectReturnCode, Packet, PacketId, QoS, TopicName};
use mqtt_session::{Config, Event, Instant, Message, Outcome, Session};

/// Publishes per iteration.
const BATCH: usize = 100;
const PAYLOAD: usize = 64;
const TOPIC: &str = "sensors/0001/val";

/// The peer's acknowledgements, pre-encoded for every packet identifier in the order
/// the session allocates them (1, 2, ..., 65,535, 1, ...), so a batch is one slice.
struct Acks {
    /// Identifiers 1..=65,535 then 1..=BATCH again, 4 bytes each.
    wire: Vec<u8>,
    /// Index of the next identifier (0 is identifier 1).
    next: usize,
}

impl Acks {
    fn new(ack: fn(PacketId) -> Packet<Bytes>) -> Acks {
        let mut wire = BytesMut::new();
        let ids = (1..=u16::MAX).chain(1..=BATCH as u16);
        for id in ids {
            ack(PacketId::new(id).unwrap())
                .encode_to(&mut wire)
                .unwrap();
        }
        assert_eq!(wire.len(), (usize::from(u16::MAX) + BATCH) * 4);
        Acks {
            wire: wire.to_vec(),
            next: 0,
        }
    }

    /// The acknowledgements of the next batch.
    fn batch(&mut self) -> &[u8] {
        let start = self.next * 4;
        self.next = (self.next + BATCH) % usize::from(u16::MAX);
        &self.wire[start..start + BATCH * 4]
    }
}

/// A connected session (CONNECT out, CONNACK in).
fn connected() -> Session {
    let mut s = Session::new(Config::new("bench").unwrap());
    let now = Instant::from_millis(0);
    s.connect(now).unwrap();
    while s.poll_transmit().is_some() {}
    let mut buf = BytesMut::new();
    Packet::<Bytes>::Connack(Connack {
        session_present: false,
        code: ConnectReturnCode::Accepted,
    })
    .encode_to(&mut buf)
    .unwrap();
    s.handle_read(now, &mut buf);
    assert!(matches!(s.poll_event(), Some(Event::Connected { .. })));
    s
}

/// The peer: drains what the session sends, keeping it from the optimizer.
fn drain_transmits(s: &mut Session) {
    while let Some(tx) = s.poll_transmit() {
        black_box(&tx);
    }
}

fn drain_completions(s: &mut Session, outcome: &Outcome) -> usize {
    let mut n = 0;
    while let Some(e) = s.poll_event() {
        if let Event::Completed { outcome: o, .. } = &e {
            n += usize::from(o == outcome);
        }
        black_box(e);
    }
    n
}

/// Zero copies: the payload handed out is the caller's memory.
fn assert_payload_not_copied(qos: QoS) {
    let mut s = connected();
    let payload = Bytes::from(vec![7u8; PAYLOAD]);
    let topic = TopicName::from_static(TOPIC).unwrap();
    s.publish(
        Instant::from_millis(1),
        Message::new(topic, payload.clone(), qos),
    )
    .unwrap();
    let tx = s.poll_transmit().unwrap();
    assert_eq!(tx.payload.len(), PAYLOAD);
    assert_eq!(
        tx.payload.as_ptr(),
        payload.as_ptr(),
        "{qos:?}: payload copied"
    );
}

fn flows(c: &mut Criterion) {
    let now = Instant::from_millis(1);
    let topic = TopicName::from_static(TOPIC).unwrap();
    let payload = Bytes::from(vec![0xA5u8; PAYLOAD]);
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        assert_payload_not_copied(qos);
    }
    println!("bytes copied per payload: 0 (Transmit.payload is the caller's Bytes)");

    let mut g = c.benchmark_group("flows");
    g.throughput(Throughput::Elements(BATCH as u64));

    g.bench_function("qos0", |b| {
        let mut s = connected();
        b.iter(|| {
            for _ in 0..BATCH {
                let m = Message::new(topic.clone(), payload.clone(), QoS::AtMostOnce);
                black_box(s.publish(now, m).unwrap());
            }
            drain_transmits(&mut s);
            assert_eq!(drain_completions(&mut s, &Outcome::Sent), BATCH);
        })
    });

    g.bench_function("qos1", |b| {
        let mut s = connected();
        let mut pubacks = Acks::new(Packet::Puback);
        let mut read = BytesMut::with_capacity(BATCH * 4);
        b.iter(|| {
            for _ in 0..BATCH {
                let m = Message::new(topic.clone(), payload.clone(), QoS::AtLeastOnce);
                black_box(s.publish(now, m).unwrap());
            }
            drain_transmits(&mut s);
            read.extend_from_slice(pubacks.batch());
            s.handle_read(now, &mut read);
            assert_eq!(drain_completions(&mut s, &Outcome::Acknowledged), BATCH);
        })
    });

    g.bench_function("qos2", |b| {
        let mut s = connected();
        let mut pubrecs = Acks::new(Packet::Pubrec);
        let mut pubcomps = Acks::new(Packet::Pubcomp);
        let mut read = BytesMut::with_capacity(BATCH * 4);
        b.iter(|| {
            for _ in 0..BATCH {
                let m = Message::new(topic.clone(), payload.clone(), QoS::ExactlyOnce);
                black_box(s.publish(now, m).unwrap());
            }
            drain_transmits(&mut s);
            read.extend_from_slice(pubrecs.batch());
            s.handle_read(now, &mut read);
            drain_transmits(&mut s); // the PUBRELs
            read.extend_from_slice(pubcomps.batch());
            s.handle_read(now, &mut read);
            assert_eq!(drain_completions(&mut s, &Outcome::Acknowledged), BATCH);
        })
    });
    g.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
