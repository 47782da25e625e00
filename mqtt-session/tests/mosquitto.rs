//! The session against a real mosquitto, driven by the blocking example's loop.

#[path = "../examples/blocking.rs"]
#[allow(dead_code)]
mod blocking;

use std::time::Duration;

use blocking::Blocking;
use bytes::Bytes;
use mqtt_proto::{QoS, TopicFilter, TopicName};
use mqtt_session::{Config, Event, Message, Outcome, State};
use mqtt_test_broker::Mosquitto;

fn client(id: &str, addr: &str, clean_session: bool) -> Blocking {
    let mut cfg = Config::new(id).unwrap();
    cfg.clean_session = clean_session;
    let mut c = Blocking::new(cfg);
    c.connect(addr).unwrap();
    c.run_until(|e| matches!(e, Event::Connected { .. }))
        .unwrap();
    c
}

fn subscribe(c: &mut Blocking, filter: &str, qos: QoS) {
    let now = c.now();
    let op = c
        .session
        .subscribe(
            now,
            &[(TopicFilter::from_string(filter.into()).unwrap(), qos)],
        )
        .unwrap();
    c.run_until(
        |e| matches!(e, Event::Completed { op: o, outcome: Outcome::Subscribed(_) } if *o == op),
    )
    .unwrap();
}

fn publish_all(c: &mut Blocking, topic: &str, payloads: &[(Bytes, QoS)]) {
    let now = c.now();
    let mut ops = Vec::new();
    for (p, qos) in payloads {
        let m = Message::new(
            TopicName::from_string(topic.into()).unwrap(),
            p.clone(),
            *qos,
        );
        ops.push(c.session.publish(now, m).unwrap());
    }
    let mut left = ops.len();
    c.run_until(|e| {
        if let Event::Completed { op, .. } = e {
            if ops.contains(op) {
                left -= 1;
            }
        }
        left == 0
    })
    .unwrap();
}

fn receive(c: &mut Blocking, n: usize) -> Vec<(Bytes, QoS, bool)> {
    let mut got = Vec::new();
    c.run_until(|e| {
        if let Event::Message(m) = e {
            got.push((m.payload_bytes(), m.qos(), m.retain()));
        }
        got.len() == n
    })
    .unwrap();
    got
}

#[test]
fn publish_and_receive_at_every_qos_from_0_bytes_to_1_mib() {
    let broker = Mosquitto::start();
    let mut sub = client("sub", &broker.addr(), true);
    subscribe(&mut sub, "sizes/#", QoS::ExactlyOnce);
    let mut publisher = client("pub", &broker.addr(), true);
    let mut sent = Vec::new();
    for (i, size) in [0usize, 1, 64, 4096, 70_000, 1 << 20]
        .into_iter()
        .enumerate()
    {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            sent.push((Bytes::from(vec![i as u8 + qos as u8; size]), qos));
        }
    }
    publish_all(&mut publisher, "sizes/all", &sent);
    let got = receive(&mut sub, sent.len());
    for (payload, qos) in &sent {
        assert!(
            got.iter().any(|(p, q, _)| p == payload && q == qos),
            "{} bytes at {qos:?}",
            payload.len()
        );
    }
}

#[test]
fn persistent_session_receives_what_was_published_while_away() {
    let broker = Mosquitto::start();
    let mut sub = client("persistent-sub", &broker.addr(), false);
    subscribe(&mut sub, "away/#", QoS::ExactlyOnce);
    sub.disconnect().unwrap();

    let mut publisher = client("away-pub", &broker.addr(), true);
    let sent: Vec<_> = (0..20u8)
        .map(|i| {
            (
                Bytes::from(vec![i; 10]),
                if i % 2 == 0 {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                },
            )
        })
        .collect();
    publish_all(&mut publisher, "away/x", &sent);

    // The same session object, a new transport: the broker kept the session.
    sub.connect(&broker.addr()).unwrap();
    let first = sub
        .run_until(|e| matches!(e, Event::Connected { .. }))
        .unwrap();
    assert!(
        first.contains(&Event::Connected {
            session_present: true
        }),
        "{first:?}"
    );
    let got = receive(&mut sub, sent.len());
    // Every one exactly once. (Order is the broker's: mosquitto sends its queued QoS 1
    // before its queued QoS 2 messages, and resends in-flight ones before queued ones;
    // the client's own ordering is checked against the simulated broker.)
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let of = |v: Vec<(Bytes, QoS)>| {
            let mut v: Vec<_> = v
                .into_iter()
                .filter(|(_, q)| *q == qos)
                .map(|(p, _)| p)
                .collect();
            v.sort();
            v
        };
        let received = of(got.iter().map(|(p, q, _)| (p.clone(), *q)).collect());
        assert_eq!(received, of(sent.clone()), "{qos:?}: all, exactly once");
    }
}

#[test]
fn keepalive_pings_keep_an_idle_connection_open() {
    let broker = Mosquitto::start();
    let mut cfg = Config::new("idle").unwrap();
    cfg.keep_alive = Duration::from_secs(1);
    let mut c = Blocking::new(cfg);
    c.connect(&broker.addr()).unwrap();
    c.run_until(|e| matches!(e, Event::Connected { .. }))
        .unwrap();
    // mosquitto drops a client silent for 1.5 x keep alive; stay idle for 3.5 s.
    let events = c.run_for(Duration::from_millis(3_500)).unwrap();
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(c.session.state(), State::Connected);
    assert!(
        c.session.stats().packets_received >= 3,
        "CONNACK and at least two PINGRESP"
    );
}

#[test]
fn retained_message_reaches_a_later_subscriber() {
    let broker = Mosquitto::start();
    let mut publisher = client("retainer", &broker.addr(), true);
    let now = publisher.now();
    let mut m = Message::new(
        TopicName::from_static("retained/t").unwrap(),
        "kept",
        QoS::AtLeastOnce,
    );
    m.retain = true;
    let op = publisher.session.publish(now, m).unwrap();
    publisher
        .run_until(|e| matches!(e, Event::Completed { op: o, .. } if *o == op))
        .unwrap();
    let mut sub = client("late", &broker.addr(), true);
    subscribe(&mut sub, "retained/#", QoS::AtLeastOnce);
    let got = receive(&mut sub, 1);
    assert_eq!(got, [(Bytes::from_static(b"kept"), QoS::AtLeastOnce, true)]);
}
