//! End-to-end comparison against a real mosquitto (or rumqttd, `--broker rumqttd`):
//! this project's client on tokio and smol against rumqttc 0.25, one publisher and one
//! subscriber connection per run, runs alternating client by client; then memory per
//! idle connection.

pub mod alloc;
pub mod ceiling;
pub mod clients;
pub mod idle;
pub mod measure;
pub mod rumqttd;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use clients::{Kind, Load, Measured};
use measure::median;
use mqtt_test_broker::Mosquitto;

/// Settings from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Runs per client and load (the medians are over these).
    pub runs: usize,
    /// Fraction of the message counts (1.0: 200,000 / 100,000 / 50,000).
    pub scale: f64,
    /// Idle connections per client for the memory figure (0 skips it).
    pub idle: usize,
    /// Only these clients (all when empty), for profiling one of them.
    pub clients: Vec<Kind>,
    /// Only loads of this QoS.
    pub qos: Option<u8>,
    /// Use the mosquitto already listening on this port (configured like [`broker`])
    /// instead of starting one: to profile the clients without the broker.
    pub port: Option<u16>,
    /// Only loads with payloads of this many bytes.
    pub payload: Option<usize>,
    /// This project's clients with this `Options::ack_coalescing` (default: theirs).
    pub ack_coalescing: Option<mqtt_client::AckCoalescing>,
    /// This project's clients with this `Options::read_pacing` (default: theirs;
    /// zero turns it off).
    pub read_pacing: Option<std::time::Duration>,
    /// The broker started for the runs.
    pub broker: BrokerKind,
}

/// The brokers `e2e` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// mosquitto 2 (the Debian package), the broker.
    Mosquitto,
    /// rumqttd 0.20 in a child process (see [`rumqttd`]).
    Rumqttd,
}

/// A broker started by [`run`], stopped on drop.
enum Running {
    Mosquitto(Mosquitto),
    Rumqttd(rumqttd::Rumqttd),
}

impl Running {
    fn port(&self) -> u16 {
        match self {
            Running::Mosquitto(m) => m.port(),
            Running::Rumqttd(r) => r.port(),
        }
    }

    /// What its command line holds, to find it in `/proc`: mosquitto's config path
    /// holds the port; the rumqttd child is `mqtt-bench rumqttd <port>`.
    fn needles(&self) -> [String; 2] {
        match self {
            Running::Mosquitto(m) => ["mosquitto".into(), format!("-{}/", m.port())],
            Running::Rumqttd(r) => [rumqttd::NAME.into(), format!(" {}", r.port())],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Running::Mosquitto(_) => "mosquitto",
            Running::Rumqttd(_) => rumqttd::NAME,
        }
    }
}

/// The loads: QoS 0, 1, 2 at 64 bytes, QoS 1 at 4 KiB.
fn loads(scale: f64) -> Vec<Load> {
    let n = |full: usize| ((full as f64 * scale) as usize).max(100);
    vec![
        Load {
            qos: 0,
            messages: n(200_000),
            payload: 64,
        },
        Load {
            qos: 1,
            messages: n(200_000),
            payload: 64,
        },
        Load {
            qos: 2,
            messages: n(100_000),
            payload: 64,
        },
        Load {
            qos: 1,
            messages: n(50_000),
            payload: 4096,
        },
    ]
}

/// mosquitto's defaults (20 in flight, 1,000 queued) drop QoS 0 and throttle QoS 1/2
/// under a burst; persistence is off.
pub fn broker() -> Mosquitto {
    Mosquitto::builder()
        .config("max_inflight_messages 1000\nmax_queued_messages 1000000\nmax_queued_bytes 0")
        .start()
}

struct Sample {
    measured: Measured,
    allocations: u64,
    /// The broker's CPU time over the run, as a share of the run's duration.
    broker_busy: f64,
    /// The broker's read and write system calls per message over the run.
    broker_syscalls: f64,
}

