//! Raw parts to valid MQTT 5.0 packet fields, for the `arbitrary` and `proptest`
//! generators.

use alloc::string::String;
use alloc::vec::Vec;
use core::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;

use super::{clean, truncate};
use crate::v5::{
    Connack, Connect, ConnectReasonCode, LastWill, PayloadFormat, Properties, PropertyId,
    PropertyKind, PropertyValues, Publish, RetainHandling, SubscriptionId, SubscriptionOptions,
};
use crate::{QoS, QosPid, Str, TopicFilter, TopicName};

/// Raw values for every property; [`properties`] keeps those a packet allows.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawProps {
    pub payload_format_utf8: Option<bool>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<Vec<String>>,
    pub correlation_data: Option<Vec<u8>>,
    pub subscription_identifiers: Vec<u32>,
    pub session_expiry_interval: Option<u32>,
    pub assigned_client_identifier: Option<String>,
    pub server_keep_alive: Option<u16>,
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Vec<u8>>,
    pub request_problem_information: Option<bool>,
    pub will_delay_interval: Option<u32>,
    pub request_response_information: Option<bool>,
    pub response_information: Option<String>,
    pub server_reference: Option<String>,
    pub reason_string: Option<String>,
    pub receive_maximum: Option<u16>,
    pub topic_alias_maximum: Option<u16>,
    pub topic_alias: Option<u16>,
    pub maximum_qos_1: Option<bool>,
    pub retain_available: Option<bool>,
    pub user_properties: Vec<(String, String)>,
    pub maximum_packet_size: Option<u32>,
    pub wildcard_subscription_available: Option<bool>,
    pub subscription_identifier_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
}

fn text(s: &str) -> String {
    truncate(clean(s, false), 64)
}

/// The properties of `raw` that kind `K` may carry, as a valid block.
pub(crate) fn properties<K: PropertyKind>(raw: &RawProps) -> Properties<Bytes, K> {
    let ok = |id: PropertyId| id.packets() & K::BIT != 0;
    let keep = |id: PropertyId, s: &Option<String>| s.as_deref().filter(|_| ok(id)).map(text);
    let content_type = keep(PropertyId::ContentType, &raw.content_type);
    let assigned = keep(
        PropertyId::AssignedClientIdentifier,
        &raw.assigned_client_identifier,
    );
    let method = keep(PropertyId::AuthenticationMethod, &raw.authentication_method);
    let response_information = keep(PropertyId::ResponseInformation, &raw.response_information);
    let server_reference = keep(PropertyId::ServerReference, &raw.server_reference);
    let reason_string = keep(PropertyId::ReasonString, &raw.reason_string);
    let response_topic = raw
        .response_topic
        .as_ref()
        .filter(|_| ok(PropertyId::ResponseTopic))
        .map(|levels| super::topic_name(levels));
    let users: Vec<(String, String)> = if ok(PropertyId::UserProperty) {
        raw.user_properties
            .iter()
            .take(4)
            .map(|(k, v)| (text(k), text(v)))
            .collect()
    } else {
        Vec::new()
    };
    let users: Vec<_> = users
        .iter()
        .map(|(k, v)| (Str::new(k).expect("clean"), Str::new(v).expect("clean")))
        .collect();
    let ids: Vec<SubscriptionId> = if ok(PropertyId::SubscriptionIdentifier) {
        let many = PropertyId::SubscriptionIdentifier.repeatable_in(K::PACKET);
        raw.subscription_identifiers
            .iter()
            .take(if many { 4 } else { 1 })
            .map(|v| SubscriptionId::new(v % SubscriptionId::MAX + 1).expect("in range"))
            .collect()
    } else {
        Vec::new()
    };
    fn bytes(allowed: bool, b: &Option<Vec<u8>>) -> Option<&[u8]> {
        b.as_deref()
            .filter(|_| allowed)
            .map(|b| &b[..b.len().min(64)])
    }
    let values = PropertyValues {
        payload_format_indicator: raw
            .payload_format_utf8
            .filter(|_| ok(PropertyId::PayloadFormatIndicator))
            .map(|u| {
                if u {
                    PayloadFormat::Utf8
                } else {
                    PayloadFormat::Unspecified
                }
            }),
        message_expiry_interval: raw
            .message_expiry_interval
            .filter(|_| ok(PropertyId::MessageExpiryInterval)),
        content_type: content_type.as_deref().map(|s| Str::new(s).expect("clean")),
        response_topic: response_topic.as_ref().map(TopicName::as_borrowed),
        correlation_data: bytes(ok(PropertyId::CorrelationData), &raw.correlation_data),
        subscription_identifiers: &ids,
        session_expiry_interval: raw
            .session_expiry_interval
            .filter(|_| ok(PropertyId::SessionExpiryInterval)),
        assigned_client_identifier: assigned.as_deref().map(|s| Str::new(s).expect("clean")),
        server_keep_alive: raw
            .server_keep_alive
            .filter(|_| ok(PropertyId::ServerKeepAlive)),
        authentication_method: method.as_deref().map(|s| Str::new(s).expect("clean")),
        // Section 3.1.2.11.10: no data without a method.
        authentication_data: bytes(ok(PropertyId::AuthenticationData), &raw.authentication_data)
            .filter(|_| method.is_some()),
        request_problem_information: raw
            .request_problem_information
            .filter(|_| ok(PropertyId::RequestProblemInformation)),
        will_delay_interval: raw
            .will_delay_interval
            .filter(|_| ok(PropertyId::WillDelayInterval)),
        request_response_information: raw
            .request_response_information
            .filter(|_| ok(PropertyId::RequestResponseInformation)),
        response_information: response_information
            .as_deref()
            .map(|s| Str::new(s).expect("clean")),
        server_reference: server_reference
            .as_deref()
            .map(|s| Str::new(s).expect("clean")),
        reason_string: reason_string
            .as_deref()
            .map(|s| Str::new(s).expect("clean")),
        receive_maximum: raw
            .receive_maximum
            .filter(|_| ok(PropertyId::ReceiveMaximum))
            .and_then(|v| NonZeroU16::new(v.max(1))),
        topic_alias_maximum: raw
            .topic_alias_maximum
            .filter(|_| ok(PropertyId::TopicAliasMaximum)),
        topic_alias: raw
            .topic_alias
            .filter(|_| ok(PropertyId::TopicAlias))
            .and_then(|v| NonZeroU16::new(v.max(1))),
        maximum_qos: raw
            .maximum_qos_1
            .filter(|_| ok(PropertyId::MaximumQoS))
            .map(|one| {
                if one {
                    QoS::AtLeastOnce
                } else {
                    QoS::AtMostOnce
                }
            }),
        retain_available: raw
            .retain_available
            .filter(|_| ok(PropertyId::RetainAvailable)),
        user_properties: &users,
        maximum_packet_size: raw
            .maximum_packet_size
            .filter(|_| ok(PropertyId::MaximumPacketSize))
            .and_then(|v| NonZeroU32::new(v.max(1))),
        wildcard_subscription_available: raw
            .wildcard_subscription_available
            .filter(|_| ok(PropertyId::WildcardSubscriptionAvailable)),
        subscription_identifier_available: raw
            .subscription_identifier_available
            .filter(|_| ok(PropertyId::SubscriptionIdentifierAvailable)),
        shared_subscription_available: raw
            .shared_subscription_available
            .filter(|_| ok(PropertyId::SharedSubscriptionAvailable)),
    };
    Properties::from_values(&values).expect("only allowed, valid properties")
}

