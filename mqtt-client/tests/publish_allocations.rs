//! Publishing allocates nothing per message once a connection is warm: a publish's
//! `Ack` takes a reused slot instead of a channel of its own, the message shares the
//! caller's topic and payload, and the session's tables and queues keep their room.
//! A counting global allocator counts what the publishing thread and the event
//! loop's thread allocate; the model broker's thread and the test harness's do not
//! count. (Until 2026-12-07 every publish allocated its `Ack`'s oneshot channel.)
#![allow(unsafe_code)] // a global allocator is unsafe to implement

mod model;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use mqtt_client::{Options, QoS, TopicName};

use model::{block_on, next_connection, next_packet, send, Model, Shared};

/// Messages counted, after as many to warm the connection up.
const N: usize = 20_000;

struct Counting;

/// Allocations per counted thread: 1 the publisher, 2 the event loop.
static COUNTS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

thread_local! {
    // `const` initialisation: reading it never allocates, so the allocator may use it.
    static ROLE: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: the slot may already be gone while a thread is being torn down.
        let _ = ROLE.try_with(|r| COUNTS[r.get()].fetch_add(1, Ordering::Relaxed));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn counted() -> usize {
    COUNTS[1].load(Ordering::SeqCst) + COUNTS[2].load(Ordering::SeqCst)
}

/// CONNACK, then a PUBACK for every QoS 1 PUBLISH, until DISCONNECT.
fn broker(wire: Shared) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut at = 0;
        assert_eq!(next_packet(&wire, &mut at).0 >> 4, 1, "CONNECT");
        send(&wire, [vec![0x20, 2, 0, 0]]);
        loop {
            match next_packet(&wire, &mut at) {
                (first, id) if first >> 4 == 3 => {
                    let [hi, lo] = id.to_be_bytes();
                    send(&wire, [vec![0x40, 2, hi, lo]]);
                }
                (first, _) if first >> 4 == 14 => return, // DISCONNECT
                (first, _) => panic!("unexpected packet type {}", first >> 4),
            }
        }
    })
}

/// Publishes and awaits `n` QoS 1 messages, queueing them as fast as the client
/// takes them.
fn publish(client: &mqtt_client::Client, topic: &TopicName<mqtt_client::Bytes>, n: usize) {
    let payload = mqtt_client::Bytes::from_static(&[0xA5; 64]);
    let mut acks = Vec::with_capacity(n);
    block_on(async {
        for _ in 0..n {
            let ack = client
                .queue_publish(topic.clone(), payload.clone(), QoS::AtLeastOnce, false)
                .await
                .expect("queued");
            acks.push(ack);
        }
        for ack in acks.drain(..) {
            ack.await.expect("PUBACK");
        }
    });
}

#[test]
fn a_warm_connection_publishes_without_allocating_per_message() {
    let wire = Shared::default();
    next_connection(&wire);
    let broker = broker(wire.clone());
    let opts = Options::new("127.0.0.1", 1883)
        .client_id("allocations")
        .keep_alive(Duration::from_secs(600))
        .max_inflight(1000)
        // Room for every message: a send that waits for room allocates flume's wait
        // hook (per wait, not per message), and pacing's waits are timers (per
        // millisecond); neither is what is counted here.
        .command_capacity(N + 16)
        .read_pacing(Duration::ZERO)
        .reconnect(None);
    let (client, event_loop) = mqtt_client::new_client::<Model>(opts).expect("options");
    let looping = thread::spawn(move || {
        ROLE.with(|r| r.set(2));
        block_on(event_loop.run())
    });
    ROLE.with(|r| r.set(1));
    let topic = TopicName::from_string("m/t".to_string()).expect("topic");
    publish(&client, &topic, N);
    let before = counted();
    publish(&client, &topic, N);
    let allocations = counted() - before;

    ROLE.with(|r| r.set(0));
    assert!(
        allocations < N / 50,
        "{allocations} allocations for {N} messages"
    );
    block_on(client.disconnect()).expect("disconnect");
    assert!(looping.join().expect("event loop").is_ok());
    broker.join().expect("broker");
}
