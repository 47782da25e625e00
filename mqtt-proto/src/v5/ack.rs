//! PUBACK, PUBREC, PUBREL and PUBCOMP (sections 3.4 to 3.7): a packet identifier, a
//! reason code and properties, the last two omitted when they say nothing.

use super::properties::AckProperties;
use super::reason::{PubackReasonCode, PubrelReasonCode, ReasonCode};
use crate::wire::{Reader, Sink};
use crate::{DecodeError, PacketId, PacketType, Storage};

/// A response in a QoS 1 or QoS 2 flow; `R` is the packet's reason code type.
///
/// On the wire, a remaining length of 2 means reason code 0x00 and no properties,
/// and 3 means no properties (sections 3.4.2.1, 3.4.2.2.1); encoding uses the
/// shortest form that says the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublishResponse<S: Storage, R> {
    /// The packet identifier of the PUBLISH (or PUBREL) answered [MQTT-2.2.1-5].
    pub packet_id: PacketId,
    /// Success, or why not.
    pub reason_code: R,
    /// Reason String and User Properties.
    pub properties: AckProperties<S>,
}

/// PUBACK: the answer to a QoS 1 PUBLISH (section 3.4).
pub type Puback<S> = PublishResponse<S, PubackReasonCode>;
/// PUBREC: the first answer to a QoS 2 PUBLISH (section 3.5).
pub type Pubrec<S> = PublishResponse<S, PubackReasonCode>;
/// PUBREL: the answer to PUBREC (section 3.6).
pub type Pubrel<S> = PublishResponse<S, PubrelReasonCode>;
/// PUBCOMP: the answer to PUBREL (section 3.7).
pub type Pubcomp<S> = PublishResponse<S, PubrelReasonCode>;

impl<S: Storage + Default, R: ReasonCode> PublishResponse<S, R> {
    /// A successful response without properties: the two-byte form.
    pub fn new(packet_id: PacketId) -> Self {
        PublishResponse {
            packet_id,
            reason_code: R::SUCCESS,
            properties: Default::default(),
        }
    }
}

impl<S: Storage, R: ReasonCode> PublishResponse<S, R> {
    pub(crate) fn read(
        r: &mut Reader<'_, S>,
        packet_type: PacketType,
    ) -> Result<Self, DecodeError> {
        let packet_id = r.packet_id()?;
        let reason_code = if r.remaining() == 0 {
            R::SUCCESS
        } else {
            R::decode(r.u8()?, packet_type)?
        };
        let properties = if r.remaining() == 0 {
            AckProperties::trusted(r.bytes_n(0)?)
        } else {
            AckProperties::read(r, packet_type)?
        };
        r.finish()?;
        Ok(PublishResponse {
            packet_id,
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self) -> usize {
        match (self.reason_code == R::SUCCESS, self.properties.is_empty()) {
            (true, true) => 2,
            (false, true) => 3,
            _ => 3 + self.properties.encoded_len(),
        }
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        w.put_u16(self.packet_id.get());
        let props = !self.properties.is_empty();
        if self.reason_code != R::SUCCESS || props {
            w.put_u8(self.reason_code.to_u8());
        }
        if props {
            self.properties.write(w);
        }
    }

    /// A view of this response that borrows its bytes.
    pub fn as_borrowed(&self) -> PublishResponse<&[u8], R> {
        PublishResponse {
            packet_id: self.packet_id,
            reason_code: self.reason_code,
            properties: self.properties.as_borrowed(),
        }
    }
}
