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

// ---- MQTT 5.0 against mosquitto --------------------------------------------------

mod v5 {
    use std::time::Duration;

    use bytes::Bytes;
    use mqtt_proto::v5::{
        DisconnectReasonCode, PayloadFormat, PropertyValues, SubscriptionId, SubscriptionOptions,
    };
    use mqtt_proto::{QoS, Str, TopicFilter, TopicName};
    use mqtt_session::{
        Config, DisconnectReason, Event, Message, MessageProperties, NotSent, OpId, Outcome,
    };
    use mqtt_test_broker::Mosquitto;

    use super::blocking::Blocking;

    fn client5(id: &str, addr: &str, adjust: impl FnOnce(&mut Config)) -> Blocking {
        let mut cfg = Config::v5(id).unwrap();
        adjust(&mut cfg);
        let mut c = Blocking::new(cfg);
        c.connect(addr).unwrap();
        c.run_until(|e| matches!(e, Event::Connected { .. }))
            .unwrap();
        c
    }

    fn subscribe5(c: &mut Blocking, filter: &str, options: SubscriptionOptions, id: Option<u32>) {
        let now = c.now();
        let ids: Vec<SubscriptionId> = id.and_then(SubscriptionId::new).into_iter().collect();
        let op = c
            .session
            .subscribe_with(
                now,
                &[(TopicFilter::from_string(filter.into()).unwrap(), options)],
                &PropertyValues {
                    subscription_identifiers: &ids,
                    ..PropertyValues::default()
                },
            )
            .unwrap();
        let events = c
            .run_until(|e| matches!(e, Event::Completed { op: o, .. } if *o == op))
            .unwrap();
        assert!(
            matches!(events.last(), Some(Event::Completed { outcome: Outcome::SubscribedV5(codes), .. })
                if codes.iter().all(|c| c.granted_qos().is_some())),
            "{events:?}"
        );
    }

    fn wait_all(c: &mut Blocking, ops: &[OpId]) -> Vec<Outcome> {
        let mut left = ops.len();
        let mut outcomes = Vec::new();
        c.run_until(|e| {
            if let Event::Completed { op, outcome } = e {
                if ops.contains(op) {
                    outcomes.push(outcome.clone());
                    left -= 1;
                }
            }
            left == 0
        })
        .unwrap();
        outcomes
    }

    fn topic(s: &str) -> TopicName<Bytes> {
        TopicName::from_string(s.into()).unwrap()
    }

    fn s(v: &'static str) -> Str<Bytes> {
        Str::from_static(v).unwrap()
    }

