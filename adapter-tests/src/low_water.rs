//! Read pacing and the socket's receive low-water mark, against mosquitto: for a
//! runtime that sets the mark ([`Runtime::set_read_low_water`]), it is raised for
//! each paced wait and lowered before the read that ends it, on plain TCP and under
//! TLS and WebSocket, and no message is held back by it.
//!
//! An adapter's test runs [`every_transport`] with a [`Harness`] whose runtime is
//! [`Recording`] around its own.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mqtt_client::{BoxFuture, BoxIo, Io, Options, QoS, Runtime, TlsOptions};
use mqtt_test_broker::Mosquitto;

use crate::{start, Harness};

/// Every low-water mark set, per socket (the transport's address), in order.
/// Global: a test binary must not run two recording tests ([`every_transport`],
/// [`crate::windowed`]) at once.
static MARKS: Mutex<Option<HashMap<usize, Vec<usize>>>> = Mutex::new(None);

/// Forgets the marks recorded so far.
pub(crate) fn reset_marks() {
    *MARKS.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The marks recorded since [`reset_marks`], per socket, and forgets them.
pub(crate) fn marks() -> Vec<Vec<usize>> {
    let marks = MARKS.lock().unwrap_or_else(|e| e.into_inner()).take();
    marks.unwrap_or_default().into_values().collect()
}

/// The runtime `R`, recording the low-water marks that read pacing sets through it.
pub struct Recording<R>(PhantomData<R>);

impl<R: Runtime> Runtime for Recording<R> {
    fn connect_tcp(host: String, port: u16) -> BoxFuture<std::io::Result<BoxIo>> {
        R::connect_tcp(host, port)
    }

    fn sleep_until(deadline: Instant) -> BoxFuture<()> {
        R::sleep_until(deadline)
    }

    fn set_read_low_water(io: &mut dyn Io, bytes: usize) -> std::io::Result<bool> {
        let socket = io as *mut dyn Io as *mut () as usize;
        let set = R::set_read_low_water(io, bytes)?;
        if set {
            let mut marks = MARKS.lock().unwrap_or_else(|e| e.into_inner());
            let marks = marks.get_or_insert_with(HashMap::new);
            marks.entry(socket).or_default().push(bytes);
        }
        Ok(set)
    }
}

fn opts(url: &str, id: &str, tls: Option<TlsOptions>) -> Options {
    let o = Options::parse(url)
        .expect("url")
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
/// arrives, in order, then one more alone. Returns the marks set meanwhile, per
/// socket.
async fn stream<H: Harness>(url: &str, tls: Option<TlsOptions>, tag: &str) -> Vec<Vec<usize>> {
    const N: u32 = 5000;
    reset_marks();
    let (s, s_loop) = start::<H>(opts(url, &format!("lw-{tag}-s"), tls.clone()));
    let (p, p_loop) = start::<H>(opts(url, &format!("lw-{tag}-p"), tls));
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
    // A message alone after the stream: read, not held below a mark.
    p.publish("lw/t", "last", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(sub.recv().await.unwrap().payload(), &b"last"[..]);
    p.disconnect().await.unwrap();
    s.disconnect().await.unwrap();
    assert!(s_loop.await.is_ok() && p_loop.await.is_ok());
    marks()
}

/// Each socket's marks alternate raised, lowered, starting raised; some wait
/// raised one (the subscriber's socket streams).
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

/// A stream over `mqtt://`, `mqtts://`, `ws://` and `wss://`, each checked as the
/// module says. `H::R` must be a [`Recording`] of a runtime that sets the mark; one
/// test per binary calls it (the marks are recorded globally).
pub async fn every_transport<H: Harness>() {
    let broker = Mosquitto::builder()
        .tls()
        .websockets()
        .config("max_inflight_messages 1000\nmax_queued_messages 100000")
        .start();
    let tls = || Some(TlsOptions::default().ca_pem(broker.certs().ca_pem.clone()));
    for (url, tls, tag) in [
        (broker.url(), None, "tcp"),
        (broker.tls_url(), tls(), "tls"),
        (broker.ws_url(), None, "ws"),
        (broker.wss_url(), tls(), "wss"),
    ] {
        let marks = stream::<H>(&url, tls, tag).await;
        check(&marks, tag);
    }
}
