//! Durable state: what a store keeps so a session survives a process restart.

use alloc::vec::Vec;

use bytes::Bytes;
use mqtt_proto::{PacketId, QoS, SubscribeFilters, TopicFilter, UnsubscribeFilters};

use crate::session::{Inbound, OpKind, Pending, PendingKind, Stage};
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
    /// A publish (its payload is empty once released).
    Publish(Message),
    /// A subscribe.
    Subscribe(SubscribeFilters<Bytes>),
    /// An unsubscribe.
    Unsubscribe(UnsubscribeFilters<Bytes>),
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
                    OpKind::Publish { publish, stage } => (
                        StoredCommand::Publish(Message {
                            topic: publish.topic.clone(),
                            payload: publish.payload.clone(),
                            qos: publish.qos(),
                            retain: publish.retain,
                        }),
                        *stage == Stage::AwaitComp,
                    ),
                    OpKind::Subscribe { filters, .. } => {
                        (StoredCommand::Subscribe(filters.clone()), false)
                    }
                    OpKind::Unsubscribe { filters } => {
                        (StoredCommand::Unsubscribe(filters.clone()), false)
                    }
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
                    PendingKind::Subscribe(f) => StoredCommand::Subscribe(f.clone()),
                    PendingKind::Unsubscribe(f) => StoredCommand::Unsubscribe(f.clone()),
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
                .map(|(f, q)| (f.clone(), *q))
                .collect(),
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
        for stored in state.inflight {
            let kind = match stored.command {
                StoredCommand::Publish(m) => {
                    if m.qos == QoS::AtMostOnce {
                        continue; // never in flight; nothing to resume
                    }
                    let qos = m.qos;
                    let mut publish = m.into_publish(stored.packet_id);
                    let released = stored.released && qos == QoS::ExactlyOnce;
                    if released {
                        publish.payload = Bytes::new(); // never sent again
                    }
                    let stage = if released {
                        Stage::AwaitComp
                    } else {
                        Stage::AwaitAck
                    };
                    OpKind::Publish { publish, stage }
                }
                StoredCommand::Subscribe(filters) => OpKind::Subscribe {
                    filters,
                    internal: false,
                },
                StoredCommand::Unsubscribe(filters) => OpKind::Unsubscribe { filters },
            };
            if s.ops.contains_key(&stored.packet_id.get()) {
                continue; // a corrupt state with a duplicate id: keep the first
            }
            let op = handle(&mut s, stored.op);
            ops.push(op);
            s.insert_op(stored.packet_id, op, kind);
        }
        for queued in state.queued {
            let op = handle(&mut s, queued.op);
            ops.push(op);
            let kind = match queued.command {
                StoredCommand::Publish(m) => PendingKind::Publish(m),
                StoredCommand::Subscribe(f) => PendingKind::Subscribe(f),
                StoredCommand::Unsubscribe(f) => PendingKind::Unsubscribe(f),
            };
            s.pending.push_back(Pending { op, kind });
        }
        for (id, rec_sent) in state.inbound_qos2 {
            // Delivered but never acked: this process has no handle to ack it with, so
            // forget the id and let the broker's resend deliver it again.
            if !rec_sent {
                continue;
            }
            s.inbound_qos2.insert(id.get(), Inbound::RecSent);
        }
        s.subscriptions = state.subscriptions.into_iter().collect();
        s.next_packet_id = state.next_packet_id.max(1);
        (s, ops)
    }
}
