//! Read pacing's waits against a model of a socket whose receive low-water mark the
//! client raises while it waits (as tokio's adapter does on Linux): no message may
//! sit unread.
//!
//! The model (`model`) keeps Linux's rule for readiness under the mark, and one read
//! returns one segment, so a burst of 8 segments takes the event loop's two turns of four
//! reads, and the read that finds the socket empty is the first of a turn. A wait
//! that began there used to be left unpolled: its timer never started, the raised
//! mark kept the socket silent, and the stream stopped until some other event
//! (stop 17: a subscriber through rumqttd stopped after its first 100 messages with
//! the next 100 in its socket).

mod model;

use std::pin::pin;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use mqtt_client::{Options, QoS, Runtime};

use model::{accept_subscriber, block_on, next_connection, send, Model, Shared};

/// Bursts the broker streams, and segments (QoS 0 PUBLISH packets) per burst.
const BURSTS: u32 = 200;
const PER_BURST: u32 = 8;

/// A QoS 0 PUBLISH on `m/t` with the message number as payload.
fn publish(n: u32) -> Vec<u8> {
    let mut p = vec![0x30, 9, 0, 3, b'm', b'/', b't'];
    p.extend_from_slice(&n.to_be_bytes());
    p
}

/// CONNACK, SUBACK, then bursts of segments 300 µs apart (a broker streaming:
/// pacing waits), then, after a pause, one message alone.
fn broker(wire: Shared) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        accept_subscriber(&wire, 0);
        for b in 0..BURSTS {
            send(&wire, (0..PER_BURST).map(|i| publish(b * PER_BURST + i)));
            thread::sleep(Duration::from_micros(300));
        }
        thread::sleep(Duration::from_millis(20));
        send(&wire, [publish(BURSTS * PER_BURST)]);
    })
}

/// Every message of a paced stream arrives, and so does the one after it, though
/// each wait raised the mark above all the stream ever holds at once.
#[test]
fn a_paced_wait_that_begins_a_turn_still_ends() {
    let wire = Shared::default();
    next_connection(&wire);
    let opts = Options::new("127.0.0.1", 1883)
        .client_id("paced")
        .keep_alive(Duration::from_secs(600))
        .read_pacing(Duration::from_millis(1))
        .reconnect(None);
    let (client, event_loop) = mqtt_client::new_client::<Model>(opts).expect("options");
    let looping = thread::spawn(move || block_on(event_loop.run()));
    let broker = broker(wire.clone());
    let mut sub = block_on(client.subscribe("m/t", QoS::AtMostOnce)).expect("SUBACK");
    for n in 0..=BURSTS * PER_BURST {
        let next = pin!(sub.recv());
        let deadline = pin!(Model::sleep_until(Instant::now() + Duration::from_secs(5)));
        match block_on(select(next, deadline)) {
            Either::Left((Some(m), _)) => assert_eq!(m.payload(), &n.to_be_bytes()[..]),
            Either::Left((None, _)) => panic!("the subscription ended at message {n}"),
            Either::Right(_) => {
                let w = wire.0.lock().unwrap();
                panic!(
                    "message {n} not received in 5 s; {} bytes wait in the socket under a mark of {}",
                    w.queued, w.mark
                );
            }
        }
    }
    broker.join().expect("broker");
    let raised = wire.0.lock().unwrap().raised;
    assert!(
        raised > 10,
        "the stream was paced: {raised} waits raised the mark"
    );
    block_on(client.disconnect()).expect("disconnect");
    assert!(looping.join().expect("event loop").is_ok());
}
