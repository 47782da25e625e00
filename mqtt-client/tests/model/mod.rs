//! A model of a TCP connection for the event loop's tests, with no runtime crate:
//! the client's end ([`ModelIo`], from [`Model::connect_tcp`]) keeps Linux's rule for
//! readiness under a receive low-water mark (data that arrives while the mark is above
//! what the socket holds wakes nobody; lowering the mark wakes the reader if data is
//! waiting), and one read returns one segment, as a real read returns what has
//! arrived. Timers share one thread, and an executor is a parked thread. The test plays
//! the broker on the other end ([`next_packet`], [`send`]).
#![allow(dead_code)] // each test binary uses part of it

use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use mqtt_client::{BoxFuture, BoxIo, Io, Runtime};
use mqtt_proto::{decode, DecodeOptions, Packet};

/// Opens the model connection `wire` for the next client that connects.
pub fn next_connection(wire: &Shared) {
    *NEXT.lock().unwrap() = Some(wire.clone());
}

/// Both ends of the model connection.
#[derive(Default)]
pub struct Wire {
    /// Segments on their way to the client.
    pub to_client: VecDeque<Vec<u8>>,
    /// Bytes in `to_client`.
    pub queued: usize,
    /// The client socket's receive low-water mark (0: never set, i.e. 1).
    pub mark: usize,
    /// Times the client raised it.
    pub raised: u32,
    /// The reader waiting for readiness.
    pub reader: Option<Waker>,
    /// Bytes the client wrote.
    pub to_broker: Vec<u8>,
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

pub type Shared = Arc<(Mutex<Wire>, Condvar)>;

/// The connection the next `connect_tcp` returns.
pub static NEXT: Mutex<Option<Shared>> = Mutex::new(None);

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

/// A timer, registered with the timer thread when first polled.
struct Sleep {
    deadline: Instant,
    /// The waker to wake at the deadline; shared with the timer thread's queue.
    state: Arc<Mutex<Option<Waker>>>,
    registered: bool,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        *self.state.lock().unwrap() = Some(cx.waker().clone());
        if !std::mem::replace(&mut self.registered, true) {
            timers().add(self.deadline, self.state.clone());
        }
        Poll::Pending
    }
}

/// One thread for every timer: a queue by deadline. A dropped `Sleep` stays queued
/// until its deadline, as a waker nobody waits on.
struct Timers {
    queue: Mutex<BinaryHeap<Due>>,
    changed: Condvar,
}

struct Due(Instant, u64, Arc<Mutex<Option<Waker>>>);

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.0, self.1) == (other.0, other.1)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Reversed: the earliest deadline is the heap's greatest.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.0, other.1).cmp(&(self.0, self.1))
    }
}

impl Timers {
    fn add(&self, deadline: Instant, state: Arc<Mutex<Option<Waker>>>) {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        self.queue.lock().unwrap().push(Due(deadline, seq, state));
        self.changed.notify_one();
    }

    fn run(&self) {
        let mut queue = self.queue.lock().unwrap();
        loop {
            let now = Instant::now();
            match queue.peek() {
                Some(due) if due.0 <= now => {
                    let Due(_, _, state) = queue.pop().expect("peeked");
                    let waker = state.lock().unwrap().take();
                    drop(queue);
                    if let Some(w) = waker {
                        w.wake();
                    }
                    queue = self.queue.lock().unwrap();
                }
                Some(due) => {
                    let wait = due.0 - now;
                    queue = self.changed.wait_timeout(queue, wait).unwrap().0;
                }
                None => queue = self.changed.wait(queue).unwrap(),
            }
        }
    }
}

fn timers() -> &'static Timers {
    static TIMERS: OnceLock<&'static Timers> = OnceLock::new();
    TIMERS.get_or_init(|| {
        let t: &'static Timers = Box::leak(Box::new(Timers {
            queue: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
        }));
        thread::spawn(move || t.run());
        t
    })
}

pub struct Model;

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
            state: Arc::new(Mutex::new(None)),
            registered: false,
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

pub fn block_on<F: Future>(f: F) -> F::Output {
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

/// The client's next whole packet in `to_broker[*at..]`, if there is one: its first
/// byte and packet id (0 when it has none).
fn decode_next(w: &Wire, at: &mut usize) -> Option<(u8, u16)> {
    let (p, used) = decode(&w.to_broker[*at..], &DecodeOptions::default())
        .expect("the client sends valid packets")?;
    let id = match &p {
        Packet::Subscribe(s) => s.packet_id.get(),
        Packet::Publish(p) => p.qos_pid.packet_id().map_or(0, |id| id.get()),
        Packet::Puback(id) | Packet::Pubrec(id) | Packet::Pubrel(id) | Packet::Pubcomp(id) => {
            id.get()
        }
        _ => 0,
    };
    let first = w.to_broker[*at];
    *at += used;
    Some((first, id))
}

/// The broker's next packet from the client: its first byte and packet id.
pub fn next_packet(wire: &Shared, at: &mut usize) -> (u8, u16) {
    let (lock, cv) = &**wire;
    let mut w = lock.lock().unwrap();
    loop {
        if let Some(p) = decode_next(&w, at) {
            return p;
        }
        let (guard, timeout) = cv.wait_timeout(w, Duration::from_secs(10)).unwrap();
        assert!(!timeout.timed_out(), "the client sent nothing");
        w = guard;
    }
}

/// The broker's side of a subscriber's start: CONNACK to its CONNECT, SUBACK
/// granting `qos` to its SUBSCRIBE. Returns where the client's next packet starts.
pub fn accept_subscriber(wire: &Shared, qos: u8) -> usize {
    let mut at = 0;
    assert_eq!(next_packet(wire, &mut at).0 >> 4, 1, "CONNECT");
    send(wire, [vec![0x20, 2, 0, 0]]);
    let (first, id) = next_packet(wire, &mut at);
    assert_eq!(first >> 4, 8, "SUBSCRIBE");
    let [hi, lo] = id.to_be_bytes();
    send(wire, [vec![0x90, 3, hi, lo, qos]]);
    at
}

/// The client's next packet if it has sent one, after waiting up to `wait` for it.
pub fn try_packet(wire: &Shared, at: &mut usize, wait: Duration) -> Option<(u8, u16)> {
    let (lock, cv) = &**wire;
    let w = lock.lock().unwrap();
    if let Some(p) = decode_next(&w, at) {
        return Some(p);
    }
    let (w, _) = cv.wait_timeout(w, wait).unwrap();
    decode_next(&w, at)
}

pub fn send(wire: &Shared, segments: impl IntoIterator<Item = Vec<u8>>) {
    let mut w = wire.0.lock().unwrap();
    for seg in segments {
        w.queued += seg.len();
        w.to_client.push_back(seg);
    }
    w.wake_if_readable();
}
