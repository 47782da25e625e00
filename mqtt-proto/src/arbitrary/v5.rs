//! `arbitrary::Arbitrary` for owned MQTT 5.0 packets: every value is a valid packet,
//! so `encode` then `decode` must give it back.

use alloc::vec::Vec;

use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;

use super::{filter_levels, levels, payload};
use crate::v5::*;
use crate::valid::v5::{self as valid, ConnectParts, RawProps};
use crate::valid::{packet_id, qos_pid};
use crate::TopicFilter;

/// Raw values for every property (by hand: the derive needs `std`).
fn raw_props(u: &mut Unstructured<'_>) -> Result<RawProps> {
    Ok(RawProps {
        payload_format_utf8: u.arbitrary()?,
        message_expiry_interval: u.arbitrary()?,
        content_type: u.arbitrary()?,
        response_topic: u.arbitrary()?,
        correlation_data: u.arbitrary()?,
        subscription_identifiers: u.arbitrary()?,
        session_expiry_interval: u.arbitrary()?,
        assigned_client_identifier: u.arbitrary()?,
        server_keep_alive: u.arbitrary()?,
        authentication_method: u.arbitrary()?,
        authentication_data: u.arbitrary()?,
        request_problem_information: u.arbitrary()?,
        will_delay_interval: u.arbitrary()?,
        request_response_information: u.arbitrary()?,
        response_information: u.arbitrary()?,
        server_reference: u.arbitrary()?,
        reason_string: u.arbitrary()?,
        receive_maximum: u.arbitrary()?,
        topic_alias_maximum: u.arbitrary()?,
        topic_alias: u.arbitrary()?,
        maximum_qos_1: u.arbitrary()?,
        retain_available: u.arbitrary()?,
        user_properties: u.arbitrary()?,
        maximum_packet_size: u.arbitrary()?,
        wildcard_subscription_available: u.arbitrary()?,
        subscription_identifier_available: u.arbitrary()?,
        shared_subscription_available: u.arbitrary()?,
    })
}

fn props<K: PropertyKind>(u: &mut Unstructured<'_>) -> Result<Properties<Bytes, K>> {
    // Mostly empty, so that packets stay small and short forms come up.
    if u.ratio(1, 2)? {
        return Ok(valid::properties::<K>(&RawProps::default()));
    }
    Ok(valid::properties::<K>(&raw_props(u)?))
}

fn filter(u: &mut Unstructured<'_>) -> Result<(TopicFilter<Bytes>, bool)> {
    let levels = filter_levels(u)?;
    let multi = u.arbitrary()?;
    let share: Option<alloc::string::String> = if u.ratio(1, 4)? {
        Some(u.arbitrary()?)
    } else {
        None
    };
    Ok(valid::topic_filter(&levels, multi, share.as_deref()))
}

fn response<R: ReasonCode>(
    u: &mut Unstructured<'_>,
    all: &'static [R],
) -> Result<PublishResponse<Bytes, R>> {
    Ok(PublishResponse {
        packet_id: packet_id(u.arbitrary()?),
        reason_code: *u.choose(all)?,
        properties: props(u)?,
    })
}

fn codes<T: Copy>(u: &mut Unstructured<'_>, all: &'static [T]) -> Result<Vec<T>> {
    let n = u.int_in_range(1..=8)?;
    (0..n).map(|_| u.choose(all).copied()).collect()
}

impl<'a> Arbitrary<'a> for Publish<Bytes> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let flags = (
            u.arbitrary()?,
            qos_pid(u.arbitrary()?, u.arbitrary()?),
            u.arbitrary()?,
        );
        let topic = if u.ratio(1, 5)? {
            None
        } else {
            Some(levels(u)?)
        };
        let raw = if u.ratio(1, 2)? {
            RawProps::default()
        } else {
            raw_props(u)?
        };
        Ok(valid::publish(flags, topic, &raw, payload(u)?))
    }
}

impl<'a> Arbitrary<'a> for Packet<Bytes> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=14)? {
            0 => Packet::Connect(valid::connect(ConnectParts {
                clean_start: u.arbitrary()?,
                keep_alive: u.arbitrary()?,
                properties: raw_props(u)?,
                client_id: u.arbitrary()?,
                will: if u.arbitrary()? {
                    Some((
                        raw_props(u)?,
                        levels(u)?,
                        u.arbitrary()?,
                        u.arbitrary()?,
                        u.arbitrary()?,
                    ))
                } else {
                    None
                },
                username: u.arbitrary()?,
                password: u.arbitrary()?,
            })),
            1 => Packet::Connack(valid::connack(
                u.arbitrary()?,
                u.arbitrary()?,
                &raw_props(u)?,
            )),
            2 => Packet::Publish(Publish::arbitrary(u)?),
            3 => Packet::Puback(response(u, PubackReasonCode::ALL)?),
            4 => Packet::Pubrec(response(u, PubackReasonCode::ALL)?),
            5 => Packet::Pubrel(response(u, PubrelReasonCode::ALL)?),
            6 => Packet::Pubcomp(response(u, PubrelReasonCode::ALL)?),
            7 => {
                let n = u.int_in_range(1..=4)?;
                let items = (0..n)
                    .map(|_| {
                        let (f, shared) = filter(u)?;
                        Ok((f, valid::subscription_options(u.arbitrary()?, shared)))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Packet::Subscribe(Subscribe {
                    packet_id: packet_id(u.arbitrary()?),
                    properties: props(u)?,
                    filters: SubscribeFilters::from_items(&items).expect("valid"),
                })
            }
            8 => Packet::Suback(Suback {
                packet_id: packet_id(u.arbitrary()?),
                properties: props(u)?,
                reason_codes: SubackReasonCodes::from_reason_codes(&codes(
                    u,
                    SubackReasonCode::ALL,
                )?)
                .expect("non-empty"),
            }),
            9 => {
                let n = u.int_in_range(1..=4)?;
                let items = (0..n)
                    .map(|_| Ok(filter(u)?.0))
                    .collect::<Result<Vec<_>>>()?;
                Packet::Unsubscribe(Unsubscribe {
                    packet_id: packet_id(u.arbitrary()?),
                    properties: props(u)?,
                    filters: UnsubscribeFilters::from_items(&items).expect("valid"),
                })
            }
            10 => Packet::Unsuback(Unsuback {
                packet_id: packet_id(u.arbitrary()?),
                properties: props(u)?,
                reason_codes: UnsubackReasonCodes::from_reason_codes(&codes(
                    u,
                    UnsubackReasonCode::ALL,
                )?)
                .expect("non-empty"),
            }),
            11 => Packet::Pingreq,
            12 => Packet::Pingresp,
            13 => Packet::Disconnect(Disconnect {
                reason_code: *u.choose(DisconnectReasonCode::ALL)?,
                properties: props(u)?,
            }),
            _ => Packet::Auth(Auth {
                reason_code: *u.choose(AuthReasonCode::ALL)?,
                properties: props(u)?,
            }),
        })
    }
}
