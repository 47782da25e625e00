//! The end-to-end comparison (issue 5): `cargo run --release -p mqtt-bench -- e2e`.
//!
//! ```text
//! cargo run --release -p mqtt-bench -- e2e                 # the issue's loads, 5 runs each, 1,000 idle connections
//! cargo run --release -p mqtt-bench -- e2e --runs 7        # more runs
//! cargo run --release -p mqtt-bench -- e2e --scale 0.1     # a tenth of the messages (a quick look)
//! cargo run --release -p mqtt-bench -- e2e --idle 0        # skip the memory figure
//! cargo run --release -p mqtt-bench -- e2e --client mqtt-tokio --qos 1 --runs 1   # one client, one QoS (profiling)
//! cargo run --release -p mqtt-bench -- e2e --broker rumqttd   # through rumqttd 0.20 instead (multi-threaded)
//! cargo run --release -p mqtt-bench -- e2e --client ceiling --ceiling-pause 500   # the broker's ceiling (see e2e/ceiling.rs)
//! ```
//!
//! It starts its own mosquitto (or rumqttd) on a free loopback port. The codec comparison is the
//! criterion bench `compare` (`bash mqtt-bench/report.sh`).

mod e2e;

#[global_allocator]
static ALLOCATOR: e2e::alloc::Counting = e2e::alloc::Counting;

fn main() {
    // smol's global executor: as many threads as tokio's workers (read at first use).
    if std::env::var_os("SMOL_THREADS").is_none() {
        std::env::set_var("SMOL_THREADS", "2");
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("e2e") => {
            let mut settings = e2e::Settings {
                runs: 5,
                scale: 1.0,
                idle: 1000,
                clients: Vec::new(),
                qos: None,
                port: None,
                ack_coalescing: None,
                read_pacing: None,
                payload: None,
                broker: e2e::BrokerKind::Mosquitto,
            };
            let mut it = args[1..].iter();
            while let Some(flag) = it.next() {
                if flag == "--rumqttc-nodelay" {
                    e2e::clients::RUMQTTC_NODELAY.store(true, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                let value = it
                    .next()
                    .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
                match flag.as_str() {
                    "--ceiling-pause" => e2e::ceiling::PAUSE_US.store(
                        value
                            .parse()
                            .unwrap_or_else(|_| usage("--ceiling-pause MICROSECONDS")),
                        std::sync::atomic::Ordering::Relaxed,
                    ),
                    "--runs" => settings.runs = value.parse().unwrap_or_else(|_| usage("--runs N")),
                    "--scale" => {
                        settings.scale = value.parse().unwrap_or_else(|_| usage("--scale F"))
                    }
                    "--idle" => settings.idle = value.parse().unwrap_or_else(|_| usage("--idle N")),
                    "--client" => {
                        settings
                            .clients
                            .push(e2e::kind_named(value).unwrap_or_else(|| {
                                usage("--client mqtt-tokio|mqtt-smol|rumqttc|ceiling")
                            }))
                    }
                    "--port" => {
                        settings.port = Some(value.parse().unwrap_or_else(|_| usage("--port P")))
                    }
                    "--payload" => {
                        settings.payload =
                            Some(value.parse().unwrap_or_else(|_| usage("--payload 64|4096")))
                    }
                    "--ack-coalescing" => {
                        settings.ack_coalescing = Some(match value.as_str() {
                            "off" => mqtt_client::AckCoalescing::Off,
                            "qos2" => mqtt_client::AckCoalescing::Qos2,
                            "all" => mqtt_client::AckCoalescing::All,
                            _ => usage("--ack-coalescing off|qos2|all"),
                        })
                    }
                    "--read-pacing" => {
                        settings.read_pacing = Some(std::time::Duration::from_micros(
                            value
                                .parse()
                                .unwrap_or_else(|_| usage("--read-pacing MICROSECONDS")),
                        ))
                    }
                    "--broker" => {
                        settings.broker = match value.as_str() {
                            "mosquitto" => e2e::BrokerKind::Mosquitto,
                            "rumqttd" => e2e::BrokerKind::Rumqttd,
                            _ => usage("--broker mosquitto|rumqttd"),
                        }
                    }
                    "--qos" => {
                        settings.qos = Some(value.parse().unwrap_or_else(|_| usage("--qos 0|1|2")))
                    }
                    other => usage(&format!("unknown option {other}")),
                }
            }
            e2e::run(&settings);
        }
        // A child process of `e2e`: one client's idle connections.
        Some("idle") if args.len() == 4 => {
            let kind = e2e::kind_named(&args[1]).unwrap_or_else(|| usage("unknown client"));
            let port = args[2].parse().unwrap_or_else(|_| usage("port"));
            let n = args[3].parse().unwrap_or_else(|_| usage("count"));
            e2e::idle::measure(kind, port, n);
        }
        // A child process of `e2e --broker rumqttd`: the broker.
        Some(e2e::rumqttd::NAME) if args.len() == 2 => {
            e2e::rumqttd::serve(args[1].parse().unwrap_or_else(|_| usage("port")))
        }
        _ => usage(""),
    }
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("error: {msg}");
    }
    eprintln!(
        "usage: mqtt-bench e2e [--runs N] [--scale F] [--idle N] [--client NAME]... [--qos Q] [--payload B] [--port P] [--broker mosquitto|rumqttd] [--rumqttc-nodelay] [--ack-coalescing off|qos2|all] [--read-pacing MICROSECONDS]"
    );
    std::process::exit(2)
}
