//! B. Inputs from the transport: bytes and closure; what each broker packet does.

use alloc::vec::Vec;

use bytes::{Buf, Bytes, BytesMut};
use mqtt_proto::{
    Connack, ConnectReturnCode, DecodeOptions, FixedHeader, Packet, PacketId, PacketType,
    PublishFrame, QoS, QosPid, Suback, SubackReturnCode, SubscribeFilters,
};

use crate::session::{Granted, Inbound, Op, OpKind, Stage, State, Subs, Unsubs};
use crate::{DisconnectReason, Event, Incoming, Instant, Outcome, ProtocolError, Session, StoreOp};

impl Session {
    /// Feeds bytes read from the transport. Every whole packet at the front of `buf`
    /// is consumed; a partial packet stays for the next call. Incoming payloads are
    /// views of `buf`'s memory, never copies.
    ///
    /// A malformed or oversized packet, or a protocol violation, ends the connection
    /// (an [`Event::Disconnected`] with [`DisconnectReason::Protocol`]); the caller then
    /// closes the transport.
    pub fn handle_read(&mut self, now: Instant, buf: &mut BytesMut) {
        self.tick(now);
        if self.v5.is_some() {
            self.read_v5(buf);
            return;
        }
        let opts = DecodeOptions::with_max_packet_size(self.config.max_packet_size);
        while self.state != State::Disconnected {
            // The fixed header alone says whether the packet is whole, and refuses an
            // oversized one before its body arrives.
            let header = match FixedHeader::decode(buf, &opts) {
                Ok(Some(header)) => header,
                Ok(None) => break,
                Err(e) => {
                    self.close(DisconnectReason::Protocol(ProtocolError::Decode(e)));
                    break;
                }
            };
            let len = header.packet_len();
            if buf.len() < len {
                break;
            }
            self.stats.packets_received += 1;
            self.stats.bytes_received += len as u64;
            self.last_received = self.now;
            let handled = match header.packet_type {
                // One view of the read buffer per message: its payload is never copied.
                PacketType::Publish => {
                    match PublishFrame::decode(mqtt_proto::take_packet(buf, len), &header) {
                        Ok(p) if self.state == State::Connected => self.on_publish(p, None),
                        Ok(_) => Err(ProtocolError::UnexpectedPacket(PacketType::Publish)),
                        Err(e) => Err(ProtocolError::Decode(e)),
                    }
                }
                // Acknowledgements carry no bytes to keep: decoded in place.
                PacketType::Puback
                | PacketType::Pubrec
                | PacketType::Pubrel
                | PacketType::Pubcomp
                | PacketType::Unsuback
                | PacketType::Pingresp
                    if self.state == State::Connected =>
                {
                    let packet = Packet::<&[u8]>::decode_frame(&&buf[..len], &header, &opts);
                    let handled = match packet {
                        Ok(Packet::Puback(id)) => self.on_ack(PacketType::Puback, id),
                        Ok(Packet::Pubrec(id)) => self.on_pubrec(id),
                        Ok(Packet::Pubrel(id)) => self.on_pubrel(id),
                        Ok(Packet::Pubcomp(id)) => self.on_ack(PacketType::Pubcomp, id),
                        Ok(Packet::Unsuback(id)) => self.on_unsuback(id),
                        Ok(Packet::Pingresp) => {
                            self.ping_deadline = None;
                            Ok(())
                        }
                        Ok(other) => Err(ProtocolError::UnexpectedPacket(other.packet_type())),
                        Err(e) => Err(ProtocolError::Decode(e)),
                    };
                    buf.advance(len);
                    handled
                }
                _ => {
                    let frame = mqtt_proto::take_packet(buf, len);
                    match Packet::decode_frame(&frame, &header, &opts) {
                        Ok(packet) => self.on_packet(packet),
                        Err(e) => Err(ProtocolError::Decode(e)),
                    }
                }
            };
            if let Err(e) = handled {
                self.close(DisconnectReason::Protocol(e));
            }
        }
    }

    /// The transport closed or failed. Unacknowledged work is kept for the next
    /// [`Session::connect`].
    pub fn handle_transport_closed(&mut self, now: Instant) {
        self.tick(now);
        self.close(DisconnectReason::TransportClosed);
    }

