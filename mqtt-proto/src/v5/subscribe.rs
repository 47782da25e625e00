//! SUBSCRIBE (section 3.8): topic filters with their Subscription Options, and the
//! shared subscription syntax (section 4.8.2).

use super::properties::SubscribeProperties;
use crate::packet::list::kind::Kind;
use crate::packet::list::{List, ListKind};
use crate::wire::{Reader, Sink};
use crate::{DecodeError, EncodeError, PacketId, QoS, Storage, TopicFilter};

/// A SUBSCRIBE packet of MQTT 5.0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscribe<S: Storage> {
    /// Packet identifier, echoed by the SUBACK.
    pub packet_id: PacketId,
    /// Subscription Identifier (at most one) and User Properties.
    pub properties: SubscribeProperties<S>,
    /// One or more filters with their options [MQTT-3.8.3-2].
    pub filters: SubscribeFilters<S>,
}

/// What the server does with retained messages when a subscription is made (section
/// 3.8.3.1, bits 4 and 5 of the Subscription Options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe [MQTT-3.3.1-9].
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist [MQTT-3.3.1-10].
    SendAtSubscribeIfNew = 1,
    /// 2: do not send them [MQTT-3.3.1-11].
    DoNotSend = 2,
}

/// The Subscription Options byte of a SUBSCRIBE entry (section 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS of the messages the server sends for this subscription.
    pub qos: QoS,
    /// No Local: never receive this client's own publications [MQTT-3.8.3-3]; not
    /// allowed on a shared subscription [MQTT-3.8.3-4].
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag of forwarded messages
    /// [MQTT-3.3.1-12], [MQTT-3.3.1-13].
    pub retain_as_published: bool,
    /// What to do with retained messages at subscribe time.
    pub retain_handling: RetainHandling,
}

const NO_LOCAL: u8 = 0b0000_0100;
const RETAIN_AS_PUBLISHED: u8 = 0b0000_1000;
const RETAIN_HANDLING_SHIFT: u8 = 4;
const RESERVED: u8 = 0b1100_0000;

impl SubscriptionOptions {
    /// Options asking for `qos`, everything else at its default.
    pub const fn new(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }

    /// The byte on the wire.
    pub const fn to_u8(self) -> u8 {
        let mut b = self.qos as u8 | (self.retain_handling as u8) << RETAIN_HANDLING_SHIFT;
        if self.no_local {
            b |= NO_LOCAL;
        }
        if self.retain_as_published {
            b |= RETAIN_AS_PUBLISHED;
        }
        b
    }

    /// The options for a byte: reserved bits 6 and 7 set [MQTT-3.8.3-5] or Retain
    /// Handling 3 is [`DecodeError::InvalidSubscriptionOptions`], QoS 3
    /// [`DecodeError::InvalidQos`].
    pub fn from_u8(b: u8) -> Result<SubscriptionOptions, DecodeError> {
        if b & RESERVED != 0 {
            return Err(DecodeError::InvalidSubscriptionOptions); // [MQTT-3.8.3-5]
        }
        let retain_handling = match b >> RETAIN_HANDLING_SHIFT {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::InvalidSubscriptionOptions), // section 3.8.3.1
        };
        Ok(SubscriptionOptions {
            qos: QoS::from_u8(b & 0b11)?,
            no_local: b & NO_LOCAL != 0,
            retain_as_published: b & RETAIN_AS_PUBLISHED != 0,
            retain_handling,
        })
    }
}

const SHARE_PREFIX: &[u8] = b"$share/";

/// Checks the shared subscription syntax of a valid topic filter: `Ok(true)` for a
/// well-formed `$share/{ShareName}/{filter}`, `Ok(false)` for a filter that is not
/// shared.
fn check_shared(filter: &[u8]) -> Result<bool, ()> {
    let Some(rest) = filter.strip_prefix(SHARE_PREFIX) else {
        return Ok(false);
    };
    // [MQTT-4.8.2-1]: a ShareName at least one character long; [MQTT-4.8.2-2]: free
    // of `+` and `#`, and followed by `/` and a topic filter (not empty,
    // [MQTT-4.7.3-1]). A `/` ends the ShareName, so it cannot contain one.
    let Some(slash) = rest.iter().position(|&b| b == b'/') else {
        return Err(());
    };
    let (name, inner) = (&rest[..slash], &rest[slash + 1..]);
    if name.is_empty() || name.iter().any(|&b| b == b'+' || b == b'#') || inner.is_empty() {
        return Err(());
    }
    Ok(true)
}

