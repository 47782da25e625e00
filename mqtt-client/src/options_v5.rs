//! The 5.0 options: the protocol version and what only 5.0 has.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use mqtt_proto::v5::WillProperties;
use mqtt_proto::{ProtocolVersion, Str};
use mqtt_session::Authenticator;

use crate::options::{Options, OptionsError};

/// Makes the [`Authenticator`] of each new client (and so of each event loop).
pub type AuthenticatorFactory = Arc<dyn Fn() -> Box<dyn Authenticator> + Send + Sync>;

/// What a 5.0 client announces and accepts; the defaults are the session's.
#[derive(Clone, Default)]
pub(crate) struct V5Options {
    pub(crate) session_expiry_interval: Option<u32>,
    pub(crate) receive_maximum: Option<u16>,
    pub(crate) topic_alias_maximum: Option<u16>,
    pub(crate) max_outgoing_topic_aliases: Option<u16>,
    pub(crate) request_response_information: bool,
    pub(crate) response_topic_prefix: Option<String>,
    pub(crate) user_properties: Vec<(String, String)>,
    pub(crate) will_properties: Option<WillProperties<Bytes>>,
    pub(crate) authenticator: Option<AuthenticatorFactory>,
}

impl fmt::Debug for V5Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // User properties may carry anything: counted, not shown.
        f.debug_struct("V5Options")
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
            .field("response_topic_prefix", &self.response_topic_prefix)
            .field("user_properties", &self.user_properties.len())
            .field("will_properties", &self.will_properties.is_some())
            .field("authenticator", &self.authenticator.is_some())
            .finish()
    }
}

impl Options {
    /// The protocol version: MQTT 3.1.1 (the default) or 5.0. The URL parameter
    /// `protocol=5` (or `3.1.1`) sets it too.
    ///
    /// ```
    /// use mqtt_client::{Options, ProtocolVersion};
    ///
    /// let opts = Options::parse("mqtt://127.0.0.1:1883?protocol=5")?
    ///     .session_expiry(3600) // the broker keeps the session an hour after a drop
    ///     .receive_maximum(64);
    /// assert_eq!(opts.protocol_version(), ProtocolVersion::V5);
    /// # Ok::<(), mqtt_client::OptionsError>(())
    /// ```
    pub fn protocol(mut self, version: ProtocolVersion) -> Options {
        self.protocol = version;
        self
    }

    /// The protocol version these options speak.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.protocol
    }

    /// 5.0: the Session Expiry Interval in seconds: how long the broker keeps the
    /// session after the connection ends (0: not at all; `u32::MAX`: forever). By
    /// default it follows `clean_session`, as 3.1.1 does (0 when set, forever when
    /// not).
    pub fn session_expiry(mut self, seconds: u32) -> Options {
        self.v5.session_expiry_interval = Some(seconds);
        self
    }

    /// 5.0: our Receive Maximum: the most QoS 1 and 2 messages the broker may send
    /// us unacknowledged (default 65,535). A broker exceeding it is disconnected
    /// with 0x93.
    pub fn receive_maximum(mut self, n: u16) -> Options {
        self.v5.receive_maximum = Some(n.max(1));
        self
    }

    /// 5.0: our Topic Alias Maximum: how many topic aliases the broker may use
    /// towards us (default 16; 0: none).
    pub fn topic_alias_maximum(mut self, n: u16) -> Options {
        self.v5.topic_alias_maximum = Some(n);
        self
    }

    /// 5.0: the most topic aliases the client sets on its own messages (default 16,
    /// further bounded by the broker's Topic Alias Maximum; 0: none). The most
    /// recently used topics keep theirs.
    pub fn max_outgoing_topic_aliases(mut self, n: u16) -> Options {
        self.v5.max_outgoing_topic_aliases = Some(n);
        self
    }

    /// 5.0: ask the broker for Response Information, which then prefixes the
    /// response topic of [`crate::Client::request`].
    pub fn request_response_information(mut self, on: bool) -> Options {
        self.v5.request_response_information = on;
        self
    }

    /// 5.0: where [`crate::Client::request`]'s response topic lives:
    /// `{prefix}/{random}` (default `mqtt-rr`; the server's Response Information, when
    /// asked for and given, comes first). For brokers whose ACLs allow only some topics.
    pub fn response_topic_prefix(mut self, prefix: &str) -> Options {
        self.v5.response_topic_prefix = Some(prefix.into());
        self
    }

    /// 5.0: adds a User Property to CONNECT.
    pub fn connect_user_property(mut self, name: &str, value: &str) -> Options {
        self.v5.user_properties.push((name.into(), value.into()));
        self
    }

    /// 5.0: the Will Properties (Will Delay Interval, Message Expiry Interval,
    /// Content Type, ...), sent with the will of [`Options::will`].
    pub fn will_properties(mut self, properties: WillProperties<Bytes>) -> Options {
        self.v5.will_properties = Some(properties);
        self
    }

    /// 5.0: enhanced authentication (section 4.12): `factory` makes the
    /// [`Authenticator`] of each client built from these options; its method and
    /// first data go in CONNECT, and it answers the broker's AUTH challenges (on
    /// every connection, and for [`crate::Client::reauthenticate`]).
    pub fn authenticator(
        mut self,
        factory: impl Fn() -> Box<dyn Authenticator> + Send + Sync + 'static,
    ) -> Options {
        self.v5.authenticator = Some(Arc::new(factory));
        self
    }

    /// Applies the 5.0 options to a session configuration.
    pub(crate) fn apply_v5(&self, c: &mut mqtt_session::Config) -> Result<(), OptionsError> {
        c.protocol = self.protocol;
        let v = &self.v5;
        c.session_expiry_interval = v.session_expiry_interval;
        if let Some(n) = v.receive_maximum {
            c.receive_maximum = n;
        }
        if let Some(n) = v.topic_alias_maximum {
            c.topic_alias_maximum = n;
        }
        if let Some(n) = v.max_outgoing_topic_aliases {
            c.max_outgoing_topic_aliases = n;
        }
        c.request_response_information = v.request_response_information;
        c.user_properties = v
            .user_properties
            .iter()
            .map(|(k, v)| Ok((text(k)?, text(v)?)))
            .collect::<Result<_, OptionsError>>()?;
        if let Some(w) = &v.will_properties {
            c.will_properties = w.clone();
        }
        Ok(())
    }
}

fn text(s: &str) -> Result<Str<Bytes>, OptionsError> {
    Str::from_string(s.into()).map_err(|_| OptionsError::Invalid("user property"))
}

/// The URL's `protocol` parameter.
pub(crate) fn parse_protocol(value: &str) -> Option<ProtocolVersion> {
    match value {
        "5" | "5.0" | "v5" => Some(ProtocolVersion::V5),
        "4" | "3.1.1" | "v311" => Some(ProtocolVersion::V311),
        _ => None,
    }
}