    fn on_packet(&mut self, packet: Packet<Bytes>) -> Result<(), ProtocolError> {
        if self.state == State::Connecting {
            // [MQTT-3.2.0-1]: the first packet from the server is CONNACK.
            return match packet {
                Packet::Connack(c) => self.on_connack(c),
                other => Err(ProtocolError::UnexpectedPacket(other.packet_type())),
            };
        }
        match packet {
            // The read loop hands PUBLISH frames to `on_publish`; none arrive here.
            Packet::Publish(_) => Err(ProtocolError::UnexpectedPacket(PacketType::Publish)),
            Packet::Puback(id) => self.on_ack(PacketType::Puback, id),
            Packet::Pubrec(id) => self.on_pubrec(id),
            Packet::Pubrel(id) => self.on_pubrel(id),
            Packet::Pubcomp(id) => self.on_ack(PacketType::Pubcomp, id),
            Packet::Suback(s) => self.on_suback(s),
            Packet::Unsuback(id) => self.on_unsuback(id),
            Packet::Pingresp => {
                self.ping_deadline = None;
                Ok(())
            }
            // A second CONNACK, or packets only a client sends.
            other => Err(ProtocolError::UnexpectedPacket(other.packet_type())),
        }
    }

    fn on_connack(&mut self, c: Connack) -> Result<(), ProtocolError> {
        if c.code != ConnectReturnCode::Accepted {
            self.close(DisconnectReason::Refused(c.code));
            return Ok(());
        }
        if c.session_present && self.config.clean_session {
            return Err(ProtocolError::SessionPresentOnCleanSession); // [MQTT-3.2.2-1]
        }
        self.accepted(c.session_present);
        Ok(())
    }

    /// The broker accepted the connection (either version).
    pub(crate) fn accepted(&mut self, session_present: bool) {
        self.state = State::Connected;
        self.stats.connects += 1;
        if !session_present {
            self.session_lost();
        }
        self.events.push_back(Event::Connected { session_present });
        self.resend(session_present);
        self.pump();
    }

    /// The broker holds no session: what it had of ours is gone. Incoming QoS 2 ids
    /// are forgotten; unacknowledged publishes are published again as new (or fail);
    /// subscriptions are made again.
    fn session_lost(&mut self) {
        let had_state =
            !self.ops.is_empty() || !self.inbound_qos2.is_empty() || !self.subscriptions.is_empty();
        if !self.inbound_qos2.is_empty() {
            self.journal(|| StoreOp::InboundCleared);
        }
        self.inbound_qos2.clear();
        self.broker_session = self.broker_session.wrapping_add(1);
        let (mut republished, mut failed) = (0, 0);
        for id in self.ops_in_order() {
            let Some(op) = self.ops.get_mut(&id) else {
                continue;
            };
            match &mut op.kind {
                OpKind::Publish {
                    stage: Stage::AwaitComp,
                    ..
                } => {
                    // PUBREC came: the broker owned the message from then on.
                    let op = op.op;
                    self.remove_op(id);
                    self.journal(|| StoreOp::Complete { op: op.get() });
                    self.events.push_back(Event::Completed {
                        op,
                        outcome: Outcome::Acknowledged,
                    });
                }
                OpKind::Publish { .. } if !self.config.republish_on_session_loss => {
                    let op = op.op;
                    self.remove_op(id);
                    self.journal(|| StoreOp::Complete { op: op.get() });
                    failed += 1;
                    self.events.push_back(Event::Completed {
                        op,
                        outcome: Outcome::SessionLost,
                    });
                }
                // Sent again below as a new message (DUP clear), same identifier.
                OpKind::Publish { .. } => republished += 1,
                OpKind::Subscribe { .. } | OpKind::Unsubscribe { .. } => {}
            }
        }
        let mut resubscribed = 0;
        if self.config.resubscribe_on_session_loss && !self.subscriptions.is_empty() {
            resubscribed = self.subscriptions.len();
            let requests = if self.v5.is_some() {
                self.resubscriptions_v5()
            } else {
                let items: Vec<_> = self
                    .subscriptions
                    .iter()
                    .map(|(f, g)| (f.clone(), g.qos))
                    .collect();
                SubscribeFilters::from_items(&items)
                    .map(Subs::V311)
                    .into_iter()
                    .collect()
            };
            for filters in requests {
                if let Some(pid) = self.alloc_packet_id() {
                    let op = self.new_op();
                    // Goes first: messages published after it may loop back to us.
                    let kind = OpKind::Subscribe {
                        filters,
                        internal: true,
                    };
                    self.insert_op_first(pid, op, kind);
                }
            }
        }
        if had_state && !self.config.clean_session {
            self.events.push_back(Event::SessionLost {
                republished,
                failed,
                resubscribed,
            });
        }
    }

