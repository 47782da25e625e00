//! mqtt-proto against rumqttc's codec (`rumqttc::mqttbytes::v4`) and mqttrs, on a
//! QoS 1 PUBLISH with a 16-byte topic and a 64 B or 4 KiB payload.
//!
//! Groups (each `<operation>/<payload>`, one function per crate, per-packet figures):
//! - `decode_owned`: a complete packet taken off a `BytesMut` read buffer into an owned
//!   packet: mqtt-proto `decode_buf`, rumqttc `Packet::read`. The buffer is filled
//!   outside the timing and the results dropped outside it.
//! - `decode_frame`, `decode_stream_frame`: the same through mqtt-proto
//!   `decode_frame_buf`, whose PUBLISH is one `Bytes` of the whole packet (one reference
//!   count), the path the session takes; rumqttc's figure is the same `Packet::read`.
//! - `decode_borrowed`: a packet decoded from `&[u8]`, borrowing from it: mqtt-proto
//!   `decode`, mqttrs `decode_slice`.
//! - `decode_stream_owned`, `decode_stream_borrowed`: the same, over one buffer of
//!   10,000 back-to-back 64 B PUBLISH packets, as a read loop sees them (figures per
//!   packet; each packet is dropped inside the timing).
//! - `encode`: the whole packet, payload copied, into a reused buffer: mqtt-proto
//!   `Packet::encode_to` and rumqttc `Publish::write` append to a cleared `BytesMut`;
//!   mqttrs has only `encode_slice`, which writes into the same reused memory.
//! - `encode_slice`: into a reused `&mut [u8]`, the `no_std` path: mqtt-proto
//!   `Packet::encode`, mqttrs `encode_slice`.
//! - `encode_header`: mqtt-proto `Publish::encode_header`, everything but the payload,
//!   into any `BufMut`: the zero-copy send path, where the payload goes out in a
//!   vectored write.
//! - `encode_header_buf`: the same through `Publish::encode_header_buf`, into a
//!   `BytesMut` with fixed-size stores only: what the session does.
//!
//! Every encode writes into a reused buffer from [`out_buffer`], placed so that no
//! store is split across two 4 KiB pages. Left to the allocator, the one buffer an
//! encode benchmark reuses straddles a page boundary or not by chance, and a 64 B
//! encode into one that does took 19-21 ns instead of 7-8 ns for either crate (a
//! page-split store in the payload copy): a figure about the allocator's layout, not
//! about the codec, that changed from run to run and from crate to crate.
//!
//! `report.sh` beside this crate runs it and prints a table.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mqtt_bench::{payload, proto_publish, wire, PACKET_ID, PAYLOADS, TOPIC};
use mqtt_proto::{decode, decode_buf, decode_frame_buf, DecodeOptions, Packet};
use rumqttc::mqttbytes::{v4, QoS};

/// rumqttc's incoming size limit: the largest MQTT packet, as mqtt-proto's default.
const RUMQTTC_MAX: usize = 268_435_455;
/// Packets in the read buffer of the stream benchmarks.
const STREAM_PACKETS: usize = 10_000;
/// Payload size in the stream benchmarks.
const STREAM_PAYLOAD: usize = 64;

/// An empty buffer with room for a `size`-byte packet, placed so that encoding one
/// splits no store across two 4 KiB pages: it starts 64 to 95 bytes into a page and
/// the packet ends on a 32-byte boundary (so `memcpy`'s end-aligned tail stores do
/// not straddle a page either). Every crate's encode gets one.
fn out_buffer(size: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(size + 4096 + 128);
    let page_offset = 64 + (32 - size % 32) % 32;
    let skip = (page_offset + 4096 - buf.as_ptr() as usize % 4096) % 4096;
    buf.resize(skip, 0);
    buf.advance(skip);
    debug_assert_eq!((buf.as_ptr() as usize + size) % 32, 0);
    buf
}

/// [`out_buffer`] holding `size` zero bytes, for encoders that write into a slice.
fn out_slice(size: usize) -> BytesMut {
    let mut buf = out_buffer(size);
    buf.resize(size, 0);
    buf
}

