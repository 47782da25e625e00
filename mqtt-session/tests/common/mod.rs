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

// ---- MQTT 5.0 --------------------------------------------------------------------

pub mod v5 {
    use bytes::{Bytes, BytesMut};
    use mqtt_proto::v5::{
        self, ConnackProperties, ConnectReasonCode, DisconnectReasonCode, PropertyValues,
    };
    use mqtt_proto::DecodeOptions;
    use mqtt_session::{Config, Event, Instant, Session};

    pub use mqtt_proto::v5::Packet as P5;

    /// A 5.0 configuration.
    pub fn config5() -> Config {
        Config::v5("test-client").unwrap()
    }

    /// Everything the session wants to send, decoded as a 5.0 broker would.
    pub fn sent5(s: &mut Session) -> Vec<P5<Bytes>> {
        let mut wire = BytesMut::new();
        while let Some(tx) = s.poll_transmit() {
            wire.extend_from_slice(&tx.head);
            wire.extend_from_slice(&tx.payload);
        }
        let mut out = Vec::new();
        while let Some(p) = v5::decode_buf(&mut wire, &DecodeOptions::v5()).unwrap() {
            out.push(p);
        }
        assert!(wire.is_empty(), "partial packet sent");
        out
    }

    /// The broker sends `packets` (5.0).
    pub fn feed5(s: &mut Session, now: Instant, packets: &[P5<Bytes>]) {
        let mut buf = BytesMut::new();
        for p in packets {
            p.encode_to(&mut buf).unwrap();
        }
        s.handle_read(now, &mut buf);
    }

    /// A successful CONNACK with these properties.
    pub fn connack5(session_present: bool, props: &PropertyValues<'_>) -> P5<Bytes> {
        P5::Connack(v5::Connack {
            session_present,
            reason_code: ConnectReasonCode::Success,
            properties: ConnackProperties::from_values(props).unwrap(),
        })
    }

    /// A 5.0 session connected at t=0 with a CONNACK carrying `props`.
    pub fn connected5(config: Config, props: &PropertyValues<'_>) -> Session {
        let mut s = Session::new(config);
        s.connect(super::t(0)).unwrap();
        let p = sent5(&mut s);
        assert!(matches!(p[..], [P5::Connect(_)]), "{p:?}");
        feed5(&mut s, super::t(0), &[connack5(false, props)]);
        let e = super::events(&mut s);
        assert_eq!(
            e.first(),
            Some(&Event::Connected {
                session_present: false
            }),
            "{e:?}"
        );
        s
    }

    /// The DISCONNECT reason code the session sent last, if it sent one.
    pub fn disconnect_code(packets: &[P5<Bytes>]) -> Option<DisconnectReasonCode> {
        packets.iter().rev().find_map(|p| match p {
            P5::Disconnect(d) => Some(d.reason_code),
            _ => None,
        })
    }

    /// A PUBLISH from the broker.
    pub fn publish5(
        topic: &str,
        qos_pid: mqtt_proto::QosPid,
        payload: &'static [u8],
        props: &PropertyValues<'_>,
    ) -> P5<Bytes> {
        P5::Publish(v5::Publish {
            dup: false,
            qos_pid,
            retain: false,
            topic: (!topic.is_empty())
                .then(|| mqtt_proto::TopicName::from_string(topic.into()).unwrap()),
            properties: v5::PublishProperties::from_values(props).unwrap(),
            payload: Bytes::from_static(payload),
        })
    }

    pub fn puback5(id: u16, code: v5::PubackReasonCode) -> P5<Bytes> {
        P5::Puback(v5::Puback {
            packet_id: super::pid(id),
            reason_code: code,
            properties: Default::default(),
        })
    }

    pub fn pubrec5(id: u16, code: v5::PubrecReasonCode) -> P5<Bytes> {
        P5::Pubrec(v5::Pubrec {
            packet_id: super::pid(id),
            reason_code: code,
            properties: Default::default(),
        })
    }

    pub fn pubcomp5(id: u16) -> P5<Bytes> {
        P5::Pubcomp(v5::Pubcomp::new(super::pid(id)))
    }

    pub fn pubrel5(id: u16) -> P5<Bytes> {
        P5::Pubrel(v5::Pubrel::new(super::pid(id)))
    }
}
