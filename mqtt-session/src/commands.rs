//! C. Commands: connect, publish, subscribe, unsubscribe, ack, disconnect.

use alloc::boxed::Box;

use bytes::{Bytes, BytesMut};
use mqtt_proto::v5::{
    self, AuthReasonCode, DisconnectProperties, DisconnectReasonCode, PropertyValues,
    SubscribeProperties, SubscriptionOptions, UnsubscribeProperties,
};
use mqtt_proto::{
    varint, Connect, EncodeError, Packet, PacketId, ProtocolVersion, QoS, SubscribeFilters,
    TopicFilter, UnsubscribeFilters,
};

use crate::session::{Inbound, OpKind, Pending, PendingKind, SendItem, Stage, State, Subs, Unsubs};
use crate::v5::{AuthState, OpProps};
use crate::{DeliveryId, DisconnectReason, Error, Instant, Message, OpId, Session, StoreOp};

impl Session {
    /// Starts a connection over a transport the caller has just opened: queues
    /// CONNECT [MQTT-3.1.0-1]. Call it again after every `Disconnected` event, on a new
    /// transport, to resume.
    ///
    /// Under 5.0, CONNECT carries the 5.0 settings of the [`crate::Config`] (Session
    /// Expiry Interval, Receive Maximum, Maximum Packet Size, Topic Alias Maximum,
    /// User Properties, Will Properties, and the [`crate::Authenticator`]'s method and
    /// first data), and the Client Identifier the server assigned, when ours is empty.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        if self.state != State::Disconnected {
            return Err(Error::AlreadyConnected);
        }
        let encoded = if self.v5.is_some() {
            self.connect_v5()?
        } else {
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
            let mut out = BytesMut::new();
            let _ = packet.encode_to(&mut out);
            out.freeze()
        };
        self.tick(now);
        self.epoch = self.epoch.wrapping_add(1);
        self.state = State::Connecting;
        self.connect_deadline = now + self.config.connect_timeout;
        self.ping_deadline = None;
        self.last_sent = now;
        self.last_received = now;
        self.unacked_qos1.clear();
        self.ack_order.clear();
        self.sendq.clear();
        self.out.clear();
        // First out, before anything queued after it [MQTT-3.1.0-1].
        self.out.extend_from_slice(&encoded);
        Ok(())
    }

    /// Publishes a message. QoS 0 completes when it is handed to the transport, QoS 1
    /// on PUBACK, QoS 2 on PUBCOMP ([`crate::Event::Completed`]). While disconnected,
    /// or when `max_inflight` publishes await acknowledgement, it waits in order in a
    /// queue of at most `max_queued` commands.
    ///
    /// Under 5.0 the message's [`crate::MessageProperties`] go with it (a payload
    /// that breaks the promise of its Payload Format Indicator is refused here), and
    /// the session picks a topic alias for it (see the crate docs). Whether the
    /// server's CONNACK limits allow it is checked when it is about to go out: if not,
    /// it completes with [`crate::Outcome::NotSent`]; a message whose expiry passed
    /// while it waited completes with [`crate::Outcome::Expired`].
    pub fn publish(&mut self, now: Instant, message: Message) -> Result<OpId, Error> {
        if self.v5.is_some() {
            let props = message.properties.as_deref();
            if !crate::v5::payload_ok(props, &message.payload) {
                return Err(Error::PayloadFormatInvalid); // section 3.3.2.3.2
            }
            let publish = message.clone().into_publish(PacketId::MIN);
            let expiry = props.and_then(|p| p.message_expiry_interval);
            match crate::v5::v5_publish_len(&publish, props, expiry) {
                Ok(_) => {}
                Err(EncodeError::PacketTooLarge) => return Err(Error::PacketTooLarge),
                Err(e) => return Err(Error::InvalidProperties(e)),
            }
        } else {
            let body = 2 + message.topic.as_bytes().len() + 2 + message.payload.len();
            if body > varint::MAX_REMAINING_LENGTH as usize {
                return Err(Error::PacketTooLarge);
            }
        }
        self.enqueue(now, PendingKind::Publish(message))
    }

    /// Subscribes to topic filters, each with the maximum QoS wanted. Completes with
    /// the broker's return code per filter ([`crate::Outcome::Subscribed`], under 5.0
    /// [`crate::Outcome::SubscribedV5`]).
    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: &[(TopicFilter<Bytes>, QoS)],
    ) -> Result<OpId, Error> {
        if self.v5.is_some() {
            let items: alloc::vec::Vec<_> = filters
                .iter()
                .map(|(f, q)| (f.clone(), SubscriptionOptions::new(*q)))
                .collect();
            return self.subscribe_with(now, &items, &PropertyValues::default());
        }
        let filters = SubscribeFilters::from_items(filters).map_err(|_| Error::NoFilters)?;
        if filters.as_wire().len() + 2 > varint::MAX_REMAINING_LENGTH as usize {
            return Err(Error::PacketTooLarge);
        }
        self.enqueue(now, PendingKind::Subscribe(Subs::V311(filters)))
    }

    /// Subscribes with 5.0 Subscription Options per filter (No Local, Retain As
    /// Published, Retain Handling) and SUBSCRIBE properties: a Subscription Identifier
    /// (at most one) and User Properties. Shared subscriptions
    /// (`$share/{ShareName}/{filter}`) must be well formed and never No Local
    /// [MQTT-3.8.3-4]: refused here with [`Error::InvalidFilter`]. A filter, identifier
    /// or shared subscription the server's CONNACK says it does not support completes
    /// with [`crate::Outcome::NotSent`] instead of being sent. After a lost session the
    /// session subscribes again with the same options and identifier.
    ///
    /// Under 3.1.1 only each filter's QoS is used.
    pub fn subscribe_with(
        &mut self,
        now: Instant,
        filters: &[(TopicFilter<Bytes>, SubscriptionOptions)],
        properties: &PropertyValues<'_>,
    ) -> Result<OpId, Error> {
        if self.v5.is_none() {
            let items: alloc::vec::Vec<_> =
                filters.iter().map(|(f, o)| (f.clone(), o.qos)).collect();
            return self.subscribe(now, &items);
        }
        if filters.is_empty() {
            return Err(Error::NoFilters);
        }
        let filters = v5::SubscribeFilters::from_items(filters).map_err(Error::InvalidFilter)?;
        let properties =
            SubscribeProperties::from_values(properties).map_err(Error::InvalidProperties)?;
        let len = filters.as_wire().len() + properties.as_wire().len() + 2 + 4;
        if len > varint::MAX_REMAINING_LENGTH as usize {
            return Err(Error::PacketTooLarge);
        }
        let subs = Subs::V5 {
            filters,
            properties,
        };
        self.enqueue(now, PendingKind::Subscribe(subs))
    }

    /// Unsubscribes from topic filters. Completes with [`crate::Outcome::Unsubscribed`]
    /// (under 5.0 [`crate::Outcome::UnsubscribedV5`], a reason code per filter).
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: &[TopicFilter<Bytes>],
    ) -> Result<OpId, Error> {
        if self.v5.is_some() {
            return self.unsubscribe_with(now, filters, &PropertyValues::default());
        }
        let filters = UnsubscribeFilters::from_items(filters).map_err(|_| Error::NoFilters)?;
        if filters.as_wire().len() + 2 > varint::MAX_REMAINING_LENGTH as usize {
            return Err(Error::PacketTooLarge);
        }
        self.enqueue(now, PendingKind::Unsubscribe(Unsubs::V311(filters)))
    }

    /// Unsubscribes with 5.0 UNSUBSCRIBE properties (User Properties). Under 3.1.1 the
    /// properties are ignored.
    pub fn unsubscribe_with(
        &mut self,
        now: Instant,
        filters: &[TopicFilter<Bytes>],
        properties: &PropertyValues<'_>,
    ) -> Result<OpId, Error> {
        if self.v5.is_none() {
            return self.unsubscribe(now, filters);
        }
        if filters.is_empty() {
            return Err(Error::NoFilters);
        }
        let filters = v5::UnsubscribeFilters::from_items(filters).map_err(Error::InvalidFilter)?;
        let properties =
            UnsubscribeProperties::from_values(properties).map_err(Error::InvalidProperties)?;
        let len = filters.as_wire().len() + properties.as_wire().len() + 2 + 4;
        if len > varint::MAX_REMAINING_LENGTH as usize {
            return Err(Error::PacketTooLarge);
        }
        let unsubs = Unsubs::V5 {
            filters,
            properties,
        };
        self.enqueue(now, PendingKind::Unsubscribe(unsubs))
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
                    self.release_ack(id, QoS::AtLeastOnce);
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
                        self.release_ack(id, QoS::ExactlyOnce);
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

    /// Marks a manual ack done and sends every PUBACK / PUBREC now due: those at the
    /// front of `ack_order` whose deliveries are acked, in arrival order
    /// [MQTT-4.6.0-2], [MQTT-4.6.0-3]. A delivery not in it (one of an earlier
    /// connection, re-sent by the broker) is answered at once.
    fn release_ack(&mut self, id: PacketId, qos: QoS) {
        match self
            .ack_order
            .iter_mut()
            .find(|(i, q, acked)| *i == id && *q == qos && !*acked)
        {
            Some(entry) => entry.2 = true,
            None => return self.send_ack(id, qos),
        }
        while let Some(&(id, qos, true)) = self.ack_order.front() {
            self.ack_order.pop_front();
            self.send_ack(id, qos);
        }
    }

    fn send_ack(&mut self, id: PacketId, qos: QoS) {
        self.send(if qos == QoS::AtLeastOnce {
            Packet::Puback(id)
        } else {
            Packet::Pubrec(id)
        });
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

    /// 5.0: [`Session::disconnect`] with a reason code (e.g. 0x04, Disconnect with Will
    /// Message, has the server publish the will) and DISCONNECT properties: a new
    /// Session Expiry Interval (refused when CONNECT announced 0 and this is not 0,
    /// section 3.14.2.2.2), a Reason String, User Properties. Under 3.1.1 the reason
    /// and properties are ignored.
    pub fn disconnect_with(
        &mut self,
        now: Instant,
        reason_code: DisconnectReasonCode,
        properties: &PropertyValues<'_>,
    ) -> Result<(), Error> {
        let Some(connect_expiry) = self.v5.as_deref().map(|v| v.connect_expiry) else {
            self.disconnect(now);
            return Ok(());
        };
        let props =
            DisconnectProperties::from_values(properties).map_err(Error::InvalidProperties)?;
        if let Some(expiry) = props.session_expiry_interval() {
            if expiry != 0 && connect_expiry == 0 {
                return Err(Error::SessionExpiryWasZero);
            }
        }
        let mut out = BytesMut::new();
        v5::Packet::Disconnect(v5::Disconnect {
            reason_code,
            properties: props.clone(),
        })
        .encode_to(&mut out)
        .map_err(Error::InvalidProperties)?;
        let max = self
            .v5
            .as_deref()
            .map_or(u32::MAX, |v| v.limits.maximum_packet_size);
        if self.state == State::Connected && out.len() > max as usize {
            return Err(Error::PacketTooLarge); // [MQTT-3.2.2-15]
        }
        self.tick(now);
        if self.state != State::Connected {
            self.close(DisconnectReason::Local);
            return Ok(());
        }
        if let (Some(expiry), Some(v5)) = (props.session_expiry_interval(), self.v5.as_deref_mut())
        {
            v5.limits.session_expiry_interval = expiry;
        }
        // Packets already queued still go out first, then DISCONNECT.
        self.sendq.push_back(SendItem::Encoded(out.freeze()));
        self.state = State::Disconnected;
        self.ping_deadline = None;
        self.events.push_back(crate::Event::Disconnected {
            reason: DisconnectReason::Local,
        });
        Ok(())
    }

    /// 5.0: starts a re-authentication (AUTH 0x19 with the [`crate::Authenticator`]'s
    /// method and first data) [MQTT-4.12.1-1]. The server's challenges are answered as
    /// they come; success is [`crate::Event::Reauthenticated`], failure the server's
    /// DISCONNECT. Other packets keep flowing meanwhile.
    pub fn reauthenticate(&mut self, now: Instant) -> Result<(), Error> {
        let connected = self.state == State::Connected;
        let Some(v5) = self.v5.as_deref_mut() else {
            return Err(Error::Unsupported);
        };
        let (Some(authenticator), Some(method)) =
            (v5.auth.authenticator.as_deref_mut(), v5.auth.method.clone())
        else {
            return Err(Error::NoAuthentication); // [MQTT-4.12.0-7]
        };
        if !connected || v5.auth.state != AuthState::Idle {
            return Err(Error::AuthenticationInProgress);
        }
        let data = authenticator.initial_data();
        let bytes =
            crate::v5::encode_auth(AuthReasonCode::ReAuthenticate, &method, data.as_deref())
                .map_err(Error::InvalidProperties)?;
        if bytes.len() > v5.limits.maximum_packet_size as usize {
            return Err(Error::PacketTooLarge); // [MQTT-3.2.2-15]
        }
        v5.auth.state = AuthState::Reauthenticating;
        self.tick(now);
        self.sendq.push_back(SendItem::Encoded(bytes));
        Ok(())
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
        self.pending_requests += usize::from(kind.is_request());
        self.pending.push_back(Pending {
            op,
            kind,
            accepted: Some(now),
        });
        self.pump();
        Ok(op)
    }

    /// Moves queued commands to the send queue while the connection, the in-flight
    /// window and free packet identifiers allow, in order.
    pub(crate) fn pump(&mut self) {
        let window = self.window();
        // Resends held back by the server's Receive Maximum go first; while they wait,
        // so do new publishes, but not a SUBSCRIBE or UNSUBSCRIBE (below).
        let deferred = self.v5.is_some() && !self.pump_deferred(window);
        if deferred && self.pending_requests == 0 {
            return;
        }
        while self.state == State::Connected {
            if self.pending.is_empty() {
                return;
            }
            if self.v5.is_some() {
                // The server's limits, and the message's expiry, first.
                if let Err(outcome) = self.check_front_v5() {
                    if let Some(p) = self.pending.pop_front() {
                        self.pending_requests -= usize::from(p.kind.is_request());
                        if matches!(&p.kind, PendingKind::Publish(m) if m.qos != QoS::AtMostOnce) {
                            self.journal(|| StoreOp::Complete { op: p.op.get() });
                        }
                        self.events
                            .push_back(crate::Event::Completed { op: p.op, outcome });
                    }
                    continue;
                }
            }
            let Some(front) = self.pending.front() else {
                return;
            };
            let (is_publish, is_qos0) = match &front.kind {
                PendingKind::Publish(m) => (true, m.qos == QoS::AtMostOnce),
                _ => (false, false),
            };
            let needs_window = is_publish && !is_qos0;
            let held = deferred && is_publish;
            if held || (needs_window && self.window_blocks(window)) {
                // 5.0 [MQTT-3.3.4-8], [MQTT-4.9.0-3]: only PUBLISH waits for the
                // window; the first SUBSCRIBE or UNSUBSCRIBE queued behind the
                // waiting publishes goes ahead of them. (3.1.1 keeps the queue order.)
                if self.v5.is_some() && self.pending_requests > 0 && self.request_ahead() {
                    continue;
                }
                return;
            }
            let packet_id = if is_qos0 {
                None
            } else {
                match self.alloc_packet_id() {
                    Some(id) => Some(id),
                    None => return, // all 65,535 in use: wait for an ack
                }
            };
            let Some(Pending { op, kind, accepted }) = self.pending.pop_front() else {
                return;
            };
            self.pending_requests -= usize::from(kind.is_request());
            match (kind, packet_id) {
                (PendingKind::Publish(message), None) => {
                    self.sendq.push_back(SendItem::Qos0 {
                        op,
                        message,
                        accepted,
                    });
                }
                (PendingKind::Publish(mut m), Some(pid)) => {
                    self.journal(|| StoreOp::Assign {
                        op: op.get(),
                        packet_id: pid,
                    });
                    let props = m.properties.take().map(|p| {
                        Box::new(OpProps {
                            properties: *p,
                            accepted,
                        })
                    });
                    let kind = OpKind::Publish {
                        publish: m.into_publish(pid),
                        props,
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
                    self.pending_requests += usize::from(kind.is_request());
                    self.pending.push_front(Pending { op, kind, accepted });
                    return;
                }
            }
        }
    }

    /// Whether the in-flight window keeps the next QoS 1 or 2 publish waiting: only
    /// while it is full. A freed slot is used at once, never saved up for a batch:
    /// a broker with Nagle's algorithm on holds its next acknowledgements until our
    /// TCP ACK, which the kernel delays (40 ms) while we send nothing, so waiting
    /// for more acknowledgements first stalls the flow (measured through rumqttd:
    /// 42 ms stalls, two thirds of a run). Batching is the event loop's business.
    #[inline]
    fn window_blocks(&self, window: usize) -> bool {
        self.inflight_publishes >= window
    }

    /// Moves the first queued SUBSCRIBE or UNSUBSCRIBE to the front; false if none.
    #[cold]
    fn request_ahead(&mut self) -> bool {
        let Some(i) = self.pending.iter().position(|p| p.kind.is_request()) else {
            return false;
        };
        if let Some(p) = self.pending.remove(i) {
            self.pending.push_front(p);
        }
        true
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