fn decode_owned(c: &mut Criterion) {
    let opts = DecodeOptions::default();
    for (len, name) in PAYLOADS {
        let w = wire(len);
        let mut g = c.benchmark_group(format!("decode_owned/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("mqtt-proto", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&w[..]),
                |buf| decode_buf(buf, &opts).unwrap().unwrap(),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("rumqttc", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&w[..]),
                |buf| v4::Packet::read(buf, RUMQTTC_MAX).unwrap(),
                BatchSize::SmallInput,
            )
        });
        g.finish();

        // mqtt-proto's PUBLISH as one `Bytes` (what the session uses): one reference
        // count per packet. rumqttc's figure is its same `Packet::read`.
        let mut g = c.benchmark_group(format!("decode_frame/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("mqtt-proto", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&w[..]),
                |buf| decode_frame_buf(buf, &opts).unwrap().unwrap(),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("rumqttc", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&w[..]),
                |buf| v4::Packet::read(buf, RUMQTTC_MAX).unwrap(),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

fn decode_borrowed(c: &mut Criterion) {
    let opts = DecodeOptions::default();
    for (len, name) in PAYLOADS {
        let w = wire(len);
        let mut g = c.benchmark_group(format!("decode_borrowed/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("mqtt-proto", |b| {
            b.iter(|| decode(black_box(&w[..]), &opts).unwrap().unwrap())
        });
        g.bench_function("mqttrs", |b| {
            b.iter(|| mqttrs::decode_slice(black_box(&w[..])).unwrap().unwrap())
        });
        g.finish();
    }
}

fn decode_stream(c: &mut Criterion) {
    let opts = DecodeOptions::default();
    let one = wire(STREAM_PAYLOAD);
    let mut stream = BytesMut::with_capacity(one.len() * STREAM_PACKETS);
    for _ in 0..STREAM_PACKETS {
        stream.extend_from_slice(&one);
    }
    let stream = stream.freeze();

    let mut g = c.benchmark_group("decode_stream_owned/64B");
    g.throughput(Throughput::Elements(STREAM_PACKETS as u64));
    g.bench_function("mqtt-proto", |b| {
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
    g.bench_function("rumqttc", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&stream[..]),
            |buf| {
                let mut n = 0;
                loop {
                    match v4::Packet::read(buf, RUMQTTC_MAX) {
                        Ok(p) => black_box(p),
                        Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => break,
                        Err(e) => panic!("{e:?}"),
                    };
                    n += 1;
                }
                assert_eq!(n, STREAM_PACKETS);
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("decode_stream_frame/64B");
    g.throughput(Throughput::Elements(STREAM_PACKETS as u64));
    g.bench_function("mqtt-proto", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&stream[..]),
            |buf| {
                let mut n = 0;
                while let Some(p) = decode_frame_buf(buf, &opts).unwrap() {
                    black_box(p);
                    n += 1;
                }
                assert_eq!(n, STREAM_PACKETS);
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("decode_stream_borrowed/64B");
    g.throughput(Throughput::Elements(STREAM_PACKETS as u64));
    g.bench_function("mqtt-proto", |b| {
        b.iter(|| {
            let mut rest = black_box(&stream[..]);
            while let Some((p, used)) = decode(rest, &opts).unwrap() {
                black_box(p);
                rest = &rest[used..];
            }
            assert!(rest.is_empty());
        })
    });
    g.bench_function("mqttrs", |b| {
        b.iter(|| {
            // `decode_slice` does not say how many bytes it used: step by the known size.
            let mut rest = black_box(&stream[..]);
            while let Some(p) = mqttrs::decode_slice(rest).unwrap() {
                black_box(p);
                rest = &rest[one.len()..];
            }
            assert!(rest.is_empty());
        })
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    for (len, name) in PAYLOADS {
        let size = wire(len).len();
        let proto = Packet::Publish(proto_publish(len));
        let mut rumq = v4::Publish::from_bytes(TOPIC, QoS::AtLeastOnce, payload(len));
        rumq.pkid = PACKET_ID;
        let body = payload(len);
        let mqttrs_packet = mqttrs::Packet::Publish(mqttrs::Publish {
            dup: false,
            qospid: mqttrs::QosPid::AtLeastOnce(mqttrs::Pid::try_from(PACKET_ID).unwrap()),
            retain: false,
            topic_name: TOPIC,
            payload: &body,
        });

        let mut g = c.benchmark_group(format!("encode/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("mqtt-proto", |b| {
            let mut buf = out_buffer(size);
            b.iter(|| {
                buf.clear();
                black_box(&proto).encode_to(&mut buf).unwrap();
                black_box(&buf);
            })
        });
        g.bench_function("rumqttc", |b| {
            let mut buf = out_buffer(size);
            b.iter(|| {
                buf.clear();
                black_box(&rumq).write(&mut buf).unwrap();
                black_box(&buf);
            })
        });
        g.bench_function("mqttrs", |b| {
            let mut buf = out_slice(size);
            b.iter(|| mqttrs::encode_slice(black_box(&mqttrs_packet), &mut buf).unwrap())
        });
        g.finish();

        let mut g = c.benchmark_group(format!("encode_slice/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("mqtt-proto", |b| {
            let mut buf = out_slice(size);
            b.iter(|| black_box(&proto).encode(&mut buf).unwrap())
        });
        g.bench_function("mqttrs", |b| {
            let mut buf = out_slice(size);
            b.iter(|| mqttrs::encode_slice(black_box(&mqttrs_packet), &mut buf).unwrap())
        });
        g.finish();

        let publish = proto_publish(len);
        let mut g = c.benchmark_group(format!("encode_header/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("mqtt-proto", |b| {
            let mut buf = out_buffer(size);
            b.iter(|| {
                buf.clear();
                black_box(&publish).encode_header(&mut buf).unwrap();
                black_box(&buf);
            })
        });
        g.finish();

        let mut g = c.benchmark_group(format!("encode_header_buf/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("mqtt-proto", |b| {
            let mut buf = out_buffer(size);
            b.iter(|| {
                buf.clear();
                black_box(&publish).encode_header_buf(&mut buf).unwrap();
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
    targets = decode_owned, decode_borrowed, decode_stream, encode
}
criterion_main!(benches);
