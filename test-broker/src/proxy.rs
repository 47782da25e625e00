//! A fault-injecting TCP proxy for tests, on 127.0.0.1 only: it forwards every
//! connection to an upstream port (a broker) and, on request, cuts connections,
//! stalls them (half-open: sockets stay open, nothing moves), delivers bytes one at
//! a time, or cuts each connection at a random moment: after a random number of
//! forwarded bytes, or after a random lifetime, in the middle of the bytes then in
//! flight. Either way cuts land anywhere, mid-packet included.
//!
//! Plain `std::net` and one thread per direction of each connection: it works under
//! any async runtime, or none.
//!
//! ```no_run
//! use mqtt_test_broker::{FaultProxy, Mosquitto};
//!
//! let broker = Mosquitto::start();
//! let proxy = FaultProxy::start(broker.port());
//! let seed = mqtt_test_broker::seed("demo"); // printed, replayable with FAULT_SEED
//! let ms = std::time::Duration::from_millis;
//! proxy.random_cuts_timed(seed, ms(10)..ms(20));
//! // ... connect clients to proxy.url() ...
//! assert!(proxy.cuts() >= 1);
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes read per chunk when forwarding.
const CHUNK: usize = 16 * 1024;
/// No budget: the connection is never cut for its byte count.
const UNLIMITED: u64 = u64::MAX;
/// How long an armed connection (its random lifetime is over) waits for bytes to
/// cut through before it is cut idle.
const IDLE_GRACE: Duration = Duration::from_millis(20);

/// A small, fast, seeded pseudo-random generator (SplitMix64): the same seed gives
/// the same sequence, so a failing run can be replayed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `1..=max` (`max` at least 1).
    pub fn in_range(&mut self, max: u64) -> u64 {
        1 + self.next_u64() % max.max(1)
    }
}

/// A seed for a randomised test: `FAULT_SEED` from the environment when set (to
/// replay a failure), otherwise one made from the clock. Printed to stderr with the
/// test's name either way, so every run can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| {
            let s = s.trim();
            match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        })
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64()
        });
    eprintln!("{test}: FAULT_SEED={seed:#x} (set FAULT_SEED to replay)");
    seed
}

/// What the proxy does to the bytes, shared by every connection.
#[derive(Debug)]
struct Control {
    stalled: bool,
    /// Deliver one byte per write, with this pause after each.
    trickle: Option<Duration>,
    /// Random cuts: the generator and how each connection's moment is drawn.
    random: Option<(SplitMix64, Plan)>,
}

/// How the moment of a random cut is drawn for each connection.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// After a number of bytes drawn from `1..=max`.
    Bytes(u64),
    /// After a lifetime drawn from `[min, max)`, inside the next bytes forwarded.
    Time(Duration, Duration),
}

/// The time plan of one connection.
#[derive(Debug, Default)]
struct Timer {
    /// When its lifetime ends.
    arm_at: Option<Instant>,
    /// When it was armed: from then on the next bytes forwarded are cut.
    armed_at: Option<Instant>,
}

/// One proxied connection.
struct Conn {
    client: TcpStream,
    upstream: TcpStream,
    /// Bytes still to forward (both directions together) before the proxy cuts it.
    budget: AtomicU64,
    timer: Mutex<Timer>,
    /// Set once its lifetime is over: the next chunk is cut after a random prefix.
    armed: AtomicBool,
    /// Draws that prefix.
    rng: Mutex<SplitMix64>,
    dead: AtomicBool,
}

impl Conn {
    fn timer(&self) -> MutexGuard<'_, Timer> {
        self.timer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives the connection its random cut (or none) under `control`.
    fn plan(&self, control: &mut Control, now: Instant) {
        let mut timer = self.timer();
        *timer = Timer::default();
        self.armed.store(false, Ordering::SeqCst);
        self.budget.store(UNLIMITED, Ordering::SeqCst);
        let Some((rng, plan)) = &mut control.random else {
            return;
        };
        *self.rng.lock().unwrap_or_else(|e| e.into_inner()) = SplitMix64::new(rng.next_u64());
        match *plan {
            Plan::Bytes(max) => self.budget.store(rng.in_range(max), Ordering::SeqCst),
            Plan::Time(min, max) => {
                let span = u64::try_from((max - min).as_micros()).unwrap_or(u64::MAX);
                let lifetime = min + Duration::from_micros(rng.in_range(span) - 1);
                timer.arm_at = Some(now + lifetime);
            }
        }
    }

