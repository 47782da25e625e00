//! A durable session survives its process: a real publisher process with a file
//! store is killed (SIGKILL) mid-stream again and again and restarted with the same
//! client id and store. Every message it had acknowledged, and every message its
//! store brought back, reaches the subscriber; at QoS 2 none arrives twice.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mqtt_test_broker::Mosquitto;
use mqtt_tokio::{ClientError, Options, QoS};
use support::example;

/// What the publisher runs reported.
#[derive(Default, Debug)]
struct Reported {
    acked: BTreeSet<u32>,
    restored: BTreeSet<u32>,
    highest: Option<u32>,
    kills: usize,
    done: bool,
}

/// Runs the publisher from `start`; kills it after `kill_after` acks (None: to the end).
fn run_publisher(
    port: u16,
    store: &std::path::Path,
    qos: u8,
    start: u32,
    count: u32,
    kill_after: Option<usize>,
    r: &mut Reported,
) {
    let mut child = example("durable_pub")
        .args([
            "--port",
            &port.to_string(),
            "--id",
            &format!("durable-q{qos}"),
        ])
        .args([
            "--store",
            store.to_str().unwrap(),
            "--qos",
            &qos.to_string(),
        ])
        .args(["--start", &start.to_string(), "--count", &count.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = 0;
    for line in lines {
        let line = line.unwrap();
        let mut words = line.split(' ');
        match (
            words.next(),
            words.next().and_then(|v| v.parse::<u32>().ok()),
        ) {
            (Some("acked"), Some(i)) => {
                r.acked.insert(i);
                r.highest = r.highest.max(Some(i));
                acks += 1;
                if kill_after == Some(acks) {
                    child.kill().unwrap(); // SIGKILL: no chance to clean up
                    r.kills += 1;
                    break;
                }
            }
            (Some("restored"), Some(i)) => {
                r.restored.insert(i);
                r.highest = r.highest.max(Some(i));
            }
            // The next run starts after every message ever handed to a client, so the
            // application publishes each message once: a duplicate is the client's.
            (Some("sending"), Some(i)) => r.highest = r.highest.max(Some(i)),
            (Some("done"), None) => r.done = true,
            _ => panic!("unexpected output {line:?}"),
        }
    }
    let status = child.wait().unwrap();
    if kill_after.is_none() {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(status.success(), "publisher failed: {status}\n{err}");
    }
}

async fn check(qos: u8) {
    let broker = Mosquitto::builder()
        .config("max_inflight_messages 100\nmax_queued_messages 100000")
        .start();
    let dir = std::env::temp_dir().join(format!("durable-{}-{qos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("pub.journal");
    let _ = std::fs::remove_file(&store);

    let sub_opts = Options::new("127.0.0.1", broker.port())
        .client_id(&format!("durable-sub-q{qos}"))
        .clean_session(false)
        .subscription_capacity(100_000);
    let (sub_client, event_loop) = mqtt_tokio::client(sub_opts).unwrap();
    let sub = sub_client.subscribe(&format!("durable/durable-q{qos}"), QoS::ExactlyOnce);
    let event_loop = tokio::spawn(event_loop.run());
    let mut sub = sub.await.unwrap();

    // Kill it at a different point each time (a fixed sequence: reproducible).
    let port = broker.port();
    let store_path = store.clone();
    let reported = tokio::task::spawn_blocking(move || {
        let mut r = Reported::default();
        for kill_after in [7, 150, 1, 420, 33, 260, 90, 5] {
            let start = r.highest.map_or(0, |h| h + 1);
            run_publisher(
                port,
                &store_path,
                qos,
                start,
                10_000,
                Some(kill_after),
                &mut r,
            );
        }
        let start = r.highest.map_or(0, |h| h + 1);
        run_publisher(port, &store_path, qos, start, 300, None, &mut r);
        r
    })
    .await
    .unwrap();
    assert!(reported.done && reported.kills == 8, "{reported:?}");

    // Everything acknowledged, and everything restored, must arrive.
    let must: BTreeSet<u32> = reported.acked.union(&reported.restored).copied().collect();
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while must.iter().any(|i| !seen.contains_key(i)) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(m)) = tokio::time::timeout(left, sub.recv()).await else {
            let missing: Vec<_> = must.iter().filter(|i| !seen.contains_key(i)).collect();
            panic!("QoS {qos}: {} never arrived: {missing:?}", missing.len());
        };
        *seen
            .entry(u32::from_be_bytes(m.payload().try_into().unwrap()))
            .or_default() += 1;
    }
    // Let stragglers (duplicates) arrive too.
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), sub.recv()).await {
        *seen
            .entry(u32::from_be_bytes(m.payload().try_into().unwrap()))
            .or_default() += 1;
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "QoS {qos}: {} kills, {} acknowledged, {} restored from the store after a kill, {} received, {} duplicates",
        reported.kills,
        reported.acked.len(),
        reported.restored.len(),
        seen.len(),
        duplicates
    );
    assert!(
        !reported.restored.is_empty(),
        "no kill left anything in flight: not a test"
    );
    if qos == 2 {
        // [MQTT-4.3.3-2]: exactly once, across process deaths.
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "QoS 2 duplicates: {twice:?}");
    }
    sub_client.disconnect().await.unwrap();
    assert!(event_loop.await.unwrap().is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos2_publisher_killed_repeatedly_loses_and_duplicates_nothing() {
    check(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_publisher_killed_repeatedly_loses_nothing() {
    check(1).await;
}

/// A store that fails ends the event loop with a typed error, and nothing it did not
/// hold reaches the broker.
#[tokio::test]
async fn a_failing_store_ends_the_event_loop_with_a_typed_error() {
    #[derive(Debug)]
    struct Full;
    impl std::fmt::Display for Full {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("no space left on device")
        }
    }
    impl std::error::Error for Full {}
    struct FailingStore(usize);
    impl mqtt_tokio::Store for FailingStore {
        type Error = Full;
        fn persist(&mut self, _: &[mqtt_tokio::StoreOp]) -> Result<(), Full> {
            self.0 += 1;
            Err(Full)
        }
        fn load(&mut self) -> Result<mqtt_tokio::SessionState, Full> {
            Ok(mqtt_tokio::SessionState::empty())
        }
    }
    let broker = Mosquitto::start_with("log_type all");
    let opts = Options::new("127.0.0.1", broker.port())
        .client_id("failing-store")
        .clean_session(false)
        .store(FailingStore(0));
    let (client, event_loop) = mqtt_tokio::connect(opts).unwrap();
    let published = client
        .publish("failing/x", "never", QoS::AtLeastOnce, false)
        .await;
    assert!(
        matches!(published, Err(ClientError::Store(_))),
        "{published:?}"
    );
    let ended = event_loop.await.unwrap();
    assert!(
        matches!(&ended, Err(ClientError::Store(e)) if e.to_string().contains("no space")),
        "{ended:?}"
    );
    assert!(
        !broker.log().contains("Received PUBLISH from failing-store"),
        "a message the store did not hold was sent:\n{}",
        broker.log()
    );
}

/// A damaged journal is a typed error when the options are built, never a panic.
#[test]
fn a_corrupt_journal_is_a_typed_error() {
    let dir = std::env::temp_dir().join(format!("corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("j");
    std::fs::write(&path, b"not a journal at all").unwrap();
    let e = Options::new("127.0.0.1", 1).file_store(&path).unwrap_err();
    assert!(matches!(e, mqtt_tokio::StoreError::NotAJournal(_)), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
