//! Sending under 5.0: operations encoded as 5.0 packets when handed out (topic alias
//! and remaining expiry decided then), the server's CONNACK limits applied to every
//! command before it goes out, and resending within the server's Receive Maximum.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};
use mqtt_proto::v5::{
    self, PropertyValues, SubscribeProperties, SubscriptionId, SubscriptionOptions,
};
use mqtt_proto::{DecodeOptions, Packet, PacketId, Publish, TopicFilter};

use super::alias::OutAliases;
use super::message::{v5_publish_len, with_v5_publish, MessageProperties, TopicForm};
use super::{OpProps, ServerLimits};
use crate::session::{OpKind, PendingKind, Stage, Subs, Unsubs};
use crate::{Event, Instant, Message, NotSent, OpId, Outcome, Session, StoreOp};

/// What is left of a message's expiry interval at `now` (`Err` once passed).
pub(crate) fn expiry_left(
    props: Option<&MessageProperties>,
    accepted: Option<Instant>,
    now: Instant,
) -> Result<Option<u32>, ()> {
    let Some(interval) = props.and_then(|p| p.message_expiry_interval) else {
        return Ok(None);
    };
    let waited = accepted.map_or(0, |at| now.saturating_duration_since(at).as_secs());
    let waited = u32::try_from(waited).unwrap_or(u32::MAX);
    match interval.checked_sub(waited) {
        Some(0) if interval > 0 => Err(()),
        Some(left) => Ok(Some(left)),
        None => Err(()),
    }
}

impl OpProps {
    /// The expiry interval a (re)send carries: what is left, 0 once passed (a message
    /// already sent is never dropped: the server may hold its packet identifier).
    pub(crate) fn expiry_now(&self, now: Instant) -> Option<u32> {
        expiry_left(Some(&self.properties), self.accepted, now).unwrap_or(Some(0))
    }
}

/// Encodes a 5.0 PUBLISH header into `out`, with a topic alias when one helps and the
/// result stays within the server's maximum.
fn encode_publish(
    out: &mut BytesMut,
    aliases: &mut OutAliases,
    maximum: u32,
    publish: &Publish<Bytes>,
    props: Option<&MessageProperties>,
    expiry: Option<u32>,
) {
    let mut form = aliases.choose(&publish.topic);
    // Checked without an alias when the command was taken; the alias alone is never
    // longer (at least four bytes of topic for three of property), the name with one
    // may be.
    if matches!(form, TopicForm::NameAndAlias(_)) && maximum < DecodeOptions::MAX_PACKET_SIZE {
        let len = with_v5_publish(publish, props, expiry, form, |p| p.encoded_len());
        if !matches!(len, Ok(Ok(n)) if n <= maximum as usize) {
            form = TopicForm::Name;
        }
    }
    aliases.commit(&publish.topic, form);
    let _ = with_v5_publish(publish, props, expiry, form, |p| p.encode_header(out));
}

/// Why the server would refuse this publish, if it would.
fn publish_verdict(
    limits: &ServerLimits,
    publish: &Publish<Bytes>,
    props: Option<&MessageProperties>,
    expiry: Option<u32>,
) -> Option<NotSent> {
    if publish.qos() > limits.maximum_qos {
        return Some(NotSent::QoSNotSupported {
            maximum: limits.maximum_qos,
        }); // [MQTT-3.2.2-11]
    }
    if publish.retain && !limits.retain_available {
        return Some(NotSent::RetainNotSupported); // [MQTT-3.2.2-14]
    }
    too_large(limits, || {
        v5_publish_len(publish, props, expiry).unwrap_or(usize::MAX)
    })
}

/// [MQTT-3.2.2-15]: nothing larger than the server's Maximum Packet Size.
fn too_large(limits: &ServerLimits, size: impl FnOnce() -> usize) -> Option<NotSent> {
    let maximum = limits.maximum_packet_size;
    if maximum >= DecodeOptions::MAX_PACKET_SIZE {
        return None; // no limit announced; the MQTT one was checked by the command
    }
    let size = size();
    (size > maximum as usize).then_some(NotSent::PacketTooLarge { size, maximum })
}

fn subscribe_verdict(limits: &ServerLimits, subs: &Subs) -> Option<NotSent> {
    let Subs::V5 {
        filters,
        properties,
    } = subs
    else {
        return None;
    };
    for (filter, _) in filters.iter() {
        if v5::shared_subscription(&filter).is_some() {
            if !limits.shared_subscription_available {
                return Some(NotSent::SharedSubscriptionsNotSupported);
            }
        } else if filter.has_wildcards() && !limits.wildcard_subscription_available {
            return Some(NotSent::WildcardSubscriptionsNotSupported);
        }
    }
    if properties.subscription_identifiers().next().is_some()
        && !limits.subscription_identifier_available
    {
        return Some(NotSent::SubscriptionIdentifiersNotSupported);
    }
    too_large(limits, || {
        let packet = v5::Packet::Subscribe(v5::Subscribe {
            packet_id: PacketId::MIN,
            properties: properties.clone(),
            filters: filters.clone(),
        });
        packet.encoded_len().unwrap_or(usize::MAX)
    })
}

