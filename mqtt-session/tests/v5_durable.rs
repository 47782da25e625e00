//! Durable 5.0 sessions: the journal and the exported state keep 5.0 messages with
//! their properties, 5.0 subscribe commands and subscription options; a restored
//! session resends them as 5.0 packets.

mod common;

use bytes::Bytes;
use common::v5::*;
use common::*;
use mqtt_proto::v5::{
    PropertyValues, PubackReasonCode, RetainHandling, SubscriptionId, SubscriptionOptions,
};
use mqtt_proto::{QoS, Str, TopicName};
use mqtt_session::{
    Config, Event, MemoryStore, MessageProperties, Outcome, Session, Store, StoreOp,
};

fn durable5() -> Config {
    let mut c = config5();
    c.clean_session = false;
    c.durable = true;
    c
}

fn props() -> MessageProperties {
    MessageProperties {
        message_expiry_interval: Some(600),
        content_type: Some(Str::from_static("text/plain").unwrap()),
        response_topic: Some(TopicName::from_static("re/x").unwrap()),
        correlation_data: Some(Bytes::from_static(b"42")),
        user_properties: vec![(
            Str::from_static("k").unwrap(),
            Str::from_static("v").unwrap(),
        )],
        ..MessageProperties::default()
    }
}

fn drain(s: &mut Session) -> Vec<StoreOp> {
    std::iter::from_fn(|| s.poll_store_op()).collect()
}

// A 5.0 message is journaled with its properties before anything goes out; a process
// restored from the store resends it (DUP, same identifier [MQTT-4.4.0-1]) with them.
#[test]
fn the_journal_keeps_5_0_messages_with_their_properties() {
    let mut s = Session::new(durable5());
    s.connect(t(0)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(0), &[connack5(false, &PropertyValues::default())]);
    let _ = events(&mut s);
    let m = msg("a/b", b"payload", QoS::ExactlyOnce).with_properties(props());
    let op = s.publish(t(1), m.clone()).unwrap();
    assert_eq!(s.poll_transmit(), None, "write-ahead");
    let journal = drain(&mut s);
    assert_eq!(
        journal[0],
        StoreOp::Publish {
            op: op.get(),
            message: m.clone()
        }
    );
    let mut store = MemoryStore::new();
    store.persist(&journal).unwrap();
    let _ = sent5(&mut s);
    drop(s); // the process dies before PUBREC

    let (mut again, ops) = Session::restore(durable5(), store.load().unwrap());
    assert_eq!(ops, [op]);
    again.connect(t(100_000)).unwrap();
    let _ = sent5(&mut again);
    feed5(
        &mut again,
        t(100_000),
        &[connack5(true, &PropertyValues::default())],
    );
    let p = sent5(&mut again);
    let [P5::Publish(p)] = &p[..] else {
        panic!("{p:?}")
    };
    assert!(p.dup);
    assert_eq!(p.qos_pid.packet_id(), Some(pid(1)));
    assert_eq!(p.properties.content_type().unwrap().as_str(), "text/plain");
    assert_eq!(p.properties.response_topic().unwrap().as_str(), "re/x");
    assert_eq!(p.properties.correlation_data().as_deref(), Some(&b"42"[..]));
    assert_eq!(p.properties.user_properties().count(), 1);
    // Expiry restarts with the restored process (its clock is another one).
    assert_eq!(p.properties.message_expiry_interval(), Some(600));
    feed5(
        &mut again,
        t(100_001),
        &[pubrec5(1, PubackReasonCode::Success)],
    );
    let _ = drain(&mut again);
    assert_eq!(sent5(&mut again), [pubrel5(1)]);
    feed5(&mut again, t(100_002), &[pubcomp5(1)]);
    assert!(events(&mut again).contains(&Event::Completed {
        op,
        outcome: Outcome::Acknowledged
    }));
}

