//! The MQTT 5.0 scenarios, each against its own mosquitto (one listener speaks both
//! versions).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{join_all, select, Either};
use mqtt_client::v5::DisconnectReasonCode;
use mqtt_client::Runtime;
use mqtt_client::{
    Cause, ClientError, ConnectionEvent, Options, PayloadFormat, ProtocolVersion, QoS,
    SubscriptionOptions,
};
use mqtt_test_broker::Mosquitto;

use crate::killable::Switch;

use crate::scenarios::{next, opts, overlapping};
use crate::{sleep, start, Harness};

fn opts5(url: &str, id: &str) -> Options {
    opts(url, id).protocol(ProtocolVersion::V5)
}

/// Properties round trip through the broker: Content Type, User Properties (order
/// kept, [MQTT-3.3.2-18]), Response Topic, Correlation Data, Payload Format
/// Indicator, Message Expiry Interval (what is left of it, [MQTT-3.3.2-6]) and the
/// Subscription Identifier the client routes by; a 3.1.1 subscriber of the same
/// message gets none of them.
pub async fn v5_properties_round_trip<H: Harness>() {
    let broker = Mosquitto::start();
    let (c, _l) = start::<H>(opts5(&broker.url(), "v5-props"));
    let (old, _o) = start::<H>(opts(&broker.url(), "v5-props-311"));
    let mut sub = c.subscribe("p/#", QoS::AtLeastOnce).await.unwrap();
    let mut old_sub = old.subscribe("p/#", QoS::AtLeastOnce).await.unwrap();
    assert_eq!(
        c.server_limits().map(|l| l.maximum_qos),
        Some(QoS::ExactlyOnce)
    );
    assert_eq!(old.server_limits(), None, "3.1.1 has no CONNACK properties");
    c.message("p/x", "héllo")
        .qos(QoS::AtLeastOnce)
        .content_type("text/plain; charset=utf-8")
        .user_property("a", "1")
        .user_property("b", "2")
        .user_property("a", "3")
        .response_topic("p/reply")
        .correlation_data("c-1")
        .message_expiry(Duration::from_secs(600))
        .payload_format(PayloadFormat::Utf8)
        .publish()
        .await
        .unwrap();
    let m = next(&mut sub).await;
    assert_eq!((m.topic(), m.payload()), ("p/x", "héllo".as_bytes()));
    assert_eq!(m.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(
        m.user_properties(),
        vec![("a", "1"), ("b", "2"), ("a", "3")]
    );
    assert_eq!(m.response_topic(), Some("p/reply"));
    assert_eq!(m.correlation_data(), Some(&b"c-1"[..]));
    assert_eq!(m.payload_format(), PayloadFormat::Utf8);
    let left = m.message_expiry_interval().expect("expiry forwarded");
    assert!((590..=600).contains(&left), "{left} s left");
    assert_eq!(m.subscription_identifiers().len(), 1);
    let m = next(&mut old_sub).await;
    assert_eq!((m.topic(), m.payload()), ("p/x", "héllo".as_bytes()));
    assert!(m.user_properties().is_empty() && m.content_type().is_none());
    // A broken promise is refused at the call, before any byte goes out.
    let bad = c
        .message("p/bad", vec![0xff, 0xfe])
        .payload_format(PayloadFormat::Utf8)
        .publish()
        .await;
    assert!(matches!(bad, Err(ClientError::Session(_))), "{bad:?}");
    let bad = c
        .message("p/bad", "x")
        .user_property("k\0", "v")
        .publish()
        .await;
    assert!(
        matches!(bad, Err(ClientError::InvalidProperty(_))),
        "{bad:?}"
    );
}

/// [MQTT-3.3.4-7]: the broker's Receive Maximum (mosquitto's
/// `max_inflight_messages`) bounds the client's QoS 1 and 2 publishes in flight,
/// whatever the application queues; every one completes, on one connection.
pub async fn v5_receive_maximum_respected<H: Harness>() {
    let broker = Mosquitto::start_with("max_inflight_messages 3\n");
    let (c, _l) = start::<H>(opts5(&broker.url(), "v5-rm").max_inflight(100));
    let mut sub = c.subscribe("rm/#", QoS::ExactlyOnce).await.unwrap();
    assert_eq!(c.server_limits().unwrap().receive_maximum, 3);
    let mut acks = Vec::new();
    for i in 0..60u32 {
        let qos = [QoS::AtLeastOnce, QoS::ExactlyOnce][i as usize % 2];
        acks.push(
            c.queue_publish("rm/x", i.to_be_bytes().to_vec(), qos, false)
                .await
                .unwrap(),
        );
    }
    let mut most = 0;
    let all = join_all(acks);
    let mut all = std::pin::pin!(all);
    let results = loop {
        most = most.max(c.status().inflight);
        let tick = sleep::<H>(Duration::from_millis(1));
        match select(all.as_mut(), tick).await {
            Either::Left((r, _)) => break r,
            Either::Right(_) => {}
        }
    };
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(
        most <= 3,
        "{most} in flight, over the broker's Receive Maximum"
    );
    assert!(most >= 1);
    let mut got = BTreeSet::new();
    while got.len() < 60 {
        got.insert(next(&mut sub).await.payload().to_vec());
    }
    assert_eq!(c.status().connects, 1, "the broker never disconnected us");
}

/// [MQTT-3.3.2-9], [MQTT-3.2.2-17]: the client replaces a topic it sends again by
/// its alias (within the broker's Topic Alias Maximum), which mosquitto resolves for
/// the subscriber; the same messages without aliases cost more bytes.
pub async fn v5_topic_alias_used<H: Harness>() {
    let broker = Mosquitto::start();
    let (sub_c, _s) = start::<H>(opts5(&broker.url(), "v5-alias-sub"));
    let mut sub = sub_c.subscribe("ta/#", QoS::AtLeastOnce).await.unwrap();
    let long = format!("ta/{}", "a-long-level/".repeat(8).trim_end_matches('/'));
    let mut sent = Vec::new();
    for (id, aliases) in [("v5-alias-on", 16u16), ("v5-alias-off", 0)] {
        let (c, l) = start::<H>(opts5(&broker.url(), id).max_outgoing_topic_aliases(aliases));
        let before = {
            c.publish("ta/start", "", QoS::AtLeastOnce, false)
                .await
                .unwrap();
            c.status().bytes_sent
        };
        if aliases > 0 {
            assert!(c.server_limits().unwrap().topic_alias_maximum > 0);
        }
        for i in 0..50u8 {
            c.publish(long.as_str(), vec![i], QoS::AtLeastOnce, false)
                .await
                .unwrap();
        }
        sent.push(c.status().bytes_sent - before);
        for i in 0..51u8 {
            let m = next(&mut sub).await;
            if i > 0 {
                assert_eq!((m.topic(), m.payload()), (long.as_str(), &[i - 1][..]));
            }
        }
        c.disconnect().await.unwrap();
        l.await.unwrap();
    }
    // 49 repeats, each some 100 bytes of topic shorter.
    assert!(
        sent[0] + 49 * 90 < sent[1],
        "aliases: {} B, names: {} B",
        sent[0],
        sent[1]
    );
}

/// Section 4.8.2: a shared subscription (`$share/{ShareName}/{filter}`) spreads the
/// messages over its subscribers, each message to one of them; a client with both a
/// shared and a plain subscription to the same topics gets every message on the
/// plain one and only its share on the shared one (routing by Subscription
/// Identifier, not by topic).
pub async fn v5_shared_subscription_load_balanced<H: Harness>() {
    let broker = Mosquitto::start();
    let (a, _a) = start::<H>(opts5(&broker.url(), "v5-share-a"));
    let (b, _b) = start::<H>(opts5(&broker.url(), "v5-share-b"));
    let mut share_a = a
        .subscribe("$share/workers/jobs/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut share_b = b
        .subscribe("$share/workers/jobs/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut plain_a = a.subscribe("jobs/#", QoS::AtLeastOnce).await.unwrap();
    let (p, _p) = start::<H>(opts5(&broker.url(), "v5-share-pub"));
    for i in 0..40u8 {
        p.publish(format!("jobs/{i}"), vec![i], QoS::AtLeastOnce, false)
            .await
            .unwrap();
    }
    let mut every = Vec::new();
    for _ in 0..40 {
        every.push(next(&mut plain_a).await.payload()[0]);
    }
    assert_eq!(
        every,
        (0..40).collect::<Vec<u8>>(),
        "the plain subscription gets all, once"
    );
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    while got_a.len() + got_b.len() < 40 {
        let (ra, rb) = (share_a.recv(), share_b.recv());
        match select(std::pin::pin!(ra), std::pin::pin!(rb)).await {
            Either::Left((m, _)) => got_a.push(m.unwrap().payload()[0]),
            Either::Right((m, _)) => got_b.push(m.unwrap().payload()[0]),
        }
    }
    sleep::<H>(Duration::from_millis(200)).await;
    assert!(
        share_a.is_empty() && share_b.is_empty() && plain_a.is_empty(),
        "extra copies"
    );
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "a: {got_a:?}, b: {got_b:?}"
    );
    let all: BTreeSet<u8> = got_a.iter().chain(&got_b).copied().collect();
    assert_eq!(all.len(), 40, "each message to exactly one member");
}

/// Request / response (section 4.10): concurrent requests each get their own answer
/// (matched by Correlation Data on the client's response topic); answering a
/// message without a Response Topic is an error at the call, and so is a request
/// over 3.1.1.
pub async fn v5_request_response<H: Harness>() {
    let broker = Mosquitto::start();
    let (server, _s) = start::<H>(opts5(&broker.url(), "v5-rr-server"));
    let mut requests = server
        .subscribe("svc/upper", QoS::AtLeastOnce)
        .await
        .unwrap();
    let responder = server.clone();
    let _serving = H::spawn(Box::pin(async move {
        while let Some(req) = requests.recv().await {
            let answer = String::from_utf8_lossy(req.payload()).to_uppercase();
            if responder.respond(&req, answer).await.is_err() {
                break;
            }
        }
    }));
    let (c, _c) = start::<H>(opts5(&broker.url(), "v5-rr-client"));
    let words = ["alpha", "beta", "gamma", "delta", "epsilon"];
    let answers = join_all(
        words
            .iter()
            .map(|w| c.request("svc/upper", *w, QoS::AtLeastOnce)),
    )
    .await;
    for (w, a) in words.iter().zip(answers) {
        let a = a.unwrap();
        assert_eq!(a.payload(), w.to_uppercase().as_bytes());
        assert!(a.topic().starts_with("mqtt-rr/"), "{}", a.topic());
    }
    // Another client's responses where its ACLs allow them.
    let (other, _other) =
        start::<H>(opts5(&broker.url(), "v5-rr-prefixed").response_topic_prefix("replies/v5-rr"));
    let a = other
        .request("svc/upper", "eta", QoS::AtLeastOnce)
        .await
        .unwrap();
    assert_eq!(a.payload(), b"ETA");
    assert!(a.topic().starts_with("replies/v5-rr/"), "{}", a.topic());
    // A second round reuses the response subscription.
    let again = c
        .request("svc/upper", "zeta", QoS::ExactlyOnce)
        .await
        .unwrap();
    assert_eq!(again.payload(), b"ZETA");
    let mut plain = c.subscribe("plain", QoS::AtMostOnce).await.unwrap();
    c.publish("plain", "no response topic", QoS::AtMostOnce, false)
        .await
        .unwrap();
    let m = next(&mut plain).await;
    assert!(matches!(
        c.respond(&m, "x").await,
        Err(ClientError::NoResponseTopic)
    ));
    let (old, _o) = start::<H>(opts(&broker.url(), "v5-rr-311"));
    assert!(matches!(
        old.request("svc/upper", "x", QoS::AtLeastOnce).await,
        Err(ClientError::Session(_))
    ));
}

/// Section 3.14: the server's DISCONNECT ends the connection with its reason code,
/// reported as `Cause::Server` by the event loop, its connection events and its
/// status. mosquitto 2.0.11 sends DISCONNECT when a PUBLISH breaks its Topic Alias
/// Maximum (0x94); the session never sends one, so the test writes it past the
/// session. (mosquitto 2.0.11 closes a taken-over session's connection without
/// DISCONNECT, and so on shutdown.)
pub async fn v5_server_disconnect_handled<H: Harness>() {
    let broker = Mosquitto::start();
    let switch = Switch::default();
    let (s, port) = (switch.clone(), broker.port());
    let options = Options::with_connector(Arc::new(move || {
        let s = s.clone();
        Box::pin(async move { Ok(s.wrap(H::R::connect_tcp("127.0.0.1".into(), port).await?)) })
    }))
    .protocol(ProtocolVersion::V5)
    .client_id("v5-server-disconnect")
    .reconnect(None);
    let (c, event_loop) = mqtt_client::new_client::<H::R>(options).unwrap();
    let mut events = c.connection_events();
    let event_loop = H::spawn(Box::pin(event_loop.run()));
    c.publish("t", "1", QoS::AtLeastOnce, false).await.unwrap();
    // PUBLISH QoS 0 "x" with Topic Alias 65,535, over mosquitto's maximum (10).
    switch.inject(&[0x30, 0x07, 0x00, 0x01, b'x', 0x03, 0x23, 0xff, 0xff]);
    let _ = c.publish("t", "2", QoS::AtLeastOnce, false).await;
    let invalid = |c: &Cause| {
        matches!(
            c,
            Cause::Server {
                reason_code: DisconnectReasonCode::TopicAliasInvalid,
                ..
            }
        )
    };
    match event_loop.await {
        Err(ClientError::Connection(cause)) => assert!(invalid(&cause), "{cause:?}"),
        other => panic!("expected the server's DISCONNECT, got {other:?}"),
    }
    loop {
        match events.recv().await {
            Some(ConnectionEvent::Disconnected { cause }) => {
                assert!(invalid(&cause), "{cause:?}");
                assert!(cause.to_string().contains("TopicAliasInvalid"), "{cause}");
                break;
            }
            Some(_) => {}
            None => panic!("no Disconnected event"),
        }
    }
    assert!(matches!(c.status().last_cause, Some(ref c) if invalid(c)));
}

/// Overlapping subscriptions under 5.0, with mosquitto's default of one copy per
/// matching subscription [MQTT-3.3.4-3] (the 3.1.1 scenario needs
/// `allow_duplicate_messages false`): each copy carries its subscription's identifier
/// and reaches that Subscription only, so none sees a message twice.
pub async fn v5_overlapping_subscriptions_by_identifier<H: Harness>() {
    let broker = Mosquitto::start();
    let (c, _c) = start::<H>(opts5(&broker.url(), "v5-overlap"));
    overlapping(&c).await;
}

/// Subscription Options: No Local keeps the client's own messages away
/// [MQTT-3.8.3-3]; Retain As Published keeps the RETAIN flag of a forwarded message
/// [MQTT-3.3.1-12]; Retain Handling 2 sends no retained message at subscribe time.
pub async fn v5_subscription_options<H: Harness>() {
    let broker = Mosquitto::start();
    let (c, _c) = start::<H>(opts5(&broker.url(), "v5-opts"));
    let (other, _o) = start::<H>(opts5(&broker.url(), "v5-opts-other"));
    let mut no_local = c
        .subscribe_with(
            "nl/#",
            SubscriptionOptions {
                no_local: true,
                ..SubscriptionOptions::new(QoS::AtLeastOnce)
            },
        )
        .await
        .unwrap();
    c.publish("nl/mine", "x", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    other
        .publish("nl/theirs", "y", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(next(&mut no_local).await.topic(), "nl/theirs");
    other
        .publish("ret/a", "kept", QoS::AtLeastOnce, true)
        .await
        .unwrap();
    let mut none = other
        .subscribe_with(
            "ret/#",
            SubscriptionOptions {
                retain_handling: mqtt_client::RetainHandling::DoNotSend,
                retain_as_published: true,
                ..SubscriptionOptions::new(QoS::AtLeastOnce)
            },
        )
        .await
        .unwrap();
    c.publish("ret/b", "live", QoS::AtLeastOnce, true)
        .await
        .unwrap();
    let m = next(&mut none).await;
    assert_eq!(
        (m.topic(), m.retain()),
        ("ret/b", true),
        "no retained at subscribe; flag as published"
    );
    let mut fresh = c.subscribe("ret/#", QoS::AtLeastOnce).await.unwrap();
    let mut seen = BTreeSet::new();
    for _ in 0..2 {
        let m = next(&mut fresh).await;
        assert!(
            m.retain(),
            "sent because of the subscription [MQTT-3.3.1-9]"
        );
        seen.insert(m.topic().to_owned());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec!["ret/a", "ret/b"]);
}

/// DISCONNECT with reason 0x04 has the broker publish the will (section 3.14.2.1),
/// where a normal DISCONNECT discards it [MQTT-3.1.2-10]; a Session Expiry Interval
/// set at DISCONNECT keeps a session opened with one.
pub async fn v5_disconnect_with_reason<H: Harness>() {
    let broker = Mosquitto::start();
    let (watcher, _w) = start::<H>(opts5(&broker.url(), "v5-will-watch"));
    let mut wills = watcher
        .subscribe("wills/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let (c, l) = start::<H>(opts5(&broker.url(), "v5-will").will(
        "wills/v5",
        "gone",
        QoS::AtLeastOnce,
        false,
    ));
    c.publish("alive", "", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    c.disconnect_with(DisconnectReasonCode::DisconnectWithWillMessage, None)
        .await
        .unwrap();
    l.await.unwrap();
    let m = next(&mut wills).await;
    assert_eq!((m.topic(), m.payload()), ("wills/v5", &b"gone"[..]));
    // The session lives on after DISCONNECT with an expiry: messages wait for it.
    let persistent = || {
        opts5(&broker.url(), "v5-expiry")
            .clean_session(false)
            .session_expiry(60)
    };
    let (c, l) = start::<H>(persistent());
    let _sub = c.subscribe("exp/#", QoS::AtLeastOnce).await.unwrap();
    c.disconnect_with(DisconnectReasonCode::NormalDisconnection, Some(120))
        .await
        .unwrap();
    l.await.unwrap();
    watcher
        .publish("exp/1", "waited", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    // Subscribed before the event loop runs: routed from the call, so the message
    // the resumed session delivers right after CONNACK is caught.
    let (c, event_loop) = mqtt_client::new_client::<H::R>(persistent()).unwrap();
    let subscribing = c.subscribe("exp/#", QoS::AtLeastOnce);
    let _loop = H::spawn(Box::pin(event_loop.run()));
    let mut sub = subscribing.await.unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.payload(), b"waited");
    // Refused: a new expiry on a session opened with 0 (section 3.14.2.2.2).
    let (z, _z) = start::<H>(opts5(&broker.url(), "v5-zero").session_expiry(0));
    z.publish("x", "", QoS::AtLeastOnce, false).await.unwrap();
    assert!(matches!(
        z.disconnect_with(DisconnectReasonCode::NormalDisconnection, Some(10))
            .await,
        Err(ClientError::Session(_))
    ));
}
