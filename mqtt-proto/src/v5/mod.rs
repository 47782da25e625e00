//! MQTT 5.0: all fifteen packets, their properties and reason codes.
//!
//! The same shape as the 3.1.1 API at the crate root, and the same shared parts
//! underneath (fixed header, variable byte integer, strings, topic names and
//! filters, packet identifiers, QoS, storage, lists, errors): [`decode`] borrows from
//! a slice, [`decode_buf`] takes packets off a `BytesMut`, [`Packet::encode`] writes
//! into a `&mut [u8]` without an allocator and [`Packet::encode_to`] into a
//! `BufMut`; [`Publish::encode_header`] leaves a PUBLISH's payload out for a vectored
//! write.
//!
//! Properties stay in validated wire form ([`Properties`]): decoding checks them once
//! (known, allowed in the packet, not repeated, in range) and the typed accessors
//! read them out of the packet's bytes. To send properties, fill a
//! [`PropertyValues`] and write it into a buffer.
//!
//! ```
//! use mqtt_proto::v5::{self, PropertyValues, PublishProperties};
//! use mqtt_proto::{DecodeOptions, PacketId, QosPid, Str, TopicName};
//!
//! // A QoS 1 PUBLISH with a Content Type and a User Property, in stack buffers.
//! let mut scratch = [0u8; 64];
//! let properties = PublishProperties::write_into(
//!     &PropertyValues {
//!         content_type: Some(Str::new("text/plain").unwrap()),
//!         user_properties: &[(Str::new("unit").unwrap(), Str::new("C").unwrap())],
//!         ..PropertyValues::default()
//!     },
//!     &mut scratch,
//! )
//! .unwrap();
//! let publish = v5::Publish {
//!     properties,
//!     ..v5::Publish::new(
//!         TopicName::new("sensors/temp").unwrap(),
//!         QosPid::AtLeastOnce(PacketId::new(1).unwrap()),
//!         &b"21.5"[..],
//!     )
//! };
//! let mut buf = [0u8; 128];
//! let n = v5::Packet::Publish(publish.clone()).encode(&mut buf).unwrap();
//!
//! // Decode it back: topic, properties and payload borrow from `buf`.
//! let (packet, used) = v5::decode(&buf[..n], &DecodeOptions::v5()).unwrap().unwrap();
//! assert_eq!((packet.clone(), used), (v5::Packet::Publish(publish), n));
//! let v5::Packet::Publish(p) = packet else { unreachable!() };
//! assert_eq!(p.properties.content_type().unwrap().as_str(), "text/plain");
//! let (name, value) = p.properties.user_properties().next().unwrap();
//! assert_eq!((name.as_str(), value.as_str()), ("unit", "C"));
//! ```

mod ack;
mod auth;
#[cfg(feature = "bytes")]
mod buf;
mod connack;
mod connect;
mod disconnect;
mod encode;
pub(crate) mod properties;
mod property;
mod property_id;
mod property_values;
mod publish;
mod reason;
mod suback;
mod subscribe;
mod unsubscribe;

pub use ack::{Puback, Pubcomp, PublishResponse, Pubrec, Pubrel};
pub use auth::Auth;
#[cfg(feature = "bytes")]
pub use buf::decode_buf;
pub use connack::Connack;
pub use connect::{Connect, LastWill};
pub use disconnect::Disconnect;
pub use properties::{
    AckProperties, AckProps, AuthProperties, AuthProps, ConnackProperties, ConnackProps,
    ConnectProperties, ConnectProps, DisconnectProperties, DisconnectProps, Properties,
    PropertyIter, PropertyKind, PublishProperties, PublishProps, SubscribeProperties,
    SubscribeProps, UnsubscribeProperties, UnsubscribeProps, WillProperties, WillProps,
};
pub use property::{PayloadFormat, Property, SubscriptionId};
pub use property_id::{DataType, PropertyId};
pub use property_values::{PropertyValues, UserProperty};
pub use publish::Publish;
pub use reason::{
    AuthReasonCode, ConnectReasonCode, DisconnectReasonCode, PubackReasonCode, PubcompReasonCode,
    PubrecReasonCode, PubrelReasonCode, ReasonCode, SubackReasonCode, UnsubackReasonCode,
};
pub use suback::{
    Suback, SubackEntry, SubackReasonCodes, Unsuback, UnsubackEntry, UnsubackReasonCodes,
};
pub use subscribe::{
    shared_subscription, RetainHandling, Subscribe, SubscribeEntry, SubscribeFilters,
    SubscriptionOptions, UnsubscribeEntry, UnsubscribeFilters,
};
pub use unsubscribe::Unsubscribe;

