//! Turning arbitrary raw parts into valid packet fields; shared by the `arbitrary`
//! and `proptest` generators so both produce exactly the set of valid packets.

use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;

pub(crate) mod v5;

use crate::{
    Connack, Connect, ConnectReturnCode, LastWill, PacketId, QoS, QosPid, Str, SubackReturnCode,
    TopicFilter, TopicName,
};

/// Drops U+0000 and, for topic levels, the characters with a meaning in topics.
fn clean(s: &str, topic_level: bool) -> String {
    s.chars()
        .filter(|&c| c != '\0' && !(topic_level && matches!(c, '/' | '+' | '#')))
        .collect()
}

/// Keeps at most `max` bytes, cut at a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

pub(crate) fn string(s: &str) -> Str<Bytes> {
    Str::from_string(truncate(clean(s, false), 256)).expect("cleaned string is valid")
}

pub(crate) fn topic_name(levels: &[String]) -> TopicName<Bytes> {
    let mut t: Vec<String> = levels.iter().map(|l| clean(l, true)).collect();
    if t.iter().all(String::is_empty) {
        t.push(String::from("t"));
    }
    TopicName::from_string(truncate(t.join("/"), 256)).expect("cleaned topic is valid")
}

/// Levels are `(kind, text)`: kind 0 makes a `+` level; `multi` appends `#`.
pub(crate) fn topic_filter(levels: &[(u8, String)], multi: bool) -> TopicFilter<Bytes> {
    let mut t: Vec<String> = levels
        .iter()
        .map(|(k, l)| {
            if k % 4 == 0 {
                String::from("+")
            } else {
                clean(l, true)
            }
        })
        .collect();
    if multi || t.is_empty() {
        t.push(String::from("#"));
    }
    let s = t.join("/");
    // Truncation could split a wildcard level; fall back to a plain valid filter.
    TopicFilter::from_string(truncate(s, 256))
        .unwrap_or_else(|_| TopicFilter::from_string("f".into()).expect("valid"))
}

pub(crate) fn packet_id(v: u16) -> PacketId {
    PacketId::new(v.max(1)).expect("non-zero")
}

pub(crate) fn qos(v: u8) -> QoS {
    QoS::from_u8(v % 3).expect("0..=2")
}

pub(crate) fn qos_pid(q: u8, pid: u16) -> QosPid {
    match q % 3 {
        0 => QosPid::AtMostOnce,
        1 => QosPid::AtLeastOnce(packet_id(pid)),
        _ => QosPid::ExactlyOnce(packet_id(pid)),
    }
}

/// DUP only where the QoS allows it [MQTT-3.3.1-2].
pub(crate) fn dup(dup: bool, qos_pid: QosPid) -> bool {
    dup && qos_pid != QosPid::AtMostOnce
}

pub(crate) fn suback_code(v: u8) -> SubackReturnCode {
    match v % 4 {
        3 => SubackReturnCode::Failure,
        q => SubackReturnCode::Success(qos(q)),
    }
}

pub(crate) fn connack(session_present: bool, code: u8) -> Connack {
    let code = match code % 6 {
        0 => ConnectReturnCode::Accepted,
        1 => ConnectReturnCode::UnacceptableProtocolVersion,
        2 => ConnectReturnCode::IdentifierRejected,
        3 => ConnectReturnCode::ServerUnavailable,
        4 => ConnectReturnCode::BadUserNameOrPassword,
        _ => ConnectReturnCode::NotAuthorized,
    };
    // [MQTT-3.2.2-4]
    Connack {
        session_present: session_present && code == ConnectReturnCode::Accepted,
        code,
    }
}

/// Raw parts of a CONNECT.
pub(crate) struct ConnectParts {
    pub clean_session: bool,
    pub keep_alive: u16,
    pub client_id: String,
    pub will: Option<(Vec<String>, Vec<u8>, u8, bool)>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

pub(crate) fn connect(p: ConnectParts) -> Connect<Bytes> {
    let client_id = string(&p.client_id);
    // [MQTT-3.1.3-7]: an empty client id needs clean session.
    let clean_session = p.clean_session || client_id.is_empty();
    // [MQTT-3.1.2-22]: a password needs a user name.
    let username = match (&p.username, &p.password) {
        (Some(u), _) => Some(string(u)),
        (None, Some(_)) => Some(string("")),
        (None, None) => None,
    };
    Connect {
        protocol: crate::ProtocolVersion::V311,
        clean_session,
        keep_alive: p.keep_alive,
        client_id,
        will: p.will.map(|(topic, message, q, retain)| LastWill {
            topic: topic_name(&topic),
            message: Bytes::from(message),
            qos: qos(q),
            retain,
        }),
        username,
        password: p.password.map(Bytes::from),
    }
}
