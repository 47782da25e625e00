//! Decoding PUBLISH packets from a `BytesMut` allocates nothing per packet: every
//! topic and payload is a view of the read buffer. A counting global allocator
//! proves it. Only allocations made on the measuring thread count: the test harness
//! allocates on its own threads (reporting other tests' results) at any moment.
#![allow(unsafe_code)] // a global allocator is unsafe to implement

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use mqtt_proto::{
    decode_buf, decode_frame_buf, DecodeOptions, Frame, Packet, PacketId, Publish, QosPid,
    TopicName,
};

struct Counting;

thread_local! {
    // `const` initialisation: reading it never allocates, so the allocator may use it.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the slot may already be gone while a thread is being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// Allocations made so far on the calling thread.
fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: usize = 10_000;

fn publishes() -> BytesMut {
    let mut buf = BytesMut::with_capacity(N * 100);
    for i in 0..N {
        let payload = [i as u8; 64];
        let p = Publish::new(
            TopicName::new("sensors/room1/t").unwrap(),
            QosPid::AtLeastOnce(PacketId::new((i % 65_535 + 1) as u16).unwrap()),
            &payload[..],
        );
        Packet::Publish(p).encode_to(&mut buf).unwrap();
    }
    buf
}

#[test]
fn decoding_10000_publishes_allocates_nothing_per_packet() {
    let mut buf = publishes();
    let opts = DecodeOptions::default();
    let mut decoded = Vec::with_capacity(N); // keep the views alive, as an application would
    let before = allocations();
    while let Some(p) = decode_buf(&mut buf, &opts).unwrap() {
        decoded.push(p);
    }
    let allocations = allocations() - before;
    assert_eq!(decoded.len(), N);
    // The first split turns the buffer into a shared one (one allocation); after that,
    // each packet is a reference-count bump.
    assert!(
        allocations <= 2,
        "{allocations} allocations for {N} packets"
    );
    if let Packet::Publish(p) = &decoded[N - 1] {
        assert_eq!(p.payload.len(), 64);
        assert_eq!(p.topic.as_str(), "sensors/room1/t");
    } else {
        panic!("not a publish");
    }
}

#[test]
fn frame_decoding_10000_publishes_allocates_nothing_per_packet() {
    let mut buf = publishes();
    let opts = DecodeOptions::default();
    let mut decoded = Vec::with_capacity(N);
    let before = allocations();
    while let Some(f) = decode_frame_buf(&mut buf, &opts).unwrap() {
        decoded.push(f);
    }
    let allocations = allocations() - before;
    assert_eq!(decoded.len(), N);
    assert!(
        allocations <= 2,
        "{allocations} allocations for {N} packets"
    );
    let Frame::Publish(p) = &decoded[N - 1] else {
        panic!("not a publish")
    };
    assert_eq!(p.topic().as_str(), "sensors/room1/t");
    assert_eq!(p.payload().len(), 64);
}

#[test]
fn take_packet_hands_over_a_buffer_that_holds_exactly_the_packet() {
    let opts = DecodeOptions::default();
    let one = publishes().freeze();
    let Some((_, len)) = mqtt_proto::decode(&one[..], &opts).unwrap() else {
        panic!("not a whole packet")
    };
    // No spare capacity: the buffer itself becomes the packet, with no allocation
    // (a split would allocate the shared state).
    let mut buf = BytesMut::from(&one[..len]);
    assert_eq!(buf.capacity(), len);
    let before = allocations();
    let packet = mqtt_proto::take_packet(&mut buf, len);
    assert_eq!(allocations() - before, 0);
    assert_eq!(&packet[..], &one[..len]);
    assert!(buf.is_empty() && buf.capacity() == 0);

    // With spare capacity the packet is split off and the buffer keeps the rest of
    // its memory for the next read.
    let mut buf = BytesMut::with_capacity(4096);
    buf.extend_from_slice(&one[..len]);
    let packet = mqtt_proto::take_packet(&mut buf, len);
    assert_eq!(&packet[..], &one[..len]);
    assert!(buf.is_empty() && buf.capacity() == 4096 - len);
}

#[test]
fn frame_decoding_the_last_packet_of_a_full_buffer_takes_the_buffer() {
    let opts = DecodeOptions::default();
    let one = publishes().freeze();
    let Some((_, len)) = mqtt_proto::decode(&one[..], &opts).unwrap() else {
        panic!("not a whole packet")
    };
    // A read that filled its buffer and ended on a packet boundary: the last packet
    // takes the buffer itself, no shared state is allocated.
    let mut buf = BytesMut::from(&one[..len]);
    let before = allocations();
    let frame = decode_frame_buf(&mut buf, &opts).unwrap().unwrap();
    assert_eq!(allocations() - before, 0);
    let Frame::Publish(p) = frame else {
        panic!("{frame:?}")
    };
    assert_eq!(&p.frame()[..], &one[..len]);
    assert!(buf.is_empty() && buf.capacity() == 0);

    // With spare capacity the last packet is split off; the buffer keeps its memory.
    let mut buf = BytesMut::with_capacity(4096);
    buf.extend_from_slice(&one[..len]);
    let Frame::Publish(p) = decode_frame_buf(&mut buf, &opts).unwrap().unwrap() else {
        panic!("not a PUBLISH")
    };
    assert_eq!(&p.frame()[..], &one[..len]);
    assert!(buf.is_empty() && buf.capacity() == 4096 - len);
}

#[test]
fn frame_decoding_short_packets_allocates_nothing_and_frames_stay_small() {
    // Every packet read moves through a `Frame`: keep it small.
    assert!(
        core::mem::size_of::<Frame>() <= 64,
        "{}",
        core::mem::size_of::<Frame>()
    );
    let opts = DecodeOptions::default();
    let mut wire = BytesMut::new();
    for id in 1..=1000u16 {
        Packet::<&[u8]>::Puback(PacketId::new(id).unwrap())
            .encode_to(&mut wire)
            .unwrap();
        Packet::<&[u8]>::Pingresp.encode_to(&mut wire).unwrap();
    }
    let before = allocations();
    let mut n = 0u16;
    while let Some(frame) = decode_frame_buf(&mut wire, &opts).unwrap() {
        match frame {
            Frame::Short(mqtt_proto::ShortPacket::Puback(id)) => {
                n += 1;
                assert_eq!(id.get(), n);
            }
            Frame::Short(mqtt_proto::ShortPacket::Pingresp) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(allocations() - before, 0);
    assert_eq!(n, 1000);
}
