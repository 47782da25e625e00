//! What the session is configured with.

use core::fmt;
use core::time::Duration;

use alloc::vec::Vec;

use bytes::Bytes;
use mqtt_proto::v5::WillProperties;
use mqtt_proto::{LastWill, ProtocolVersion, Str, StrError};

/// Session configuration. Build with [`Config::new`] and adjust the public fields.
///
/// The fields marked "5.0" matter only with `protocol` set to
/// [`ProtocolVersion::V5`]; a 3.1.1 session ignores them.
#[derive(Clone)]
pub struct Config {
    /// The protocol version spoken: MQTT 3.1.1 (the default) or 5.0. Fixed for the
    /// life of the session.
    pub protocol: ProtocolVersion,
    /// Client identifier; empty asks the broker to assign one (needs clean session).
    pub client_id: Str<Bytes>,
    /// Keep alive; zero turns keepalive off. Whole seconds on the wire (at most 65,535).
    pub keep_alive: Duration,
    /// Ask the broker to start a new session instead of resuming [MQTT-3.1.2-6].
    pub clean_session: bool,
    /// Will message the broker publishes if the connection dies.
    pub will: Option<LastWill<Bytes>>,
    /// User name.
    pub username: Option<Str<Bytes>>,
    /// Password; never shown by `Debug`.
    pub password: Option<Bytes>,
    /// How long to wait for CONNACK after CONNECT.
    pub connect_timeout: Duration,
    /// How long to wait for PINGRESP; `None` means half the keep alive, at least 1 s.
    pub ping_timeout: Option<Duration>,
    /// Most outgoing QoS 1 and 2 publishes awaiting acknowledgement at once (1..=65,535).
    pub max_inflight: u16,
    /// Most commands waiting to be sent (offline, or behind the in-flight window);
    /// beyond it a command fails with [`crate::Error::QueueFull`].
    pub max_queued: usize,
    /// Largest packet accepted from the broker, refused from its fixed header alone.
    pub max_packet_size: u32,
    /// Hold PUBACK / PUBREC of incoming QoS 1 / 2 messages until [`crate::Session::ack`].
    pub manual_acks: bool,
    /// When the broker has lost the session, publish the unacknowledged messages again
    /// as new messages (otherwise they complete with [`crate::Outcome::SessionLost`]).
    pub republish_on_session_loss: bool,
    /// When the broker has lost the session, subscribe again to every filter.
    pub resubscribe_on_session_loss: bool,
    /// Journal every durable change for a [`crate::Store`] ([`crate::Session::poll_store_op`]),
    /// and hand out no bytes until the journal is drained (write-ahead).
    pub durable: bool,
    /// 5.0: the Session Expiry Interval in seconds sent in CONNECT (section 3.1.2.11.2).
    /// `None` follows `clean_session`, as 3.1.1 does: a session that ends with its
    /// connection (0) when set, one that never expires (`u32::MAX`) when not. A value
    /// the server sends back in CONNACK replaces it.
    pub session_expiry_interval: Option<u32>,
    /// 5.0: our Receive Maximum, the most incoming QoS 1 and 2 messages the server may
    /// leave unacknowledged at once [MQTT-3.3.4-9]; more ends the connection with
    /// DISCONNECT 0x93. 0 is taken as 1. Announced when below 65,535.
    pub receive_maximum: u16,
    /// 5.0: our Topic Alias Maximum: incoming topic aliases accepted, from 1 to this
    /// (0: none) [MQTT-3.3.2-10]. Each one holds a copy of its topic name until the
    /// connection ends.
    pub topic_alias_maximum: u16,
    /// 5.0: the most topic aliases the session assigns to outgoing messages on one
    /// connection (further bounded by the server's Topic Alias Maximum; 0: none).
    pub max_outgoing_topic_aliases: u16,
    /// 5.0: ask the server for Response Information in CONNACK.
    pub request_response_information: bool,
    /// 5.0: let the server send Reason Strings and User Properties on any packet
    /// (the spec's default); `false` limits them to PUBLISH, CONNACK and DISCONNECT.
    pub request_problem_information: bool,
    /// 5.0: User Properties of CONNECT, sent in this order.
    pub user_properties: Vec<(Str<Bytes>, Str<Bytes>)>,
    /// 5.0: Will Properties (Will Delay Interval, Message Expiry Interval, Content
    /// Type, Response Topic, Correlation Data, Payload Format Indicator, User
    /// Properties), sent with `will`. Build with
    /// [`WillProperties::from_values`](mqtt_proto::v5::Properties::from_values).
    pub will_properties: WillProperties<Bytes>,
}

