//! Durable state: what a store keeps so a session survives a process restart.

use alloc::boxed::Box;
use alloc::vec::Vec;

use bytes::Bytes;
use mqtt_proto::v5::{
    self, SubscribeProperties, SubscriptionId, SubscriptionOptions, UnsubscribeProperties,
};
use mqtt_proto::{PacketId, QoS, SubscribeFilters, TopicFilter, UnsubscribeFilters};

use crate::session::{Granted, Inbound, OpKind, Pending, PendingKind, Stage, Subs, Unsubs};
use crate::v5::OpProps;
use crate::{Config, Message, OpId, Session};

/// Everything of a session that must outlive the process for QoS 1 and 2 to keep
/// their promises: outgoing operations in flight (with their packet identifiers and
/// stage), commands not yet sent, incoming QoS 2 identifiers awaiting PUBREL, and
/// granted subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// Operations holding a packet identifier, in the order they were first sent.
    pub inflight: Vec<StoredOp>,
    /// Commands not yet sent, in order.
    pub queued: Vec<StoredQueued>,
    /// Incoming QoS 2 identifiers awaiting PUBREL, with whether PUBREC was sent
    /// (false: the application has not acked yet, manual acks).
    pub inbound_qos2: Vec<(PacketId, bool)>,
    /// Granted subscriptions.
    pub subscriptions: Vec<(TopicFilter<Bytes>, QoS)>,
    /// 5.0: how each granted subscription was asked for (its Subscription Options and
    /// Identifier), to subscribe again the same way after a lost session.
    pub subscription_options: Vec<(
        TopicFilter<Bytes>,
        SubscriptionOptions,
        Option<SubscriptionId>,
    )>,
    /// Where packet identifier allocation continues.
    pub next_packet_id: u16,
}

/// An operation in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOp {
    /// Its handle number ([`OpId::get`]): a restored session gives it the same handle.
    pub op: u64,
    /// Its packet identifier.
    pub packet_id: PacketId,
    /// What it is.
    pub command: StoredCommand,
    /// For a QoS 2 publish: PUBREC received, so only PUBREL is ever sent again.
    pub released: bool,
}

/// A command not yet sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredQueued {
    /// Its handle number ([`OpId::get`]): a restored session gives it the same handle.
    pub op: u64,
    /// What it is.
    pub command: StoredCommand,
}

/// A command, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredCommand {
    /// A publish (its payload is empty once released), its 5.0 properties included.
    Publish(Message),
    /// A subscribe.
    Subscribe(SubscribeFilters<Bytes>),
    /// An unsubscribe.
    Unsubscribe(UnsubscribeFilters<Bytes>),
    /// A 5.0 subscribe: filters with their options, and its properties.
    SubscribeV5 {
        /// The filters and their Subscription Options.
        filters: v5::SubscribeFilters<Bytes>,
        /// Subscription Identifier and User Properties.
        properties: SubscribeProperties<Bytes>,
    },
    /// A 5.0 unsubscribe.
    UnsubscribeV5 {
        /// The filters.
        filters: v5::UnsubscribeFilters<Bytes>,
        /// User Properties.
        properties: UnsubscribeProperties<Bytes>,
    },
}

impl Subs {
    fn stored(&self) -> StoredCommand {
        match self {
            Subs::V311(f) => StoredCommand::Subscribe(f.clone()),
            Subs::V5 {
                filters,
                properties,
            } => StoredCommand::SubscribeV5 {
                filters: filters.clone(),
                properties: properties.clone(),
            },
        }
    }
}

impl Unsubs {
    fn stored(&self) -> StoredCommand {
        match self {
            Unsubs::V311(f) => StoredCommand::Unsubscribe(f.clone()),
            Unsubs::V5 {
                filters,
                properties,
            } => StoredCommand::UnsubscribeV5 {
                filters: filters.clone(),
                properties: properties.clone(),
            },
        }
    }
}

/// A stored command in the version of the session restoring it (`None`: it cannot be
/// carried over, e.g. a 3.1.1 filter that is not a valid 5.0 shared subscription).
enum Restored {
    Publish(Message),
    Subscribe(Subs),
    Unsubscribe(Unsubs),
}

