//! What the session is configured with.

use core::fmt;
use core::time::Duration;

use bytes::Bytes;
use mqtt_proto::{LastWill, Str, StrError};

/// Session configuration. Build with [`Config::new`] and adjust the public fields.
#[derive(Clone)]
pub struct Config {
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
}

impl Config {
    /// Defaults for `client_id`: keep alive 60 s, clean session, CONNACK timeout 10 s,
    /// 100 publishes in flight, 10,000 queued commands, 16 MiB packets, automatic acks,
    /// republish and resubscribe after a lost session, no journal.
    pub fn new(client_id: &str) -> Result<Config, StrError> {
        Ok(Config {
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
        })
    }

    /// Keep alive in whole seconds, as CONNECT carries it.
    pub(crate) fn keep_alive_secs(&self) -> u16 {
        u16::try_from(self.keep_alive.as_secs()).unwrap_or(u16::MAX)
    }

    /// The keep alive actually used (what CONNECT announced).
    pub(crate) fn keep_alive_interval(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs().into())
    }

    pub(crate) fn ping_timeout(&self) -> Duration {
        self.ping_timeout
            .unwrap_or_else(|| (self.keep_alive_interval() / 2).max(Duration::from_secs(1)))
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
            .finish()
    }
}
