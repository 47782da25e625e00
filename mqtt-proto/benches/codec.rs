//! Codec benchmarks: decode and encode a QoS 1 PUBLISH (16-byte topic, 64 B and 4 KiB
//! payloads), and decode a read buffer of 10,000 back-to-back PUBLISH packets.
//!
//! Run with `cargo bench -p mqtt-proto --bench codec -- --noplot`. Every figure is
//! per packet (`Throughput::Elements`).

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mqtt_proto::{decode, decode_buf, DecodeOptions, Packet, PacketId, Publish, QosPid, TopicName};

/// A 16-byte topic name.
const TOPIC: &str = "sensors/room1/t0";
/// Payload sizes benchmarked.
const PAYLOADS: [(usize, &str); 2] = [(64, "64B"), (4096, "4KiB")];
/// Packets in the stream benchmark.
const STREAM_PACKETS: usize = 10_000;

fn publish(payload_len: usize) -> Publish<Bytes> {
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    Publish::new(
        TopicName::from_static(TOPIC).unwrap(),
        QosPid::AtLeastOnce(PacketId::new(1).unwrap()),
        Bytes::from(payload),
    )
}

fn wire(p: &Publish<Bytes>) -> Bytes {
    let mut buf = BytesMut::new();
    Packet::Publish(p.clone()).encode_to(&mut buf).unwrap();
    buf.freeze()
}

fn decode_single(c: &mut Criterion) {
    let opts = DecodeOptions::default();
    for (len, name) in PAYLOADS {
        let bytes = wire(&publish(len));
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("borrowed", |b| {
            b.iter(|| decode(black_box(&bytes[..]), &opts).unwrap().unwrap())
        });
        g.bench_function("decode_buf", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&bytes[..]),
                |buf| decode_buf(buf, &opts).unwrap().unwrap(),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

fn decode_stream(c: &mut Criterion) {
    let opts = DecodeOptions::default();
    let one = wire(&publish(64));
    let mut stream = BytesMut::with_capacity(one.len() * STREAM_PACKETS);
    for _ in 0..STREAM_PACKETS {
        stream.extend_from_slice(&one);
    }
    let stream = stream.freeze();
    let mut g = c.benchmark_group("decode_stream/64B");
    g.throughput(Throughput::Elements(STREAM_PACKETS as u64));
    g.bench_function("borrowed", |b| {
        b.iter(|| {
            let mut rest = black_box(&stream[..]);
            while let Some((p, used)) = decode(rest, &opts).unwrap() {
                black_box(p);
                rest = &rest[used..];
            }
            assert!(rest.is_empty());
        })
    });
    g.bench_function("decode_buf", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&stream[..]),
            |buf| {
                let mut n = 0;
                while let Some(p) = decode_buf(buf, &opts).unwrap() {
                    black_box(p);
                    n += 1;
                }
                assert_eq!(n, STREAM_PACKETS);
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    for (len, name) in PAYLOADS {
        let p = publish(len);
        let packet = Packet::Publish(p.clone());
        let size = packet.encoded_len().unwrap();
        let mut g = c.benchmark_group(format!("encode/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("encode_to", |b| {
            let mut buf = BytesMut::with_capacity(size);
            b.iter(|| {
                buf.clear();
                black_box(&packet).encode_to(&mut buf).unwrap();
                black_box(&buf);
            })
        });
        g.bench_function("encode_slice", |b| {
            let mut buf = vec![0u8; size];
            b.iter(|| black_box(&packet).encode(&mut buf).unwrap())
        });
        g.bench_function("encode_header", |b| {
            let mut buf = BytesMut::with_capacity(size);
            b.iter(|| {
                buf.clear();
                black_box(&p).encode_header(&mut buf).unwrap();
                black_box(&buf);
            })
        });
        g.bench_function("encode_header_buf", |b| {
            let mut buf = BytesMut::with_capacity(size);
            b.iter(|| {
                buf.clear();
                black_box(&p).encode_header_buf(&mut buf).unwrap();
                black_box(&buf);
            })
        });
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode_single, decode_stream, encode
}
criterion_main!(benches);