fn restored(command: StoredCommand, v5: bool) -> Option<Restored> {
    Some(match (command, v5) {
        (StoredCommand::Publish(m), _) => Restored::Publish(m),
        (StoredCommand::Subscribe(f), false) => Restored::Subscribe(Subs::V311(f)),
        (StoredCommand::Subscribe(f), true) => {
            let items: Vec<_> = f
                .iter()
                .map(|(f, q)| (f, SubscriptionOptions::new(q)))
                .collect();
            Restored::Subscribe(Subs::V5 {
                filters: v5::SubscribeFilters::from_items(&items).ok()?,
                properties: SubscribeProperties::default(),
            })
        }
        (StoredCommand::SubscribeV5 { filters, .. }, false) => {
            let items: Vec<_> = filters.iter().map(|(f, o)| (f, o.qos)).collect();
            Restored::Subscribe(Subs::V311(SubscribeFilters::from_items(&items).ok()?))
        }
        (
            StoredCommand::SubscribeV5 {
                filters,
                properties,
            },
            true,
        ) => Restored::Subscribe(Subs::V5 {
            filters,
            properties,
        }),
        (StoredCommand::Unsubscribe(f), false) => Restored::Unsubscribe(Unsubs::V311(f)),
        (StoredCommand::Unsubscribe(f), true) => {
            let items: Vec<_> = f.iter().collect();
            Restored::Unsubscribe(Unsubs::V5 {
                filters: v5::UnsubscribeFilters::from_items(&items).ok()?,
                properties: UnsubscribeProperties::default(),
            })
        }
        (StoredCommand::UnsubscribeV5 { filters, .. }, false) => {
            let items: Vec<_> = filters.iter().collect();
            Restored::Unsubscribe(Unsubs::V311(UnsubscribeFilters::from_items(&items).ok()?))
        }
        (
            StoredCommand::UnsubscribeV5 {
                filters,
                properties,
            },
            true,
        ) => Restored::Unsubscribe(Unsubs::V5 {
            filters,
            properties,
        }),
    })
}

impl Session {
    /// A copy of the durable state, for a store to keep.
    pub fn export_state(&self) -> SessionState {
        let inflight = self
            .ops_in_order()
            .into_iter()
            .filter_map(|id| {
                let op = self.ops.get(&id)?;
                let packet_id = PacketId::new(id)?;
                let (command, released) = match &op.kind {
                    OpKind::Publish {
                        publish,
                        props,
                        stage,
                    } => (
                        StoredCommand::Publish(Message {
                            topic: publish.topic.clone(),
                            payload: publish.payload.clone(),
                            qos: publish.qos(),
                            retain: publish.retain,
                            properties: props.as_ref().map(|p| Box::new(p.properties.clone())),
                        }),
                        *stage == Stage::AwaitComp,
                    ),
                    OpKind::Subscribe { filters, .. } => (filters.stored(), false),
                    OpKind::Unsubscribe { filters } => (filters.stored(), false),
                };
                Some(StoredOp {
                    op: op.op.get(),
                    packet_id,
                    command,
                    released,
                })
            })
            .collect();
        let queued = self
            .pending
            .iter()
            .map(|p| StoredQueued {
                op: p.op.get(),
                command: match &p.kind {
                    PendingKind::Publish(m) => StoredCommand::Publish(m.clone()),
                    PendingKind::Subscribe(f) => f.stored(),
                    PendingKind::Unsubscribe(f) => f.stored(),
                },
            })
            .collect();
        let inbound_qos2 = self
            .inbound_qos2
            .iter()
            .filter_map(|(id, st)| Some((PacketId::new(*id)?, *st == Inbound::RecSent)))
            .collect();
        SessionState {
            inflight,
            queued,
            inbound_qos2,
            subscriptions: self
                .subscriptions
                .iter()
                .map(|(f, g)| (f.clone(), g.qos))
                .collect(),
            subscription_options: match self.v5 {
                Some(_) => self
                    .subscriptions
                    .iter()
                    .map(|(f, g)| (f.clone(), g.options, g.id))
                    .collect(),
                None => Vec::new(),
            },
            next_packet_id: self.next_packet_id,
        }
    }