impl Config {
    /// Defaults for `client_id`: MQTT 3.1.1, keep alive 60 s, clean session, CONNACK
    /// timeout 10 s, 100 publishes in flight, 10,000 queued commands, 16 MiB packets,
    /// automatic acks, republish and resubscribe after a lost session, no journal; for
    /// 5.0, a Receive Maximum of 65,535, 16 topic aliases each way, problem information
    /// on, no response information, no user properties.
    pub fn new(client_id: &str) -> Result<Config, StrError> {
        Ok(Config {
            protocol: ProtocolVersion::V311,
            client_id: Str::from_string(client_id.into())?,
            keep_alive: Duration::from_secs(60),
            clean_session: true,
            will: None,
            username: None,
            password: None,
            connect_timeout: Duration::from_secs(10),
            ping_timeout: None,
            max_inflight: 100,
            max_queued: 10_000,
            max_packet_size: 16 * 1024 * 1024,
            manual_acks: false,
            republish_on_session_loss: true,
            resubscribe_on_session_loss: true,
            durable: false,
            session_expiry_interval: None,
            receive_maximum: u16::MAX,
            topic_alias_maximum: 16,
            max_outgoing_topic_aliases: 16,
            request_response_information: false,
            request_problem_information: true,
            user_properties: Vec::new(),
            will_properties: WillProperties::default(),
        })
    }

    /// [`Config::new`] speaking MQTT 5.0.
    pub fn v5(client_id: &str) -> Result<Config, StrError> {
        let mut c = Config::new(client_id)?;
        c.protocol = ProtocolVersion::V5;
        Ok(c)
    }

    /// The Session Expiry Interval CONNECT carries (5.0).
    pub(crate) fn session_expiry(&self) -> u32 {
        self.session_expiry_interval
            .unwrap_or(if self.clean_session { 0 } else { u32::MAX })
    }

    /// Keep alive in whole seconds, as CONNECT carries it.
    pub(crate) fn keep_alive_secs(&self) -> u16 {
        u16::try_from(self.keep_alive.as_secs()).unwrap_or(u16::MAX)
    }

    /// The ping timeout for a keep alive of `keep_alive`.
    pub(crate) fn ping_timeout(&self, keep_alive: Duration) -> Duration {
        self.ping_timeout
            .unwrap_or_else(|| (keep_alive / 2).max(Duration::from_secs(1)))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("client_id", &self.client_id)
            .field("keep_alive", &self.keep_alive)
            .field("clean_session", &self.clean_session)
            .field("will", &self.will.as_ref().map(|w| &w.topic))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_inflight", &self.max_inflight)
            .field("max_queued", &self.max_queued)
            .field("max_packet_size", &self.max_packet_size)
            .field("manual_acks", &self.manual_acks)
            .field("republish_on_session_loss", &self.republish_on_session_loss)
            .field(
                "resubscribe_on_session_loss",
                &self.resubscribe_on_session_loss,
            )
            .field("durable", &self.durable)
            .field("protocol", &self.protocol)
            .field("session_expiry_interval", &self.session_expiry_interval)
            .field("receive_maximum", &self.receive_maximum)
            .field("topic_alias_maximum", &self.topic_alias_maximum)
            .field(
                "max_outgoing_topic_aliases",
                &self.max_outgoing_topic_aliases,
            )
            .field(
                "request_response_information",
                &self.request_response_information,
            )
            .field(
                "request_problem_information",
                &self.request_problem_information,
            )
            .field("user_properties", &self.user_properties)
            .field("will_properties", &self.will_properties)
            .finish()
    }
}
