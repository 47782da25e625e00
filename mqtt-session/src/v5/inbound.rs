//! Reading 5.0 packets: what each one the server sends does.

use bytes::{Bytes, BytesMut};
use mqtt_proto::v5::{
    self, AuthReasonCode, DisconnectReasonCode, PayloadFormat, PubackReasonCode, ReasonCode,
    UnsubackReasonCode,
};
use mqtt_proto::{DecodeOptions, FixedHeader, PacketType, ProtocolVersion, PublishFrame, QoS};

use super::{AuthOutcome, AuthState};
use crate::session::{Granted, Op, OpKind, SendItem, Stage, State, Subs, Unsubs};
use crate::{DisconnectReason, Event, Outcome, ProtocolError, Session, StoreOp};

impl Session {
    /// `handle_read` for a 5.0 session: every whole packet at the front of `buf`.
    pub(crate) fn read_v5(&mut self, buf: &mut BytesMut) {
        let opts = DecodeOptions::with_max_packet_size(self.config.max_packet_size)
            .with_version(ProtocolVersion::V5);
        while self.state != State::Disconnected {
            // Our Maximum Packet Size, from the fixed header alone: DISCONNECT 0x95.
            let header = match FixedHeader::decode(buf, &opts) {
                Ok(Some(header)) => header,
                Ok(None) => break,
                Err(e) => {
                    self.fail(ProtocolError::Decode(e));
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
            let frame = mqtt_proto::take_packet(buf, len);
            let handled = if header.packet_type == PacketType::Publish {
                match PublishFrame::decode_v5(frame, &header) {
                    Ok(p) if self.state == State::Connected => self.on_publish_v5(p),
                    Ok(_) => Err(ProtocolError::UnexpectedPacket(PacketType::Publish)),
                    Err(e) => Err(ProtocolError::Decode(e)),
                }
            } else {
                match v5::Packet::decode_frame(&frame, &header, &opts) {
                    Ok(packet) => self.on_packet_v5(packet),
                    Err(e) => Err(ProtocolError::Decode(e)),
                }
            };
            if let Err(e) = handled {
                self.fail(e);
            }
        }
    }

    /// Ends the connection for a protocol violation by the server: under 5.0 with a
    /// DISCONNECT carrying the violation's reason code (section 4.13.1: the client
    /// SHOULD; [MQTT-4.13.1-1] is the server's MUST).
    pub(crate) fn fail(&mut self, e: ProtocolError) {
        self.close_with(DisconnectReason::Protocol(e), e.reason_code());
    }

    /// Ends the connection on our own account (our authenticator gave up), with
    /// DISCONNECT 0x80 [MQTT-4.12.1-2].
    pub(crate) fn abort(&mut self, reason: DisconnectReason) {
        self.close_with(reason, DisconnectReasonCode::UnspecifiedError);
    }

    fn close_with(&mut self, reason: DisconnectReason, code: DisconnectReasonCode) {
        let Some(transmitted) = self.v5.as_deref().map(|v| v.transmitted) else {
            self.close(reason);
            return;
        };
        if self.state == State::Disconnected {
            return;
        }
        let max = self
            .v5
            .as_deref()
            .map_or(u32::MAX, |v| v.limits.maximum_packet_size);
        self.close(reason);
        // Only after our CONNECT went out: a DISCONNECT first would break
        // [MQTT-3.1.0-1]; and within the server's maximum [MQTT-3.2.2-15].
        let packet = v5::Packet::<&[u8]>::Disconnect(v5::Disconnect::new(code));
        if transmitted && packet.encoded_len().is_ok_and(|n| n <= max as usize) {
            let _ = packet.encode_to(&mut self.out);
        }
    }

    fn on_packet_v5(&mut self, packet: v5::Packet<Bytes>) -> Result<(), ProtocolError> {
        use v5::Packet as P;
        if self.state == State::Connecting {
            // [MQTT-3.2.0-1]: CONNACK, or AUTH while authenticating, first. No
            // DISCONNECT before CONNACK [MQTT-3.14.0-1].
            return match packet {
                P::Connack(c) => self.on_connack_v5(c),
                P::Auth(a) => self.on_auth(a),
                other => Err(ProtocolError::UnexpectedPacket(other.packet_type())),
            };
        }
        match packet {
            P::Puback(a) => {
                let outcome = rejection(a.reason_code, &a.properties);
                self.on_ack_as(PacketType::Puback, a.packet_id, outcome)
            }
            P::Pubrec(a) if a.reason_code.is_error() => self.on_failed_pubrec(a),
            P::Pubrec(a) => self.on_pubrec(a.packet_id),
            // 0x92 (Packet Identifier not found) in either: the flow ends all the same.
            P::Pubrel(a) => self.on_pubrel(a.packet_id),
            P::Pubcomp(a) => self.on_ack(PacketType::Pubcomp, a.packet_id),
            P::Suback(s) => self.on_suback_v5(s),
            P::Unsuback(u) => self.on_unsuback_v5(u),
            P::Pingresp => {
                self.ping_deadline = None;
                Ok(())
            }
            P::Disconnect(d) => {
                self.on_disconnect_v5(d);
                Ok(())
            }
            P::Auth(a) => self.on_auth(a),
            // A second CONNACK [MQTT-3.2.0-2], or packets only a client sends.
            other => Err(ProtocolError::UnexpectedPacket(other.packet_type())),
        }
    }

    fn on_publish_v5(&mut self, publish: PublishFrame) -> Result<(), ProtocolError> {
        let props = publish.properties();
        let our_max = self.config.topic_alias_maximum;
        let Some(v5) = self.v5.as_deref_mut() else {
            return Err(ProtocolError::UnexpectedPacket(PacketType::Publish));
        };
        let mut aliased = None;
        if let Some(alias) = props.topic_alias() {
            let alias = alias.get();
            // [MQTT-3.3.2-10], [MQTT-3.3.2-11]: 1 to our maximum only.
            if alias > our_max {
                return Err(ProtocolError::TopicAliasInvalid(alias));
            }
            if publish.topic_bytes().is_empty() {
                match v5.in_aliases.get(alias) {
                    Some(topic) => aliased = Some(topic.clone()),
                    None => return Err(ProtocolError::UnknownTopicAlias(alias)),
                }
            } else {
                v5.in_aliases.set(alias, publish.topic_bytes());
            }
        }
        // Section 3.3.2.3.2: a receiver may check the promise of UTF-8; this one does,
        // and treats a broken promise as a protocol error.
        if props.payload_format_indicator() == Some(PayloadFormat::Utf8)
            && core::str::from_utf8(publish.payload()).is_err()
        {
            return Err(ProtocolError::PayloadFormatInvalid);
        }
        if publish.qos() != QoS::AtMostOnce {
            v5.inbound_inflight += 1;
            // [MQTT-3.3.4-9]: no more unacknowledged than our Receive Maximum.
            if v5.inbound_inflight > u32::from(self.config.receive_maximum.max(1)) {
                return Err(ProtocolError::ReceiveMaximumExceeded);
            }
        }
        self.on_publish(publish, aliased)
    }

    /// PUBREC with a failure code: the broker refused the message, and the QoS 2 flow
    /// ends there, without PUBREL [MQTT-4.3.3-4], [MQTT-4.4.0-2].
    fn on_failed_pubrec(&mut self, a: v5::Pubrec<Bytes>) -> Result<(), ProtocolError> {
        let id = a.packet_id.get();
        let ok = matches!(
            self.ops.get(&id),
            Some(Op {
                kind: OpKind::Publish {
                    publish,
                    stage: Stage::AwaitAck,
                    ..
                },
                ..
            }) if publish.qos() == QoS::ExactlyOnce
        );
        if !ok {
            return Err(ProtocolError::UnknownPacketId {
                packet_type: PacketType::Pubrec,
                packet_id: id,
            });
        }
        if let Some(op) = self.remove_op(id) {
            self.journal(|| StoreOp::Complete { op: op.op.get() });
            self.events.push_back(Event::Completed {
                op: op.op,
                outcome: rejection(a.reason_code, &a.properties),
            });
        }
        self.pump();
        Ok(())
    }

    fn on_suback_v5(&mut self, s: v5::Suback<Bytes>) -> Result<(), ProtocolError> {
        let id = s.packet_id.get();
        let Some(Op {
            kind:
                OpKind::Subscribe {
                    filters:
                        Subs::V5 {
                            filters,
                            properties,
                        },
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
        let (expected, got) = (filters.len(), s.reason_codes.len());
        if expected != got {
            return Err(ProtocolError::SubackCountMismatch { expected, got }); // [MQTT-3.8.4-6]
        }
        let sub_id = properties.subscription_identifiers().next();
        let granted: alloc::vec::Vec<_> = filters.iter().zip(s.reason_codes.iter()).collect();
        for ((filter, options), code) in granted {
            match code.granted_qos() {
                Some(qos) => {
                    let g = Granted {
                        qos,
                        options,
                        id: sub_id,
                    };
                    self.subscriptions.insert(filter, g);
                }
                None => {
                    self.subscriptions.remove(&filter);
                }
            }
        }
        self.complete_subscribe(id, Outcome::SubscribedV5(s.reason_codes));
        Ok(())
    }

    fn on_unsuback_v5(&mut self, u: v5::Unsuback<Bytes>) -> Result<(), ProtocolError> {
        let id = u.packet_id.get();
        let Some(Op {
            kind:
                OpKind::Unsubscribe {
                    filters: Unsubs::V5 { filters, .. },
                },
            ..
        }) = self.ops.get(&id)
        else {
            return Err(ProtocolError::UnknownPacketId {
                packet_type: PacketType::Unsuback,
                packet_id: id,
            });
        };
        let (expected, got) = (filters.len(), u.reason_codes.len());
        if expected != got {
            return Err(ProtocolError::UnsubackCountMismatch { expected, got }); // [MQTT-3.11.3-1]
        }
        let gone: alloc::vec::Vec<_> = filters
            .iter()
            .zip(u.reason_codes.iter())
            .filter(|(_, code)| {
                matches!(
                    code,
                    UnsubackReasonCode::Success | UnsubackReasonCode::NoSubscriptionExisted
                )
            })
            .map(|(f, _)| f)
            .collect();
        for filter in gone {
            self.subscriptions.remove(&filter);
        }
        if let Some(op) = self.remove_op(id) {
            self.events.push_back(Event::Completed {
                op: op.op,
                outcome: Outcome::UnsubscribedV5(u.reason_codes),
            });
        }
        self.pump();
        Ok(())
    }

    /// The server ends the connection, with a reason [MQTT-3.14.2-1]. Nothing is sent
    /// back [MQTT-3.14.4-1].
    fn on_disconnect_v5(&mut self, d: v5::Disconnect<Bytes>) {
        let code = d.reason_code;
        if let Some(v5) = self.v5.as_deref_mut() {
            if v5.auth.state != AuthState::Idle {
                v5.auth.state = AuthState::Idle;
                if let Some(a) = v5.auth.authenticator.as_deref_mut() {
                    let _ = a.outcome(AuthOutcome::Failed);
                }
            }
            v5.disconnect = Some(d);
        }
        self.close(DisconnectReason::Server(code));
    }

    /// AUTH: a step of the exchange our CONNECT or `reauthenticate` started.
    fn on_auth(&mut self, a: v5::Auth<Bytes>) -> Result<(), ProtocolError> {
        let Some(v5) = self.v5.as_deref_mut() else {
            return Err(ProtocolError::UnexpectedAuth);
        };
        let state = v5.auth.state;
        let method = a.properties.authentication_method();
        // [MQTT-4.12.0-5], [MQTT-4.12.0-6]: only in an exchange, with our method.
        let (Some(ours), true) = (v5.auth.method.clone(), state != AuthState::Idle) else {
            return Err(ProtocolError::UnexpectedAuth);
        };
        if method.as_ref() != Some(&ours) {
            return Err(ProtocolError::UnexpectedAuth);
        }
        let Some(authenticator) = v5.auth.authenticator.as_deref_mut() else {
            return Err(ProtocolError::UnexpectedAuth);
        };
        let data = a.properties.authentication_data();
        match a.reason_code {
            // [MQTT-4.12.0-2], [MQTT-4.12.0-3]: a challenge, answered with AUTH 0x18.
            AuthReasonCode::ContinueAuthentication => {
                match authenticator.challenge(data.as_deref()) {
                    Ok(answer) => {
                        let code = AuthReasonCode::ContinueAuthentication;
                        let max = v5.limits.maximum_packet_size as usize;
                        match super::auth::encode_auth(code, &ours, answer.as_deref()) {
                            Ok(bytes) if bytes.len() <= max => {
                                self.sendq.push_back(SendItem::Encoded(bytes))
                            }
                            // [MQTT-3.2.2-15]: not sent; the exchange cannot go on.
                            _ => self.abort(DisconnectReason::Auth(super::AuthError(
                                "AUTH too large to send",
                            ))),
                        }
                    }
                    Err(e) => self.abort(DisconnectReason::Auth(e)),
                }
            }
            // Re-authentication succeeded (during connect, success comes as CONNACK).
            AuthReasonCode::Success if state == AuthState::Reauthenticating => {
                v5.auth.state = AuthState::Idle;
                match authenticator.outcome(AuthOutcome::Success(data.as_deref())) {
                    Ok(()) => self.events.push_back(Event::Reauthenticated),
                    Err(e) => self.abort(DisconnectReason::Auth(e)),
                }
            }
            _ => return Err(ProtocolError::UnexpectedAuth),
        }
        Ok(())
    }
}
/// How a PUBACK or PUBREC with `code` completes a publish.
fn rejection(code: PubackReasonCode, props: &v5::AckProperties<Bytes>) -> Outcome {
    if code.is_error() {
        Outcome::Rejected {
            reason_code: code,
            reason_string: props.reason_string(),
        }
    } else {
        Outcome::Acknowledged
    }
}
