//! Read pacing and the socket's receive low-water mark on tokio, against mosquitto:
//! the mark is raised for each paced wait and lowered before the read that ends it,
//! on plain TCP and under TLS and WebSocket, and no message is held back by it.
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mqtt_adapter_tests::{start, within, Harness};
use mqtt_test_broker::Mosquitto;
use mqtt_tokio::{BoxFuture, BoxIo, Io, Options, QoS, Runtime, TlsOptions, Tokio, TokioIo};

/// Every low-water mark set, per socket (its local address), in order.
/// Shared: the tests of this file take [`SERIAL`] first.
static MARKS: Mutex<Option<HashMap<SocketAddr, Vec<usize>>>> = Mutex::new(None);

/// One test of this file at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Tokio, recording what read pacing does to the low-water mark.
struct Recording;

impl Runtime for Recording {
    fn connect_tcp(host: String, port: u16) -> BoxFuture<std::io::Result<BoxIo>> {
        Tokio::connect_tcp(host, port)
    }

    fn sleep_until(deadline: Instant) -> BoxFuture<()> {
        Tokio::sleep_until(deadline)
    }

    fn set_read_low_water(io: &mut dyn Io, bytes: usize) -> std::io::Result<bool> {
        let socket = io
            .as_any_mut()
            .downcast_mut::<TokioIo<tokio::net::TcpStream>>()
            .and_then(|tcp| tcp.0.local_addr().ok());
        let set = Tokio::set_read_low_water(io, bytes)?;
        if let (true, Some(socket)) = (set, socket) {
            let mut marks = MARKS.lock().unwrap();
            let marks = marks.get_or_insert_with(HashMap::new);
            marks.entry(socket).or_default().push(bytes);
        }
        Ok(set)
    }
}

struct OnTokio;

impl Harness for OnTokio {
    type R = Recording;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn spawn<T: Send + 'static>(f: BoxFuture<T>) -> BoxFuture<T> {
        let task = tokio::spawn(f);
        Box::pin(async move { task.await.expect("task panicked") })
    }
}

fn opts(url: &str, id: &str, tls: Option<TlsOptions>) -> Options {
    let o = Options::parse(url)
        .unwrap()
        .client_id(id)
        .read_pacing(Duration::from_millis(5))
        .max_inflight(1000)
        .reconnect(None);
    match tls {
        Some(t) => o.tls(t),
        None => o,
    }
}

/// Streams `N` QoS 1 messages from one client to another through `url`: every one
/// arrives, in order. Returns the marks set meanwhile, per socket.
async fn stream(url: &str, tls: Option<TlsOptions>, tag: &str) -> Vec<Vec<usize>> {
    const N: u32 = 5000;
    *MARKS.lock().unwrap() = None;
    let (s, s_loop) = start::<OnTokio>(opts(url, &format!("lw-{tag}-s"), tls.clone()));
    let (p, p_loop) = start::<OnTokio>(opts(url, &format!("lw-{tag}-p"), tls));
    let mut sub = s.subscribe("lw/t", QoS::AtLeastOnce).await.unwrap();
    let mut acks = Vec::new();
    for i in 0..N {
        acks.push(
            p.queue_publish("lw/t", i.to_be_bytes().to_vec(), QoS::AtLeastOnce, false)
                .await
                .unwrap(),
        );
    }
    for i in 0..N {
        let m = sub.recv().await.expect("subscribed");
        assert_eq!(m.payload(), &i.to_be_bytes()[..], "{tag}");
    }
    for ack in acks {
        ack.await.unwrap();
    }
    // The last message alone, after the stream: read at once, not held below a mark.
    p.publish("lw/t", "last", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(sub.recv().await.unwrap().payload(), &b"last"[..]);
    p.disconnect().await.unwrap();
    s.disconnect().await.unwrap();
    assert!(s_loop.await.is_ok() && p_loop.await.is_ok());
    let marks = MARKS.lock().unwrap().take().unwrap_or_default();
    marks.into_values().collect()
}

/// Each socket's marks alternate raised, lowered, starting raised; some wait raised
/// one (the subscriber's socket streams).
fn check(marks: &[Vec<usize>], tag: &str) {
    let raised: usize = marks
        .iter()
        .map(|m| m.iter().filter(|&&b| b > 1).count())
        .sum();
    assert!(
        raised > 0,
        "{tag}: no paced wait raised the mark: {marks:?}"
    );
    for m in marks {
        for (i, &bytes) in m.iter().enumerate() {
            assert_eq!(bytes > 1, i % 2 == 0, "{tag}: raised, lowered, ...: {m:?}");
        }
    }
}

#[test]
fn plain_tcp() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    OnTokio::block_on(within::<OnTokio, _>(120, "plain_tcp", async {
        let broker = Mosquitto::builder()
            .config("max_inflight_messages 1000\nmax_queued_messages 100000")
            .start();
        let marks = stream(&broker.url(), None, "tcp").await;
        check(&marks, "tcp");
    }));
}

#[test]
fn under_tls_and_websocket() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    OnTokio::block_on(within::<OnTokio, _>(
        120,
        "under_tls_and_websocket",
        async {
            let broker = Mosquitto::builder()
                .tls()
                .websockets()
                .config("max_inflight_messages 1000\nmax_queued_messages 100000")
                .start();
            let tls = || Some(TlsOptions::default().ca_pem(broker.certs().ca_pem.clone()));
            for (url, tls, tag) in [
                (broker.tls_url(), tls(), "tls"),
                (broker.ws_url(), None, "ws"),
                (broker.wss_url(), tls(), "wss"),
            ] {
                let marks = stream(&url, tls, tag).await;
                check(&marks, tag);
            }
        },
    ));
}