    /// Takes up to `n` bytes from the budget: how many may go, and whether the
    /// connection is cut after them.
    fn take(&self, n: usize) -> (usize, bool) {
        if self.armed.load(Ordering::SeqCst) {
            let k = self
                .rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .in_range(n as u64);
            return (k as usize, true);
        }
        let n = n as u64;
        let mut cut = false;
        let granted = self
            .budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                if b == UNLIMITED {
                    None
                } else {
                    Some(b.saturating_sub(n))
                }
            })
            .map(|before| {
                cut = before <= n;
                before.min(n)
            })
            .unwrap_or(n);
        (granted as usize, cut)
    }

    /// Closes both sockets; true if this call closed it. `before` runs first when
    /// it does (so counters are up to date when a peer sees the close).
    fn close_with(&self, before: impl FnOnce()) -> bool {
        if self.dead.swap(true, Ordering::SeqCst) {
            return false;
        }
        before();
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
        true
    }

    fn close(&self) -> bool {
        self.close_with(|| {})
    }
}

struct Shared {
    upstream_port: u16,
    control: Mutex<Control>,
    /// Signalled on every change of `control`, and on cuts (wakes stalled pumps).
    changed: Condvar,
    conns: Mutex<Vec<Arc<Conn>>>,
    stopping: AtomicBool,
    connections: AtomicU64,
    cuts: AtomicU64,
    partial_cuts: AtomicU64,
    forwarded: AtomicU64,
}

impl Shared {
    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn conns(&self) -> MutexGuard<'_, Vec<Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Random cuts under a new plan (or none) for open and new connections.
    fn set_random(&self, random: Option<(SplitMix64, Plan)>) {
        let mut control = self.control();
        control.random = random;
        let now = Instant::now();
        for conn in self.conns().iter() {
            conn.plan(&mut control, now);
        }
    }

    /// Cuts a connection (counted; `partial`: inside a chunk in flight).
    fn cut(&self, conn: &Conn, partial: bool) {
        conn.close_with(|| {
            self.cuts.fetch_add(1, Ordering::SeqCst);
            if partial {
                self.partial_cuts.fetch_add(1, Ordering::SeqCst);
            }
        });
        let _guard = self.control();
        self.changed.notify_all();
    }