/// Runs everything and prints the tables.
pub fn run(settings: &Settings) {
    if let Some(mode) = settings.ack_coalescing {
        *clients::ACK_COALESCING.lock().expect("not poisoned") = mode;
    }
    if let Some(wait) = settings.read_pacing {
        *clients::READ_PACING.lock().expect("not poisoned") = Some(wait);
    }
    measure::raise_fd_limit(); // before the broker starts: it inherits the limit
    let broker = settings.port.is_none().then(|| match settings.broker {
        BrokerKind::Mosquitto => Running::Mosquitto(broker()),
        BrokerKind::Rumqttd => Running::Rumqttd(rumqttd::Rumqttd::start()),
    });
    let port = settings
        .port
        .or(broker.as_ref().map(Running::port))
        .expect("a broker");
    // One started by hand (`--port`) is any mosquitto.
    let needles = broker
        .as_ref()
        .map(Running::needles)
        .unwrap_or_else(|| ["mosquitto".into(), String::new()]);
    let needle = [needles[0].as_str(), needles[1].as_str()];
    let kinds: Vec<Kind> = if settings.clients.is_empty() {
        Kind::ALL.to_vec()
    } else {
        settings.clients.clone()
    };
    println!(
        "{} on 127.0.0.1:{port}; {} runs per client and load, alternating {}",
        broker.as_ref().map_or("mosquitto", Running::name),
        settings.runs,
        kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut results: Vec<(Load, HashMap<&'static str, Vec<Sample>>)> = Vec::new();
    for load in loads(settings.scale) {
        if settings.qos.is_some_and(|q| q != load.qos)
            || settings.payload.is_some_and(|p| p != load.payload)
        {
            continue;
        }
        let mut by_kind: HashMap<&'static str, Vec<Sample>> = HashMap::new();
        for round in 0..settings.runs {
            for &kind in &kinds {
                let tag = format!("{}-{}-{}-{round}", kind.name(), load.qos, load.payload);
                let allocs0 = alloc::count();
                let broker0 = measure::broker_cpu_time(&needle);
                let syscalls0 = measure::broker_io_syscalls(&needle);
                let measured = clients::run(kind, port, load, &tag);
                let allocations = alloc::count() - allocs0;
                let broker_cpu = measure::broker_cpu_time(&needle) - broker0;
                let broker_syscalls = (measure::broker_io_syscalls(&needle) - syscalls0) as f64
                    / measured.received.max(1) as f64;
                // Over the whole run (setup included), so a rough share.
                let broker_busy =
                    broker_cpu.as_secs_f64() / measured.elapsed.as_secs_f64().max(1e-9);
                eprintln!(
                    "  QoS {} {} B x {}: {:<10} {:>9.0} msg/s, {:>6.1} ms CPU per 1,000, broker {:>3.0}% busy, {:.1} broker syscalls/msg, received {}",
                    load.qos,
                    load.payload,
                    load.messages,
                    kind.name(),
                    rate(&measured),
                    cpu_per_1000(&measured),
                    broker_busy * 100.0,
                    broker_syscalls,
                    measured.received
                );
                by_kind.entry(kind.name()).or_default().push(Sample {
                    measured,
                    allocations,
                    broker_busy,
                    broker_syscalls,
                });
            }
        }
        results.push((load, by_kind));
    }
    print_throughput(&results, &kinds);
    if settings.idle > 0 {
        print_idle(port, settings.idle, &kinds);
    }
    drop(broker);
}

fn rate(m: &Measured) -> f64 {
    m.received as f64 / m.elapsed.as_secs_f64().max(1e-9)
}

fn cpu_per_1000(m: &Measured) -> f64 {
    m.cpu.as_secs_f64() * 1000.0 / (m.received.max(1) as f64) * 1000.0
}

fn print_throughput(results: &[(Load, HashMap<&'static str, Vec<Sample>>)], kinds: &[Kind]) {
    println!();
    println!("| load | client | msg/s (median) | client CPU ms per 1,000 msgs (median) | allocations per msg | broker CPU busy (median) | broker read+write syscalls per msg (median) | received (min of runs) | msg/s vs rumqttc | CPU vs rumqttc |");
    println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (load, by_kind) in results {
        let stat = |name: &str| {
            let Some(samples) = by_kind.get(name) else {
                return (f64::NAN, f64::NAN, f64::NAN, 0, f64::NAN, f64::NAN);
            };
            let msgs = median(samples.iter().map(|s| rate(&s.measured)).collect());
            let cpu = median(samples.iter().map(|s| cpu_per_1000(&s.measured)).collect());
            let allocs = median(
                samples
                    .iter()
                    .map(|s| s.allocations as f64 / s.measured.received.max(1) as f64)
                    .collect(),
            );
            let received = samples
                .iter()
                .map(|s| s.measured.received)
                .min()
                .unwrap_or(0);
            let busy = median(samples.iter().map(|s| s.broker_busy * 100.0).collect());
            let syscalls = median(samples.iter().map(|s| s.broker_syscalls).collect());
            (msgs, cpu, allocs, received, busy, syscalls)
        };
        let (base_msgs, base_cpu, _, _, _, _) = stat(Kind::Rumqttc.name());
        for &kind in kinds {
            let (msgs, cpu, allocs, received, busy, syscalls) = stat(kind.name());
            let label = format!("QoS {}, {} B x {}", load.qos, load.payload, load.messages);
            let (vs_msgs, vs_cpu) = if kind == Kind::Rumqttc {
                ("1.00x".to_string(), "1.00x".to_string())
            } else {
                (
                    format!("{:.2}x", msgs / base_msgs),
                    format!("{:.2}x", cpu / base_cpu),
                )
            };
            println!(
                "| {label} | {} | {msgs:.0} | {cpu:.1} | {allocs:.2} | {busy:.0}% | {syscalls:.1} | {received} | {vs_msgs} | {vs_cpu} |",
                kind.name()
            );
        }
    }
}

fn print_idle(port: u16, n: usize, kinds: &[Kind]) {
    println!();
    println!("| {n} idle connections | resident memory per connection | vs rumqttc |");
    println!("|---|--:|--:|");
    let exe = std::env::current_exe().expect("own path");
    let mut figures = Vec::new();
    // The ceiling keeps no idle connections worth measuring.
    for &kind in kinds.iter().filter(|&&k| k != Kind::Ceiling) {
        let out = Command::new(&exe)
            .args(["idle", kind.name(), &port.to_string(), &n.to_string()])
            .output()
            .expect("idle child");
        let text = String::from_utf8_lossy(&out.stdout);
        let bytes: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("rss_per_connection "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{}: no figure\n{text}\n{}",
                    kind.name(),
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        figures.push((kind, bytes));
        std::thread::sleep(Duration::from_millis(500)); // the broker closes the last ones
    }
    let base = figures
        .iter()
        .find(|(k, _)| *k == Kind::Rumqttc)
        .map(|(_, b)| *b)
        .unwrap_or(f64::NAN);
    for (kind, bytes) in figures {
        println!(
            "| {} | {:.1} KiB | {:.2}x |",
            kind.name(),
            bytes / 1024.0,
            bytes / base
        );
    }
}

/// Parses a client name as printed in the tables.
pub fn kind_named(name: &str) -> Option<Kind> {
    Kind::ALL
        .into_iter()
        .chain([Kind::Ceiling])
        .find(|k| k.name() == name)
}
