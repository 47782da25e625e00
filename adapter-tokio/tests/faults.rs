//! Fault injection against a real mosquitto, on tokio: connections cut at random
//! moments (mid-packet included) by a proxy, the broker killed with SIGKILL and
//! restarted, a half-open connection, bytes delivered one at a time.
//!
//! Each test prints its figures (`cargo test -p mqtt-tokio --test faults --
//! --nocapture`) and the seed of its random cuts; `FAULT_SEED=<seed>` replays the
//! same sequence of connection lifetimes (thread timing still varies from run to
//! run, so a replay is close, not identical).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mqtt_test_broker::{FaultProxy, Mosquitto};
use mqtt_tokio::{
    Ack, Backoff, Cause, Client, ConnectionEvent, DisconnectReason, LinkState, Options, QoS,
    Subscription,
};

/// Messages per QoS in the streams (the issue asks for 10,000 of each).
const N: u32 = 10_000;

fn opts(url: &str, id: &str) -> Options {
    Options::parse(url)
        .expect("url")
        .client_id(id)
        .keep_alive(Duration::from_secs(10))
        .reconnect(Some(Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(100),
            jitter: true,
        }))
}

/// The topic of a QoS: one topic per QoS, since ordering is only promised per topic
/// and QoS [MQTT-4.6.0-6].
fn topic(prefix: &str, qos: QoS) -> String {
    match qos {
        QoS::AtLeastOnce => format!("{prefix}/q1"),
        _ => format!("{prefix}/q2"),
    }
}

/// A 16-byte payload: the sequence number, then filler.
fn payload(seq: u32) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend_from_slice(&[0xa5; 12]);
    p
}

/// What the subscriber saw, per QoS (index 0: QoS 1, index 1: QoS 2).
struct Tally {
    /// Copies received, per sequence number.
    count: [Vec<u32>; 2],
    /// Sequence numbers in the order of their first arrival.
    first_order: [Vec<u32>; 2],
    /// When each sequence number first arrived.
    first_at: [Vec<Option<Instant>>; 2],
    unique: [u32; 2],
    total: u64,
    /// QoS 2 only, per sequence number: each copy's packet id, DUP flag, and the
    /// subscriber's connection count when it came (to explain a duplicate).
    copies2: Vec<Vec<(u16, bool, u64)>>,
    /// Messages with a QoS other than the one published, or an unknown topic.
    wrong: u64,
    last_at: Instant,
}

impl Tally {
    fn new() -> Tally {
        let n = N as usize;
        Tally {
            count: [vec![0; n], vec![0; n]],
            first_order: [Vec::with_capacity(n), Vec::with_capacity(n)],
            first_at: [vec![None; n], vec![None; n]],
            unique: [0, 0],
            copies2: vec![Vec::new(); n],
            total: 0,
            wrong: 0,
            last_at: Instant::now(),
        }
    }

    fn duplicates(&self, k: usize) -> u64 {
        self.count[k]
            .iter()
            .map(|&c| u64::from(c.saturating_sub(1)))
            .sum()
    }

    fn missing(&self, k: usize) -> Vec<u32> {
        (0..N).filter(|&s| self.count[k][s as usize] == 0).collect()
    }

    fn complete(&self) -> bool {
        self.unique == [N, N]
    }
}

/// Reads the subscription into the tally until the stream ends.
fn spawn_reader(mut sub: Subscription, client: Client, prefix: &str) -> Arc<Mutex<Tally>> {
    let tally = Arc::new(Mutex::new(Tally::new()));
    let t = tally.clone();
    let (q1, q2) = (
        topic(prefix, QoS::AtLeastOnce),
        topic(prefix, QoS::ExactlyOnce),
    );
    tokio::spawn(async move {
        while let Some(m) = sub.recv().await {
            let now = Instant::now();
            let mut t = t.lock().unwrap();
            t.total += 1;
            t.last_at = now;
            let k = match m.topic() {
                x if x == q1 && m.qos() == QoS::AtLeastOnce => 0,
                x if x == q2 && m.qos() == QoS::ExactlyOnce => 1,
                _ => {
                    t.wrong += 1;
                    continue;
                }
            };
            let Some(seq) = m
                .payload()
                .get(..4)
                .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
                .filter(|&s| s < N)
            else {
                t.wrong += 1;
                continue;
            };
            let s = seq as usize;
            if k == 1 {
                let pid = m.frame().qos_pid().packet_id().map_or(0, |p| p.get());
                let connects = client.status().connects;
                t.copies2[s].push((pid, m.dup(), connects));
            }
            t.count[k][s] += 1;
            if t.count[k][s] == 1 {
                t.unique[k] += 1;
                t.first_order[k].push(seq);
                t.first_at[k][s] = Some(now);
            }
        }
    });
    tally
}

