//! CONNECT (section 3.1): the first packet a client sends, with its properties and,
//! for a will, Will Properties.

use core::fmt;

use super::properties::{ConnectProperties, WillProperties};
use crate::packet::connect::PROTOCOL_NAME;
use crate::wire::{prefixed_len, Reader, Sink};
use crate::{DecodeError, EncodeError, PacketType, QoS, Storage, Str, TopicName};

/// A CONNECT packet of MQTT 5.0 (protocol level 5).
///
/// Unlike 3.1.1, a password may come without a user name, and an empty client
/// identifier needs no Clean Start (the server assigns one, [MQTT-3.1.3-6]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Connect<S: Storage> {
    /// Clean Start: begin a new session, discarding any existing one [MQTT-3.1.2-4].
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// The CONNECT properties (section 3.1.2.11).
    pub properties: ConnectProperties<S>,
    /// Client identifier; empty asks the server to assign one [MQTT-3.1.3-6].
    pub client_id: Str<S>,
    /// Will message the server publishes when the connection ends without a normal
    /// DISCONNECT.
    pub will: Option<LastWill<S>>,
    /// User name.
    pub username: Option<Str<S>>,
    /// Password: binary data, never shown by `Debug`.
    pub password: Option<S>,
}

/// The will of a CONNECT (sections 3.1.2.5 to 3.1.2.7, 3.1.3.2 to 3.1.3.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LastWill<S: Storage> {
    /// The Will Properties (section 3.1.3.2).
    pub properties: WillProperties<S>,
    /// Topic the will is published to [MQTT-3.1.3-11].
    pub topic: TopicName<S>,
    /// The Will Payload.
    pub payload: S,
    /// QoS of the will publication.
    pub qos: QoS,
    /// Whether the will is retained.
    pub retain: bool,
}

// Connect flag bits (section 3.1.2.3).
const RESERVED: u8 = 0x01;
const CLEAN_START: u8 = 0x02;
const WILL: u8 = 0x04;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

/// The protocol level of MQTT 5.0.
const LEVEL: u8 = 5;

impl<S: Storage + Default> Connect<S> {
    /// A CONNECT with no properties, no will and no credentials.
    pub fn new(client_id: Str<S>, keep_alive: u16, clean_start: bool) -> Self {
        Connect {
            clean_start,
            keep_alive,
            properties: Default::default(),
            client_id,
            will: None,
            username: None,
            password: None,
        }
    }
}

impl<S: Storage> Connect<S> {
    pub(crate) fn read(r: &mut Reader<'_, S>) -> Result<Self, DecodeError> {
        if r.binary_slice()? != PROTOCOL_NAME {
            return Err(DecodeError::InvalidProtocolName); // [MQTT-3.1.2-1]
        }
        let level = r.u8()?;
        if level != LEVEL {
            return Err(DecodeError::UnsupportedProtocolLevel(level)); // [MQTT-3.1.2-2]
        }
        let flags = r.u8()?;
        if flags & RESERVED != 0 {
            return Err(DecodeError::ConnectReservedFlag); // [MQTT-3.1.2-3]
        }
        let will_qos = QoS::from_u8((flags >> WILL_QOS_SHIFT) & 0b11)?; // [MQTT-3.1.2-12]
        let will_retain = flags & WILL_RETAIN != 0;
        if flags & WILL == 0 && (will_qos != QoS::AtMostOnce || will_retain) {
            // [MQTT-3.1.2-11], [MQTT-3.1.2-13]
            return Err(DecodeError::InvalidWillFlags);
        }
        let keep_alive = r.u16()?;
        let properties = ConnectProperties::read(r, PacketType::Connect)?;
        // [MQTT-3.1.3-1]: client id, will properties, will topic, will payload, user
        // name, password.
        let client_id = r.string()?; // [MQTT-3.1.3-4]
        let will = if flags & WILL != 0 {
            // [MQTT-3.1.2-9]
            Some(LastWill {
                properties: WillProperties::read(r, PacketType::Connect)?,
                topic: r.topic_name()?, // [MQTT-3.1.3-11]
                payload: r.binary()?,
                qos: will_qos,
                retain: will_retain,
            })
        } else {
            None
        };
        let username = if flags & USERNAME != 0 {
            Some(r.string()?) // [MQTT-3.1.2-17], [MQTT-3.1.3-12]
        } else {
            None
        };
        let password = if flags & PASSWORD != 0 {
            Some(r.binary()?) // [MQTT-3.1.2-19]
        } else {
            None
        };
        r.finish()?;
        Ok(Connect {
            clean_start: flags & CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        let mut n = 2 + PROTOCOL_NAME.len() + 1 + 1 + 2;
        n += self.properties.encoded_len();
        n += 2 + self.client_id.len();
        if let Some(w) = &self.will {
            n += w.properties.encoded_len();
            n += 2 + w.topic.as_bytes().len() + prefixed_len(w.payload.as_ref())?;
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
        w.put_u8(LEVEL);
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
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
        self.properties.write(w);
        w.put_prefixed(self.client_id.as_bytes());
        if let Some(will) = &self.will {
            will.properties.write(w);
            w.put_prefixed(will.topic.as_bytes());
            w.put_prefixed(will.payload.as_ref());
        }
        if let Some(u) = &self.username {
            w.put_prefixed(u.as_bytes());
        }
        if let Some(p) = &self.password {
            w.put_prefixed(p.as_ref());
        }
    }

    /// A view of this CONNECT that borrows its bytes.
    pub fn as_borrowed(&self) -> Connect<&[u8]> {
        Connect {
            clean_start: self.clean_start,
            keep_alive: self.keep_alive,
            properties: self.properties.as_borrowed(),
            client_id: self.client_id.as_borrowed(),
            will: self.will.as_ref().map(|w| LastWill {
                properties: w.properties.as_borrowed(),
                topic: w.topic.as_borrowed(),
                payload: w.payload.as_ref(),
                qos: w.qos,
                retain: w.retain,
            }),
            username: self.username.as_ref().map(Str::as_borrowed),
            password: self.password.as_ref().map(|p| p.as_ref()),
        }
    }
}

impl<S: Storage> fmt::Debug for Connect<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Will<'w, S: Storage>(&'w LastWill<S>);
        impl<S: Storage> fmt::Debug for Will<'_, S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("LastWill")
                    .field("properties", &self.0.properties)
                    .field("topic", &self.0.topic)
                    .field("payload_len", &self.0.payload.as_ref().len())
                    .field("qos", &self.0.qos)
                    .field("retain", &self.0.retain)
                    .finish()
            }
        }
        f.debug_struct("Connect")
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("properties", &self.properties)
            .field("client_id", &self.client_id)
            .field("will", &self.will.as_ref().map(Will))
            .field("username", &self.username)
            // Credentials never reach logs.
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}
