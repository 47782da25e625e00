//! UNSUBSCRIBE (section 3.10): topic filters to remove.

use super::properties::UnsubscribeProperties;
use super::subscribe::UnsubscribeFilters;
use crate::wire::Sink;
use crate::{PacketId, Storage};

/// An UNSUBSCRIBE packet of MQTT 5.0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unsubscribe<S: Storage> {
    /// Packet identifier, echoed by the UNSUBACK.
    pub packet_id: PacketId,
    /// User Properties.
    pub properties: UnsubscribeProperties<S>,
    /// One or more filters [MQTT-3.10.3-2].
    pub filters: UnsubscribeFilters<S>,
}

impl<S: Storage> Unsubscribe<S> {
    pub(crate) fn body_len(&self) -> usize {
        2 + self.properties.encoded_len() + self.filters.wire_len()
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        w.put_u16(self.packet_id.get());
        self.properties.write(w);
        self.filters.write(w);
    }

    /// A view of this UNSUBSCRIBE that borrows its bytes.
    pub fn as_borrowed(&self) -> Unsubscribe<&[u8]> {
        Unsubscribe {
            packet_id: self.packet_id,
            properties: self.properties.as_borrowed(),
            filters: self.filters.as_borrowed(),
        }
    }
}