fn unsubscribe_verdict(limits: &ServerLimits, unsubs: &Unsubs) -> Option<NotSent> {
    let Unsubs::V5 {
        filters,
        properties,
    } = unsubs
    else {
        return None;
    };
    too_large(limits, || {
        let packet = v5::Packet::Unsubscribe(v5::Unsubscribe {
            packet_id: PacketId::MIN,
            properties: properties.clone(),
            filters: filters.clone(),
        });
        packet.encoded_len().unwrap_or(usize::MAX)
    })
}

impl Session {
    /// `poll_transmit` for an operation of a 5.0 session: encodes its packet into
    /// `out` and returns the payload to hand out after it.
    pub(crate) fn encode_op_v5(&mut self, packet_id: u16, op: OpId) -> Bytes {
        let Session {
            ops,
            out,
            v5,
            stats,
            now,
            ..
        } = self;
        let (Some(v5), Some(o)) = (v5.as_deref_mut(), ops.get_mut(&packet_id)) else {
            return Bytes::new();
        };
        if o.op != op {
            return Bytes::new(); // completed or replaced before it went out
        }
        let packet_id = PacketId::new(packet_id).unwrap_or(PacketId::MIN);
        match &mut o.kind {
            OpKind::Publish {
                publish,
                props,
                stage: Stage::AwaitAck,
            } => {
                let expiry = props.as_deref().and_then(|p| p.expiry_now(*now));
                let props = props.as_deref().map(|p| &p.properties);
                let max = v5.limits.maximum_packet_size;
                encode_publish(out, &mut v5.out_aliases, max, publish, props, expiry);
                // Handed out: the broker's session may hold it from now on, so any
                // later send of it (on a resumed session) is a re-delivery
                // [MQTT-3.3.1-1].
                publish.dup = true;
                stats.publishes_sent += 1;
                publish.payload.clone()
            }
            OpKind::Publish { .. } => Bytes::new(), // released: only PUBREL now
            OpKind::Subscribe {
                filters:
                    Subs::V5 {
                        filters,
                        properties,
                    },
                ..
            } => {
                let _ = v5::Packet::Subscribe(v5::Subscribe {
                    packet_id,
                    properties: properties.clone(),
                    filters: filters.clone(),
                })
                .encode_to(out);
                Bytes::new()
            }
            OpKind::Unsubscribe {
                filters:
                    Unsubs::V5 {
                        filters,
                        properties,
                    },
            } => {
                let _ = v5::Packet::Unsubscribe(v5::Unsubscribe {
                    packet_id,
                    properties: properties.clone(),
                    filters: filters.clone(),
                })
                .encode_to(out);
                Bytes::new()
            }
            // A 5.0 session holds only 5.0 filters.
            OpKind::Subscribe { .. } | OpKind::Unsubscribe { .. } => Bytes::new(),
        }
    }

    /// `poll_transmit` for a QoS 0 publish of a 5.0 session.
    pub(crate) fn encode_qos0_v5(
        &mut self,
        mut message: Message,
        accepted: Option<Instant>,
    ) -> Bytes {
        let props = message.properties.take();
        let expiry = expiry_left(props.as_deref(), accepted, self.now).unwrap_or(Some(0));
        let publish = message.into_publish(PacketId::MIN);
        if let Some(v5) = self.v5.as_deref_mut() {
            let max = v5.limits.maximum_packet_size;
            let aliases = &mut v5.out_aliases;
            encode_publish(
                &mut self.out,
                aliases,
                max,
                &publish,
                props.as_deref(),
                expiry,
            );
        }
        publish.payload
    }

    /// Under 5.0, whether the command at the front of the queue can go out on this
    /// connection: `Err` with how it completes if not (expired, or refused by the
    /// server's limits).
    pub(crate) fn check_front_v5(&mut self) -> Result<(), Outcome> {
        let now = self.now;
        let (Some(v5), Some(front)) = (self.v5.as_deref(), self.pending.front_mut()) else {
            return Ok(());
        };
        let accepted = *front.accepted.get_or_insert(now);
        let limits = &v5.limits;
        let verdict = match &front.kind {
            PendingKind::Publish(m) => {
                let props = m.properties.as_deref();
                let Ok(expiry) = expiry_left(props, Some(accepted), now) else {
                    return Err(Outcome::Expired);
                };
                publish_verdict(
                    limits,
                    &m.clone().into_publish(PacketId::MIN),
                    props,
                    expiry,
                )
            }
            PendingKind::Subscribe(subs) => subscribe_verdict(limits, subs),
            PendingKind::Unsubscribe(unsubs) => unsubscribe_verdict(limits, unsubs),
        };
        verdict.map_or(Ok(()), |v| Err(Outcome::NotSent(v)))
    }

