//! proptest strategies for valid MQTT 5.0 packets.
//!
//! Every value is a valid packet: encoding it and decoding the bytes gives it back.
//!
//! ```
//! use proptest::prelude::*;
//! use mqtt_proto::{strategy, v5, DecodeOptions};
//!
//! proptest!(|(packet in strategy::v5::packet())| {
//!     let mut buf = bytes::BytesMut::new();
//!     packet.encode_to(&mut buf).unwrap();
//!     let decoded = v5::decode_buf(&mut buf, &DecodeOptions::v5()).unwrap().unwrap();
//!     prop_assert_eq!(decoded, packet);
//! });
//! ```

#[allow(unused_imports)] // prop_oneof! expands to vec![]
use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::{packet_id, payload, qos_pid, text};
use crate::v5::*;
use crate::valid::v5::{self as valid, ConnectParts, RawProps};
use crate::TopicFilter;

fn flag() -> impl Strategy<Value = Option<bool>> {
    option::of(any::<bool>())
}

fn maybe<T: Strategy>(s: T) -> impl Strategy<Value = Option<T::Value>> {
    option::weighted(0.3, s)
}

fn raw_props() -> BoxedStrategy<RawProps> {
    let texts = (
        maybe(text()),
        maybe(vec(text(), 1..4)),
        maybe(text()),
        maybe(text()),
        maybe(text()),
        maybe(text()),
        maybe(text()),
        vec((text(), text()), 0..3),
    );
    let numbers = (
        maybe(any::<u32>()),
        vec(any::<u32>(), 0..3),
        maybe(any::<u32>()),
        maybe(any::<u16>()),
        maybe(any::<u32>()),
        maybe(any::<u16>()),
        maybe(any::<u16>()),
        maybe(any::<u16>()),
        maybe(any::<u32>()),
    );
    let flags = (
        flag(),
        flag(),
        flag(),
        flag(),
        flag(),
        flag(),
        flag(),
        flag(),
        maybe(vec(any::<u8>(), 0..16)),
        maybe(vec(any::<u8>(), 0..16)),
    );
    (texts, numbers, flags)
        .prop_map(
            |(
                (content_type, response_topic, assigned, method, info, reference, reason, users),
                (expiry, ids, session, keep_alive, delay, receive, alias_max, alias, max_size),
                (pfi, problem, response, qos1, retain, wildcard, sub_ids, shared, data, auth),
            )| RawProps {
                payload_format_utf8: pfi,
                message_expiry_interval: expiry,
                content_type,
                response_topic,
                correlation_data: data,
                subscription_identifiers: ids,
                session_expiry_interval: session,
                assigned_client_identifier: assigned,
                server_keep_alive: keep_alive,
                authentication_method: method,
                authentication_data: auth,
                request_problem_information: problem,
                will_delay_interval: delay,
                request_response_information: response,
                response_information: info,
                server_reference: reference,
                reason_string: reason,
                receive_maximum: receive,
                topic_alias_maximum: alias_max,
                topic_alias: alias,
                maximum_qos_1: qos1,
                retain_available: retain,
                user_properties: users,
                maximum_packet_size: max_size,
                wildcard_subscription_available: wildcard,
                subscription_identifier_available: sub_ids,
                shared_subscription_available: shared,
            },
        )
        .boxed()
}

/// A valid property block for the packet kind `K`, with any of the properties `K`
/// may carry.
pub fn properties<K: PropertyKind + 'static>() -> impl Strategy<Value = Properties<Bytes, K>> {
    raw_props().prop_map(|raw| valid::properties::<K>(&raw))
}

/// A 5.0 topic filter, sometimes a shared subscription.
fn topic_filter() -> impl Strategy<Value = (TopicFilter<Bytes>, bool)> {
    (
        vec((any::<u8>(), text()), 0..5),
        any::<bool>(),
        option::weighted(0.3, text()),
    )
        .prop_map(|(levels, multi, share)| valid::topic_filter(&levels, multi, share.as_deref()))
}

/// A 5.0 CONNECT, with or without will and credentials.
pub fn connect() -> impl Strategy<Value = Connect<Bytes>> {
    let will = option::of((
        raw_props(),
        vec(text(), 1..4),
        vec(any::<u8>(), 0..64),
        0u8..3,
        any::<bool>(),
    ));
    (
        (any::<bool>(), any::<u16>(), raw_props(), text()),
        will,
        option::of(text()),
        option::of(vec(any::<u8>(), 0..32)),
    )
        .prop_map(
            |((clean_start, keep_alive, properties, client_id), will, username, password)| {
                valid::connect(ConnectParts {
                    clean_start,
                    keep_alive,
                    properties,
                    client_id,
                    will,
                    username,
                    password,
                })
            },
        )
}

/// A 5.0 CONNACK that obeys [MQTT-3.2.2-6].
pub fn connack() -> impl Strategy<Value = Connack<Bytes>> {
    (any::<bool>(), any::<usize>(), raw_props())
        .prop_map(|(sp, code, raw)| valid::connack(sp, code, &raw))
}

/// A 5.0 PUBLISH with a payload of up to 1 KiB, sometimes sent by Topic Alias alone.
pub fn publish() -> impl Strategy<Value = Publish<Bytes>> {
    (
        (any::<bool>(), qos_pid(), any::<bool>()),
        option::weighted(0.8, vec(text(), 1..5)),
        raw_props(),
        payload(1024),
    )
        .prop_map(|(flags, topic, raw, payload)| valid::publish(flags, topic, &raw, payload))
}

