//! Read pacing's waits against a model of a socket whose receive low-water mark the
//! client raises while it waits (as tokio's adapter does on Linux): no message may
//! sit unread.
//!
//! The model keeps Linux's rule for readiness: data that arrives while the mark is
//! above what the socket holds wakes nobody, and lowering the mark wakes the reader
//! if data is waiting. One read returns one segment, as a real read returns what
//! has arrived, so a burst of 8 segments takes the event loop's two turns of four
//! reads, and the read that finds the socket empty is the first of a turn. A wait
//! that began there used to be left unpolled: its timer never started, the raised
//! mark kept the socket silent, and the stream stopped until some other event
//! (stop 17: a subscriber through rumqttd stopped after its first 100 messages with
//! the next 100 in its socket).
//!
//! No runtime crate: a timer is a thread, and an executor is a parked thread.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use futures_util::future::{select, Either};
use mqtt_client::{BoxFuture, BoxIo, Io, Options, QoS, Runtime};
use mqtt_proto::{decode, DecodeOptions, Packet};

/// Bursts the broker streams, and segments (QoS 0 PUBLISH packets) per burst.
const BURSTS: u32 = 200;
const PER_BURST: u32 = 8;

/// Both ends of the model connection.
#[derive(Default)]
struct Wire {
    /// Segments on their way to the client.
    to_client: VecDeque<Vec<u8>>,
    /// Bytes in `to_client`.
    queued: usize,
    /// The client socket's receive low-water mark (0: never set, i.e. 1).
    mark: usize,
    /// Times the client raised it.
    raised: u32,
    /// The reader waiting for readiness.
    reader: Option<Waker>,
    /// Bytes the client wrote.
    to_broker: Vec<u8>,
}

impl Wire {
    fn readable(&self) -> bool {
        self.queued > 0 && self.queued >= self.mark.max(1)
    }

    fn wake_if_readable(&mut self) {
        if self.readable() {
            if let Some(w) = self.reader.take() {
                w.wake();
            }
        }
    }
}

type Shared = Arc<(Mutex<Wire>, Condvar)>;

/// The connection the next `connect_tcp` returns.
static NEXT: Mutex<Option<Shared>> = Mutex::new(None);

/// The client's end.
struct ModelIo(Shared);

impl AsyncRead for ModelIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut w = self.0 .0.lock().unwrap();
        let Some(seg) = w.to_client.front_mut() else {
            w.reader = Some(cx.waker().clone());
            return Poll::Pending;
        };
        let n = seg.len().min(buf.len());
        buf[..n].copy_from_slice(&seg[..n]);
        seg.drain(..n);
        if seg.is_empty() {
            w.to_client.pop_front();
        }
        w.queued -= n;
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for ModelIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (lock, cv) = &*self.0;
        lock.lock().unwrap().to_broker.extend_from_slice(buf);
        cv.notify_all();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A timer on its own thread, started when first polled.
struct Sleep {
    deadline: Instant,
    state: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let mut s = self.state.lock().unwrap();
        let started = s.0 || s.1.is_some();
        s.1 = Some(cx.waker().clone());
        if !started {
            s.0 = true;
            let (deadline, state) = (self.deadline, self.state.clone());
            thread::spawn(move || {
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                if let Some(w) = state.lock().unwrap().1.take() {
                    w.wake();
                }
            });
        }
        Poll::Pending
    }
}

struct Model;

impl Runtime for Model {
    fn connect_tcp(_: String, _: u16) -> BoxFuture<io::Result<BoxIo>> {
        let wire = NEXT
            .lock()
            .unwrap()
            .take()
            .expect("a wire for this connection");
        Box::pin(async move { Ok(Box::new(ModelIo(wire)) as BoxIo) })
    }

    fn sleep_until(deadline: Instant) -> BoxFuture<()> {
        Box::pin(Sleep {
            deadline,
            state: Arc::new(Mutex::new((false, None))),
        })
    }

    fn set_read_low_water(io: &mut dyn Io, bytes: usize) -> io::Result<bool> {
        let Some(model) = io.as_any_mut().downcast_mut::<ModelIo>() else {
            return Ok(false);
        };
        let mut w = model.0 .0.lock().unwrap();
        if bytes > w.mark.max(1) {
            w.raised += 1;
        }
        w.mark = bytes;
        w.wake_if_readable(); // Linux: lowering the mark signals waiting data
        Ok(true)
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// The broker's next packet from the client: its first byte and packet id.
fn next_packet(wire: &Shared, at: &mut usize) -> (u8, u16) {
    let (lock, cv) = &**wire;
    let mut w = lock.lock().unwrap();
    loop {
        if let Ok(Some((p, used))) = decode(&w.to_broker[*at..], &DecodeOptions::default()) {
            let id = match &p {
                Packet::Subscribe(s) => s.packet_id.get(),
                _ => 0,
            };
            let first = w.to_broker[*at];
            *at += used;
            return (first, id);
        }
        let (guard, timeout) = cv.wait_timeout(w, Duration::from_secs(10)).unwrap();
        assert!(!timeout.timed_out(), "the client sent nothing");
        w = guard;
    }
}

fn send(wire: &Shared, segments: impl IntoIterator<Item = Vec<u8>>) {
    let mut w = wire.0.lock().unwrap();
    for seg in segments {
        w.queued += seg.len();
        w.to_client.push_back(seg);
    }
    w.wake_if_readable();
}

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
        let mut at = 0;
        assert_eq!(next_packet(&wire, &mut at).0 >> 4, 1, "CONNECT");
        send(&wire, [vec![0x20, 2, 0, 0]]);
        let (first, id) = next_packet(&wire, &mut at);
        assert_eq!(first >> 4, 8, "SUBSCRIBE");
        let [hi, lo] = id.to_be_bytes();
        send(&wire, [vec![0x90, 3, hi, lo, 0]]);
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
    *NEXT.lock().unwrap() = Some(wire.clone());
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
