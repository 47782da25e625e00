//! DISCONNECT (section 3.14): the last packet, from either side, with a reason.

use super::properties::DisconnectProperties;
use super::reason::{DisconnectReasonCode, ReasonCode};
use crate::wire::{Reader, Sink};
use crate::{DecodeError, PacketType, Storage};

/// A DISCONNECT packet of MQTT 5.0.
///
/// On the wire, a remaining length of 0 means Normal disconnection without
/// properties, and 1 means no properties (sections 3.14.2.1, 3.14.2.2.1); encoding
/// uses the shortest form that says the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Disconnect<S: Storage> {
    /// Why the connection ends [MQTT-3.14.2-1].
    pub reason_code: DisconnectReasonCode,
    /// Session Expiry Interval (client only, [MQTT-3.14.2-2]), Reason String, User
    /// Properties, Server Reference.
    pub properties: DisconnectProperties<S>,
}

impl<S: Storage + Default> Disconnect<S> {
    /// A DISCONNECT with this reason and no properties.
    pub fn new(reason_code: DisconnectReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: Default::default(),
        }
    }
}

impl<S: Storage> Disconnect<S> {
    pub(crate) fn read(r: &mut Reader<'_, S>) -> Result<Self, DecodeError> {
        let reason_code = if r.remaining() == 0 {
            DisconnectReasonCode::SUCCESS
        } else {
            DisconnectReasonCode::decode(r.u8()?, PacketType::Disconnect)?
        };
        let properties = if r.remaining() == 0 {
            DisconnectProperties::trusted(r.bytes_n(0)?)
        } else {
            DisconnectProperties::read(r, PacketType::Disconnect)?
        };
        r.finish()?;
        Ok(Disconnect {
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self) -> usize {
        match (
            self.reason_code == DisconnectReasonCode::SUCCESS,
            self.properties.is_empty(),
        ) {
            (true, true) => 0,
            (false, true) => 1,
            _ => 1 + self.properties.encoded_len(),
        }
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        let props = !self.properties.is_empty();
        if self.reason_code != DisconnectReasonCode::SUCCESS || props {
            w.put_u8(self.reason_code.to_u8());
        }
        if props {
            self.properties.write(w);
        }
    }

    /// A view of this DISCONNECT that borrows its bytes.
    pub fn as_borrowed(&self) -> Disconnect<&[u8]> {
        Disconnect {
            reason_code: self.reason_code,
            properties: self.properties.as_borrowed(),
        }
    }
}