fn response<R: ReasonCode + core::fmt::Debug + 'static>(
    all: &'static [R],
) -> impl Strategy<Value = PublishResponse<Bytes, R>> {
    (packet_id(), any::<usize>(), properties::<AckProps>()).prop_map(move |(id, code, props)| {
        PublishResponse {
            packet_id: id,
            reason_code: valid::pick(all, code),
            properties: props,
        }
    })
}

/// A PUBACK or PUBREC, in any of its forms.
pub fn puback() -> impl Strategy<Value = Puback<Bytes>> {
    response(PubackReasonCode::ALL)
}

/// A PUBREL or PUBCOMP, in any of its forms.
pub fn pubrel() -> impl Strategy<Value = Pubrel<Bytes>> {
    response(PubrelReasonCode::ALL)
}

/// A 5.0 SUBSCRIBE with one to four filters.
pub fn subscribe() -> impl Strategy<Value = Subscribe<Bytes>> {
    (
        packet_id(),
        properties::<SubscribeProps>(),
        vec((topic_filter(), any::<u8>()), 1..5),
    )
        .prop_map(|(packet_id, properties, items)| {
            let items: Vec<_> = items
                .into_iter()
                .map(|((f, shared), o)| (f, valid::subscription_options(o, shared)))
                .collect();
            Subscribe {
                packet_id,
                properties,
                filters: SubscribeFilters::from_items(&items).expect("valid"),
            }
        })
}

/// A 5.0 SUBACK with one to eight reason codes.
pub fn suback() -> impl Strategy<Value = Suback<Bytes>> {
    (
        packet_id(),
        properties::<AckProps>(),
        vec(any::<usize>(), 1..9),
    )
        .prop_map(|(packet_id, properties, codes)| {
            let codes: Vec<_> = codes
                .iter()
                .map(|&c| valid::pick(SubackReasonCode::ALL, c))
                .collect();
            Suback {
                packet_id,
                properties,
                reason_codes: SubackReasonCodes::from_reason_codes(&codes).expect("non-empty"),
            }
        })
}

/// A 5.0 UNSUBSCRIBE with one to four filters.
pub fn unsubscribe() -> impl Strategy<Value = Unsubscribe<Bytes>> {
    (
        packet_id(),
        properties::<UnsubscribeProps>(),
        vec(topic_filter(), 1..5),
    )
        .prop_map(|(packet_id, properties, items)| {
            let items: Vec<_> = items.into_iter().map(|(f, _)| f).collect();
            Unsubscribe {
                packet_id,
                properties,
                filters: UnsubscribeFilters::from_items(&items).expect("valid"),
            }
        })
}

/// A 5.0 UNSUBACK with one to eight reason codes.
pub fn unsuback() -> impl Strategy<Value = Unsuback<Bytes>> {
    (
        packet_id(),
        properties::<AckProps>(),
        vec(any::<usize>(), 1..9),
    )
        .prop_map(|(packet_id, properties, codes)| {
            let codes: Vec<_> = codes
                .iter()
                .map(|&c| valid::pick(UnsubackReasonCode::ALL, c))
                .collect();
            Unsuback {
                packet_id,
                properties,
                reason_codes: UnsubackReasonCodes::from_reason_codes(&codes).expect("non-empty"),
            }
        })
}

/// A DISCONNECT, in any of its forms.
pub fn disconnect() -> impl Strategy<Value = Disconnect<Bytes>> {
    (
        any::<usize>(),
        option::weighted(0.5, properties::<DisconnectProps>()),
    )
        .prop_map(|(code, props)| Disconnect {
            reason_code: valid::pick(DisconnectReasonCode::ALL, code),
            properties: props.unwrap_or_default(),
        })
}

/// An AUTH, in any of its forms.
pub fn auth() -> impl Strategy<Value = Auth<Bytes>> {
    (
        any::<usize>(),
        option::weighted(0.5, properties::<AuthProps>()),
    )
        .prop_map(|(code, props)| Auth {
            reason_code: valid::pick(AuthReasonCode::ALL, code),
            properties: props.unwrap_or_default(),
        })
}

/// Any valid MQTT 5.0 packet.
pub fn packet() -> impl Strategy<Value = Packet<Bytes>> {
    // Boxed arms keep the strategy's types, and the stack frames of a debug build,
    // small.
    prop_oneof![
        1 => connect().prop_map(Packet::Connect).boxed(),
        1 => connack().prop_map(Packet::Connack).boxed(),
        3 => publish().prop_map(Packet::Publish).boxed(),
        1 => puback().prop_map(Packet::Puback).boxed(),
        1 => puback().prop_map(Packet::Pubrec).boxed(),
        1 => pubrel().prop_map(Packet::Pubrel).boxed(),
        1 => pubrel().prop_map(Packet::Pubcomp).boxed(),
        1 => subscribe().prop_map(Packet::Subscribe).boxed(),
        1 => suback().prop_map(Packet::Suback).boxed(),
        1 => unsubscribe().prop_map(Packet::Unsubscribe).boxed(),
        1 => unsuback().prop_map(Packet::Unsuback).boxed(),
        1 => Just(Packet::Pingreq).boxed(),
        1 => Just(Packet::Pingresp).boxed(),
        1 => disconnect().prop_map(Packet::Disconnect).boxed(),
        1 => auth().prop_map(Packet::Auth).boxed(),
    ]
}
