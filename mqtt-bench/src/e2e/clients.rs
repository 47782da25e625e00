//! One publisher and one subscriber connection per run, for each client compared:
//! this project's client on tokio and on smol, and rumqttc 0.25 on tokio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use mqtt_client::{BoxFuture, Bytes, Options, QoS, Runtime, TopicName};

use super::measure::cpu_time;

/// The clients compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `mqtt-tokio`.
    Tokio,
    /// `mqtt-smol`.
    Smol,
    /// rumqttc 0.25's `AsyncClient` on tokio.
    Rumqttc,
    /// The least work a client can do (see `ceiling`): the broker's ceiling. Only
    /// when asked for (`--client ceiling`).
    Ceiling,
}

impl Kind {
    /// Every client, in the order runs alternate.
    pub const ALL: [Kind; 3] = [Kind::Tokio, Kind::Smol, Kind::Rumqttc];

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tokio => "mqtt-tokio",
            Kind::Smol => "mqtt-smol",
            Kind::Rumqttc => "rumqttc",
            Kind::Ceiling => "ceiling",
        }
    }
}

/// What one run moves.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// QoS of the publishes and the subscription.
    pub qos: u8,
    /// Messages.
    pub messages: usize,
    /// Payload bytes per message.
    pub payload: usize,
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Messages the subscriber received (QoS 0 may lose some at the broker).
    pub received: usize,
    /// From the first publish to the last message received.
    pub elapsed: Duration,
    /// CPU time of this process over the run: both clients, every thread.
    pub cpu: Duration,
}

/// Stop waiting for QoS 0 messages the broker dropped after this much silence.
const IDLE: Duration = Duration::from_secs(3);
/// Outgoing QoS 1/2 messages in flight, for every client (the rumqttc setting).
const INFLIGHT: u16 = 1000;

/// Runs `load` through `kind` against the broker on `port`.
pub fn run(kind: Kind, port: u16, load: Load, tag: &str) -> Measured {
    match kind {
        Kind::Tokio => tokio_runtime().block_on(ours::<mqtt_tokio::Tokio>(
            |f| {
                tokio::spawn(f);
            },
            port,
            load,
            tag,
        )),
        Kind::Smol => smol::block_on(ours::<mqtt_smol::Smol>(
            |f| smol::spawn(f).detach(),
            port,
            load,
            tag,
        )),
        Kind::Rumqttc => tokio_runtime().block_on(rumqttc_run(port, load, tag)),
        Kind::Ceiling => super::ceiling::run(port, load, tag),
    }
}

