//! SUBACK (section 3.9) and UNSUBACK (section 3.11): a reason code per topic filter.

use super::properties::AckProperties;
use super::reason::{ReasonCode, SubackReasonCode, UnsubackReasonCode};
use crate::packet::list::kind::Kind;
use crate::packet::list::{List, ListKind};
use crate::wire::{Reader, Sink};
use crate::{DecodeError, EncodeError, PacketId, PacketType, Storage};

/// A SUBACK packet of MQTT 5.0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Suback<S: Storage> {
    /// Packet identifier of the SUBSCRIBE answered [MQTT-3.8.4-2].
    pub packet_id: PacketId,
    /// Reason String and User Properties.
    pub properties: AckProperties<S>,
    /// One reason code per filter, in order [MQTT-3.8.4-6], [MQTT-3.9.3-1].
    pub reason_codes: SubackReasonCodes<S>,
}

/// An UNSUBACK packet of MQTT 5.0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unsuback<S: Storage> {
    /// Packet identifier of the UNSUBSCRIBE answered [MQTT-3.10.4-5].
    pub packet_id: PacketId,
    /// Reason String and User Properties.
    pub properties: AckProperties<S>,
    /// One reason code per filter, in order [MQTT-3.11.3-1].
    pub reason_codes: UnsubackReasonCodes<S>,
}

macro_rules! code_entry {
    ($(#[$doc:meta])* $entry:ident, $code:ident, $packet:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $entry {}
        impl ListKind for $entry {}
        impl Kind for $entry {
            type Item<S: Storage> = $code;

            fn read<S: Storage>(r: &mut Reader<'_, S>) -> Result<$code, DecodeError> {
                $code::decode(r.u8()?, PacketType::$packet)
            }

            fn len<S: Storage>(_: &$code) -> usize {
                1
            }

            fn write<S: Storage, W: Sink>(item: &$code, w: &mut W) {
                w.put_u8(item.to_u8());
            }
        }

        impl<'b> List<&'b [u8], $entry> {
            /// Writes reason codes in wire form at the start of `buf`, without an
            /// allocator.
            pub fn write_reason_codes(codes: &[$code], buf: &'b mut [u8]) -> Result<Self, EncodeError> {
                List::write_into::<&[u8], _>(codes, buf)
            }
        }

        #[cfg(feature = "bytes")]
        impl List<bytes::Bytes, $entry> {
            /// Builds the reason codes of an acknowledgement.
            pub fn from_reason_codes(codes: &[$code]) -> Result<Self, EncodeError> {
                List::from_items::<&[u8], _>(codes)
            }
        }
    };
}

code_entry!(
    /// A SUBACK entry: one reason code per SUBSCRIBE filter [MQTT-3.9.3-2].
    SubackEntry,
    SubackReasonCode,
    Suback
);
code_entry!(
    /// An UNSUBACK entry: one reason code per UNSUBSCRIBE filter [MQTT-3.11.3-2].
    UnsubackEntry,
    UnsubackReasonCode,
    Unsuback
);

/// Reason codes of a SUBACK.
pub type SubackReasonCodes<S> = List<S, SubackEntry>;
/// Reason codes of an UNSUBACK.
pub type UnsubackReasonCodes<S> = List<S, UnsubackEntry>;

macro_rules! ack_body {
    ($ty:ident) => {
        impl<S: Storage> $ty<S> {
            pub(crate) fn body_len(&self) -> usize {
                2 + self.properties.encoded_len() + self.reason_codes.wire_len()
            }

            pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
                w.put_u16(self.packet_id.get());
                self.properties.write(w);
                self.reason_codes.write(w);
            }

            /// A view of this packet that borrows its bytes.
            pub fn as_borrowed(&self) -> $ty<&[u8]> {
                $ty {
                    packet_id: self.packet_id,
                    properties: self.properties.as_borrowed(),
                    reason_codes: self.reason_codes.as_borrowed(),
                }
            }
        }
    };
}

ack_body!(Suback);
ack_body!(Unsuback);
