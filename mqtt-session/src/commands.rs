//! C. Commands: connect, publish, subscribe, unsubscribe, ack, disconnect.

use bytes::Bytes;
use mqtt_proto::{
    varint, Connect, Packet, PacketId, ProtocolVersion, QoS, SubscribeFilters, TopicFilter,
    UnsubscribeFilters,
};

use crate::session::{Inbound, OpKind, Pending, PendingKind, SendItem, Stage, State};
use crate::{DeliveryId, DisconnectReason, Error, Instant, Message, OpId, Session, StoreOp};

impl Session {
    /// Starts a connection over a transport the caller has just opened: queues
    /// CONNECT [MQTT-3.1.0-1]. Call it again after every `Disconnected` event, on a new
    /// transport, to resume.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        if self.state != State::Disconnected {
            return Err(Error::AlreadyConnected);
        }
        let c = &self.config;
        let connect = Connect {
            protocol: ProtocolVersion::V311,
            clean_session: c.clean_session,
            keep_alive: c.keep_alive_secs(),
            client_id: c.client_id.clone(),
            will: c.will.clone(),
            username: c.username.clone(),
            password: c.password.clone(),
        };
        let packet = Packet::Connect(connect);
        packet.encoded_len().map_err(Error::InvalidConnect)?;
        self.tick(now);
        self.epoch = self.epoch.wrapping_add(1);
        self.state = State::Connecting;
        self.connect_deadline = now + self.config.connect_timeout;
        self.ping_deadline = None;
        self.last_sent = now;
        self.last_received = now;
        self.unacked_qos1.clear();
        self.sendq.clear();
        self.out.clear();
        // First out, before anything queued after it [MQTT-3.1.0-1].
        let _ = packet.encode_to(&mut self.out);
        Ok(())
    }

    /// Publishes a message. QoS 0 completes when it is handed to the transport, QoS 1
    /// on PUBACK, QoS 2 on PUBCOMP ([`crate::Event::Completed`]). While disconnected,
    /// or when `max_inflight` publishes await acknowledgement, it waits in order in a
    /// queue of at most `max_queued` commands.
    pub fn publish(&mut self, now: Instant, message: Message) -> Result<OpId, Error> {
        let body = 2 + message.topic.as_bytes().len() + 2 + message.payload.len();
        if body > varint::MAX_REMAINING_LENGTH as usize {
            return Err(Error::PacketTooLarge);
        }
        self.enqueue(now, PendingKind::Publish(message))
    }

    /// Subscribes to topic filters, each with the maximum QoS wanted. Completes with
    /// the broker's return code per filter.
    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: &[(TopicFilter<Bytes>, QoS)],
    ) -> Result<OpId, Error> {
        let filters = SubscribeFilters::from_items(filters).map_err(|_| Error::NoFilters)?;
        if filters.as_wire().len() + 2 > varint::MAX_REMAINING_LENGTH as usize {
            return Err(Error::PacketTooLarge);
        }
        self.enqueue(now, PendingKind::Subscribe(filters))
    }

    /// Unsubscribes from topic filters.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: &[TopicFilter<Bytes>],
    ) -> Result<OpId, Error> {
        let filters = UnsubscribeFilters::from_items(filters).map_err(|_| Error::NoFilters)?;
        if filters.as_wire().len() + 2 > varint::MAX_REMAINING_LENGTH as usize {
            return Err(Error::PacketTooLarge);
        }
        self.enqueue(now, PendingKind::Unsubscribe(filters))
    }

    /// Acknowledges an incoming QoS 1 or 2 message (manual-ack mode): sends its PUBACK,
    /// or its PUBREC. An ack for a delivery of an earlier connection is accepted and
    /// dropped for QoS 1 (the broker delivers it again), and still answered for QoS 2
    /// (its identifier stays reserved until PUBREL).
    pub fn ack(&mut self, now: Instant, delivery: DeliveryId) -> Result<(), Error> {
        if !self.config.manual_acks {
            return Err(Error::ManualAcksDisabled);
        }
        self.tick(now);
        let id = delivery.packet_id;
        match delivery.qos {
            QoS::AtLeastOnce => {
                if delivery.epoch != self.epoch {
                    return Ok(());
                }
                if !self.unacked_qos1.remove(&id.get()) {
                    return Err(Error::UnknownDelivery);
                }
                if self.state == State::Connected {
                    self.send(Packet::Puback(id));
                }
            }
            // The broker lost the session the delivery came in: its id now belongs to
            // another message, and the broker will not want this one acknowledged.
            _ if delivery.broker_session != self.broker_session => {}
            _ => match self.inbound_qos2.get_mut(&id.get()) {
                Some(state @ Inbound::AwaitingAppAck) => {
                    *state = Inbound::RecSent;
                    self.journal(|| StoreOp::InboundReceived { packet_id: id });
                    // Disconnected: the broker re-sends the PUBLISH, answered then.
                    if self.state == State::Connected {
                        self.send(Packet::Pubrec(id));
                    }
                }
                // Acked already, or the broker's session (and the id) is gone.
                Some(Inbound::RecSent) => return Err(Error::UnknownDelivery),
                None if delivery.epoch == self.epoch => return Err(Error::UnknownDelivery),
                None => {}
            },
        }
        Ok(())
    }

    /// Ends the connection cleanly: sends DISCONNECT, so the broker discards the will
    /// [MQTT-3.1.2-10]. Queued and unacknowledged commands stay for the next connect.
    /// The caller closes the transport once the last transmit is written.
    pub fn disconnect(&mut self, now: Instant) {
        self.tick(now);
        if self.state == State::Connected {
            // Packets already queued still go out first, then DISCONNECT.
            self.send(Packet::Disconnect);
            self.state = State::Disconnected;
            self.ping_deadline = None;
            self.events.push_back(crate::Event::Disconnected {
                reason: DisconnectReason::Local,
            });
        } else {
            self.close(DisconnectReason::Local);
        }
    }

    fn enqueue(&mut self, now: Instant, kind: PendingKind) -> Result<OpId, Error> {
        if self.pending.len() >= self.config.max_queued {
            return Err(Error::QueueFull);
        }
        self.tick(now);
        let op = self.new_op();
        if let PendingKind::Publish(m) = &kind {
            if m.qos != QoS::AtMostOnce {
                self.journal(|| StoreOp::Publish {
                    op: op.get(),
                    message: m.clone(),
                });
            }
        }
        self.pending.push_back(Pending { op, kind });
        self.pump();
        Ok(op)
    }

    /// Moves queued commands to the send queue while the connection, the in-flight
    /// window and free packet identifiers allow, in order.
    pub(crate) fn pump(&mut self) {
        while self.state == State::Connected {
            let Some(front) = self.pending.front() else {
                return;
            };
            let needs_window =
                matches!(&front.kind, PendingKind::Publish(m) if m.qos != QoS::AtMostOnce);
            if needs_window {
                let window = usize::from(self.config.max_inflight.max(1));
                if self.inflight_publishes >= window {
                    self.window_full = true;
                    return;
                }
                // Once the window filled up, refill it in batches (an eighth of it at
                // a time) rather than one message per acknowledgement: one write then
                // carries many publishes. Acks keep coming while any are in flight, so
                // waiting for a batch never stalls.
                if self.window_full && window - self.inflight_publishes < (window / 8).max(1) {
                    return;
                }
                self.window_full = false;
            }
            let is_qos0 =
                matches!(&front.kind, PendingKind::Publish(m) if m.qos == QoS::AtMostOnce);
            let packet_id = if is_qos0 {
                None
            } else {
                match self.alloc_packet_id() {
                    Some(id) => Some(id),
                    None => return, // all 65,535 in use: wait for an ack
                }
            };
            let Some(Pending { op, kind }) = self.pending.pop_front() else {
                return;
            };
            match (kind, packet_id) {
                (PendingKind::Publish(message), None) => {
                    self.sendq.push_back(SendItem::Qos0 { op, message });
                }
                (PendingKind::Publish(m), Some(pid)) => {
                    self.journal(|| StoreOp::Assign {
                        op: op.get(),
                        packet_id: pid,
                    });
                    let kind = OpKind::Publish {
                        publish: m.into_publish(pid),
                        stage: Stage::AwaitAck,
                    };
                    self.insert_op(pid, op, kind);
                    self.send_op(pid, op);
                }
                (PendingKind::Subscribe(filters), Some(pid)) => {
                    let kind = OpKind::Subscribe {
                        filters,
                        internal: false,
                    };
                    self.insert_op(pid, op, kind);
                    self.send_op(pid, op);
                }
                (PendingKind::Unsubscribe(filters), Some(pid)) => {
                    self.insert_op(pid, op, OpKind::Unsubscribe { filters });
                    self.send_op(pid, op);
                }
                // Only QoS 0 publishes go without an identifier (see above).
                (kind, None) => {
                    self.pending.push_front(Pending { op, kind });
                    return;
                }
            }
        }
    }

    /// Records the latest time seen; time never goes backwards.
    pub(crate) fn tick(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    /// The delivery handle of an incoming QoS 1/2 message, in manual-ack mode.
    pub(crate) fn delivery(&self, packet_id: PacketId, qos: QoS) -> Option<DeliveryId> {
        self.config.manual_acks.then_some(DeliveryId {
            packet_id,
            qos,
            epoch: self.epoch,
            broker_session: self.broker_session,
        })
    }
}
