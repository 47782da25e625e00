//! 5.0 connecting: CONNECT with its properties, and what the CONNACK allows.

use alloc::vec::Vec;
use core::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqtt_proto::v5::{
    self, Connack, ConnectProperties, ConnectReasonCode, PropertyValues, UserProperty,
};
use mqtt_proto::{DecodeOptions, QoS};

use super::{AuthOutcome, AuthState, ServerLimits};
use crate::{DisconnectReason, Error, ProtocolError, Session};

impl Session {
    /// The CONNECT of a 5.0 session, encoded; resets what lives for one connection
    /// (limits, topic aliases, flow control) [MQTT-3.3.2-7], [MQTT-4.9.0-1].
    pub(crate) fn connect_v5(&mut self) -> Result<Bytes, Error> {
        let c = &self.config;
        let Some(v5) = self.v5.as_deref_mut() else {
            return Err(Error::Unsupported);
        };
        let expiry = c.session_expiry();
        // An empty identifier asked the server for one; later connections use it.
        let client_id = match (&v5.assigned_client_id, c.client_id.is_empty()) {
            (Some(assigned), true) => assigned.clone(),
            _ => c.client_id.clone(),
        };
        let users: Vec<UserProperty<'_>> = c
            .user_properties
            .iter()
            .map(|(k, v)| (k.as_borrowed(), v.as_borrowed()))
            .collect();
        let (method, data) = match v5.auth.authenticator.as_deref_mut() {
            Some(a) => (Some(a.method()), a.initial_data()),
            None => (None, None),
        };
        let values = PropertyValues {
            session_expiry_interval: (expiry != 0).then_some(expiry),
            receive_maximum: (c.receive_maximum < u16::MAX)
                .then(|| NonZeroU16::new(c.receive_maximum.max(1)))
                .flatten(),
            maximum_packet_size: (c.max_packet_size < DecodeOptions::MAX_PACKET_SIZE)
                .then(|| NonZeroU32::new(c.max_packet_size.max(1)))
                .flatten(),
            topic_alias_maximum: (c.topic_alias_maximum > 0).then_some(c.topic_alias_maximum),
            request_response_information: c.request_response_information.then_some(true),
            request_problem_information: (!c.request_problem_information).then_some(false),
            user_properties: &users,
            authentication_method: method.as_ref().map(|m| m.as_borrowed()),
            authentication_data: data.as_deref(),
            ..PropertyValues::default()
        };
        let properties =
            ConnectProperties::<Bytes>::from_values(&values).map_err(Error::InvalidConnect)?;
        let connect = v5::Connect {
            clean_start: c.clean_session,
            keep_alive: c.keep_alive_secs(),
            properties,
            client_id,
            will: c.will.clone().map(|w| v5::LastWill {
                properties: c.will_properties.clone(),
                topic: w.topic,
                payload: w.message,
                qos: w.qos,
                retain: w.retain,
            }),
            username: c.username.clone(),
            password: c.password.clone(),
        };
        let mut out = bytes::BytesMut::new();
        v5::Packet::Connect(connect)
            .encode_to(&mut out)
            .map_err(Error::InvalidConnect)?;
        v5.limits = ServerLimits::new(expiry);
        v5.connect_expiry = expiry;
        v5.out_aliases.reset(0);
        v5.in_aliases.reset();
        v5.inbound_inflight = 0;
        v5.deferred.clear();
        v5.transmitted = false;
        v5.connack = None;
        v5.disconnect = None;
        v5.auth.state = if method.is_some() {
            AuthState::Connecting
        } else {
            AuthState::Idle
        };
        v5.auth.method = method;
        Ok(out.freeze())
    }

    /// CONNACK of 5.0: refused, or accepted with what the server allows on this
    /// connection.
    pub(crate) fn on_connack_v5(&mut self, c: Connack<Bytes>) -> Result<(), ProtocolError> {
        let Some(v5) = self.v5.as_deref_mut() else {
            return Err(ProtocolError::UnexpectedPacket(
                mqtt_proto::PacketType::Connack,
            ));
        };
        v5.connack = Some(c.clone());
        let authenticating = v5.auth.state == AuthState::Connecting;
        v5.auth.state = AuthState::Idle;
        if c.reason_code != ConnectReasonCode::Success {
            if authenticating {
                if let Some(a) = v5.auth.authenticator.as_deref_mut() {
                    let _ = a.outcome(AuthOutcome::Failed);
                }
            }
            self.close(DisconnectReason::RefusedV5(c.reason_code));
            return Ok(());
        }
        if c.session_present && self.config.clean_session {
            return Err(ProtocolError::SessionPresentOnCleanSession); // [MQTT-3.2.2-2]
        }
        let p = &c.properties;
        // [MQTT-4.12.0-5], [MQTT-4.12.0-6]: the method of our CONNECT, or none.
        match (&v5.auth.method, p.authentication_method()) {
            (Some(ours), Some(theirs)) if *ours == theirs => {
                let data = p.authentication_data();
                let verdict = match v5.auth.authenticator.as_deref_mut() {
                    Some(a) => a.outcome(AuthOutcome::Success(data.as_deref())),
                    None => Ok(()),
                };
                if let Err(e) = verdict {
                    self.abort(DisconnectReason::Auth(e));
                    return Ok(());
                }
            }
            (None, None) => {}
            _ => return Err(ProtocolError::UnexpectedAuth),
        }
        let limits = &mut v5.limits;
        limits.receive_maximum = p.receive_maximum().map_or(u16::MAX, NonZeroU16::get);
        limits.maximum_packet_size = p
            .maximum_packet_size()
            .map_or(DecodeOptions::MAX_PACKET_SIZE, NonZeroU32::get);
        limits.topic_alias_maximum = p.topic_alias_maximum().unwrap_or(0);
        limits.maximum_qos = p.maximum_qos().unwrap_or(QoS::ExactlyOnce);
        limits.retain_available = p.retain_available().unwrap_or(true);
        limits.wildcard_subscription_available =
            p.wildcard_subscription_available().unwrap_or(true);
        limits.subscription_identifier_available =
            p.subscription_identifier_available().unwrap_or(true);
        limits.shared_subscription_available = p.shared_subscription_available().unwrap_or(true);
        limits.server_keep_alive = p.server_keep_alive(); // [MQTT-3.2.2-21]
        limits.session_expiry_interval = p.session_expiry_interval().unwrap_or(v5.connect_expiry);
        if let Some(id) = p.assigned_client_identifier() {
            v5.assigned_client_id = Some(id); // [MQTT-3.2.2-16]
        }
        let aliases = limits
            .topic_alias_maximum
            .min(self.config.max_outgoing_topic_aliases);
        v5.out_aliases.reset(aliases);
        self.accepted(c.session_present);
        Ok(())
    }
}
