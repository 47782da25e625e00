//! Memory per idle connection: many connections with keepalive on, doing nothing.
//! Each client is measured in a fresh process (`e2e idle <client> <port> <n>`), so
//! one client's freed memory never flatters the next. Every client runs with its
//! default settings (rumqttc: 100 in flight, a request channel of 10 as in its
//! examples; ours: 100 in flight, 1,024 commands), keep alive 60 s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_client::Options;

use super::clients::{tokio_runtime, Kind};
use super::measure::rss_bytes;

/// Opens `n` idle connections with `kind` and prints `rss_per_connection <bytes>`.
pub fn measure(kind: Kind, port: u16, n: usize) {
    super::measure::raise_fd_limit();
    let per_connection = match kind {
        Kind::Tokio => tokio_runtime().block_on(ours_tokio(port, n)),
        Kind::Smol => smol::block_on(ours_smol(port, n)),
        Kind::Rumqttc => tokio_runtime().block_on(rumqttc_idle(port, n)),
        Kind::Ceiling => panic!("the ceiling has no idle connections to measure"),
    };
    println!("rss_per_connection {per_connection:.0}");
}

fn idle_options(port: u16, id: &str) -> Options {
    Options::new("127.0.0.1", port)
        .client_id(id)
        .keep_alive(Duration::from_secs(60))
        .reconnect(None)
}

type Sleep = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Waits until `connected()` reaches `n`, then lets the connections settle.
async fn settle(connected: impl Fn() -> usize, n: usize, sleep: impl Fn(Duration) -> Sleep) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while connected() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} connected",
            connected()
        );
        sleep(Duration::from_millis(20)).await;
    }
    sleep(Duration::from_secs(1)).await;
}

/// Connections whose CONNACK came (read from the status, which costs nothing per
/// connection, unlike a listener would).
fn up(clients: &[mqtt_client::Client]) -> usize {
    clients
        .iter()
        .filter(|c| c.status().state == mqtt_client::LinkState::Connected)
        .count()
}

async fn ours_tokio(port: u16, n: usize) -> f64 {
    let before = rss_bytes();
    let mut clients = Vec::new();
    for i in 0..n {
        let (client, event_loop) =
            mqtt_tokio::client(idle_options(port, &format!("idle-t-{i}"))).expect("options");
        tokio::spawn(event_loop.run());
        clients.push(client);
    }
    settle(|| up(&clients), n, |d| Box::pin(tokio::time::sleep(d))).await;
    let per = (rss_bytes().saturating_sub(before)) as f64 / n as f64;
    drop(clients);
    per
}

async fn ours_smol(port: u16, n: usize) -> f64 {
    let before = rss_bytes();
    let mut clients = Vec::new();
    for i in 0..n {
        let (client, event_loop) =
            mqtt_smol::client(idle_options(port, &format!("idle-s-{i}"))).expect("options");
        smol::spawn(event_loop.run()).detach();
        clients.push(client);
    }
    settle(
        || up(&clients),
        n,
        |d| {
            Box::pin(async move {
                smol::Timer::after(d).await;
            })
        },
    )
    .await;
    let per = (rss_bytes().saturating_sub(before)) as f64 / n as f64;
    drop(clients);
    per
}

async fn rumqttc_idle(port: u16, n: usize) -> f64 {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
    let before = rss_bytes();
    let connected = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for i in 0..n {
        let mut o = MqttOptions::new(format!("idle-r-{i}"), "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(60));
        // The request channel capacity rumqttc's own examples use.
        let (client, mut event_loop) = AsyncClient::new(o, 10);
        let done = connected.clone();
        tokio::spawn(async move {
            loop {
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(e) => panic!("rumqttc: {e}"),
                }
            }
        });
        clients.push(client);
    }
    settle(
        || connected.load(Ordering::SeqCst),
        n,
        |d| Box::pin(tokio::time::sleep(d)),
    )
    .await;
    let per = (rss_bytes().saturating_sub(before)) as f64 / n as f64;
    drop(clients);
    per
}
