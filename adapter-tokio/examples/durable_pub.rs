//! A publisher whose messages survive its own crash: a file store keeps every QoS 1/2
//! message until the broker's final acknowledgement, and a restarted process resumes
//! them with their packet identifiers (QoS 2: exactly once, whatever the moment of
//! the crash).
//!
//! ```text
//! cargo run -p mqtt-tokio --example durable_pub -- --port 1883 --store /tmp/pub.journal --count 1000 --qos 2
//! ```
//!
//! Messages are numbered: message `i` has the 4-byte big-endian payload `i` on topic
//! `durable/<client id>`. Output, one line each: `restored <i>` for each message the
//! store brought back, `sending <i>` before each message is handed to the client,
//! `acked <i>` as each acknowledgement arrives, and `done` at the end. Publishing
//! starts at `--start`, or after the last restored message: the store resumes those,
//! and the application must not publish them a second time.
//! `adapter-tokio/tests/durable.rs` kills this process mid-stream and checks that
//! nothing is lost and nothing duplicated.

use std::io::Write;
use std::time::Duration;

use mqtt_tokio::{Options, QoS};

struct Args {
    port: u16,
    id: String,
    store: String,
    qos: QoS,
    start: u32,
    count: u32,
    window: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        port: 1883,
        id: "durable-pub".into(),
        store: "durable_pub.journal".into(),
        qos: QoS::ExactlyOnce,
        start: 0,
        count: 100,
        window: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {v}");
        match flag.as_str() {
            "--port" => a.port = v.parse().map_err(bad)?,
            "--id" => a.id = v.clone(),
            "--store" => a.store = v.clone(),
            "--qos" => {
                a.qos = match v.as_str() {
                    "1" => QoS::AtLeastOnce,
                    "2" => QoS::ExactlyOnce,
                    _ => return Err("--qos 1 or 2 (QoS 0 is never stored)".into()),
                }
            }
            "--start" => a.start = v.parse().map_err(bad)?,
            "--count" => a.count = v.parse().map_err(bad)?,
            "--window" => a.window = v.parse().map_err(bad)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args()?;
    let opts = Options::new("127.0.0.1", a.port)
        .client_id(&a.id)
        .clean_session(false) // the broker keeps its half of the session too
        .keep_alive(Duration::from_secs(30))
        .file_store(&a.store)?;
    let (client, event_loop) = mqtt_tokio::connect(opts)?;
    let mut out = std::io::stdout();
    let mut start = a.start;
    for m in client.restored() {
        let i = u32::from_be_bytes(m.payload[..].try_into()?);
        writeln!(out, "restored {i}")?;
        // The store resumes it: publishing it again would be a second message.
        start = start.max(i + 1);
    }
    out.flush()?;
    let topic = format!("durable/{}", a.id);
    let mut acks = std::collections::VecDeque::new();
    for i in start..start + a.count {
        // Said before the message is handed over: whoever restarts this process must
        // not publish it again, whether or not it reached the store.
        writeln!(out, "sending {i}")?;
        out.flush()?;
        let ack = client
            .queue_publish(topic.as_str(), i.to_be_bytes().to_vec(), a.qos, false)
            .await?;
        acks.push_back((i, ack));
        if acks.len() >= a.window {
            let (i, ack) = acks.pop_front().expect("not empty");
            ack.await?;
            writeln!(out, "acked {i}")?;
            out.flush()?;
        }
    }
    for (i, ack) in acks {
        ack.await?;
        writeln!(out, "acked {i}")?;
    }
    // Restored messages have no Ack: wait for the session to hold nothing more.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client.status().inflight + client.status().queued > 0 {
        if tokio::time::Instant::now() > deadline {
            return Err("messages still unacknowledged after 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    writeln!(out, "done")?;
    out.flush()?;
    client.disconnect().await?;
    event_loop.await??;
    Ok(())
}