use crate::header::{FixedHeader, PacketType};
use crate::packet::List;
use crate::wire::Reader;
use crate::{varint, DecodeError, DecodeOptions, ProtocolVersion, Storage};

/// Any MQTT 5.0 control packet, its bytes held in `S` (`&[u8]` or `Bytes`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Packet<S: Storage> {
    /// Client request to connect.
    Connect(Connect<S>),
    /// Connect acknowledgment.
    Connack(Connack<S>),
    /// Application message.
    Publish(Publish<S>),
    /// QoS 1 acknowledgment.
    Puback(Puback<S>),
    /// QoS 2, part 1: publish received.
    Pubrec(Pubrec<S>),
    /// QoS 2, part 2: publish release.
    Pubrel(Pubrel<S>),
    /// QoS 2, part 3: publish complete.
    Pubcomp(Pubcomp<S>),
    /// Subscribe request.
    Subscribe(Subscribe<S>),
    /// Subscribe acknowledgment.
    Suback(Suback<S>),
    /// Unsubscribe request.
    Unsubscribe(Unsubscribe<S>),
    /// Unsubscribe acknowledgment.
    Unsuback(Unsuback<S>),
    /// Ping request.
    Pingreq,
    /// Ping response.
    Pingresp,
    /// Either side is disconnecting.
    Disconnect(Disconnect<S>),
    /// Authentication exchange.
    Auth(Auth<S>),
}

/// A packet borrowed from the input, and how many bytes of the input it used.
pub type Decoded<'a> = (Packet<&'a [u8]>, usize);

/// `opts` with the version set to 5.0, for the shared fixed-header decoder.
pub(crate) fn v5_options(opts: &DecodeOptions) -> DecodeOptions {
    opts.with_version(ProtocolVersion::V5)
}

/// Decodes one MQTT 5.0 packet from the start of `buf`, borrowing from it.
///
/// Returns `Ok(None)` when `buf` holds only part of a packet (never an error), or the
/// packet and the number of bytes it used. An oversized packet is refused as soon as
/// its fixed header is complete. The bytes are decoded as 5.0 whatever
/// `opts.version` says.
///
/// ```
/// use mqtt_proto::v5::{self, PubackReasonCode};
/// use mqtt_proto::DecodeOptions;
///
/// // PUBACK 7 with reason code 0x10 (no matching subscribers), short form.
/// let bytes = [0x40, 0x03, 0x00, 0x07, 0x10];
/// let (packet, used) = v5::decode(&bytes, &DecodeOptions::v5()).unwrap().unwrap();
/// let v5::Packet::Puback(ack) = packet else { panic!() };
/// assert_eq!((ack.packet_id.get(), ack.reason_code), (7, PubackReasonCode::NoMatchingSubscribers));
/// assert_eq!(used, 5);
/// ```
pub fn decode<'a>(buf: &'a [u8], opts: &DecodeOptions) -> Result<Option<Decoded<'a>>, DecodeError> {
    let opts = v5_options(opts);
    let Some(header) = FixedHeader::decode(buf, &opts)? else {
        return Ok(None);
    };
    let len = header.packet_len();
    let Some(frame) = buf.get(..len) else {
        return Ok(None);
    };
    Ok(Some((Packet::decode_frame(&frame, &header, &opts)?, len)))
}

