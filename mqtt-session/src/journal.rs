//! The journal: the durable changes of a session, in order, for a [`Store`] to keep.
//!
//! With [`crate::Config::durable`] on, every change a crash must not undo is queued as
//! a [`StoreOp`] and handed out by [`crate::Session::poll_store_op`]. The driver makes
//! them durable ([`Store::persist`]) before it writes anything more: until the queue
//! is drained, [`crate::Session::poll_transmit`] hands out nothing, so the broker never
//! learns of a state the store does not hold (write-ahead).
//!
//! Replaying the entries ([`SessionState::apply`]) rebuilds the state that
//! [`crate::Session::restore`] resumes from, in a new process.

use crate::{Message, SessionState, StoredCommand, StoredOp, StoredQueued};
use mqtt_proto::PacketId;

/// One durable change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreOp {
    /// A QoS 1 or 2 message was accepted (queued, no packet identifier yet).
    Publish {
        /// The operation's handle number ([`crate::OpId::get`]).
        op: u64,
        /// The message.
        message: Message,
    },
    /// The message took `packet_id` and is about to be sent with it.
    Assign {
        /// The operation.
        op: u64,
        /// Its packet identifier from now on (resends keep it).
        packet_id: PacketId,
    },
    /// PUBREC came (QoS 2): only PUBREL is ever sent again.
    Release {
        /// The operation.
        op: u64,
    },
    /// The flow ended (PUBACK, PUBCOMP, or the broker lost the session): forget it.
    Complete {
        /// The operation.
        op: u64,
    },
    /// An incoming QoS 2 message was delivered and its PUBREC is about to be sent:
    /// a re-sent PUBLISH with this identifier is not delivered again.
    InboundReceived {
        /// The broker's packet identifier.
        packet_id: PacketId,
    },
    /// PUBREL came for an incoming QoS 2 message: its identifier is free.
    InboundReleased {
        /// The broker's packet identifier.
        packet_id: PacketId,
    },
    /// The broker lost the session: every incoming QoS 2 identifier is free.
    InboundCleared,
}

/// Where a session's journal goes: a file, a database, flash memory.
///
/// The contract is only this: once `persist` returns `Ok`, the entries survive a
/// crash, in order; `load` gives back the state they build. How (and whether it does
/// I/O) is the implementation's business.
pub trait Store {
    /// Why persisting or loading failed.
    type Error: core::fmt::Debug + core::fmt::Display;

    /// Makes `ops` durable, after every entry persisted before.
    fn persist(&mut self, ops: &[StoreOp]) -> Result<(), Self::Error>;

    /// The state every entry persisted so far builds (empty for a new store).
    fn load(&mut self) -> Result<SessionState, Self::Error>;
}

impl SessionState {
    /// A state holding nothing.
    pub fn empty() -> SessionState {
        SessionState {
            inflight: alloc::vec::Vec::new(),
            queued: alloc::vec::Vec::new(),
            inbound_qos2: alloc::vec::Vec::new(),
            subscriptions: alloc::vec::Vec::new(),
            subscription_options: alloc::vec::Vec::new(),
            next_packet_id: 1,
        }
    }

    /// Applies one journal entry (replay). Entries that refer to nothing known are
    /// ignored: a store may keep more history than the state needs.
    pub fn apply(&mut self, op: &StoreOp) {
        match op {
            StoreOp::Publish { op, message } => {
                if !self.holds(*op) {
                    self.queued.push(StoredQueued {
                        op: *op,
                        command: StoredCommand::Publish(message.clone()),
                    });
                }
            }
            StoreOp::Assign { op, packet_id } => {
                if let Some(i) = self.queued.iter().position(|q| q.op == *op) {
                    let queued = self.queued.remove(i);
                    self.inflight.retain(|s| s.packet_id != *packet_id);
                    self.inflight.push(StoredOp {
                        op: *op,
                        packet_id: *packet_id,
                        command: queued.command,
                        released: false,
                    });
                    self.next_packet_id = packet_id.get().checked_add(1).unwrap_or(1);
                }
            }
            // The message is kept whole: whoever resumes the session can still tell
            // which message it was ([`crate::Session::restore`] drops the payload).
            StoreOp::Release { op } => {
                if let Some(s) = self.inflight.iter_mut().find(|s| s.op == *op) {
                    s.released = true;
                }
            }
            StoreOp::Complete { op } => {
                self.queued.retain(|q| q.op != *op);
                self.inflight.retain(|s| s.op != *op);
            }
            StoreOp::InboundReceived { packet_id } => {
                if !self.inbound_qos2.iter().any(|(id, _)| id == packet_id) {
                    self.inbound_qos2.push((*packet_id, true));
                }
            }
            StoreOp::InboundReleased { packet_id } => {
                self.inbound_qos2.retain(|(id, _)| id != packet_id);
            }
            StoreOp::InboundCleared => self.inbound_qos2.clear(),
        }
    }

    /// The entries that rebuild this state from nothing (what a store compacts its
    /// history into). Subscriptions are not journaled: the application makes them.
    pub fn to_ops(&self) -> alloc::vec::Vec<StoreOp> {
        let mut ops = alloc::vec::Vec::new();
        for s in &self.inflight {
            if let StoredCommand::Publish(m) = &s.command {
                ops.push(StoreOp::Publish {
                    op: s.op,
                    message: m.clone(),
                });
                ops.push(StoreOp::Assign {
                    op: s.op,
                    packet_id: s.packet_id,
                });
                if s.released {
                    ops.push(StoreOp::Release { op: s.op });
                }
            }
        }
        for q in &self.queued {
            if let StoredCommand::Publish(m) = &q.command {
                ops.push(StoreOp::Publish {
                    op: q.op,
                    message: m.clone(),
                });
            }
        }
        for (packet_id, rec_sent) in &self.inbound_qos2 {
            if *rec_sent {
                ops.push(StoreOp::InboundReceived {
                    packet_id: *packet_id,
                });
            }
        }
        ops
    }

    fn holds(&self, op: u64) -> bool {
        self.queued.iter().any(|q| q.op == op) || self.inflight.iter().any(|s| s.op == op)
    }
}

/// A [`Store`] in memory: the reference implementation, for tests and for
/// applications that only need the state to outlive a connection, not the process.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    ops: alloc::vec::Vec<StoreOp>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Every entry persisted, in order.
    pub fn ops(&self) -> &[StoreOp] {
        &self.ops
    }
}

impl Store for MemoryStore {
    type Error = core::convert::Infallible;

    fn persist(&mut self, ops: &[StoreOp]) -> Result<(), Self::Error> {
        self.ops.extend_from_slice(ops);
        Ok(())
    }

    fn load(&mut self) -> Result<SessionState, Self::Error> {
        let mut state = SessionState::empty();
        for op in &self.ops {
            state.apply(op);
        }
        Ok(state)
    }
}