    /// Sends again, in original order, what awaits acknowledgement [MQTT-4.4.0-1]:
    /// PUBLISH (DUP set if the broker kept the session [MQTT-3.3.1-1]), PUBREL, and
    /// SUBSCRIBE / UNSUBSCRIBE. Under 5.0, within what the new connection allows (see
    /// `resend_v5`).
    fn resend(&mut self, session_present: bool) {
        if self.v5.is_some() {
            self.resend_v5(session_present);
            return;
        }
        for id in self.ops_in_order() {
            let Some(op) = self.ops.get_mut(&id) else {
                continue;
            };
            let Some(pid) = PacketId::new(id) else {
                continue;
            };
            let op_id = op.op;
            match &mut op.kind {
                OpKind::Publish {
                    publish,
                    stage: Stage::AwaitAck,
                    ..
                } => {
                    publish.dup = session_present;
                    self.send_op(pid, op_id);
                    self.stats.resends += 1;
                }
                OpKind::Publish {
                    stage: Stage::AwaitComp,
                    ..
                } => {
                    self.send(Packet::Pubrel(pid));
                    self.stats.resends += 1;
                }
                OpKind::Subscribe { .. } | OpKind::Unsubscribe { .. } => {
                    self.send_op(pid, op_id);
                }
            }
        }
    }

    /// An incoming PUBLISH (either version); `aliased_topic` is the topic its 5.0 Topic
    /// Alias stood for, when it came without a topic name.
    pub(crate) fn on_publish(
        &mut self,
        publish: PublishFrame,
        aliased_topic: Option<mqtt_proto::TopicName<Bytes>>,
    ) -> Result<(), ProtocolError> {
        self.stats.publishes_received += 1;
        match publish.qos_pid() {
            QosPid::AtMostOnce => {
                self.events.push_back(Event::Message(Incoming {
                    publish,
                    delivery: None,
                    aliased_topic,
                }));
            }
            QosPid::AtLeastOnce(id) => {
                let delivery = self.delivery(id, publish.qos());
                if delivery.is_some() {
                    self.unacked_qos1.insert(id.get());
                    self.ack_order.push_back((id, QoS::AtLeastOnce, false));
                } else {
                    self.send(Packet::Puback(id));
                }
                self.events.push_back(Event::Message(Incoming {
                    publish,
                    delivery,
                    aliased_topic,
                }));
            }
            // [MQTT-4.3.3-2]: deliver once; the id stays reserved until PUBREL, and a
            // re-sent PUBLISH with it is answered, not delivered again.
            QosPid::ExactlyOnce(id) => match self.inbound_qos2.get(&id.get()) {
                None => {
                    let delivery = self.delivery(id, publish.qos());
                    if delivery.is_some() {
                        self.inbound_qos2.insert(id.get(), Inbound::AwaitingAppAck);
                        self.ack_order.push_back((id, QoS::ExactlyOnce, false));
                    } else {
                        self.inbound_qos2.insert(id.get(), Inbound::RecSent);
                        self.journal(|| StoreOp::InboundReceived { packet_id: id });
                        self.send(Packet::Pubrec(id));
                    }
                    self.events.push_back(Event::Message(Incoming {
                        publish,
                        delivery,
                        aliased_topic,
                    }));
                }
                Some(Inbound::RecSent) => self.send(Packet::Pubrec(id)),
                Some(Inbound::AwaitingAppAck) => {} // PUBREC goes when the app acks
            },
        }
        Ok(())
    }

    /// PUBACK (QoS 1) or PUBCOMP (QoS 2): the flow is complete.
    pub(crate) fn on_ack(
        &mut self,
        packet_type: PacketType,
        id: PacketId,
    ) -> Result<(), ProtocolError> {
        self.on_ack_as(packet_type, id, Outcome::Acknowledged)
    }

    /// [`Session::on_ack`], completing with `outcome` (a 5.0 PUBACK may refuse).
    pub(crate) fn on_ack_as(
        &mut self,
        packet_type: PacketType,
        id: PacketId,
        outcome: Outcome,
    ) -> Result<(), ProtocolError> {
        let expected = match self.ops.get(&id.get()) {
            Some(Op {
                kind: OpKind::Publish { publish, stage, .. },
                ..
            }) => match packet_type {
                PacketType::Puback => matches!(publish.qos_pid, QosPid::AtLeastOnce(_)),
                _ => *stage == Stage::AwaitComp,
            },
            _ => false,
        };
        if !expected {
            return Err(ProtocolError::UnknownPacketId {
                packet_type,
                packet_id: id.get(),
            });
        }
        if let Some(op) = self.remove_op(id.get()) {
            self.journal(|| StoreOp::Complete { op: op.op.get() });
            self.events
                .push_back(Event::Completed { op: op.op, outcome });
        }
        self.pump();
        Ok(())
    }