/// Per QoS (index 0: QoS 1, 1: QoS 2) and sequence number.
type PerMessage<T> = Arc<Mutex<[Vec<Option<T>>; 2]>>;

/// The publisher's side of a stream.
#[derive(Clone)]
struct Published {
    /// When the message was handed to the client.
    queued_at: PerMessage<Instant>,
    /// When its acknowledgement came, and whether it was a success.
    acked: PerMessage<(Instant, bool)>,
}

impl Published {
    fn all_acked(&self) -> bool {
        self.acked
            .lock()
            .unwrap()
            .iter()
            .all(|v| v.iter().all(|a| a.is_some()))
    }

    fn failed(&self) -> usize {
        let acked = self.acked.lock().unwrap();
        acked
            .iter()
            .flatten()
            .filter(|a| matches!(a, Some((_, false))))
            .count()
    }
}

/// Publishes `N` QoS 1 and `N` QoS 2 messages in a task, interleaved, each QoS in
/// sequence order, with at most `window` unacknowledged at a time (the session's
/// own in-flight window is 100), and records when each was handed to the client and
/// when its acknowledgement came.
fn publish_stream(client: &Client, prefix: &str, window: usize) -> Published {
    let n = N as usize;
    let published = Published {
        queued_at: Arc::new(Mutex::new([vec![None; n], vec![None; n]])),
        acked: Arc::new(Mutex::new([vec![None; n], vec![None; n]])),
    };
    let (client, p) = (client.clone(), published.clone());
    let (q1, q2) = (
        topic(prefix, QoS::AtLeastOnce),
        topic(prefix, QoS::ExactlyOnce),
    );
    let slots = Arc::new(tokio::sync::Semaphore::new(window));
    tokio::spawn(async move {
        for seq in 0..N {
            for (k, qos, t) in [(0, QoS::AtLeastOnce, &q1), (1, QoS::ExactlyOnce, &q2)] {
                let slot = slots.clone().acquire_owned().await.expect("semaphore");
                let ack: Ack = client
                    .queue_publish(t.as_str(), payload(seq), qos, false)
                    .await
                    .expect("queue publish");
                p.queued_at.lock().unwrap()[k][seq as usize] = Some(Instant::now());
                let acked = p.acked.clone();
                tokio::spawn(async move {
                    let result = ack.await;
                    if let Err(e) = &result {
                        eprintln!("publish {k} {seq} failed: {e}");
                    }
                    acked.lock().unwrap()[k][seq as usize] = Some((Instant::now(), result.is_ok()));
                    drop(slot);
                });
            }
        }
    });
    published
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        if Instant::now() > deadline {
            eprintln!("{what}: not done within {secs} s");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

fn ranges(v: &[u32]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
        if out.len() > 20 {
            out.push("...".into());
            break;
        }
    }
    out.join(",")
}

/// Per packet id, how often mosquitto's log (`log_type all`) shows it sending
/// `client` a QoS 2 PUBLISH after it had sent that id's PUBREL and before a PUBCOMP
/// came: forbidden by [MQTT-4.3.3-1] ("MUST NOT re-send the PUBLISH once it has sent
/// the corresponding PUBREL packet").
///
/// mosquitto 2.0.11 does it when a connection breaks while it re-sends PUBREL
/// packets after a reconnect: the failed send leaves the message in its
/// `resend_pubrel` state, and the next reconnect resets every QoS 2 message not in
/// `wait_for_pubcomp` to `publish_qos2` (`db__message_reconnect_reset_outgoing`).
fn publish_after_pubrel(log: &str, client: &str) -> HashMap<u16, u32> {
    let pubrel = format!("Sending PUBREL to {client} (m");
    let pubcomp = format!("Received PUBCOMP from {client} (Mid: ");
    let publish = format!("Sending PUBLISH to {client} (d");
    let id = |rest: &str| -> Option<u16> {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    let mut released = std::collections::HashSet::new();
    let mut resent = HashMap::new();
    for line in log.lines() {
        if let Some(at) = line.find(&pubrel) {
            released.extend(id(&line[at + pubrel.len()..]));
        } else if let Some(at) = line.find(&pubcomp) {
            if let Some(x) = id(&line[at + pubcomp.len()..]) {
                released.remove(&x);
            }
        } else if let Some(at) = line.find(&publish) {
            // "(d1, q2, r0, m19174, 'topic', ..."
            let rest = &line[at + publish.len()..];
            if let Some(m) = rest.find(", m").filter(|_| rest.contains(", q2,")) {
                if let Some(x) = id(&rest[m + 3..]) {
                    if released.remove(&x) {
                        *resent.entry(x).or_default() += 1;
                    }
                }
            }
        }
    }
    resent
}

/// A persistent subscriber with its subscription in place before its event loop
/// runs (so what a resumed session delivers right after CONNACK is routed).
async fn subscriber(url: &str, id: &str, filter: &str) -> (Client, Subscription) {
    let (client, event_loop) = mqtt_tokio::client(opts(url, id).clean_session(false)).unwrap();
    let subscribing = client.subscribe(filter, QoS::ExactlyOnce);
    tokio::spawn(event_loop.run());
    let sub = subscribing.await.expect("subscribe");
    assert_eq!(sub.granted_qos(), QoS::ExactlyOnce);
    (client, sub)
}

/// 10,000 QoS 1 and 10,000 QoS 2 messages from a persistent publisher to a
/// persistent subscriber, both through proxies that cut each of their connections
/// after a random lifetime, at a random point of the bytes then in flight (so
/// nearly always inside a packet), at least 50 times in all.
///
/// Checked:
/// - every QoS 1 message arrives at least once [MQTT-4.3.2-1] (the publisher re-sends
///   unacknowledged PUBLISH packets on resumption [MQTT-4.4.0-1], so does the broker);
/// - every QoS 2 message arrives exactly once [MQTT-4.3.3-2] (the broker answers a
///   re-sent PUBLISH with PUBREC without forwarding it again; the subscriber's session
///   does the same for the broker's re-sends), except for the copies mosquitto
///   itself causes by breaking [MQTT-4.3.3-1] (see [`publish_after_pubrel`]): each
///   extra copy must be one of those, as mosquitto's own log shows;
/// - every publish completes (PUBACK / PUBCOMP, after as many resumptions as needed);
/// - order, per QoS (one topic each): the sequence numbers in the order of their
///   *first* arrival are exactly 0, 1, ..., N-1. Why this holds: the publisher sends
///   in sequence order, and after a cut re-sends every unacknowledged PUBLISH in its
///   original order before anything new [MQTT-4.6.0-1], so the broker receives each
///   message for the first time after all earlier ones; the broker forwards one
///   topic and QoS in the order it received them [MQTT-4.6.0-6] and re-sends to the
///   subscriber in original order too [MQTT-4.6.0-1]; TCP keeps order within a
///   connection. Copies after the first (QoS 1 duplicates of re-sent messages) may
///   come after later messages (the spec's own example: 1,2,3,2,3,4), so only first
///   arrivals are checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_survive_random_cuts_mid_packet() {
    let started = Instant::now();
    // mosquitto's defaults (20 in flight, 1000 queued) drop messages under this load.
    let broker = Mosquitto::start_with(
        "max_inflight_messages 1000\nmax_queued_messages 100000\nlog_type all",
    );
    let seed = mqtt_test_broker::seed("streams_survive_random_cuts_mid_packet");
    let sub_proxy = FaultProxy::start(broker.port());
    let pub_proxy = FaultProxy::start(broker.port());
    let prefix = "cuts";
    let (sub_client, sub) =
        subscriber(&sub_proxy.url(), "faults-sub", &format!("{prefix}/#")).await;
    let tally = spawn_reader(sub, sub_client.clone(), prefix);
    let (publisher, _p) =
        mqtt_tokio::connect(opts(&pub_proxy.url(), "faults-pub").clean_session(false)).unwrap();
    publisher
        .publish("warmup", "x", QoS::AtLeastOnce, false)
        .await
        .unwrap();

    // The publisher's connections are cut after a random number of bytes (1 to 16
    // KiB, both directions together), the subscriber's after a random lifetime of
    // 10 to 20 ms, each at a random point of the bytes in flight. Byte budgets, or
    // shorter lives, stall the subscriber once it is behind: on every reconnect the
    // broker re-sends its whole in-flight window (up to 1,000 messages, 30 KB), and
    // a connection that dies before the subscriber acknowledged them leaves the
    // window as it was (seen: 3 million QoS 1 copies in 38 s with lives of 0 to
    // 10 ms). The publisher has at most 100 messages in flight.
    sub_proxy.random_cuts_timed(seed, Duration::from_millis(10)..Duration::from_millis(20));
    pub_proxy.random_cuts(seed ^ 0x5eed, 16 * 1024);
    let published = publish_stream(&publisher, prefix, 1000);
    let complete = wait_for("all messages", 100, || tally.lock().unwrap().complete()).await;
    sub_proxy.no_random_cuts();
    pub_proxy.no_random_cuts();
    let cuts = (pub_proxy.cuts(), sub_proxy.cuts());
    {
        let t = tally.lock().unwrap();
        if !complete {
            panic!(
                "missing QoS 1: {} ({}), QoS 2: {} ({}); cuts pub/sub {cuts:?}; {:?} {:?}\n{:?}\n{:?}",
                t.missing(0).len(),
                ranges(&t.missing(0)),
                t.missing(1).len(),
                ranges(&t.missing(1)),
                pub_proxy,
                sub_proxy,
                publisher.status(),
                sub_client.status()
            );
        }
    }
    assert!(
        wait_for("every acknowledgement", 30, || published.all_acked()).await,
        "not every publish was acknowledged: {:?}",
        publisher.status()
    );
    // Late copies (QoS 1 re-sends) have a moment to arrive before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let t = tally.lock().unwrap();
    let failed = published.failed();
    let (dup1, dup2) = (t.duplicates(0), t.duplicates(1));
    let (ps, ss) = (publisher.status(), sub_client.status());
    eprintln!(
        "random cuts: sent {} (QoS 1 {N}, QoS 2 {N}); received {} (unique QoS 1 {}, QoS 2 {}); \
         duplicates QoS 1 {dup1}, QoS 2 {dup2}; cuts {} (publisher {}, subscriber {}; \
         inside bytes in flight {}); bytes forwarded {} + {}; reconnects publisher {}, subscriber {}; {:.1} s",
        2 * N,
        t.total,
        t.unique[0],
        t.unique[1],
        cuts.0 + cuts.1,
        cuts.0,
        cuts.1,
        pub_proxy.partial_cuts() + sub_proxy.partial_cuts(),
        pub_proxy.bytes_forwarded(),
        sub_proxy.bytes_forwarded(),
        ps.reconnects,
        ss.reconnects,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(failed, 0, "every publish completes");
    assert_eq!(
        t.wrong, 0,
        "messages on unexpected topics or with another QoS"
    );
    // The faults really happened, on both connections, and inside the stream.
    assert!(cuts.0 + cuts.1 >= 50, "only {cuts:?} cuts");
    let partial = pub_proxy.partial_cuts() + sub_proxy.partial_cuts();
    assert!(partial >= 20, "only {partial} cuts inside bytes in flight");
    assert!(
        cuts.0 >= 10 && cuts.1 >= 10,
        "both connections are cut: {cuts:?}"
    );
    assert!(ps.reconnects >= 10 && ss.reconnects >= 10);
    // [MQTT-4.3.2-1] at least once; [MQTT-4.3.3-2] exactly once.
    assert_eq!(t.unique, [N, N]);
    // [MQTT-4.3.3-2] exactly once, except where mosquitto itself broke the QoS 2
    // flow: each extra copy must carry a packet id that mosquitto's log shows it
    // re-sent as PUBLISH after it had sent that id's PUBREL (and got no PUBCOMP),
    // which [MQTT-4.3.3-1] forbids. The subscriber had answered that PUBREL with
    // PUBCOMP (lost in the cut), and after a PUBCOMP a PUBLISH with the same id is a
    // new publication for the receiver [MQTT-4.3.3-2]: the client cannot tell it
    // apart from one, so it delivers it.
    let resent = publish_after_pubrel(&broker.log(), "faults-sub");
    let mut extra: HashMap<u16, u32> = HashMap::new();
    let mut unexplained = Vec::new();
    for (seq, copies) in t.copies2.iter().enumerate() {
        for &(pid, dup, _) in copies.iter().skip(1) {
            let n = extra.entry(pid).or_default();
            *n += 1;
            if !dup || *n > resent.get(&pid).copied().unwrap_or(0) {
                unexplained.push((seq, copies.clone()));
            }
        }
    }
    let broker_faults: u32 = resent.values().sum();
    eprintln!(
        "random cuts: QoS 2 duplicates {dup2}, all from mosquitto re-sending PUBLISH after PUBREL \
         ({broker_faults} such re-sends in its log)"
    );
    if !unexplained.is_empty() {
        let _ = std::fs::write("/tmp/faults-mosquitto.log", broker.log());
        panic!(
            "{} QoS 2 duplicates not explained by the broker (seq, [(packet id, dup, connects)]): \
             {:?}; the broker's log is in /tmp/faults-mosquitto.log",
            unexplained.len(),
            &unexplained[..unexplained.len().min(10)]
        );
    }
    // [MQTT-4.6.0-1], [MQTT-4.6.0-6]: first arrivals in publishing order.
    for (k, name) in [(0, "QoS 1"), (1, "QoS 2")] {
        let expected: Vec<u32> = (0..N).collect();
        if t.first_order[k] != expected {
            let at = t.first_order[k]
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{name}: first arrivals out of order at index {at}: {:?}",
                &t.first_order[k][at.saturating_sub(3)..(at + 5).min(N as usize)]
            );
        }
    }
    assert_eq!(ss.state, LinkState::Connected);
}

/// The same stream (10,000 QoS 1 and 10,000 QoS 2 messages, persistent sessions),
/// with the broker killed by SIGKILL while it flows and started again on its
/// persistence file.
///
/// What mosquitto can promise: with `autosave_on_changes true` and
/// `autosave_interval 1` it rewrites its persistence file after every pass of its
/// main loop in which anything changed; a pass reads at most one packet per client
/// (`loop_handle_reads_writes`), and mosquitto answers that packet (PUBACK, PUBREC,
/// PUBCOMP) within the pass, before the save. So SIGKILL loses only what the last
/// pass or two did: a message it acknowledged but had not saved (lost), or a
/// delivery to the subscriber it had completed but not saved (sent again after the
/// restart: a duplicate). The client cannot undo that; the test asserts what holds
/// regardless, with `W` a generous margin (a pass takes well under a millisecond):
/// - every publish completes, and the clients reconnect by themselves;
/// - a message may be missing only if it was in flight at the kill: handed to the
///   client before it (the publisher keeps at most 100 unacknowledged, like the
///   session) and acknowledged after `kill - W`; everything else arrives, QoS 1 and
///   2 [MQTT-4.3.2-1], [MQTT-4.3.3-2];
/// - a QoS 2 message may arrive twice only if it was in flight at the kill or
///   first arrived within `W` before it; every other arrives exactly once
///   [MQTT-4.3.3-2];
/// - few are affected at all: at most `BROKER_LOSS` lost plus duplicated, of
///   20,000 (seen: 0 to 7 in ten runs, all QoS 2, within 10 ms of the kill; a
///   state change such as a PUBREC received, `db__message_update_outgoing`, does
///   not count as a change for mosquitto, so its file can lag by more than a pass);
/// - per QoS, the first arrivals of the unaffected messages are in publishing order
///   (as in `streams_survive_random_cuts_mid_packet`: [MQTT-4.6.0-1],
///   [MQTT-4.6.0-6]; the restored broker re-sends its saved queue in order, before
///   what arrives after the restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_with_sigkill_mid_stream() {
    const W: Duration = Duration::from_millis(200);
    const BROKER_LOSS: usize = 50;
    let started = Instant::now();
    let mut builder = Mosquitto::builder().persistence().config(
        "autosave_on_changes true\nautosave_interval 1\n\
         max_inflight_messages 1000\nmax_queued_messages 100000",
    );
    // mosquitto fsyncs after every save: keep the file in memory (SIGKILL kills the
    // process, not the machine, so that loses nothing the test relies on).
    if std::path::Path::new("/dev/shm").is_dir() {
        builder = builder.dir_in("/dev/shm");
    }
    let mut broker = builder.start();
    let prefix = "kill";
    let (sub_client, sub) = subscriber(&broker.url(), "kill-sub", &format!("{prefix}/#")).await;
    let tally = spawn_reader(sub, sub_client.clone(), prefix);
    let (publisher, _p) =
        mqtt_tokio::connect(opts(&broker.url(), "kill-pub").clean_session(false)).unwrap();
    publisher
        .publish("warmup", "x", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    // The test's window equals the session's: what the test handed over and is not
    // yet acknowledged is what may be at the broker unacknowledged.
    let published = publish_stream(&publisher, prefix, 100);
    assert!(
        wait_for("a third of the stream", 60, || {
            let t = tally.lock().unwrap();
            t.unique[0] + t.unique[1] >= 2 * N / 3
        })
        .await
    );
    let before_kill = {
        let t = tally.lock().unwrap();
        t.unique[0] + t.unique[1]
    };
    let killed_at = Instant::now();
    broker.kill(); // SIGKILL
    broker.start_again();
    let back_at = Instant::now();
    let acked = wait_for("every acknowledgement", 60, || published.all_acked()).await;
    // Then until everything arrived, or nothing more came for a second.
    wait_for("the last messages", 60, || {
        let t = tally.lock().unwrap();
        t.complete() || t.last_at.elapsed() > Duration::from_secs(1)
    })
    .await;
    assert!(
        acked,
        "not every publish was acknowledged: {:?}",
        publisher.status()
    );

    let failed = published.failed();
    let t = tally.lock().unwrap();
    let queued_at = published.queued_at.lock().unwrap();
    let acked_at = published.acked.lock().unwrap();
    let in_flight = |k: usize, s: usize| {
        queued_at[k][s].is_some_and(|q| q < killed_at)
            && acked_at[k][s].is_some_and(|(a, _)| a + W > killed_at)
    };
    let arrived_just_before =
        |k: usize, s: usize| t.first_at[k][s].is_some_and(|f| f + W > killed_at && f <= killed_at);
    let affected = |k: usize, s: usize| in_flight(k, s) || arrived_just_before(k, s);
    let lost: [Vec<u32>; 2] = [0, 1].map(|k| t.missing(k));
    let lost_unexplained: Vec<(usize, u32)> = (0..2)
        .flat_map(|k| lost[k].iter().map(move |&s| (k, s)))
        .filter(|&(k, s)| !in_flight(k, s as usize))
        .collect();
    let dup2: Vec<u32> = (0..N).filter(|&s| t.count[1][s as usize] > 1).collect();
    let dup2_unexplained: Vec<_> = dup2
        .iter()
        .filter(|&&s| !affected(1, s as usize))
        .map(|&s| (s, t.copies2[s as usize].clone()))
        .collect();
    let in_flight_count: usize = (0..2)
        .map(|k| (0..N as usize).filter(|&s| in_flight(k, s)).count())
        .sum();
    let after_restart: usize = (0..2)
        .map(|k| {
            t.first_at[k]
                .iter()
                .flatten()
                .filter(|&&f| f > back_at)
                .count()
        })
        .sum();
    let (ps, ss) = (publisher.status(), sub_client.status());
    eprintln!(
        "SIGKILL: sent {} (QoS 1 {N}, QoS 2 {N}); received {} (unique QoS 1 {}, QoS 2 {}); \
         duplicates QoS 1 {}, QoS 2 {}; lost QoS 1 {} {:?}, QoS 2 {} {:?}; \
         unique before the kill {before_kill}, first arrivals after the restart {after_restart}; \
         in flight at the kill {in_flight_count}; broker down {:.0} ms; \
         reconnects publisher {}, subscriber {}; {:.1} s",
        2 * N,
        t.total,
        t.unique[0],
        t.unique[1],
        t.duplicates(0),
        t.duplicates(1),
        lost[0].len(),
        ranges(&lost[0]),
        lost[1].len(),
        ranges(&lost[1]),
        (back_at - killed_at).as_secs_f64() * 1000.0,
        ps.reconnects,
        ss.reconnects,
        started.elapsed().as_secs_f64()
    );
    for s in &dup2 {
        eprintln!(
            "SIGKILL: QoS 2 message {s} twice: first arrival {:?} before the kill; copies {:?}",
            t.first_at[1][*s as usize].map(|f| killed_at.saturating_duration_since(f)),
            t.copies2[*s as usize]
        );
    }
    assert_eq!(failed, 0, "every publish completes");
    assert_eq!(t.wrong, 0);
    assert!(ps.reconnects >= 1 && ss.reconnects >= 1, "both reconnected");
    assert_eq!(ss.state, LinkState::Connected);
    // The kill fell in the middle of the stream.
    assert!(
        before_kill >= 2 * N / 3 && after_restart >= 1000,
        "{before_kill} {after_restart}"
    );
    assert!(
        lost_unexplained.is_empty(),
        "lost though not in flight at the kill: {lost_unexplained:?}"
    );
    assert!(
        dup2_unexplained.is_empty(),
        "QoS 2 duplicates away from the kill: {dup2_unexplained:?}"
    );
    let damage = lost[0].len() + lost[1].len() + dup2.len();
    assert!(
        damage <= BROKER_LOSS,
        "{damage} messages lost or duplicated: more than the broker's unsaved work"
    );
    for k in 0..2 {
        let firsts: Vec<u32> = t.first_order[k]
            .iter()
            .copied()
            .filter(|&s| !affected(k, s as usize))
            .collect();
        let bad = firsts.windows(2).position(|w| w[0] >= w[1]);
        assert!(
            bad.is_none(),
            "QoS {}: unaffected first arrivals out of order near {:?}",
            k + 1,
            bad.map(|i| &firsts[i.saturating_sub(3)..(i + 4).min(firsts.len())])
        );
    }
}

/// A half-open connection (the proxy stops forwarding and keeps both sockets open)
/// is detected by the keepalive within 1.5 x keep_alive: the client sends PINGREQ
/// after keep_alive without traffic [MQTT-3.1.2-23] and gives up when no PINGRESP
/// comes within the ping timeout (half the keep alive, at least 1 s). It then
/// reconnects by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_socket_detected_by_keepalive() {
    let broker = Mosquitto::start();
    let proxy = FaultProxy::start(broker.port());
    let keep_alive = Duration::from_secs(2);
    let options = opts(&proxy.url(), "half-open-proxy").keep_alive(keep_alive);
    let (c, _loop) = mqtt_tokio::connect(options).unwrap();
    let mut events = c.connection_events();
    c.publish("ho", "1", QoS::AtLeastOnce, false).await.unwrap();
    proxy.stall();
    let stalled = Instant::now();
    let cause = loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("no disconnect within 10 s");
        match ev {
            Some(ConnectionEvent::Disconnected { cause }) => break cause,
            Some(_) => {}
            None => panic!("event loop ended"),
        }
    };
    let took = stalled.elapsed();
    eprintln!("half-open: detected after {took:?} (keep alive {keep_alive:?}): {cause}");
    assert!(
        matches!(cause, Cause::Session(DisconnectReason::PingTimeout)),
        "{cause:?}"
    );
    assert!(
        took >= Duration::from_secs(1),
        "too early for a ping timeout: {took:?}"
    );
    assert!(
        took <= keep_alive * 3 / 2 + Duration::from_millis(300),
        "detected after {took:?}"
    );
    // The sockets stayed open the whole time: the proxy cut nothing.
    assert_eq!(proxy.cuts(), 0);
    proxy.resume();
    c.publish("ho", "2", QoS::AtLeastOnce, false).await.unwrap();
    assert!(c.status().reconnects >= 1);
    assert!(proxy.connections() >= 2);
}

