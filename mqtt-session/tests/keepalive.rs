//! Keepalive: PINGREQ when the link is quiet [MQTT-3.1.2-23], dead links found.

mod common;

use common::*;
use core::time::Duration;
use mqtt_proto::{Packet, QoS};
use mqtt_session::{DisconnectReason, Event, Session, State};

fn with_keep_alive(secs: u64) -> Session {
    let mut cfg = config();
    cfg.keep_alive = Duration::from_secs(secs);
    connected(cfg)
}

// [MQTT-3.1.2-23]
#[test]
fn pingreq_after_keep_alive_of_silence() {
    let mut s = with_keep_alive(10);
    assert_eq!(s.poll_timeout(), Some(t(10_000)));
    s.handle_timeout(t(9_999));
    assert!(sent(&mut s).is_empty());
    s.handle_timeout(t(10_000));
    assert_eq!(sent(&mut s), [Packet::Pingreq]);
    // Waiting for PINGRESP: half the keep alive by default.
    assert_eq!(s.poll_timeout(), Some(t(15_000)));
    feed(&mut s, t(10_100), &[Packet::Pingresp]);
    assert_eq!(s.poll_timeout(), Some(t(20_000)));
    assert_eq!(s.state(), State::Connected);
}

#[test]
fn no_pingresp_means_a_dead_connection() {
    let mut s = with_keep_alive(10);
    s.handle_timeout(t(10_000));
    assert_eq!(sent(&mut s), [Packet::Pingreq]);
    s.handle_timeout(t(14_999));
    assert_eq!(s.state(), State::Connected);
    s.handle_timeout(t(15_000));
    assert_eq!(
        events(&mut s),
        [Event::Disconnected {
            reason: DisconnectReason::PingTimeout
        }]
    );
    // Detected within 1.5 x keep alive of the last traffic.
}

#[test]
fn two_way_traffic_means_no_needless_pings() {
    let mut s = with_keep_alive(10);
    // A QoS 1 exchange every 4 s keeps both directions busy.
    for i in 1..=10u64 {
        let now = t(i * 4_000);
        s.handle_timeout(now);
        s.publish(now, msg("a", b"x", QoS::AtLeastOnce)).unwrap();
        let p = sent(&mut s);
        assert!(
            matches!(&p[..], [Packet::Publish(_)]),
            "no ping at {now:?}: {p:?}"
        );
        feed(&mut s, now, &[Packet::Puback(pid(i as u16))]);
    }
    assert_eq!(s.poll_timeout(), Some(t(50_000)));
}

#[test]
fn silence_from_the_broker_triggers_a_ping_even_while_sending() {
    let mut s = with_keep_alive(10);
    for i in 1..=3u64 {
        s.publish(t(i * 4_000), msg("a", b"x", QoS::AtMostOnce))
            .unwrap();
        let _ = sent(&mut s);
    }
    // Sent at 12 s, but nothing heard since 0 s: ping at 10 s.
    assert_eq!(s.poll_timeout(), Some(t(10_000)));
    s.handle_timeout(t(12_000));
    assert_eq!(sent(&mut s), [Packet::Pingreq]);
}

#[test]
fn keep_alive_zero_turns_it_off() {
    let mut s = with_keep_alive(0);
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(t(10_000_000));
    assert!(sent(&mut s).is_empty());
    assert_eq!(s.state(), State::Connected);
}

#[test]
fn custom_ping_timeout() {
    let mut cfg = config();
    cfg.keep_alive = Duration::from_secs(30);
    cfg.ping_timeout = Some(Duration::from_secs(2));
    let mut s = connected(cfg);
    s.handle_timeout(t(30_000));
    assert_eq!(sent(&mut s), [Packet::Pingreq]);
    assert_eq!(s.poll_timeout(), Some(t(32_000)));
}
