//! AUTH (section 3.15): a step of an enhanced authentication exchange. Packet type
//! 15, which 3.1.1 reserves.

use super::properties::AuthProperties;
use super::reason::{AuthReasonCode, ReasonCode};
use crate::wire::{Reader, Sink};
use crate::{DecodeError, PacketType, Storage};

/// An AUTH packet.
///
/// On the wire, a remaining length of 0 means Success without properties (section
/// 3.15.2.1). Unlike DISCONNECT, the spec gives AUTH no one-byte form: a reason code
/// is followed by a Property Length, and a remaining length of 1 is refused as
/// [`DecodeError::Truncated`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Auth<S: Storage> {
    /// Continue, re-authenticate, or success [MQTT-3.15.2-1].
    pub reason_code: AuthReasonCode,
    /// Authentication Method and Data, Reason String, User Properties.
    pub properties: AuthProperties<S>,
}

impl<S: Storage + Default> Auth<S> {
    /// An AUTH with this reason and no properties.
    pub fn new(reason_code: AuthReasonCode) -> Self {
        Auth {
            reason_code,
            properties: Default::default(),
        }
    }
}

impl<S: Storage> Auth<S> {
    pub(crate) fn read(r: &mut Reader<'_, S>) -> Result<Self, DecodeError> {
        if r.remaining() == 0 {
            return Ok(Auth {
                reason_code: AuthReasonCode::SUCCESS,
                properties: AuthProperties::trusted(r.bytes_n(0)?),
            });
        }
        let reason_code = AuthReasonCode::decode(r.u8()?, PacketType::Auth)?;
        let properties = AuthProperties::read(r, PacketType::Auth)?;
        r.finish()?;
        Ok(Auth {
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self) -> usize {
        if self.reason_code == AuthReasonCode::SUCCESS && self.properties.is_empty() {
            0
        } else {
            1 + self.properties.encoded_len()
        }
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        if self.reason_code != AuthReasonCode::SUCCESS || !self.properties.is_empty() {
            w.put_u8(self.reason_code.to_u8());
            self.properties.write(w);
        }
    }

    /// A view of this AUTH that borrows its bytes.
    pub fn as_borrowed(&self) -> Auth<&[u8]> {
        Auth {
            reason_code: self.reason_code,
            properties: self.properties.as_borrowed(),
        }
    }
}
