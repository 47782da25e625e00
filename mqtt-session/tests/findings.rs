//! Session bugs found by the property tests (`properties.rs`), each as the smallest
//! history that shows it. Both are fixed; the tests keep them fixed.

use core::time::Duration;

use bytes::Bytes;
use mqtt_proto::{QoS, TopicFilter};
use mqtt_session::sim::{BrokerConfig, ClientIdx, Record, Sim};
use mqtt_session::{Config, DeliveryId, Event, Session};

/// A persistent, manual-ack client subscribed to `in/#` at QoS 2.
fn manual_ack_client(sim: &mut Sim) -> ClientIdx {
    let mut config = Config::new("finding").unwrap();
    config.clean_session = false;
    config.manual_acks = true;
    config.keep_alive = Duration::from_secs(30);
    let c = sim.add_client(config);
    sim.connect(c).unwrap();
    sim.run();
    let now = sim.now();
    let filter = TopicFilter::from_static("in/#").unwrap();
    sim.session(c)
        .subscribe(now, &[(filter, QoS::ExactlyOnce)])
        .unwrap();
    sim.run();
    let _ = sim.events(c);
    c
}

/// The broker publishes `payload` at QoS 2; returns the application's delivery.
fn deliver(sim: &mut Sim, c: ClientIdx, payload: &'static [u8]) -> (DeliveryId, u16) {
    let now = sim.now().as_millis();
    let payload = Bytes::from_static(payload);
    sim.broker
        .publish(now, "in/a", payload, QoS::ExactlyOnce, false)
        .unwrap();
    sim.run();
    let mut got = sim.events(c).into_iter().filter_map(|e| match e {
        Event::Message(m) => Some((m.delivery.unwrap(), m.packet_id().unwrap().get())),
        _ => None,
    });
    let d = got.next().expect("delivered");
    assert!(got.next().is_none());
    d
}

fn completed(sim: &Sim, payload: &[u8]) -> bool {
    sim.broker
        .log()
        .iter()
        .any(|r| matches!(r, Record::Completed { payload: p, .. } if &p[..] == payload))
}

/// Bug: after the broker lost the session, a QoS 2 delivery handle from before the
/// loss acknowledges whichever new message the broker sent with the same packet
/// identifier, before the application has seen it through; the application's own ack
/// of the new message then fails with `UnknownDelivery`.
///
/// `Session::ack` (commands.rs, the `_ => match self.inbound_qos2.get_mut(..)` arm)
/// ignores `delivery.epoch` for QoS 2, which is right while the broker keeps the
/// session (the identifier stays reserved until PUBREL) but not after
/// `session_lost` (inbound.rs) cleared `inbound_qos2`: the identifier is free again,
/// and the broker's new session reuses it. The handle needs to know which session it
/// belongs to (e.g. a counter bumped by `session_lost`, kept in `DeliveryId` and in
/// `Inbound::AwaitingAppAck`), and a stale one must be a no-op.
#[test]
fn a_stale_qos2_ack_does_not_release_a_new_message() {
    let mut sim = Sim::new(BrokerConfig::default());
    let c = manual_ack_client(&mut sim);
    let (old, old_id) = deliver(&mut sim, c, b"old");
    // The broker crashes and forgets everything; the client reconnects and learns the
    // session is gone.
    sim.restart_broker(false);
    sim.run();
    sim.connect(c).unwrap();
    sim.run();
    assert!(sim.events(c).contains(&Event::Connected {
        session_present: false
    }));
    let (new, new_id) = deliver(&mut sim, c, b"new");
    assert_eq!(
        old_id, new_id,
        "the broker's new session reuses the identifier"
    );

    // The application finishes with the old message late. The broker has forgotten
    // it: nothing should happen.
    let now = sim.now();
    let _ = sim.session(c).ack(now, old);
    sim.run();
    assert!(
        !completed(&sim, b"new"),
        "the stale handle released the new message before the application acked it"
    );
    assert_eq!(sim.session(c).ack(now, new), Ok(()));
    sim.run();
    assert!(completed(&sim, b"new"));
}

/// Bug: a session restored from a state holding an incoming QoS 2 message the
/// application had not acknowledged (manual acks; `SessionState::inbound_qos2` entry
/// with `false`) can never complete it: the new process has no `DeliveryId` for it,
/// and when the broker sends the PUBLISH again (DUP), `on_publish` (inbound.rs,
/// `Some(Inbound::AwaitingAppAck) => {}`) swallows it. The broker's in-flight slot is
/// held forever; with a window of 1, nothing more is ever delivered.
///
/// A fix: `Session::restore` (state.rs) could skip the entries whose PUBREC was not
/// sent (`if !rec_sent { continue; }`), so the re-sent PUBLISH is delivered to the new
/// application, which acks it (the old one died before finishing with it).
#[test]
fn restored_unacked_qos2_is_delivered_again() {
    let mut sim = Sim::new(BrokerConfig::default());
    let c = manual_ack_client(&mut sim);
    let _lost_with_the_process = deliver(&mut sim, c, b"m");
    // The process dies; a new one restores the stored state and reconnects.
    let state = sim.session_ref(c).export_state();
    assert_eq!(state.inbound_qos2.len(), 1);
    let config = sim.session_ref(c).config().clone();
    let (restored, _) = Session::restore(config, state);
    drop(sim.replace_session(c, restored));
    let _ = sim.events(c);
    sim.connect(c).unwrap();
    sim.run();
    let again: Vec<DeliveryId> = sim
        .events(c)
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => m.delivery,
            _ => None,
        })
        .collect();
    assert_eq!(
        again.len(),
        1,
        "the re-sent PUBLISH must reach the new application, the only one that can ack it"
    );
    let now = sim.now();
    sim.session(c).ack(now, again[0]).unwrap();
    sim.run();
    assert!(completed(&sim, b"m"));
}