    /// Under 5.0, sends the resends the server's Receive Maximum held back, in order,
    /// while it allows; `false` once the window is full.
    pub(crate) fn pump_deferred(&mut self, window: usize) -> bool {
        loop {
            let Some(v5) = self.v5.as_deref_mut() else {
                return true;
            };
            let Some(&id) = v5.deferred.front() else {
                return true;
            };
            if self.inflight_publishes - v5.deferred.len() >= window {
                return false;
            }
            v5.deferred.pop_front();
            if let (Some(o), Some(pid)) = (self.ops.get(&id), PacketId::new(id)) {
                let op = o.op;
                self.send_op(pid, op);
                self.stats.resends += 1;
            }
        }
    }

    /// [`Session::resend`] under 5.0: what the new connection's limits forbid
    /// completes with [`Outcome::NotSent`]; PUBLISH goes again only within the
    /// server's Receive Maximum [MQTT-3.3.4-7] (the rest follows as acks free the
    /// window, still in order [MQTT-4.6.0-1]); PUBREL is never held back
    /// [MQTT-3.3.4-8].
    pub(crate) fn resend_v5(&mut self, session_present: bool) {
        let now = self.now;
        let window = self.window();
        let order = self.ops_in_order();
        // A released QoS 2 message counts until PUBCOMP.
        let mut used = self
            .ops
            .values()
            .filter(|o| {
                matches!(
                    o.kind,
                    OpKind::Publish {
                        stage: Stage::AwaitComp,
                        ..
                    }
                )
            })
            .count();
        for id in order {
            let (Some(v5), Some(op)) = (self.v5.as_deref(), self.ops.get(&id)) else {
                continue;
            };
            let Some(pid) = PacketId::new(id) else {
                continue;
            };
            let limits = &v5.limits;
            let verdict = match &op.kind {
                OpKind::Publish {
                    publish,
                    props,
                    stage: Stage::AwaitAck,
                } => {
                    let expiry = props.as_deref().and_then(|p| p.expiry_now(now));
                    let props = props.as_deref().map(|p| &p.properties);
                    publish_verdict(limits, publish, props, expiry)
                }
                OpKind::Publish { .. } => None,
                OpKind::Subscribe { filters, .. } => subscribe_verdict(limits, filters),
                OpKind::Unsubscribe { filters } => unsubscribe_verdict(limits, filters),
            };
            let op_id = op.op;
            if let Some(v) = verdict {
                let publish = matches!(op.kind, OpKind::Publish { .. });
                let internal = matches!(op.kind, OpKind::Subscribe { internal: true, .. });
                self.remove_op(id);
                if publish {
                    self.journal(|| StoreOp::Complete { op: op_id.get() });
                }
                if !internal {
                    self.events.push_back(Event::Completed {
                        op: op_id,
                        outcome: Outcome::NotSent(v),
                    });
                }
                continue;
            }
            let Some(op) = self.ops.get_mut(&id) else {
                continue;
            };
            match &mut op.kind {
                OpKind::Publish {
                    publish,
                    stage: Stage::AwaitAck,
                    ..
                } => {
                    // DUP once handed out to this broker session (set then), never
                    // after a lost session: to a new one it is a first delivery. (A
                    // publish held back by the Receive Maximum may have never gone
                    // out, though its broker session survives.)
                    if !session_present {
                        publish.dup = false;
                    }
                    if used < window {
                        used += 1;
                        self.send_op(pid, op_id);
                        self.stats.resends += 1;
                    } else if let Some(v5) = self.v5.as_deref_mut() {
                        v5.deferred.push_back(id);
                    }
                }
                OpKind::Publish { .. } => {
                    self.send(Packet::Pubrel(pid));
                    self.stats.resends += 1;
                }
                OpKind::Subscribe { .. } | OpKind::Unsubscribe { .. } => {
                    self.send_op(pid, op_id);
                }
            }
        }
    }

    /// The SUBSCRIBEs that make every granted subscription again, with the options
    /// it was asked with (at the QoS granted): one per Subscription Identifier, as a
    /// SUBSCRIBE carries at most one.
    pub(crate) fn resubscriptions_v5(&self) -> Vec<Subs> {
        let mut by_id: BTreeMap<
            Option<SubscriptionId>,
            Vec<(TopicFilter<Bytes>, SubscriptionOptions)>,
        > = BTreeMap::new();
        for (filter, g) in &self.subscriptions {
            let options = SubscriptionOptions {
                qos: g.qos,
                ..g.options
            };
            by_id
                .entry(g.id)
                .or_default()
                .push((filter.clone(), options));
        }
        by_id
            .into_iter()
            .filter_map(|(id, items)| {
                let ids: Vec<SubscriptionId> = id.into_iter().collect();
                let values = PropertyValues {
                    subscription_identifiers: &ids,
                    ..PropertyValues::default()
                };
                Some(Subs::V5 {
                    filters: v5::SubscribeFilters::from_items(&items).ok()?,
                    properties: SubscribeProperties::from_values(&values).ok()?,
                })
            })
            .collect()
    }

    /// The in-flight window: `max_inflight`, and under 5.0 the server's Receive
    /// Maximum [MQTT-3.3.4-7].
    pub(crate) fn window(&self) -> usize {
        let ours = usize::from(self.config.max_inflight.max(1));
        match self.v5.as_deref() {
            Some(v5) => ours.min(usize::from(v5.limits.receive_maximum.max(1))),
            None => ours,
        }
    }
}
