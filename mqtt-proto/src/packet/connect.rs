//! CONNECT [MQTT-3.1]: the first packet a client sends.

use core::fmt;

use crate::wire::{prefixed_len, Reader, Sink};
use crate::{DecodeError, EncodeError, ProtocolVersion, QoS, Storage, Str, TopicName};

pub(crate) const PROTOCOL_NAME: &[u8] = b"MQTT";

/// A CONNECT packet.
///
/// Decoding accepts an empty client id with clean session 0, because a server must
/// answer it with CONNACK 0x02 rather than drop it [MQTT-3.1.3-8]; encoding refuses
/// it, because a client must never send it [MQTT-3.1.3-7].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Connect<S: Storage> {
    /// Protocol version (level 4 for 3.1.1).
    pub protocol: ProtocolVersion,
    /// Clean session: discard any previous session state [MQTT-3.1.2-6].
    pub clean_session: bool,
    /// Keep alive in seconds; 0 turns it off [MQTT-3.1.2-23].
    pub keep_alive: u16,
    /// Client identifier; empty asks the server to assign one (needs clean session)
    /// [MQTT-3.1.3-7].
    pub client_id: Str<S>,
    /// Will message the server publishes if the connection ends without DISCONNECT.
    pub will: Option<LastWill<S>>,
    /// User name.
    pub username: Option<Str<S>>,
    /// Password: binary data, never shown by `Debug`.
    pub password: Option<S>,
}

/// The will message of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LastWill<S: Storage> {
    /// Topic the will is published to.
    pub topic: TopicName<S>,
    /// The will's payload.
    pub message: S,
    /// QoS of the will publication.
    pub qos: QoS,
    /// Whether the will is retained.
    pub retain: bool,
}

// Connect flag bits [MQTT-3.1.2.3].
const RESERVED: u8 = 0x01;
const CLEAN_SESSION: u8 = 0x02;
const WILL: u8 = 0x04;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

impl<S: Storage> Connect<S> {
    /// A CONNECT for MQTT 3.1.1 with no will and no credentials.
    pub fn new(client_id: Str<S>, keep_alive: u16, clean_session: bool) -> Self {
        Connect {
            protocol: ProtocolVersion::V311,
            clean_session,
            keep_alive,
            client_id,
            will: None,
            username: None,
            password: None,
        }
    }

    pub(crate) fn read(r: &mut Reader<'_, S>) -> Result<Self, DecodeError> {
        if r.binary_slice()? != PROTOCOL_NAME {
            return Err(DecodeError::InvalidProtocolName); // [MQTT-3.1.2-1]
        }
        let protocol = match r.u8()? {
            4 => ProtocolVersion::V311,
            level => return Err(DecodeError::UnsupportedProtocolLevel(level)), // [MQTT-3.1.2-2]
        };
        let flags = r.u8()?;
        if flags & RESERVED != 0 {
            return Err(DecodeError::ConnectReservedFlag); // [MQTT-3.1.2-3]
        }
        let will_qos = QoS::from_u8((flags >> WILL_QOS_SHIFT) & 0b11)?; // [MQTT-3.1.2-14]
        let will_retain = flags & WILL_RETAIN != 0;
        if flags & WILL == 0 && (will_qos != QoS::AtMostOnce || will_retain) {
            // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]
            return Err(DecodeError::InvalidWillFlags);
        }
        if flags & PASSWORD != 0 && flags & USERNAME == 0 {
            return Err(DecodeError::PasswordWithoutUsername); // [MQTT-3.1.2-22]
        }
        let keep_alive = r.u16()?;
        // [MQTT-3.1.3-1]: client id, will topic, will message, user name, password.
        let client_id = r.string()?;
        let will = if flags & WILL != 0 {
            Some(LastWill {
                topic: r.topic_name()?,
                message: r.binary()?,
                qos: will_qos,
                retain: will_retain,
            })
        } else {
            None
        };
        let username = if flags & USERNAME != 0 {
            Some(r.string()?)
        } else {
            None
        };
        let password = if flags & PASSWORD != 0 {
            Some(r.binary()?)
        } else {
            None
        };
        r.finish()?;
        Ok(Connect {
            protocol,
            clean_session: flags & CLEAN_SESSION != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
        })
    }

    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        if self.protocol != ProtocolVersion::V311 {
            return Err(EncodeError::UnsupportedProtocolVersion);
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::PasswordWithoutUsername); // [MQTT-3.1.2-22]
        }
        if self.client_id.is_empty() && !self.clean_session {
            return Err(EncodeError::EmptyClientIdWithoutCleanSession); // [MQTT-3.1.3-7]
        }
        let mut n = 2 + PROTOCOL_NAME.len() + 1 + 1 + 2 + 2 + self.client_id.len();
        if let Some(w) = &self.will {
            n += 2 + w.topic.as_bytes().len() + prefixed_len(w.message.as_ref())?;
        }
        if let Some(u) = &self.username {
            n += 2 + u.len();
        }
        if let Some(p) = &self.password {
            n += prefixed_len(p.as_ref())?;
        }
        Ok(n)
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        w.put_prefixed(PROTOCOL_NAME);
        w.put_u8(self.protocol.level());
        let mut flags = 0;
        if self.clean_session {
            flags |= CLEAN_SESSION;
        }
        if let Some(will) = &self.will {
            flags |= WILL | ((will.qos as u8) << WILL_QOS_SHIFT);
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        w.put_u8(flags);
        w.put_u16(self.keep_alive);
        w.put_prefixed(self.client_id.as_bytes());
        if let Some(will) = &self.will {
            w.put_prefixed(will.topic.as_bytes());
            w.put_prefixed(will.message.as_ref());
        }
        if let Some(u) = &self.username {
            w.put_prefixed(u.as_bytes());
        }
        if let Some(p) = &self.password {
            w.put_prefixed(p.as_ref());
        }
    }
}

impl<S: Storage> fmt::Debug for Connect<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Will<'w, S: Storage>(&'w LastWill<S>);
        impl<S: Storage> fmt::Debug for Will<'_, S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("LastWill")
                    .field("topic", &self.0.topic)
                    .field("message_len", &self.0.message.as_ref().len())
                    .field("qos", &self.0.qos)
                    .field("retain", &self.0.retain)
                    .finish()
            }
        }
        f.debug_struct("Connect")
            .field("protocol", &self.protocol)
            .field("clean_session", &self.clean_session)
            .field("keep_alive", &self.keep_alive)
            .field("client_id", &self.client_id)
            .field("will", &self.will.as_ref().map(Will))
            .field("username", &self.username)
            // Credentials never reach logs.
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}