/// Two worker threads: as many as the machine has cores, as for smol.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn qos_of(q: u8) -> QoS {
    match q {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn topic(tag: &str) -> String {
    format!("bench/{tag}")
}

/// `e2e --ack-coalescing MODE`: what [`our_options`] set `Options::ack_coalescing` to.
pub static ACK_COALESCING: std::sync::Mutex<mqtt_client::AckCoalescing> =
    std::sync::Mutex::new(mqtt_client::AckCoalescing::Qos2);

/// `e2e --read-pacing US`: what [`our_options`] set `Options::read_pacing` to
/// (`None`: the default).
pub static READ_PACING: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::new(None);

/// `e2e --rumqttc-nodelay`: rumqttc with `TCP_NODELAY`, as ours always is (its
/// default is off: Nagle's algorithm).
pub static RUMQTTC_NODELAY: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Options for this project's client, one of a run's two connections.
pub fn our_options(port: u16, id: &str) -> Options {
    let opts = match *READ_PACING.lock().expect("not poisoned") {
        Some(wait) => Options::new("127.0.0.1", port).read_pacing(wait),
        None => Options::new("127.0.0.1", port),
    };
    opts.client_id(id)
        .keep_alive(Duration::from_secs(60))
        .max_inflight(INFLIGHT)
        // rumqttc hands every message to its poll loop; a Subscription buffers them,
        // and by default drops QoS 0 beyond 1,024 waiting: room for a whole burst.
        .subscription_capacity(1 << 20)
        .ack_coalescing(*ACK_COALESCING.lock().expect("not poisoned"))
        .reconnect(None)
}

async fn ours<R: Runtime>(spawn: fn(BoxFuture<()>), port: u16, load: Load, tag: &str) -> Measured {
    let qos = qos_of(load.qos);
    let (sub_client, sub_loop) =
        mqtt_client::new_client::<R>(our_options(port, &format!("s-{tag}"))).expect("options");
    let (sub_done_tx, sub_done) = futures_channel::oneshot::channel();
    spawn(Box::pin(async move {
        let _ = sub_done_tx.send(sub_loop.run().await);
    }));
    let mut sub = sub_client
        .subscribe(&topic(tag), qos)
        .await
        .expect("subscribe");
    let (pub_client, pub_loop) =
        mqtt_client::new_client::<R>(our_options(port, &format!("p-{tag}"))).expect("options");
    let (pub_done_tx, pub_done) = futures_channel::oneshot::channel();
    spawn(Box::pin(async move {
        let _ = pub_done_tx.send(pub_loop.run().await);
    }));
    // Connected (CONNACK) before the clock starts.
    pub_client
        .publish(format!("bench/{tag}/warm"), "", QoS::AtLeastOnce, false)
        .await
        .expect("warm-up publish");

    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let (count_tx, counted) = futures_channel::oneshot::channel();
    let n = load.messages;
    spawn(Box::pin(async move {
        let (mut received, mut last) = (0, Instant::now());
        // One idle timer at a time, not one per message: the harness's own cost stays
        // out of the client's figures.
        let mut idle = R::sleep_until(Instant::now() + IDLE);
        while received < n {
            let next = std::pin::pin!(sub.recv());
            match select(next, idle.as_mut()).await {
                Either::Left((Some(_), _)) => {
                    received += 1;
                    last = Instant::now();
                }
                Either::Left((None, _)) => break,
                Either::Right(_) if last.elapsed() < IDLE => {
                    idle = R::sleep_until(last + IDLE);
                }
                Either::Right(_) => break,
            }
        }
        let _ = count_tx.send((received, last, sub));
    }));
    let payload = Bytes::from(vec![0xA5u8; load.payload]);
    let name = TopicName::from_string(topic(tag)).expect("topic");
    let publisher = pub_client.clone();
    spawn(Box::pin(async move {
        for _ in 0..n {
            // Waits only for room in the queue; the Ack is not needed here (the
            // subscriber's count is the measure).
            let Ok(ack) = publisher
                .queue_publish(name.clone(), payload.clone(), qos, false)
                .await
            else {
                break; // the connection ended: reported below
            };
            drop(ack);
        }
    }));
    let (received, last, sub) = counted.await.expect("subscriber task");
    let measured = Measured {
        received,
        elapsed: last.saturating_duration_since(t0),
        cpu: cpu_time() - cpu0,
    };
    drop(sub);
    let _ = pub_client.disconnect().await;
    let _ = sub_client.disconnect().await;
    // A connection that ended early says why (the run then counts fewer messages).
    for (who, done) in [
        ("publisher", pub_done.await),
        ("subscriber", sub_done.await),
    ] {
        if let Ok(Err(e)) = done {
            eprintln!("  {tag}: the {who}'s event loop ended: {e}");
        }
    }
    measured
}

async fn rumqttc_run(port: u16, load: Load, tag: &str) -> Measured {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
    let qos = match load.qos {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    };
    let options = |id: String| {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(60));
        o.set_inflight(INFLIGHT);
        o.set_max_packet_size(1 << 20, 1 << 20);
        o
    };
    let (sub_client, mut sub_loop) = AsyncClient::new(options(format!("s-{tag}")), 1000);
    let (pub_client, mut pub_loop) = AsyncClient::new(options(format!("p-{tag}")), 1000);
    if RUMQTTC_NODELAY.load(std::sync::atomic::Ordering::Relaxed) {
        sub_loop.network_options.set_tcp_nodelay(true);
        pub_loop.network_options.set_tcp_nodelay(true);
    }
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let (count_tx, counted) = tokio::sync::oneshot::channel();
    let t0 = Arc::new(std::sync::Mutex::new(None::<(Instant, Duration)>));
    let n = load.messages;
    let subscriber = tokio::spawn(async move {
        let mut subscribed_tx = Some(subscribed_tx);
        let (mut received, mut last) = (0, Instant::now());
        // As for the other clients: one idle timer at a time, not one per poll.
        let idle = tokio::time::sleep(Duration::from_secs(30));
        tokio::pin!(idle);
        loop {
            let polled = {
                let next = std::pin::pin!(sub_loop.poll());
                match select(next, idle.as_mut()).await {
                    Either::Left((r, _)) => Some(r),
                    Either::Right(_) => None,
                }
            };
            match polled {
                Some(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Some(Ok(Event::Incoming(Packet::Publish(_)))) => {
                    received += 1;
                    last = Instant::now();
                    if received == n {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("rumqttc subscriber: {e}"),
                None if subscribed_tx.is_none() && last.elapsed() < IDLE => {
                    idle.as_mut().reset((last + IDLE).into());
                }
                None if subscribed_tx.is_none() && received == 0 => {
                    idle.as_mut().reset((Instant::now() + IDLE).into());
                }
                None => break, // idle: QoS 0 messages the broker dropped
            }
        }
        let _ = count_tx.send((received, last));
        // Keep acknowledging until the run is torn down.
        while sub_loop.poll().await.is_ok() {}
    });
    sub_client
        .subscribe(topic(tag), qos)
        .await
        .expect("subscribe");
    subscribed.await.expect("SUBACK");
    // Connected (CONNACK) before the clock starts, as for the other clients.
    loop {
        match pub_loop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("rumqttc publisher: {e}"),
        }
    }
    let publisher_loop = tokio::spawn(async move {
        loop {
            if let Err(e) = pub_loop.poll().await {
                return e;
            }
        }
    });
    let payload = Bytes::from(vec![0xA5u8; load.payload]);
    let name = topic(tag);
    let clock = t0.clone();
    let publisher = pub_client.clone();
    tokio::spawn(async move {
        *clock.lock().unwrap() = Some((Instant::now(), cpu_time()));
        for _ in 0..n {
            publisher
                .publish_bytes(name.clone(), qos, false, payload.clone())
                .await
                .expect("publish");
        }
    });
    let (received, last) = counted.await.expect("subscriber task");
    let cpu1 = cpu_time();
    let (start, cpu0) = t0.lock().unwrap().expect("publishing started");
    let measured = Measured {
        received,
        elapsed: last.saturating_duration_since(start),
        cpu: cpu1 - cpu0,
    };
    let _ = pub_client.disconnect().await;
    let _ = sub_client.disconnect().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    publisher_loop.abort();
    subscriber.abort();
    measured
}