    /// Every message property goes through mosquitto unaltered [MQTT-3.3.2-4],
    /// [MQTT-3.3.2-15], [MQTT-3.3.2-16], [MQTT-3.3.2-17], [MQTT-3.3.2-20]; the
    /// subscription's identifier comes with it [MQTT-3.3.4-3]; the expiry interval
    /// comes back no larger than sent [MQTT-3.3.2-6].
    #[test]
    fn v5_properties_round_trip_through_the_broker() {
        let broker = Mosquitto::start();
        let mut sub = client5("v5-props-sub", &broker.addr(), |_| {});
        subscribe5(
            &mut sub,
            "props/#",
            SubscriptionOptions::new(QoS::ExactlyOnce),
            Some(7),
        );
        let mut publisher = client5("v5-props-pub", &broker.addr(), |_| {});
        let props = MessageProperties {
            payload_format_indicator: Some(PayloadFormat::Utf8),
            message_expiry_interval: Some(60),
            content_type: Some(s("application/json")),
            response_topic: Some(topic("props/reply")),
            correlation_data: Some(Bytes::from_static(b"\x00\x01\x02")),
            user_properties: vec![(s("a"), s("1")), (s("b"), s("2")), (s("a"), s("3"))],
        };
        let now = publisher.now();
        let mut ops = Vec::new();
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let m =
                Message::new(topic("props/x"), "{\"ok\":true}", qos).with_properties(props.clone());
            ops.push(publisher.session.publish(now, m).unwrap());
        }
        let outcomes = wait_all(&mut publisher, &ops);
        assert_eq!(
            outcomes,
            [Outcome::Sent, Outcome::Acknowledged, Outcome::Acknowledged],
            "in completion order"
        );
        let mut got = Vec::new();
        sub.run_until(|e| {
            if let Event::Message(m) = e {
                let p = m.properties();
                assert_eq!(m.topic(), "props/x");
                assert_eq!(p.payload_format_indicator(), Some(PayloadFormat::Utf8));
                assert!(p.message_expiry_interval().is_some_and(|e| e <= 60));
                assert_eq!(p.content_type().unwrap().as_str(), "application/json");
                assert_eq!(p.response_topic().unwrap().as_str(), "props/reply");
                assert_eq!(p.correlation_data(), Some(&b"\x00\x01\x02"[..]));
                let users: Vec<_> = p
                    .user_properties()
                    .map(|(k, v)| format!("{}={}", k.as_str(), v.as_str()))
                    .collect();
                assert_eq!(users, ["a=1", "b=2", "a=3"], "in order [MQTT-3.3.2-18]");
                let ids: Vec<u32> = p.subscription_identifiers().map(|i| i.get()).collect();
                assert_eq!(ids, [7]);
                got.push(m.qos());
            }
            got.len() == 3
        })
        .unwrap();
        got.sort();
        assert_eq!(got, [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]);
    }

    /// [MQTT-3.3.4-7]: mosquitto announces its Receive Maximum (`max_inflight_messages`)
    /// and the session never has more in flight.
    #[test]
    fn v5_the_brokers_receive_maximum_is_respected() {
        let broker = Mosquitto::start_with("max_inflight_messages 3\n");
        let mut publisher = client5("v5-rm-pub", &broker.addr(), |_| {});
        assert_eq!(
            publisher.session.server_limits().unwrap().receive_maximum,
            3
        );
        let mut sub = client5("v5-rm-sub", &broker.addr(), |_| {});
        subscribe5(
            &mut sub,
            "rm/#",
            SubscriptionOptions::new(QoS::ExactlyOnce),
            None,
        );
        let now = publisher.now();
        let ops: Vec<OpId> = (0..30u8)
            .map(|i| {
                let qos = if i % 2 == 0 {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                let m = Message::new(topic("rm/x"), vec![i], qos);
                publisher.session.publish(now, m).unwrap()
            })
            .collect();
        assert_eq!(publisher.session.stats().inflight, 3);
        let mut done = 0;
        while done < ops.len() {
            let events = publisher
                .run_until(|e| matches!(e, Event::Completed { .. }))
                .unwrap();
            assert!(matches!(
                events.last(),
                Some(Event::Completed {
                    outcome: Outcome::Acknowledged,
                    ..
                })
            ));
            done += 1;
            assert!(publisher.session.stats().inflight <= 3);
        }
        let mut got = 0;
        sub.run_until(|e| {
            got += matches!(e, Event::Message(_)) as usize;
            got == 30
        })
        .unwrap();
    }

    /// [MQTT-3.3.4-9]: our Receive Maximum binds mosquitto. While we hold our acks it
    /// sends no more than it; but mosquitto 2.0.11 sends one more than it once acks
    /// flow (seen here every run: three PUBLISH received after our fourth PUBACK with
    /// a Receive Maximum of two), which the session answers with DISCONNECT 0x93. The
    /// test accepts a broker that keeps the rule to the end, and checks the session
    /// catches one that does not.
    #[test]
    fn v5_our_receive_maximum_binds_the_broker() {
        let broker = Mosquitto::start();
        let mut sub = client5("v5-rm2-sub", &broker.addr(), |c| {
            c.receive_maximum = 2;
            c.manual_acks = true;
        });
        subscribe5(
            &mut sub,
            "rm2/#",
            SubscriptionOptions::new(QoS::AtLeastOnce),
            None,
        );
        let mut publisher = client5("v5-rm2-pub", &broker.addr(), |_| {});
        let now = publisher.now();
        let ops: Vec<OpId> = (0..30u8)
            .map(|i| {
                let m = Message::new(topic("rm2/x"), vec![i], QoS::AtLeastOnce);
                publisher.session.publish(now, m).unwrap()
            })
            .collect();
        wait_all(&mut publisher, &ops);
        // Held acks: mosquitto sends two, then waits.
        let mut held = Vec::new();
        for e in sub.run_for(Duration::from_millis(700)).unwrap() {
            if let Event::Message(m) = e {
                held.push(m.delivery.unwrap());
            }
        }
        assert_eq!(held.len(), 2, "no more than our Receive Maximum");
        let mut received = held.len();
        while received < 30 {
            for d in held.drain(..) {
                let now = sub.now();
                sub.session.ack(now, d).unwrap();
            }
            match sub.run_until(|e| matches!(e, Event::Message(_))) {
                Ok(events) => {
                    for e in events {
                        if let Event::Message(m) = e {
                            held.push(m.delivery.unwrap());
                            received += 1;
                        }
                    }
                }
                Err(e) => {
                    assert!(
                        format!("{e}").contains("Protocol(ReceiveMaximumExceeded)"),
                        "{e}"
                    );
                    eprintln!("mosquitto exceeded our Receive Maximum after {received}");
                    return;
                }
            }
        }
    }

    /// [MQTT-3.2.2-17], [MQTT-3.3.2-9]: the session uses topic aliases within the
    /// maximum mosquitto announces (`max_topic_alias`); mosquitto resolves them (the
    /// subscriber gets every message on its topic), also while aliases are reassigned
    /// all the time (three topics in turn for two aliases: least recently used is the
    /// worst policy there, each message names its topic again); with a working set
    /// that fits, they cost fewer bytes than the names.
    #[test]
    fn v5_topic_aliases_are_used() {
        let broker = Mosquitto::builder()
            .listener_config("max_topic_alias 2")
            .start();
        let mut sub = client5("v5-alias-sub", &broker.addr(), |_| {});
        subscribe5(
            &mut sub,
            "alias/#",
            SubscriptionOptions::new(QoS::AtLeastOnce),
            None,
        );
        let topics = [
            "alias/a/quite/long/topic/name",
            "alias/b/quite/long/topic/name",
            "alias/c/quite/long/topic/name",
        ];
        let mut sent_bytes = Vec::new();
        for (aliases, cycle) in [(16u16, 2), (0, 2), (16, 3)] {
            let mut publisher = client5("v5-alias-pub", &broker.addr(), |c| {
                c.max_outgoing_topic_aliases = aliases
            });
            assert_eq!(
                publisher
                    .session
                    .server_limits()
                    .unwrap()
                    .topic_alias_maximum,
                2
            );
            let before = publisher.session.stats().bytes_sent;
            let now = publisher.now();
            let ops: Vec<_> = (0..30)
                .map(|i| {
                    let m = Message::new(topic(topics[i % cycle]), "x", QoS::AtLeastOnce);
                    publisher.session.publish(now, m).unwrap()
                })
                .collect();
            let outcomes = wait_all(&mut publisher, &ops);
            assert!(outcomes.iter().all(|o| *o == Outcome::Acknowledged));
            sent_bytes.push(publisher.session.stats().bytes_sent - before);
            let mut got = Vec::new();
            sub.run_until(|e| {
                if let Event::Message(m) = e {
                    got.push(m.topic().to_owned());
                }
                got.len() == 30
            })
            .unwrap();
            let expect: Vec<_> = (0..30).map(|i| topics[i % cycle].to_owned()).collect();
            assert_eq!(got, expect);
            publisher.disconnect().unwrap();
        }
        assert!(
            sent_bytes[0] + 400 < sent_bytes[1],
            "aliases save bytes: {sent_bytes:?}"
        );
    }

    /// [MQTT-3.3.2-12], section 3.14: mosquitto answers a Topic Alias above its maximum
    /// (written past the session, which never sends one) with DISCONNECT 0x94; the
    /// session ends the connection with that typed reason, and sends nothing back
    /// [MQTT-3.14.4-1].
    #[test]
    fn v5_the_brokers_disconnect_is_handled() {
        let broker = Mosquitto::builder()
            .listener_config("max_topic_alias 2")
            .start();
        let mut c = client5("v5-bad-alias", &broker.addr(), |_| {});
        assert_eq!(c.session.server_limits().unwrap().topic_alias_maximum, 2);
        // PUBLISH QoS 0 "a/b" with Topic Alias 3.
        c.write_raw(b"\x30\x0a\x00\x03a/b\x03\x23\x00\x03x")
            .unwrap();
        let err = c.run_for(Duration::from_secs(5)).unwrap_err();
        assert!(
            format!("{err}").contains("Server(TopicAliasInvalid)"),
            "{err}"
        );
        let d = c.session.server_disconnect().unwrap();
        assert_eq!(d.reason_code, DisconnectReasonCode::TopicAliasInvalid);
        assert_eq!(
            DisconnectReason::Server(d.reason_code),
            DisconnectReason::Server(DisconnectReasonCode::TopicAliasInvalid)
        );
    }

    /// Section 3.1.2.11.2, [MQTT-4.1.0-2]: a session with an expiry interval survives a
    /// reconnect within it (what was published meanwhile arrives), and is gone after
    /// it (the session subscribes again).
    #[test]
    fn v5_session_expiry_within_and_after_the_interval() {
        let broker = Mosquitto::start();
        let mut sub = client5("v5-expiry", &broker.addr(), |c| {
            c.clean_session = false;
            c.session_expiry_interval = Some(2);
        });
        assert_eq!(
            sub.session.server_limits().unwrap().session_expiry_interval,
            2
        );
        subscribe5(
            &mut sub,
            "exp/#",
            SubscriptionOptions::new(QoS::AtLeastOnce),
            None,
        );
        sub.disconnect().unwrap();
        let mut publisher = client5("v5-expiry-pub", &broker.addr(), |_| {});
        let now = publisher.now();
        let op = publisher
            .session
            .publish(
                now,
                Message::new(topic("exp/x"), "while away", QoS::AtLeastOnce),
            )
            .unwrap();
        wait_all(&mut publisher, &[op]);

        sub.connect(&broker.addr()).unwrap();
        let events = sub.run_until(|e| matches!(e, Event::Message(_))).unwrap();
        assert!(events.contains(&Event::Connected {
            session_present: true
        }));
        assert!(matches!(events.last(), Some(Event::Message(m)) if m.payload() == b"while away"));
        sub.disconnect().unwrap();

        std::thread::sleep(Duration::from_millis(3_500));
        sub.connect(&broker.addr()).unwrap();
        let events = sub
            .run_until(|e| matches!(e, Event::Connected { .. }))
            .unwrap();
        assert!(events.contains(&Event::Connected {
            session_present: false
        }));
        assert!(events.contains(&Event::SessionLost {
            republished: 0,
            failed: 0,
            resubscribed: 1
        }));
    }

    /// [MQTT-3.2.2-11], [MQTT-3.2.2-14], [MQTT-3.2.2-15]: mosquitto's Maximum QoS,
    /// Retain Available and Maximum Packet Size make the commands they forbid fail
    /// locally; nothing breaks the connection.
    #[test]
    fn v5_the_brokers_limits_fail_commands_locally() {
        let broker = Mosquitto::builder()
            .config("retain_available false\nmax_packet_size 1000")
            .listener_config("max_qos 1")
            .start();
        let mut c = client5("v5-limits", &broker.addr(), |_| {});
        let limits = c.session.server_limits().unwrap().clone();
        assert_eq!(limits.maximum_qos, QoS::AtLeastOnce);
        assert!(!limits.retain_available);
        assert_eq!(limits.maximum_packet_size, 1000);
        let now = c.now();
        let two = Message::new(topic("l/x"), "2", QoS::ExactlyOnce);
        let mut retained = Message::new(topic("l/x"), "r", QoS::AtLeastOnce);
        retained.retain = true;
        let big = Message::new(topic("l/x"), vec![0u8; 2000], QoS::AtLeastOnce);
        let fine = Message::new(topic("l/x"), "ok", QoS::AtLeastOnce);
        let ops: Vec<_> = [two, retained, big, fine]
            .into_iter()
            .map(|m| c.session.publish(now, m).unwrap())
            .collect();
        let mut outcomes = std::collections::HashMap::new();
        let mut left = ops.len();
        c.run_until(|e| {
            if let Event::Completed { op, outcome } = e {
                outcomes.insert(*op, outcome.clone());
                left -= 1;
            }
            left == 0
        })
        .unwrap();
        assert_eq!(
            outcomes[&ops[0]],
            Outcome::NotSent(NotSent::QoSNotSupported {
                maximum: QoS::AtLeastOnce
            })
        );
        assert_eq!(
            outcomes[&ops[1]],
            Outcome::NotSent(NotSent::RetainNotSupported)
        );
        assert!(matches!(
            outcomes[&ops[2]],
            Outcome::NotSent(NotSent::PacketTooLarge { maximum: 1000, .. })
        ));
        assert_eq!(outcomes[&ops[3]], Outcome::Acknowledged);
    }
}