/// Every byte in its own TCP segment, read one at a time: packets (and their
/// remaining-length varints, 2 bytes for 200-byte payloads) arrive in pieces, and
/// nothing is lost or misparsed, in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_delivered_one_at_a_time() {
    let broker = Mosquitto::start();
    let proxy = FaultProxy::start(broker.port());
    proxy.trickle(Some(Duration::from_micros(100)));
    let (c, _loop) = mqtt_tokio::connect(opts(&proxy.url(), "trickle")).unwrap();
    let mut sub = c.subscribe("trickle/#", QoS::ExactlyOnce).await.unwrap();
    let before = proxy.bytes_forwarded();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for i in 0..3u8 {
            let body: Vec<u8> = (0..200).map(|j| j as u8 ^ i).collect();
            c.publish("trickle/x", body.clone(), qos, false)
                .await
                .unwrap();
            let m = tokio::time::timeout(Duration::from_secs(20), sub.recv())
                .await
                .expect("message within 20 s")
                .expect("subscribed");
            assert_eq!((m.payload(), m.qos()), (&body[..], qos));
        }
    }
    let moved = proxy.bytes_forwarded() - before;
    eprintln!("trickle: {moved} bytes, one per write");
    assert!(moved > 9 * 2 * 200, "{moved}");
    assert_eq!(c.status().reconnects, 0);
}
