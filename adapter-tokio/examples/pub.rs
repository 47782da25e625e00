//! Publishes messages, like mosquitto_pub.
//!
//! ```text
//! cargo run -p mqtt-tokio --example pub -- -t demo/x -m hello -q 1
//! printf 'a\nb\n' | cargo run -p mqtt-tokio --example pub -- -t demo/x -l -q 2
//! ```
//!
//! Each message is acknowledged by the broker (QoS 1: PUBACK, QoS 2: PUBCOMP) before
//! the tool exits; with `-l` every line of stdin is one message, sent as it is read.

#[path = "support/args.rs"]
mod args;

use std::process::ExitCode;

use tokio::io::{AsyncBufReadExt, BufReader};

const USAGE: &str = "\
pub: publish to an MQTT broker
  -m MESSAGE    the message
  -n            an empty (null) message
  -l            one message per line of stdin
  -r            retain it";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    args::main("pub", USAGE, run).await
}

async fn run(args: args::Args) -> Result<(), Box<dyn std::error::Error>> {
    let [topic] = &args.topics[..] else {
        return Err("give exactly one topic with -t".into());
    };
    let qos = args.qos()?;
    let given = [args.message.is_some(), args.null_message, args.lines];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err("give exactly one of -m, -n, -l".into());
    }
    let opts = args.options(&format!("pub-{}", std::process::id()))?;
    let (client, event_loop) = mqtt_tokio::connect(opts)?;
    if args.lines {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        // Keep up to 64 messages in flight; wait for the oldest acknowledgement only
        // when that many are outstanding.
        let mut acks = std::collections::VecDeque::new();
        while let Some(line) = lines.next_line().await? {
            acks.push_back(
                client
                    .queue_publish(topic.as_str(), line, qos, args.retain)
                    .await?,
            );
            if acks.len() >= 64 {
                acks.pop_front().expect("not empty").await?;
            }
        }
        for ack in acks {
            ack.await?;
        }
    } else {
        let payload = args.message.clone().unwrap_or_default();
        client
            .publish(topic.as_str(), payload, qos, args.retain)
            .await?;
    }
    client.disconnect().await?;
    event_loop.await??;
    Ok(())
}