    /// PUBREC: the broker has the message; release it. The PUBLISH is never sent
    /// again after this, only PUBREL [MQTT-4.3.3-1].
    pub(crate) fn on_pubrec(&mut self, id: PacketId) -> Result<(), ProtocolError> {
        match self.ops.get_mut(&id.get()) {
            Some(Op {
                op,
                kind: OpKind::Publish { publish, stage, .. },
                ..
            }) if matches!(publish.qos_pid, QosPid::ExactlyOnce(_)) => {
                // A repeated PUBREC (after a resend) is answered again.
                let first = *stage == Stage::AwaitAck;
                *stage = Stage::AwaitComp;
                let op = op.get();
                // Keep the payload no longer than needed.
                publish.payload = Bytes::new();
                if first {
                    // Durable before PUBREL goes: a PUBLISH re-sent after the broker
                    // released the id would be a new message to it.
                    self.journal(|| StoreOp::Release { op });
                }
                self.send(Packet::Pubrel(id));
                Ok(())
            }
            _ => Err(ProtocolError::UnknownPacketId {
                packet_type: PacketType::Pubrec,
                packet_id: id.get(),
            }),
        }
    }

    /// PUBREL: forget the id and complete with PUBCOMP, also for an unknown id (its
    /// PUBCOMP may have been lost) [MQTT-4.3.3-2].
    pub(crate) fn on_pubrel(&mut self, id: PacketId) -> Result<(), ProtocolError> {
        if self.inbound_qos2.get(&id.get()) == Some(&Inbound::AwaitingAppAck) {
            return Err(ProtocolError::PubrelBeforePubrec(id.get()));
        }
        if self.inbound_qos2.remove(&id.get()).is_some() {
            self.journal(|| StoreOp::InboundReleased { packet_id: id });
        }
        self.send(Packet::Pubcomp(id));
        Ok(())
    }

    fn on_suback(&mut self, s: Suback<Bytes>) -> Result<(), ProtocolError> {
        let id = s.packet_id.get();
        let Some(Op {
            kind:
                OpKind::Subscribe {
                    filters: Subs::V311(filters),
                    ..
                },
            ..
        }) = self.ops.get(&id)
        else {
            return Err(ProtocolError::UnknownPacketId {
                packet_type: PacketType::Suback,
                packet_id: id,
            });
        };
        let (expected, got) = (filters.len(), s.codes.len());
        if expected != got {
            return Err(ProtocolError::SubackCountMismatch { expected, got }); // [MQTT-3.8.4-5]
        }
        let granted: Vec<_> = filters.iter().zip(s.codes.iter()).collect();
        for ((filter, asked), code) in granted {
            match code {
                SubackReturnCode::Success(qos) => {
                    let g = Granted {
                        qos,
                        options: mqtt_proto::v5::SubscriptionOptions::new(asked),
                        id: None,
                    };
                    self.subscriptions.insert(filter, g);
                }
                SubackReturnCode::Failure => {
                    self.subscriptions.remove(&filter);
                }
            }
        }
        self.complete_subscribe(id, Outcome::Subscribed(s.codes));
        Ok(())
    }

    /// Ends a SUBSCRIBE (either version) once its SUBACK is applied: the application
    /// hears of it unless the session subscribed on its own (after a lost session).
    pub(crate) fn complete_subscribe(&mut self, id: u16, outcome: Outcome) {
        if let Some(Op {
            op,
            kind: OpKind::Subscribe { internal, .. },
            ..
        }) = self.remove_op(id)
        {
            if !internal {
                self.events.push_back(Event::Completed { op, outcome });
            }
        }
        self.pump();
    }

    fn on_unsuback(&mut self, id: PacketId) -> Result<(), ProtocolError> {
        let Some(Op {
            kind:
                OpKind::Unsubscribe {
                    filters: Unsubs::V311(filters),
                },
            ..
        }) = self.ops.get(&id.get())
        else {
            return Err(ProtocolError::UnknownPacketId {
                packet_type: PacketType::Unsuback,
                packet_id: id.get(),
            });
        };
        for filter in filters.iter() {
            self.subscriptions.remove(&filter);
        }
        if let Some(op) = self.remove_op(id.get()) {
            self.events.push_back(Event::Completed {
                op: op.op,
                outcome: Outcome::Unsubscribed,
            });
        }
        self.pump();
        Ok(())
    }
}