// export_state / restore keep 5.0 messages, 5.0 subscribes and subscription options:
// restoring and exporting again gives the same state.
#[test]
fn exported_5_0_state_restores_as_it_was() {
    let mut c = config5();
    c.clean_session = false;
    let mut s = connected5(c.clone(), &PropertyValues::default());
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    };
    let ids = [SubscriptionId::new(5).unwrap()];
    let with_id = PropertyValues {
        subscription_identifiers: &ids,
        ..PropertyValues::default()
    };
    s.subscribe_with(t(1), &[(filter("a/#"), options)], &with_id)
        .unwrap();
    let p = sent5(&mut s);
    let [P5::Subscribe(sub)] = &p[..] else {
        panic!()
    };
    feed5(
        &mut s,
        t(1),
        &[P5::Suback(mqtt_proto::v5::Suback {
            packet_id: sub.packet_id,
            properties: Default::default(),
            reason_codes: mqtt_proto::v5::SubackReasonCodes::from_reason_codes(&[
                mqtt_proto::v5::SubackReasonCode::GrantedQoS1,
            ])
            .unwrap(),
        })],
    );
    s.publish(
        t(2),
        msg("x/y", b"1", QoS::AtLeastOnce).with_properties(props()),
    )
    .unwrap();
    s.subscribe_with(t(2), &[(filter("b"), options)], &with_id)
        .unwrap();
    s.handle_transport_closed(t(3));
    s.publish(
        t(4),
        msg("x/y", b"2", QoS::AtLeastOnce).with_properties(props()),
    )
    .unwrap();
    s.unsubscribe(t(4), &[filter("a/#")]).unwrap();
    let _ = events(&mut s);
    let state = s.export_state();
    assert_eq!(state.subscription_options.len(), 1);
    assert_eq!(state.subscription_options[0].1, options);
    let (mut r, ops) = Session::restore(c, state.clone());
    assert_eq!(ops.len(), 4);
    assert_eq!(
        r.export_state(),
        state,
        "restore then export is the identity"
    );
    // The resumed session resends the SUBSCRIBE (with its identifier) and the PUBLISH
    // (with its properties), then the queued ones.
    r.connect(t(5)).unwrap();
    let _ = sent5(&mut r);
    feed5(&mut r, t(5), &[connack5(true, &PropertyValues::default())]);
    let p = sent5(&mut r);
    let kinds: Vec<_> = p
        .iter()
        .map(|p| match p {
            P5::Publish(x) => format!(
                "publish {} {}",
                String::from_utf8_lossy(&x.payload),
                x.properties.content_type().unwrap().as_str()
            ),
            P5::Subscribe(x) => format!(
                "subscribe {}",
                x.properties
                    .subscription_identifiers()
                    .next()
                    .unwrap()
                    .get()
            ),
            P5::Unsubscribe(x) => {
                format!("unsubscribe {}", x.filters.iter().next().unwrap().as_str())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "publish 1 text/plain",
            "subscribe 5",
            "publish 2 text/plain",
            "unsubscribe a/#"
        ]
    );
}

// A state a 3.1.1 session exported restores into a 5.0 session (and back): commands
// are carried over to the other version.
#[test]
fn state_moves_between_versions() {
    let mut c = config();
    c.clean_session = false;
    let mut old = connected(c.clone());
    old.publish(t(1), msg("a", b"1", QoS::AtLeastOnce)).unwrap();
    old.subscribe(t(1), &[(filter("s/#"), QoS::ExactlyOnce)])
        .unwrap();
    old.handle_transport_closed(t(2));
    old.unsubscribe(t(2), &[filter("s/#")]).unwrap();
    let state = old.export_state();
    let mut c5 = config5();
    c5.clean_session = false;
    let (mut s, ops) = Session::restore(c5, state);
    assert_eq!(ops.len(), 3);
    s.connect(t(3)).unwrap();
    let _ = sent5(&mut s);
    feed5(&mut s, t(3), &[connack5(true, &PropertyValues::default())]);
    let p = sent5(&mut s);
    assert!(
        matches!(&p[..], [P5::Publish(_), P5::Subscribe(sub), P5::Unsubscribe(_)]
            if sub.filters.iter().next().unwrap().1 == SubscriptionOptions::new(QoS::ExactlyOnce)),
        "{p:?}"
    );
    let back = s.export_state();
    let (mut s311, _) = Session::restore(c, back);
    s311.connect(t(4)).unwrap();
    let _ = sent(&mut s311);
    feed(&mut s311, t(4), &[connack(true)]);
    assert_eq!(sent(&mut s311).len(), 3);
}