/// A valid 5.0 topic filter: the 3.1.1 rules, optionally as a shared subscription
/// `$share/{share}/...`; a filter that happens to start with `$share/` without
/// being a valid one becomes a plain filter.
pub(crate) fn topic_filter(
    levels: &[(u8, String)],
    multi: bool,
    share: Option<&str>,
) -> (TopicFilter<Bytes>, bool) {
    let inner = super::topic_filter(levels, multi);
    if let Some(share) = share {
        let mut name = truncate(clean(share, true), 16);
        if name.is_empty() {
            name.push('g');
        }
        let shared = alloc::format!("$share/{name}/{}", inner.as_str());
        if let Ok(f) = TopicFilter::from_string(shared) {
            return (f, true);
        }
    }
    if inner.as_str().starts_with("$share/") {
        return (TopicFilter::from_static("f").expect("valid"), false);
    }
    (inner, false)
}

/// Subscription Options from a raw byte; No Local is dropped on a shared
/// subscription [MQTT-3.8.3-4].
pub(crate) fn subscription_options(b: u8, shared: bool) -> SubscriptionOptions {
    SubscriptionOptions {
        qos: super::qos(b & 0b11),
        no_local: b & 0b100 != 0 && !shared,
        retain_as_published: b & 0b1000 != 0,
        retain_handling: match (b >> 4) % 3 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            _ => RetainHandling::DoNotSend,
        },
    }
}

/// One of `all`, by a raw index.
pub(crate) fn pick<T: Copy>(all: &[T], i: usize) -> T {
    all[i % all.len()]
}

/// A CONNACK that obeys [MQTT-3.2.2-6].
pub(crate) fn connack(session_present: bool, code: usize, raw: &RawProps) -> Connack<Bytes> {
    let reason_code = pick(ConnectReasonCode::ALL, code);
    Connack {
        session_present: session_present && reason_code == ConnectReasonCode::Success,
        reason_code,
        properties: properties(raw),
    }
}

/// Raw parts of a will: properties, topic levels, payload, QoS, retain.
pub(crate) type RawWill = (RawProps, Vec<String>, Vec<u8>, u8, bool);

/// Raw parts of a 5.0 CONNECT.
pub(crate) struct ConnectParts {
    pub clean_start: bool,
    pub keep_alive: u16,
    pub properties: RawProps,
    pub client_id: String,
    pub will: Option<RawWill>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

/// A CONNECT: any client id (5.0 allows an empty one without Clean Start,
/// [MQTT-3.1.3-6]) and a password without a user name.
pub(crate) fn connect(p: ConnectParts) -> Connect<Bytes> {
    Connect {
        clean_start: p.clean_start,
        keep_alive: p.keep_alive,
        properties: properties(&p.properties),
        client_id: super::string(&p.client_id),
        will: p.will.map(|(props, topic, payload, q, retain)| LastWill {
            properties: properties(&props),
            topic: super::topic_name(&topic),
            payload: Bytes::from(payload),
            qos: super::qos(q),
            retain,
        }),
        username: p.username.as_deref().map(super::string),
        password: p.password.map(Bytes::from),
    }
}

/// A PUBLISH; without a topic name it gets a Topic Alias (section 3.3.2.1).
pub(crate) fn publish(
    (dup, qos_pid, retain): (bool, QosPid, bool),
    topic: Option<Vec<String>>,
    raw: &RawProps,
    payload: Bytes,
) -> Publish<Bytes> {
    let mut properties = properties(raw);
    if topic.is_none() && properties.topic_alias().is_none() {
        let raw = RawProps {
            topic_alias: Some(raw.topic_alias.unwrap_or(1)),
            ..raw.clone()
        };
        properties = self::properties(&raw);
    }
    Publish {
        dup: super::dup(dup, qos_pid),
        qos_pid,
        retain,
        topic: topic.map(|levels| super::topic_name(&levels)),
        properties,
        payload,
    }
}