/// A shared subscription's ShareName and topic filter, or `None` for a filter that is
/// not a shared subscription (`$share/{ShareName}/{filter}`, section 4.8.2).
///
/// ```
/// use mqtt_proto::{v5, TopicFilter};
///
/// let f = TopicFilter::new("$share/workers/jobs/#").unwrap();
/// assert_eq!(v5::shared_subscription(&f), Some(("workers", "jobs/#")));
/// assert_eq!(v5::shared_subscription(&TopicFilter::new("jobs/#").unwrap()), None);
/// ```
pub fn shared_subscription<S: Storage>(filter: &TopicFilter<S>) -> Option<(&str, &str)> {
    if check_shared(filter.as_bytes()) != Ok(true) {
        return None;
    }
    let rest = &filter.as_str()[SHARE_PREFIX.len()..];
    rest.split_once('/')
}

/// Reads a 5.0 topic filter: the 3.1.1 rules plus the shared subscription syntax.
/// Returns the filter and whether it is shared.
fn read_filter<S: Storage>(r: &mut Reader<'_, S>) -> Result<(TopicFilter<S>, bool), DecodeError> {
    // [MQTT-3.8.3-1], [MQTT-3.10.3-1], [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1]
    let filter = r.topic_filter()?;
    let shared =
        check_shared(filter.as_bytes()).map_err(|()| DecodeError::InvalidSharedSubscription)?;
    Ok((filter, shared))
}

fn check_filter<S: Storage>(filter: &TopicFilter<S>) -> Result<bool, EncodeError> {
    check_shared(filter.as_bytes()).map_err(|()| EncodeError::InvalidSharedSubscription)
}

/// A 5.0 SUBSCRIBE entry: a topic filter and its Subscription Options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscribeEntry {}
impl ListKind for SubscribeEntry {}
impl Kind for SubscribeEntry {
    type Item<S: Storage> = (TopicFilter<S>, SubscriptionOptions);

    fn read<S: Storage>(r: &mut Reader<'_, S>) -> Result<Self::Item<S>, DecodeError> {
        let (filter, shared) = read_filter(r)?;
        let options = SubscriptionOptions::from_u8(r.u8()?)?;
        if shared && options.no_local {
            return Err(DecodeError::NoLocalOnSharedSubscription); // [MQTT-3.8.3-4]
        }
        Ok((filter, options))
    }

    fn len<S: Storage>(item: &Self::Item<S>) -> usize {
        2 + item.0.as_bytes().len() + 1
    }

    fn write<S: Storage, W: Sink>(item: &Self::Item<S>, w: &mut W) {
        w.put_prefixed(item.0.as_bytes());
        w.put_u8(item.1.to_u8());
    }

    fn check<S: Storage>(item: &Self::Item<S>) -> Result<(), EncodeError> {
        if check_filter(&item.0)? && item.1.no_local {
            return Err(EncodeError::NoLocalOnSharedSubscription); // [MQTT-3.8.3-4]
        }
        Ok(())
    }
}

/// A 5.0 UNSUBSCRIBE entry: a topic filter (shared subscriptions included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnsubscribeEntry {}
impl ListKind for UnsubscribeEntry {}
impl Kind for UnsubscribeEntry {
    type Item<S: Storage> = TopicFilter<S>;

    fn read<S: Storage>(r: &mut Reader<'_, S>) -> Result<Self::Item<S>, DecodeError> {
        Ok(read_filter(r)?.0)
    }

    fn len<S: Storage>(item: &Self::Item<S>) -> usize {
        2 + item.as_bytes().len()
    }

    fn write<S: Storage, W: Sink>(item: &Self::Item<S>, w: &mut W) {
        w.put_prefixed(item.as_bytes());
    }

    fn check<S: Storage>(item: &Self::Item<S>) -> Result<(), EncodeError> {
        check_filter(item).map(|_| ())
    }
}

/// Topic filters and Subscription Options of a 5.0 SUBSCRIBE.
pub type SubscribeFilters<S> = List<S, SubscribeEntry>;
/// Topic filters of a 5.0 UNSUBSCRIBE.
pub type UnsubscribeFilters<S> = List<S, UnsubscribeEntry>;

impl<S: Storage> Subscribe<S> {
    pub(crate) fn body_len(&self) -> usize {
        2 + self.properties.encoded_len() + self.filters.wire_len()
    }

    pub(crate) fn write_body<W: Sink>(&self, w: &mut W) {
        w.put_u16(self.packet_id.get());
        self.properties.write(w);
        self.filters.write(w);
    }

    /// A view of this SUBSCRIBE that borrows its bytes.
    pub fn as_borrowed(&self) -> Subscribe<&[u8]> {
        Subscribe {
            packet_id: self.packet_id,
            properties: self.properties.as_borrowed(),
            filters: self.filters.as_borrowed(),
        }
    }
}
