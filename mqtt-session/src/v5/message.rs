//! 5.0 message properties: what an outgoing message carries, and the PUBLISH they
//! are encoded into (with the remaining expiry interval and a topic alias, both
//! decided when the packet is handed out).

use alloc::vec::Vec;
use core::num::NonZeroU16;

use bytes::Bytes;
use mqtt_proto::v5::{self, PayloadFormat, PropertyValues, PublishProperties, UserProperty};
use mqtt_proto::{EncodeError, Publish, Str, TopicName};

use crate::Instant;

/// The 5.0 properties of an outgoing message (section 3.3.2.3). Build with
/// `..Default::default()`; under 3.1.1 they are ignored.
///
/// The Topic Alias is the session's business (see [`crate::Session::publish`]), and a
/// client never sends a Subscription Identifier [MQTT-3.3.4-6], so neither is here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MessageProperties {
    /// Payload Format Indicator: [`PayloadFormat::Utf8`] promises a UTF-8 payload,
    /// which [`crate::Session::publish`] checks.
    pub payload_format_indicator: Option<PayloadFormat>,
    /// Message Expiry Interval in seconds, counted from [`crate::Session::publish`]: a
    /// message still queued when it passes is not sent ([`crate::Outcome::Expired`]),
    /// and one sent late carries what is left of it.
    pub message_expiry_interval: Option<u32>,
    /// Content Type, e.g. a MIME type.
    pub content_type: Option<Str<Bytes>>,
    /// Response Topic, for a request / response exchange.
    pub response_topic: Option<TopicName<Bytes>>,
    /// Correlation Data, for a request / response exchange (at most 65,535 bytes).
    pub correlation_data: Option<Bytes>,
    /// User Properties, sent in this order.
    pub user_properties: Vec<(Str<Bytes>, Str<Bytes>)>,
}

/// The properties of a publish in flight: what the application gave, and when the
/// session took it (its expiry counts from then; `None` after a restore, set when the
/// restored session first looks at it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpProps {
    pub(crate) properties: MessageProperties,
    pub(crate) accepted: Option<Instant>,
}

/// How a PUBLISH names its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopicForm {
    /// The topic name alone.
    Name,
    /// The topic name and an alias for it, set from now on.
    NameAndAlias(NonZeroU16),
    /// The alias alone (an empty topic name).
    Alias(NonZeroU16),
}

/// Builds the 5.0 PUBLISH of `publish` with `props`, the expiry interval `expiry` and
/// the topic in `form`, and hands it to `f` (to size or encode it). The properties
/// are written on the stack when they fit, so a plain message costs no allocation.
pub(crate) fn with_v5_publish<R>(
    publish: &Publish<Bytes>,
    props: Option<&MessageProperties>,
    expiry: Option<u32>,
    form: TopicForm,
    f: impl FnOnce(&v5::Publish<&[u8]>) -> R,
) -> Result<R, EncodeError> {
    let users: Vec<UserProperty<'_>> = props
        .map(|p| {
            p.user_properties
                .iter()
                .map(|(k, v)| (k.as_borrowed(), v.as_borrowed()))
                .collect()
        })
        .unwrap_or_default();
    let alias = match form {
        TopicForm::Name => None,
        TopicForm::NameAndAlias(a) | TopicForm::Alias(a) => Some(a),
    };
    let values = PropertyValues {
        payload_format_indicator: props.and_then(|p| p.payload_format_indicator),
        message_expiry_interval: expiry,
        content_type: props.and_then(|p| p.content_type.as_ref().map(Str::as_borrowed)),
        response_topic: props.and_then(|p| p.response_topic.as_ref().map(TopicName::as_borrowed)),
        correlation_data: props.and_then(|p| p.correlation_data.as_deref()),
        topic_alias: alias,
        user_properties: &users,
        ..PropertyValues::default()
    };
    let mut stack = [0u8; 256];
    let heap;
    let properties = match PublishProperties::write_into(&values, &mut stack) {
        Ok(p) => p,
        Err(EncodeError::BufferTooSmall { .. }) => {
            heap = PublishProperties::<Bytes>::from_values(&values)?;
            heap.as_borrowed()
        }
        Err(e) => return Err(e),
    };
    let p = v5::Publish {
        dup: publish.dup,
        qos_pid: publish.qos_pid,
        retain: publish.retain,
        topic: match form {
            TopicForm::Alias(_) => None,
            _ => Some(publish.topic.as_borrowed()),
        },
        properties,
        payload: &publish.payload[..],
    };
    Ok(f(&p))
}

/// The size of the 5.0 PUBLISH of `publish` with its full topic and no alias.
pub(crate) fn v5_publish_len(
    publish: &Publish<Bytes>,
    props: Option<&MessageProperties>,
    expiry: Option<u32>,
) -> Result<usize, EncodeError> {
    with_v5_publish(publish, props, expiry, TopicForm::Name, |p| p.encoded_len())?
}

/// Whether a payload keeps the promise of its Payload Format Indicator.
pub(crate) fn payload_ok(props: Option<&MessageProperties>, payload: &[u8]) -> bool {
    props.and_then(|p| p.payload_format_indicator) != Some(PayloadFormat::Utf8)
        || core::str::from_utf8(payload).is_ok()
}
