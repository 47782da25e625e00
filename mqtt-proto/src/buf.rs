//! Owned copies of borrowed packets (feature `bytes`).

use bytes::Bytes;

use crate::packet::{Connect, LastWill, List, ListKind, Suback, Subscribe, Unsubscribe};
use crate::{Packet, Publish, Str, TopicName};

impl Packet<&[u8]> {
    /// Copies a borrowed packet into an owned one.
    pub fn to_bytes(&self) -> Packet<Bytes> {
        match self {
            Packet::Connect(c) => Packet::Connect(Connect {
                protocol: c.protocol,
                clean_session: c.clean_session,
                keep_alive: c.keep_alive,
                client_id: Str::copy_from(&c.client_id),
                will: c.will.as_ref().map(|w| LastWill {
                    topic: TopicName::trusted(copy(w.topic.as_bytes())),
                    message: copy(w.message),
                    qos: w.qos,
                    retain: w.retain,
                }),
                username: c.username.as_ref().map(Str::copy_from),
                password: c.password.map(copy),
            }),
            Packet::Connack(c) => Packet::Connack(*c),
            Packet::Publish(p) => Packet::Publish(p.to_bytes()),
            Packet::Puback(id) => Packet::Puback(*id),
            Packet::Pubrec(id) => Packet::Pubrec(*id),
            Packet::Pubrel(id) => Packet::Pubrel(*id),
            Packet::Pubcomp(id) => Packet::Pubcomp(*id),
            Packet::Subscribe(s) => Packet::Subscribe(Subscribe {
                packet_id: s.packet_id,
                filters: copy_list(&s.filters),
            }),
            Packet::Suback(s) => Packet::Suback(Suback {
                packet_id: s.packet_id,
                codes: copy_list(&s.codes),
            }),
            Packet::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
                packet_id: u.packet_id,
                filters: copy_list(&u.filters),
            }),
            Packet::Unsuback(id) => Packet::Unsuback(*id),
            Packet::Pingreq => Packet::Pingreq,
            Packet::Pingresp => Packet::Pingresp,
            Packet::Disconnect => Packet::Disconnect,
        }
    }
}

impl Publish<&[u8]> {
    /// Copies a borrowed PUBLISH into an owned one.
    pub fn to_bytes(&self) -> Publish<Bytes> {
        Publish {
            dup: self.dup,
            qos_pid: self.qos_pid,
            retain: self.retain,
            topic: TopicName::trusted(copy(self.topic.as_bytes())),
            payload: copy(self.payload),
        }
    }
}

fn copy(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

fn copy_list<K: ListKind>(l: &List<&[u8], K>) -> List<Bytes, K> {
    List::trusted(copy(l.as_wire()))
}
