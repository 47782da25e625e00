//! Subscribes and prints messages, like mosquitto_sub.
//!
//! ```text
//! cargo run -p mqtt-tokio --example sub -- -t 'demo/#' -v
//! cargo run -p mqtt-tokio --example sub -- -t demo/x -q 2 -C 10 -c -i me
//! ```
//!
//! Prints one line per message (`topic payload` with `-v`) and flushes it at once, so
//! the output can be piped; `-C N` exits after N messages.

#[path = "support/args.rs"]
mod args;

use std::io::Write;
use std::process::ExitCode;

use futures_util::stream::{select_all, StreamExt};

const USAGE: &str = "\
sub: subscribe to an MQTT broker and print what arrives
  -v            print the topic before the payload
  -C COUNT      exit after COUNT messages";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    args::main("sub", USAGE, run).await
}

async fn run(args: args::Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.topics.is_empty() {
        return Err("give at least one topic filter with -t".into());
    }
    let qos = args.qos()?;
    let opts = args.options(&format!("sub-{}", std::process::id()))?;
    // Subscribe before the event loop runs: a resumed session (-c) may deliver stored
    // messages right after CONNACK, and they are routed, not dropped.
    let (client, event_loop) = mqtt_tokio::client(opts)?;
    let pending: Vec<_> = args
        .topics
        .iter()
        .map(|t| client.subscribe(t, qos))
        .collect();
    let event_loop = tokio::spawn(event_loop.run());
    let mut subs = Vec::new();
    for sub in pending {
        subs.push(sub.await?);
    }
    let mut messages = select_all(subs);
    let mut seen = 0u64;
    let stdout = std::io::stdout();
    while args.count.is_none_or(|c| seen < c) {
        let Some(msg) = messages.next().await else {
            break; // the event loop ended: its result says why
        };
        seen += 1;
        let payload = String::from_utf8_lossy(msg.payload());
        let mut out = stdout.lock();
        if args.verbose {
            writeln!(out, "{} {payload}", msg.topic())?;
        } else {
            writeln!(out, "{payload}")?;
        }
        out.flush()?;
    }
    // Disconnect before the subscriptions drop: dropping one unsubscribes, and a
    // persistent session (-c) must keep its subscriptions for the next run.
    client.disconnect().await?;
    drop(messages);
    event_loop.await??;
    Ok(())
}
