//! CONNACK (section 3.2): the server's answer to CONNECT.

use super::properties::ConnackProperties;
use super::reason::{ConnectReasonCode, ReasonCode};
use crate::wire::{Reader, Sink};
use crate::{DecodeError, EncodeError, PacketType, Storage};

/// A CONNACK packet of MQTT 5.0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connack<S: Storage> {
    /// Whether the server resumed a stored session [MQTT-3.2.2-2], [MQTT-3.2.2-3];
    /// never with a refusal [MQTT-3.2.2-6].
    pub session_present: bool,
    /// Accepted, or why not [MQTT-3.2.2-8].
    pub reason_code: ConnectReasonCode,
    /// The CONNACK properties (section 3.2.2.3): what the server allows on this
    /// connection.
    pub properties: ConnackProperties<S>,
}

impl<S: Storage + Default> Connack<S> {
    /// A CONNACK without properties.
    pub fn new(session_present: bool, reason_code: ConnectReasonCode) -> Self {
        Connack {
            session_present,
            reason_code,
            properties: Default::default(),
        }
    }
}

impl<S: Storage> Connack<S> {
    pub(crate) fn read(r: &mut Reader<'_, S>) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        let reason_code = ConnectReasonCode::decode(r.u8()?, PacketType::Connack)?;
        // Bits 7-1 are reserved [MQTT-3.2.2-1]; a refusal never has a session
        // [MQTT-3.2.2-6].
        if flags & !1 != 0 || (flags == 1 && reason_code != ConnectReasonCode::Success) {
            return Err(DecodeError::InvalidConnackFlags);
        }
        let properties = ConnackProperties::read(r, PacketType::Connack)?;
        r.finish()?;
        Ok(Connack {
            session_present: flags == 1,
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        if self.session_present && self.reason_code != ConnectReasonCode::Success {
            return Err(EncodeError::SessionPresentOnRefusal); // [MQTT-3.2.2-6]
        }
        Ok(2 + self.properties.encoded_len())
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        w.put_u8(self.session_present as u8);
        w.put_u8(self.reason_code.to_u8());
        self.properties.write(w);
    }

    /// A view of this CONNACK that borrows its bytes.
    pub fn as_borrowed(&self) -> Connack<&[u8]> {
        Connack {
            session_present: self.session_present,
            reason_code: self.reason_code,
            properties: self.properties.as_borrowed(),
        }
    }
}
