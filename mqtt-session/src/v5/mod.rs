//! MQTT 5.0: the parts of the session only 5.0 has. The state lives in [`V5`], one
//! box per 5.0 session (`None` for 3.1.1, which never looks at it); operations keep
//! version-independent state and are encoded per version when handed out.
//!
//! - `connack.rs`: CONNECT with its properties, CONNACK and what it allows;
//! - `inbound.rs`: reading 5.0 packets (reason codes, topic aliases, flow control,
//!   DISCONNECT, AUTH);
//! - `outbound.rs`: encoding 5.0 packets, the server's limits applied to commands,
//!   and the 5.0 commands;
//! - `alias.rs`, `auth.rs`, `message.rs`: topic aliases, enhanced authentication,
//!   message properties.

mod alias;
mod auth;
mod connack;
mod inbound;
mod message;
mod outbound;

use alloc::collections::VecDeque;

use bytes::Bytes;
use mqtt_proto::v5::{Connack, Disconnect};
use mqtt_proto::{DecodeOptions, QoS, Str};

pub use auth::{AuthError, AuthOutcome, Authenticator};
pub use message::MessageProperties;

pub(crate) use auth::{encode_auth, Auth, AuthState};
pub(crate) use message::{payload_ok, v5_publish_len, OpProps};

use alias::{InAliases, OutAliases};

/// What the server allows on the current connection, from its CONNACK (section
/// 3.2.2.3); the spec's defaults until one arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// Receive Maximum: the most QoS 1 and 2 publishes the session leaves
    /// unacknowledged at once (with `max_inflight`: the smaller) [MQTT-3.3.4-7].
    pub receive_maximum: u16,
    /// Maximum Packet Size: no larger packet is sent [MQTT-3.2.2-15].
    pub maximum_packet_size: u32,
    /// Topic Alias Maximum: the most aliases the server accepts [MQTT-3.2.2-17].
    pub topic_alias_maximum: u16,
    /// Maximum QoS: no publish above it is sent [MQTT-3.2.2-11].
    pub maximum_qos: QoS,
    /// Retain Available: without it no retained publish is sent [MQTT-3.2.2-14].
    pub retain_available: bool,
    /// Wildcard Subscription Available.
    pub wildcard_subscription_available: bool,
    /// Subscription Identifier Available.
    pub subscription_identifier_available: bool,
    /// Shared Subscription Available.
    pub shared_subscription_available: bool,
    /// Server Keep Alive, used instead of ours when present [MQTT-3.2.2-21].
    pub server_keep_alive: Option<u16>,
    /// The Session Expiry Interval in force: ours, or the server's from CONNACK.
    pub session_expiry_interval: u32,
}

impl ServerLimits {
    fn new(session_expiry_interval: u32) -> ServerLimits {
        ServerLimits {
            receive_maximum: u16::MAX,
            maximum_packet_size: DecodeOptions::MAX_PACKET_SIZE,
            topic_alias_maximum: 0,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            wildcard_subscription_available: true,
            subscription_identifier_available: true,
            shared_subscription_available: true,
            server_keep_alive: None,
            session_expiry_interval,
        }
    }
}

/// The 5.0 state of a session.
#[derive(Debug)]
pub(crate) struct V5 {
    pub(crate) limits: ServerLimits,
    pub(crate) out_aliases: OutAliases,
    pub(crate) in_aliases: InAliases,
    /// The server's count of incoming QoS 1 and 2 messages in flight, as far as we can
    /// tell: PUBLISH received on this connection minus PUBACK / PUBCOMP handed out,
    /// never below zero (the send quota of section 4.9 seen from our side). Counting an
    /// ack when it is handed out, not when the server reads it, can only undercount:
    /// the Receive Maximum check never fires on a server that keeps the rule.
    pub(crate) inbound_inflight: u32,
    /// The Client Identifier the server assigned when ours was empty, used on every
    /// later CONNECT.
    pub(crate) assigned_client_id: Option<Str<Bytes>>,
    /// The Session Expiry Interval the CONNECT of this connection carried.
    pub(crate) connect_expiry: u32,
    /// The last CONNACK, as received.
    pub(crate) connack: Option<Connack<Bytes>>,
    /// The server's DISCONNECT that ended the last connection, if one did.
    pub(crate) disconnect: Option<Disconnect<Bytes>>,
    /// Packet identifiers of publishes to send again on this connection once the
    /// server's Receive Maximum allows (a resumed session may hold more than a new
    /// connection allows), in their original order [MQTT-4.6.0-1].
    pub(crate) deferred: VecDeque<u16>,
    /// Something was handed out since `connect` (the CONNECT at least): a DISCONNECT
    /// may follow.
    pub(crate) transmitted: bool,
    pub(crate) auth: Auth,
}

impl V5 {
    pub(crate) fn new() -> V5 {
        V5 {
            limits: ServerLimits::new(0),
            out_aliases: OutAliases::default(),
            in_aliases: InAliases::default(),
            inbound_inflight: 0,
            assigned_client_id: None,
            connect_expiry: 0,
            connack: None,
            disconnect: None,
            deferred: VecDeque::new(),
            transmitted: false,
            auth: Auth::new(),
        }
    }
}
