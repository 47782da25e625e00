//! MQTT 5.0 packets off a `BytesMut` read buffer, and owned copies of borrowed
//! packets (feature `bytes`).

use bytes::{Bytes, BytesMut};

use super::{
    v5_options, Auth, Connack, Connect, Disconnect, LastWill, Packet, Publish, PublishResponse,
    Suback, Subscribe, Unsuback, Unsubscribe,
};
use crate::frame::take_frame;
use crate::packet::{List, ListKind};
use crate::{DecodeError, DecodeOptions, Str, TopicName};

/// Decodes one MQTT 5.0 packet from the front of a read buffer and removes it.
///
/// The packet's strings, properties and payload are `Bytes` views of the buffer:
/// nothing is copied. `Ok(None)` means the buffer holds only part of a packet; it is
/// left as it is. An oversized packet is refused from its fixed header, before its
/// body arrives. The bytes are decoded as 5.0 whatever `opts.version` says.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::v5::{self, DisconnectReasonCode};
/// use mqtt_proto::DecodeOptions;
///
/// let mut buf = BytesMut::from(&b"\xe0\x01\x8e"[..]); // DISCONNECT: session taken over
/// match v5::decode_buf(&mut buf, &DecodeOptions::v5()).unwrap() {
///     Some(v5::Packet::Disconnect(d)) => {
///         assert_eq!(d.reason_code, DisconnectReasonCode::SessionTakenOver)
///     }
///     other => panic!("{other:?}"),
/// }
/// assert!(buf.is_empty());
/// ```
pub fn decode_buf(
    buf: &mut BytesMut,
    opts: &DecodeOptions,
) -> Result<Option<Packet<Bytes>>, DecodeError> {
    let opts = v5_options(opts);
    let Some((header, frame)) = take_frame(buf, &opts)? else {
        return Ok(None);
    };
    Packet::decode_frame(&frame, &header, &opts).map(Some)
}

fn copy(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

fn copy_list<K: ListKind>(l: &List<&[u8], K>) -> List<Bytes, K> {
    List::trusted(copy(l.as_wire()))
}

impl Packet<&[u8]> {
    /// Copies a borrowed packet into an owned one.
    pub fn to_bytes(&self) -> Packet<Bytes> {
        match self {
            Packet::Connect(c) => Packet::Connect(Connect {
                clean_start: c.clean_start,
                keep_alive: c.keep_alive,
                properties: c.properties.to_bytes(),
                client_id: Str::copy_from(&c.client_id),
                will: c.will.as_ref().map(|w| LastWill {
                    properties: w.properties.to_bytes(),
                    topic: TopicName::trusted(copy(w.topic.as_bytes())),
                    payload: copy(w.payload),
                    qos: w.qos,
                    retain: w.retain,
                }),
                username: c.username.as_ref().map(Str::copy_from),
                password: c.password.map(copy),
            }),
            Packet::Connack(c) => Packet::Connack(Connack {
                session_present: c.session_present,
                reason_code: c.reason_code,
                properties: c.properties.to_bytes(),
            }),
            Packet::Publish(p) => Packet::Publish(p.to_bytes()),
            Packet::Puback(a) => Packet::Puback(copy_response(a)),
            Packet::Pubrec(a) => Packet::Pubrec(copy_response(a)),
            Packet::Pubrel(a) => Packet::Pubrel(copy_response(a)),
            Packet::Pubcomp(a) => Packet::Pubcomp(copy_response(a)),
            Packet::Subscribe(s) => Packet::Subscribe(Subscribe {
                packet_id: s.packet_id,
                properties: s.properties.to_bytes(),
                filters: copy_list(&s.filters),
            }),
            Packet::Suback(s) => Packet::Suback(Suback {
                packet_id: s.packet_id,
                properties: s.properties.to_bytes(),
                reason_codes: copy_list(&s.reason_codes),
            }),
            Packet::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
                packet_id: u.packet_id,
                properties: u.properties.to_bytes(),
                filters: copy_list(&u.filters),
            }),
            Packet::Unsuback(u) => Packet::Unsuback(Unsuback {
                packet_id: u.packet_id,
                properties: u.properties.to_bytes(),
                reason_codes: copy_list(&u.reason_codes),
            }),
            Packet::Pingreq => Packet::Pingreq,
            Packet::Pingresp => Packet::Pingresp,
            Packet::Disconnect(d) => Packet::Disconnect(Disconnect {
                reason_code: d.reason_code,
                properties: d.properties.to_bytes(),
            }),
            Packet::Auth(a) => Packet::Auth(Auth {
                reason_code: a.reason_code,
                properties: a.properties.to_bytes(),
            }),
        }
    }
}

fn copy_response<R: Copy>(a: &PublishResponse<&[u8], R>) -> PublishResponse<Bytes, R> {
    PublishResponse {
        packet_id: a.packet_id,
        reason_code: a.reason_code,
        properties: a.properties.to_bytes(),
    }
}

impl Publish<&[u8]> {
    /// Copies a borrowed PUBLISH into an owned one.
    pub fn to_bytes(&self) -> Publish<Bytes> {
        Publish {
            dup: self.dup,
            qos_pid: self.qos_pid,
            retain: self.retain,
            topic: self
                .topic
                .as_ref()
                .map(|t| TopicName::trusted(copy(t.as_bytes()))),
            properties: self.properties.to_bytes(),
            payload: copy(self.payload),
        }
    }
}
