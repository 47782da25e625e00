//! Helpers for transcript tests: play the broker by hand, packet by packet.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    decode_buf, Connack, ConnectReturnCode, DecodeOptions, Packet, PacketId, QoS, TopicFilter,
    TopicName,
};
use mqtt_session::{Config, Event, Instant, Message, Session};

pub fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

pub fn pid(v: u16) -> PacketId {
    PacketId::new(v).unwrap()
}

pub fn topic(s: &str) -> TopicName<Bytes> {
    TopicName::from_string(s.into()).unwrap()
}

pub fn filter(s: &str) -> TopicFilter<Bytes> {
    TopicFilter::from_string(s.into()).unwrap()
}

pub fn msg(t: &str, payload: &'static [u8], qos: QoS) -> Message {
    Message::new(topic(t), Bytes::from_static(payload), qos)
}

/// Everything the session wants to send, decoded as the broker would.
pub fn sent(s: &mut Session) -> Vec<Packet<Bytes>> {
    let mut wire = BytesMut::new();
    while let Some(tx) = s.poll_transmit() {
        wire.extend_from_slice(&tx.head);
        wire.extend_from_slice(&tx.payload);
    }
    let mut out = Vec::new();
    while let Some(p) = decode_buf(&mut wire, &DecodeOptions::default()).unwrap() {
        out.push(p);
    }
    assert!(wire.is_empty(), "partial packet sent");
    out
}

pub fn events(s: &mut Session) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(e) = s.poll_event() {
        out.push(e);
    }
    out
}

/// The broker sends `packets`.
pub fn feed(s: &mut Session, now: Instant, packets: &[Packet<Bytes>]) {
    let mut buf = BytesMut::new();
    for p in packets {
        p.encode_to(&mut buf).unwrap();
    }
    s.handle_read(now, &mut buf);
}

pub fn feed_raw(s: &mut Session, now: Instant, bytes: &[u8]) {
    let mut buf = BytesMut::from(bytes);
    s.handle_read(now, &mut buf);
}

pub fn connack(session_present: bool) -> Packet<Bytes> {
    Packet::Connack(Connack {
        session_present,
        code: ConnectReturnCode::Accepted,
    })
}

pub fn config() -> Config {
    Config::new("test-client").unwrap()
}

/// A session connected at t=0 (CONNECT and CONNACK done, output drained).
pub fn connected(config: Config) -> Session {
    let mut s = Session::new(config);
    s.connect(t(0)).unwrap();
    let p = sent(&mut s);
    assert!(matches!(p[..], [Packet::Connect(_)]), "{p:?}");
    feed(&mut s, t(0), &[connack(false)]);
    let e = events(&mut s);
    assert_eq!(
        e[0],
        Event::Connected {
            session_present: false
        },
        "{e:?}"
    );
    s
}

/// The ops that completed with `Acknowledged`, in order.
pub fn acknowledged(events: Vec<Event>) -> Vec<mqtt_session::OpId> {
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Completed {
                op,
                outcome: mqtt_session::Outcome::Acknowledged,
            } => Some(op),
            _ => None,
        })
        .collect()
}