impl<S: Storage> Packet<S> {
    /// Decodes a complete MQTT 5.0 packet: `frame` holds exactly the packet whose
    /// fixed header is `header` (as [`FixedHeader::decode`] returned it, with
    /// [`DecodeOptions::v5`] so that AUTH is known).
    pub fn decode_frame(
        frame: &S,
        header: &FixedHeader,
        _opts: &DecodeOptions,
    ) -> Result<Packet<S>, DecodeError> {
        // [MQTT-1.5.5-1]: the remaining length in its shortest form.
        if header.header_len != 1 + varint::len(header.remaining_length) {
            return Err(DecodeError::MalformedRemainingLength);
        }
        let mut r = Reader::new(frame, header.header_len);
        if r.remaining() != header.remaining_length as usize {
            return Err(DecodeError::Truncated);
        }
        let t = header.packet_type;
        let packet = match t {
            PacketType::Connect => return Connect::read(&mut r).map(Packet::Connect),
            PacketType::Connack => return Connack::read(&mut r).map(Packet::Connack),
            PacketType::Publish => return Publish::read(header.flags, &mut r).map(Packet::Publish),
            PacketType::Puback => Packet::Puback(PublishResponse::read(&mut r, t)?),
            PacketType::Pubrec => Packet::Pubrec(PublishResponse::read(&mut r, t)?),
            PacketType::Pubrel => Packet::Pubrel(PublishResponse::read(&mut r, t)?),
            PacketType::Pubcomp => Packet::Pubcomp(PublishResponse::read(&mut r, t)?),
            PacketType::Subscribe => Packet::Subscribe(Subscribe {
                packet_id: r.packet_id()?,
                properties: SubscribeProperties::read(&mut r, t)?,
                filters: List::read(&mut r)?, // [MQTT-3.8.3-2]
            }),
            PacketType::Suback => Packet::Suback(Suback {
                packet_id: r.packet_id()?,
                properties: AckProperties::read(&mut r, t)?,
                reason_codes: List::read(&mut r)?,
            }),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe {
                packet_id: r.packet_id()?,
                properties: UnsubscribeProperties::read(&mut r, t)?,
                filters: List::read(&mut r)?, // [MQTT-3.10.3-2]
            }),
            PacketType::Unsuback => Packet::Unsuback(Unsuback {
                packet_id: r.packet_id()?,
                properties: AckProperties::read(&mut r, t)?,
                reason_codes: List::read(&mut r)?,
            }),
            PacketType::Pingreq => Packet::Pingreq,
            PacketType::Pingresp => Packet::Pingresp,
            PacketType::Disconnect => return Disconnect::read(&mut r).map(Packet::Disconnect),
            PacketType::Auth => return Auth::read(&mut r).map(Packet::Auth),
        };
        r.finish()?;
        Ok(packet)
    }

    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::Connack(_) => PacketType::Connack,
            Packet::Publish(_) => PacketType::Publish,
            Packet::Puback(_) => PacketType::Puback,
            Packet::Pubrec(_) => PacketType::Pubrec,
            Packet::Pubrel(_) => PacketType::Pubrel,
            Packet::Pubcomp(_) => PacketType::Pubcomp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::Suback(_) => PacketType::Suback,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::Unsuback(_) => PacketType::Unsuback,
            Packet::Pingreq => PacketType::Pingreq,
            Packet::Pingresp => PacketType::Pingresp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// A view of this packet that borrows its bytes.
    pub fn as_borrowed(&self) -> Packet<&[u8]> {
        match self {
            Packet::Connect(c) => Packet::Connect(c.as_borrowed()),
            Packet::Connack(c) => Packet::Connack(c.as_borrowed()),
            Packet::Publish(p) => Packet::Publish(p.as_borrowed()),
            Packet::Puback(a) => Packet::Puback(a.as_borrowed()),
            Packet::Pubrec(a) => Packet::Pubrec(a.as_borrowed()),
            Packet::Pubrel(a) => Packet::Pubrel(a.as_borrowed()),
            Packet::Pubcomp(a) => Packet::Pubcomp(a.as_borrowed()),
            Packet::Subscribe(s) => Packet::Subscribe(s.as_borrowed()),
            Packet::Suback(s) => Packet::Suback(s.as_borrowed()),
            Packet::Unsubscribe(u) => Packet::Unsubscribe(u.as_borrowed()),
            Packet::Unsuback(u) => Packet::Unsuback(u.as_borrowed()),
            Packet::Pingreq => Packet::Pingreq,
            Packet::Pingresp => Packet::Pingresp,
            Packet::Disconnect(d) => Packet::Disconnect(d.as_borrowed()),
            Packet::Auth(a) => Packet::Auth(a.as_borrowed()),
        }
    }
}