    /// Waits while the proxy is stalled; false when the connection died meanwhile.
    fn wait_while_stalled(&self, conn: &Conn) -> bool {
        let mut c = self.control();
        while c.stalled
            && !conn.dead.load(Ordering::SeqCst)
            && !self.stopping.load(Ordering::SeqCst)
        {
            c = self
                .changed
                .wait_timeout(c, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        !conn.dead.load(Ordering::SeqCst) && !self.stopping.load(Ordering::SeqCst)
    }
}

/// A fault-injecting proxy in front of an upstream port, listening on 127.0.0.1.
/// Dropping it closes every connection and stops it.
pub struct FaultProxy {
    shared: Arc<Shared>,
    port: u16,
    threads: Vec<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free 127.0.0.1 port and forwards each connection to
    /// `127.0.0.1:upstream_port`. It starts transparent: no cuts, no stall.
    pub fn start(upstream_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            upstream_port,
            control: Mutex::new(Control {
                stalled: false,
                trickle: None,
                random: None,
            }),
            changed: Condvar::new(),
            conns: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            partial_cuts: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("fault-proxy-{port}"))
            .spawn(move || accept_loop(listener, s))
            .expect("spawn proxy thread");
        let s = shared.clone();
        let watchdog = std::thread::Builder::new()
            .name(format!("fault-proxy-timer-{port}"))
            .spawn(move || watchdog(&s))
            .expect("spawn proxy thread");
        FaultProxy {
            shared,
            port,
            threads: vec![acceptor, watchdog],
        }
    }

    /// The port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Cuts every open connection now (both peers see it close); new connections
    /// are still accepted.
    pub fn cut_all(&self) {
        let conns: Vec<Arc<Conn>> = self.shared.conns().clone();
        for conn in conns {
            self.shared.cut(&conn, false);
        }
    }

    /// Stops forwarding in both directions on every connection, open or new, while
    /// keeping the sockets open: a half-open connection. Bytes read meanwhile are
    /// held, and forwarded after [`FaultProxy::resume`].
    pub fn stall(&self) {
        self.shared.control().stalled = true;
        self.shared.changed.notify_all();
    }

    /// Forwards again after [`FaultProxy::stall`].
    pub fn resume(&self) {
        self.shared.control().stalled = false;
        self.shared.changed.notify_all();
    }

    /// Delivers bytes one at a time (one write per byte, `pause` after each, with
    /// TCP_NODELAY), so the peers read packets in one-byte pieces; `None` forwards
    /// whole chunks again.
    pub fn trickle(&self, pause: Option<Duration>) {
        self.shared.control().trickle = pause;
        self.shared.changed.notify_all();
    }

    /// Random cuts by bytes: every connection, open or new, gets a budget drawn
    /// uniformly from `1..=max_bytes` (from a generator seeded with `seed`); once that
    /// many bytes were forwarded (both directions together) the proxy forwards
    /// exactly up to the budget, which usually ends inside a packet, and cuts the
    /// connection.
    ///
    /// A budget smaller than what a peer must get through to make progress (say, a
    /// broker re-sending a large in-flight window on every reconnect) stops all
    /// progress; [`FaultProxy::random_cuts_timed`] with a long enough shortest
    /// lifetime does not have that trap.
    pub fn random_cuts(&self, seed: u64, max_bytes: u64) {
        self.shared
            .set_random(Some((SplitMix64::new(seed), Plan::Bytes(max_bytes.max(1)))));
    }

    /// Random cuts by time: every connection, open or new, gets a lifetime drawn
    /// uniformly from `lifetimes` (from a generator seeded with `seed`). When it is
    /// over, the next bytes read for forwarding, in either direction, are forwarded
    /// only up to a random point and the connection is cut there: in the middle of
    /// whatever was in flight, usually inside a packet. A connection with nothing in
    /// flight is cut 20 ms after its lifetime ended.
    ///
    /// The shortest lifetime should leave a peer time to get something done: a
    /// connection that always dies before the broker's re-sends are acknowledged
    /// never makes progress.
    pub fn random_cuts_timed(&self, seed: u64, lifetimes: std::ops::Range<Duration>) {
        let min = lifetimes.start;
        let max = lifetimes.end.max(min + Duration::from_micros(1));
        self.shared
            .set_random(Some((SplitMix64::new(seed), Plan::Time(min, max))));
    }

    /// Stops random cuts (open connections keep running, uncut).
    pub fn no_random_cuts(&self) {
        self.shared.set_random(None);
    }

    /// Connections the proxy cut so far ([`FaultProxy::cut_all`] and random cuts;
    /// not those the peers closed themselves).
    pub fn cuts(&self) -> u64 {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// Of [`FaultProxy::cuts`], those made inside a chunk of bytes in flight: part
    /// of it was forwarded, the rest dropped (so, in an MQTT stream, almost always
    /// in the middle of a packet).
    pub fn partial_cuts(&self) -> u64 {
        self.shared.partial_cuts.load(Ordering::SeqCst)
    }

    /// Bytes forwarded so far, both directions (counted as they are handed to the
    /// receiving socket).
    pub fn bytes_forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.conns().len()
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .field("upstream_port", &self.shared.upstream_port)
            .field("connections", &self.connections())
            .field("cuts", &self.cuts())
            .field("partial_cuts", &self.partial_cuts())
            .field("bytes_forwarded", &self.bytes_forwarded())
            .finish()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept call.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for conn in self.shared.conns().drain(..) {
            conn.close();
        }
        self.shared.changed.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Arms connections whose lifetime is over, and cuts armed ones left idle.
fn watchdog(shared: &Shared) {
    while !shared.stopping.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
        let now = Instant::now();
        let conns: Vec<Arc<Conn>> = shared.conns().clone();
        for conn in conns {
            let idle_too_long = {
                let mut t = conn.timer();
                match (t.arm_at, t.armed_at) {
                    (Some(at), None) if now >= at => {
                        t.armed_at = Some(now);
                        conn.armed.store(true, Ordering::SeqCst);
                        false
                    }
                    (_, Some(armed)) => now >= armed + IDLE_GRACE,
                    _ => false,
                }
            };
            if idle_too_long {
                shared.cut(&conn, false);
            }
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let Ok(upstream) = TcpStream::connect(("127.0.0.1", shared.upstream_port)) else {
            // Upstream down: the client sees its connection close at once.
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
            continue;
        };
        let (Ok(c3), Ok(u3)) = (client.try_clone(), upstream.try_clone()) else {
            continue;
        };
        let conn = Arc::new(Conn {
            client,
            upstream,
            budget: AtomicU64::new(UNLIMITED),
            timer: Mutex::new(Timer::default()),
            armed: AtomicBool::new(false),
            rng: Mutex::new(SplitMix64::new(0)),
            dead: AtomicBool::new(false),
        });
        {
            let mut control = shared.control();
            conn.plan(&mut control, Instant::now());
            shared.conns().push(conn.clone());
        }
        for (from, to) in [(c2, u2), (u3, c3)] {
            let (s, c) = (shared.clone(), conn.clone());
            let spawned = std::thread::Builder::new()
                .name("fault-proxy-pump".into())
                .spawn(move || pump(from, to, &c, &s));
            if spawned.is_err() {
                conn.close();
            }
        }
    }
}

/// Forwards one direction of a connection until either side closes or it is cut.
fn pump(mut from: TcpStream, mut to: TcpStream, conn: &Arc<Conn>, shared: &Shared) {
    let mut buf = vec![0u8; CHUNK];
    'outer: loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !shared.wait_while_stalled(conn) {
            break;
        }
        let (allowed, cut) = conn.take(n);
        let trickle = shared.control().trickle;
        match trickle {
            Some(pause) => {
                for &byte in &buf[..allowed] {
                    if !shared.wait_while_stalled(conn) {
                        break 'outer;
                    }
                    // Counted before the write, so the count is never behind what a
                    // peer has read.
                    shared.forwarded.fetch_add(1, Ordering::SeqCst);
                    if to.write_all(&[byte]).is_err() {
                        break 'outer;
                    }
                    std::thread::sleep(pause);
                }
            }
            None => {
                shared.forwarded.fetch_add(allowed as u64, Ordering::SeqCst);
                if to.write_all(&buf[..allowed]).is_err() {
                    break;
                }
            }
        }
        if cut {
            shared.cut(conn, allowed < n);
            break;
        }
    }
    // One direction ended: end the other too (not a cut unless counted above).
    conn.close();
    shared.changed.notify_all();
    shared.conns().retain(|c| !Arc::ptr_eq(c, conn));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on 127.0.0.1; the port.
    fn echo_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut r = s.try_clone().unwrap();
                    let _ = std::io::copy(&mut r, &mut s);
                });
            }
        });
        port
    }

    fn connect(proxy: &FaultProxy) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    /// Reads until `n` bytes or end of stream.
    fn read_upto(s: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while out.len() < n {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => out.extend_from_slice(&buf[..k]),
            }
        }
        out
    }

    #[test]
    fn splitmix_is_seeded_and_in_range() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = SplitMix64::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, {
            let mut r = SplitMix64::new(8);
            (0..5).map(|_| r.next_u64()).collect::<Vec<_>>()
        });
        let mut r = SplitMix64::new(1);
        assert!((0..10_000)
            .map(|_| r.in_range(10))
            .all(|v| (1..=10).contains(&v)));
    }

    #[test]
    fn forwards_and_counts() {
        let proxy = FaultProxy::start(echo_server());
        let mut s = connect(&proxy);
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut w = s.try_clone().unwrap();
        let sent = data.clone();
        let writer = std::thread::spawn(move || w.write_all(&sent).unwrap());
        assert_eq!(read_upto(&mut s, data.len()), data);
        writer.join().unwrap();
        // Both directions are counted.
        assert_eq!(proxy.bytes_forwarded(), 2 * data.len() as u64);
        assert_eq!((proxy.connections(), proxy.cuts()), (1, 0));
    }

    #[test]
    fn cut_all_closes_open_connections_only() {
        let proxy = FaultProxy::start(echo_server());
        let mut a = connect(&proxy);
        a.write_all(b"ping").unwrap();
        assert_eq!(read_upto(&mut a, 4), b"ping");
        proxy.cut_all();
        assert_eq!(read_upto(&mut a, 1), b"", "the cut connection ends");
        assert_eq!(proxy.cuts(), 1);
        let mut b = connect(&proxy);
        b.write_all(b"again").unwrap();
        assert_eq!(read_upto(&mut b, 5), b"again");
    }

    #[test]
    fn stall_holds_bytes_until_resume() {
        let proxy = FaultProxy::start(echo_server());
        let mut s = connect(&proxy);
        proxy.stall();
        s.write_all(b"held").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 4];
        let r = s.read(&mut buf);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
            "nothing moves while stalled, and the socket stays open: {r:?}"
        );
        proxy.resume();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(read_upto(&mut s, 4), b"held");
        assert_eq!(proxy.cuts(), 0);
    }

    #[test]
    fn trickle_delivers_one_byte_per_read() {
        let proxy = FaultProxy::start(echo_server());
        proxy.trickle(Some(Duration::from_millis(2)));
        let mut s = connect(&proxy);
        s.write_all(b"abcdefgh").unwrap();
        let mut reads = Vec::new();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < 8 {
            let k = s.read(&mut buf).unwrap();
            assert!(k > 0);
            reads.push(k);
            got.extend_from_slice(&buf[..k]);
        }
        assert_eq!(got, b"abcdefgh");
        // A pause after every byte: the reader sees (almost) only single bytes.
        assert!(reads.len() >= 6, "reads: {reads:?}");
    }

    #[test]
    fn random_cuts_end_connections_at_their_budget() {
        let seed = seed("random_cuts_end_connections_at_their_budget");
        let proxy = FaultProxy::start(echo_server());
        proxy.random_cuts(seed, 5000);
        // The budgets the proxy draws, from the same seed.
        let mut rng = SplitMix64::new(seed);
        for _ in 0..20 {
            let _conn_rng = rng.next_u64();
            let budget = rng.in_range(5000);
            let mut s = connect(&proxy);
            let mut w = s.try_clone().unwrap();
            let writer = std::thread::spawn(move || {
                let _ = w.write_all(&[0x5a; 20_000]);
            });
            // Echoed bytes count twice (out and back): the echo ends at the cut.
            let got = read_upto(&mut s, 20_000);
            let _ = writer.join();
            assert!(
                (got.len() as u64) <= budget,
                "got {} with a budget of {budget}",
                got.len()
            );
        }
        assert_eq!(proxy.cuts(), 20);
        proxy.no_random_cuts();
        let mut s = connect(&proxy);
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || w.write_all(&[1; 20_000]).unwrap());
        assert_eq!(read_upto(&mut s, 20_000).len(), 20_000);
        writer.join().unwrap();
        assert_eq!(proxy.cuts(), 20);
    }

    #[test]
    fn timed_cuts_land_inside_the_bytes_in_flight() {
        let seed = seed("timed_cuts_land_inside_the_bytes_in_flight");
        let proxy = FaultProxy::start(echo_server());
        proxy.random_cuts_timed(seed, Duration::from_millis(10)..Duration::from_millis(30));
        for i in 0..10u64 {
            let mut s = connect(&proxy);
            let mut w = s.try_clone().unwrap();
            // Keeps bytes in flight until the cut.
            let writer = std::thread::spawn(move || {
                while w.write_all(&[0x42; 1000]).is_ok() {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let mut total = 0;
            let mut buf = [0u8; 4096];
            while let Ok(k @ 1..) = s.read(&mut buf) {
                total += k;
            }
            writer.join().unwrap();
            assert!(total > 0, "some bytes went through first");
            assert_eq!(proxy.cuts(), i + 1);
        }
        // A stream of 1000-byte writes read in 16 KiB chunks: nearly every cut falls
        // inside a chunk.
        assert!(proxy.partial_cuts() >= 8, "{proxy:?}");
        // An idle connection is cut too, once its lifetime and the grace are over.
        let mut idle = connect(&proxy);
        assert_eq!(read_upto(&mut idle, 1), b"");
        assert_eq!(proxy.cuts(), 11);
    }
}