    /// A disconnected session holding `state`, and the operation handles of its
    /// stored in-flight operations and queued commands, in the state's order: the
    /// handles they had ([`StoredOp::op`]), so completions of a resumed session match
    /// what a store recorded; a missing (0) or repeated one gets a new handle. Connect
    /// it with `clean_session` off to resume: in-flight work is re-sent as the broker
    /// expects ([MQTT-4.4.0-1]).
    pub fn restore(config: Config, state: SessionState) -> (Session, Vec<OpId>) {
        let mut s = Session::new(config);
        let mut ops = Vec::new();
        let stored_ops = state
            .inflight
            .iter()
            .map(|o| o.op)
            .chain(state.queued.iter().map(|q| q.op));
        s.next_op = stored_ops.max().unwrap_or(0).saturating_add(1).max(1);
        let mut taken = alloc::collections::BTreeSet::new();
        let mut handle = |s: &mut Session, stored: u64| {
            if stored != 0 && taken.insert(stored) {
                OpId(stored)
            } else {
                s.new_op()
            }
        };
        let v5 = s.v5.is_some();
        for stored in state.inflight {
            let Some(command) = restored(stored.command, v5) else {
                continue;
            };
            let kind = match command {
                Restored::Publish(mut m) => {
                    if m.qos == QoS::AtMostOnce {
                        continue; // never in flight; nothing to resume
                    }
                    let qos = m.qos;
                    let props = m.properties.take().map(|p| {
                        Box::new(OpProps {
                            properties: *p,
                            accepted: None,
                        })
                    });
                    let mut publish = m.into_publish(stored.packet_id);
                    // 5.0 marks a publish DUP once handed out (see `encode_op_v5`); a
                    // stored one may have been, before the process died.
                    publish.dup = v5;
                    let released = stored.released && qos == QoS::ExactlyOnce;
                    if released {
                        publish.payload = Bytes::new(); // never sent again
                    }
                    let stage = if released {
                        Stage::AwaitComp
                    } else {
                        Stage::AwaitAck
                    };
                    OpKind::Publish {
                        publish,
                        props,
                        stage,
                    }
                }
                Restored::Subscribe(filters) => OpKind::Subscribe {
                    filters,
                    internal: false,
                },
                Restored::Unsubscribe(filters) => OpKind::Unsubscribe { filters },
            };
            if s.ops.contains_key(&stored.packet_id.get()) {
                continue; // a corrupt state with a duplicate id: keep the first
            }
            let op = handle(&mut s, stored.op);
            ops.push(op);
            s.insert_op(stored.packet_id, op, kind);
        }
        for queued in state.queued {
            let Some(command) = restored(queued.command, v5) else {
                continue;
            };
            let op = handle(&mut s, queued.op);
            ops.push(op);
            let kind = match command {
                Restored::Publish(m) => PendingKind::Publish(m),
                Restored::Subscribe(f) => PendingKind::Subscribe(f),
                Restored::Unsubscribe(f) => PendingKind::Unsubscribe(f),
            };
            // Its expiry counts from when the restored session first looks at it.
            s.pending_requests += usize::from(kind.is_request());
            s.pending.push_back(Pending {
                op,
                kind,
                accepted: None,
            });
        }
        for (id, rec_sent) in state.inbound_qos2 {
            // Delivered but never acked: this process has no handle to ack it with, so
            // forget the id and let the broker's resend deliver it again.
            if !rec_sent {
                continue;
            }
            s.inbound_qos2.insert(id.get(), Inbound::RecSent);
        }
        let options: alloc::collections::BTreeMap<_, _> = state
            .subscription_options
            .into_iter()
            .map(|(f, o, id)| (f, (o, id)))
            .collect();
        s.subscriptions = state
            .subscriptions
            .into_iter()
            .map(|(f, qos)| {
                let (options, id) = options
                    .get(&f)
                    .copied()
                    .unwrap_or((SubscriptionOptions::new(qos), None));
                (f, Granted { qos, options, id })
            })
            .collect();
        s.next_packet_id = state.next_packet_id.max(1);
        (s, ops)
    }
}
