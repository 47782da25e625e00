//! Connection options, from code or from a URL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{ProtocolVersion, QoS};

use crate::backoff::Backoff;
use crate::coalesce::AckCoalescing;
use crate::options_v5::{parse_protocol, V5Options};
use crate::runtime::{BoxFuture, BoxIo};
use crate::store::{BoxStore, FileStore, StoreError};
use crate::tls::TlsOptions;

/// `Options::read_pacing` by default.
const DEFAULT_READ_PACING: Duration = Duration::from_millis(1);

/// How bytes reach a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// Plain TCP, `mqtt://` (default port 1883).
    Tcp,
    /// TLS over TCP, `mqtts://` (default port 8883).
    Tls,
    /// WebSocket, `ws://` (default port 80).
    Ws,
    /// WebSocket over TLS, `wss://` (default port 443).
    Wss,
}

/// One broker address: scheme, host, port and (WebSocket only) path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// Transport.
    pub scheme: Scheme,
    /// Host name or IP address; also the TLS server name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// HTTP path of the WebSocket endpoint.
    pub path: String,
}

impl Broker {
    /// A plain TCP broker.
    pub fn tcp(host: &str, port: u16) -> Broker {
        Broker {
            scheme: Scheme::Tcp,
            host: host.into(),
            port,
            path: "/".into(),
        }
    }

    /// The broker a URL names (credentials and query parameters are ignored here).
    pub fn parse(url: &str) -> Result<Broker, OptionsError> {
        parse_url(url).map(|(b, _)| b)
    }

    /// `scheme://host:port/path`.
    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Tcp => "mqtt",
            Scheme::Tls => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.scheme {
            Scheme::Ws | Scheme::Wss => format!("{scheme}://{host}:{}{}", self.port, self.path),
            _ => format!("{scheme}://{host}:{}", self.port),
        }
    }
}

/// A transport the user supplies: called for every connection attempt.
pub type Connector = Arc<dyn Fn() -> BoxFuture<std::io::Result<BoxIo>> + Send + Sync>;

/// The will message: published by the broker when the connection dies without a
/// DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// QoS.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
}

/// Everything a client is configured with. Build from code with [`Options::new`] or
/// from a URL with [`Options::parse`], then adjust with the setters.
///
/// ```
/// use std::time::Duration;
/// use mqtt_client::Options;
///
/// let opts = Options::parse("mqtts://alice:s3cret@broker.example:8883?client_id=sensor-1&keep_alive=30")?
///     .clean_session(false)
///     .max_inflight(200)
///     .failover("mqtts://backup.example")?;
/// assert_eq!(opts.brokers().len(), 2);
/// assert!(!format!("{opts:?}").contains("s3cret"));
/// # Ok::<(), mqtt_client::OptionsError>(())
/// ```
#[derive(Clone)]
pub struct Options {
    pub(crate) brokers: Vec<Broker>,
    pub(crate) connector: Option<Connector>,
    pub(crate) client_id: String,
    pub(crate) keep_alive: Duration,
    pub(crate) clean_session: bool,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Bytes>,
    pub(crate) will: Option<Will>,
    pub(crate) max_inflight: u16,
    pub(crate) max_queued: usize,
    pub(crate) max_packet_size: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) ping_timeout: Option<Duration>,
    pub(crate) reconnect: Option<Backoff>,
    pub(crate) tls: TlsOptions,
    pub(crate) subscription_capacity: usize,
    pub(crate) ack_coalescing: AckCoalescing,
    pub(crate) read_pacing: Duration,
    pub(crate) command_capacity: usize,
    /// Taken by the first client built from these options (a store has one owner).
    pub(crate) store: Option<Arc<std::sync::Mutex<Option<BoxStore>>>>,
    pub(crate) protocol: ProtocolVersion,
    pub(crate) v5: V5Options,
}

/// Why options could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionsError {
    /// Not a URL.
    Url(String),
    /// A scheme other than `mqtt`, `mqtts`, `ws`, `wss` (or `tcp`, `ssl`, `tls`).
    Scheme(String),
    /// The URL has no host.
    NoHost,
    /// A query parameter that is unknown or has a bad value.
    Parameter(String),
    /// A client id, user name, will topic or password MQTT cannot carry.
    Invalid(&'static str),
    /// No broker to connect to.
    NoBroker,
    /// The store could not be read, or another client already uses it.
    Store(String),
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsError::Url(e) => write!(f, "invalid URL: {e}"),
            OptionsError::Scheme(s) => write!(f, "unsupported scheme {s:?}"),
            OptionsError::NoHost => f.write_str("URL has no host"),
            OptionsError::Parameter(p) => write!(f, "bad URL parameter {p:?}"),
            OptionsError::Invalid(what) => write!(f, "invalid {what}"),
            OptionsError::NoBroker => f.write_str("no broker address"),
            OptionsError::Store(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for OptionsError {}

impl Options {
    /// Plain TCP to `host:port`, with the defaults: client id `mqtt-<random>`, keep
    /// alive 60 s, clean session, 100 publishes in flight, CONNACK timeout 10 s,
    /// reconnect with [`Backoff::default`], subscription queues of 1,024 messages.
    pub fn new(host: &str, port: u16) -> Options {
        Options::with_broker(Broker::tcp(host, port))
    }

    /// Options for one broker.
    pub fn with_broker(broker: Broker) -> Options {
        Options {
            brokers: vec![broker],
            connector: None,
            client_id: format!("mqtt-{:016x}", crate::backoff::random_u64()),
            keep_alive: Duration::from_secs(60),
            clean_session: true,
            username: None,
            password: None,
            will: None,
            max_inflight: 100,
            max_queued: 10_000,
            max_packet_size: 16 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            ping_timeout: None,
            reconnect: Some(Backoff::default()),
            tls: TlsOptions::default(),
            subscription_capacity: 1024,
            ack_coalescing: AckCoalescing::default(),
            read_pacing: DEFAULT_READ_PACING,
            command_capacity: 1024,
            store: None,
            protocol: ProtocolVersion::V311,
            v5: V5Options::default(),
        }
    }

    /// Options over a transport the caller opens (any `AsyncRead + AsyncWrite`): the
    /// connector runs for the first connection and for every reconnect.
    pub fn with_connector(connector: Connector) -> Options {
        let mut opts = Options::with_broker(Broker::tcp("custom", 0));
        opts.connector = Some(connector);
        opts
    }

    /// Options from a URL: `mqtt://`, `mqtts://`, `ws://`, `wss://`, with optional
    /// `user:password@` and query parameters `client_id`, `keep_alive` (seconds),
    /// `clean_session` (true/false), `max_inflight`, `connect_timeout` (seconds),
    /// `reconnect` (true/false), `protocol` (`5` or `3.1.1`).
    pub fn parse(url: &str) -> Result<Options, OptionsError> {
        let (broker, parsed) = parse_url(url)?;
        let mut opts = Options::with_broker(broker);
        if !parsed.username().is_empty() {
            opts.username = Some(decode(parsed.username())?);
        }
        if let Some(p) = parsed.password() {
            opts.password = Some(Bytes::from(decode(p)?));
        }
        for (key, value) in parsed.query_pairs() {
            let bad = || OptionsError::Parameter(format!("{key}={value}"));
            match &*key {
                "client_id" | "clientId" => opts.client_id = value.into_owned(),
                "keep_alive" | "keepalive" => {
                    opts.keep_alive = Duration::from_secs(value.parse().map_err(|_| bad())?)
                }
                "clean_session" | "clean" => {
                    opts.clean_session = parse_bool(&value).ok_or_else(bad)?
                }
                "max_inflight" => opts.max_inflight = value.parse().map_err(|_| bad())?,
                "connect_timeout" => {
                    opts.connect_timeout = Duration::from_secs(value.parse().map_err(|_| bad())?)
                }
                "protocol" | "version" => opts.protocol = parse_protocol(&value).ok_or_else(bad)?,
                "reconnect" => {
                    if !parse_bool(&value).ok_or_else(bad)? {
                        opts.reconnect = None;
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(opts)
    }

    /// Adds a broker tried in turn after the others when connecting fails (failover
    /// for a clustered broker).
    pub fn failover(mut self, url: &str) -> Result<Options, OptionsError> {
        self.brokers.push(Broker::parse(url)?);
        Ok(self)
    }

    /// The brokers, in the order they are tried.
    pub fn brokers(&self) -> &[Broker] {
        &self.brokers
    }

    /// The client identifier.
    pub fn client_id(mut self, id: &str) -> Options {
        self.client_id = id.into();
        self
    }

    /// User name and password.
    pub fn credentials(mut self, username: &str, password: impl Into<Bytes>) -> Options {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// Keep alive; zero turns it off.
    pub fn keep_alive(mut self, keep_alive: Duration) -> Options {
        self.keep_alive = keep_alive;
        self
    }

    /// Start a new session (true) or resume the stored one (false) [MQTT-3.1.2-4].
    pub fn clean_session(mut self, clean: bool) -> Options {
        self.clean_session = clean;
        self
    }

    /// The will message.
    pub fn will(
        mut self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Options {
        self.will = Some(Will {
            topic: topic.into(),
            payload: payload.into(),
            qos,
            retain,
        });
        self
    }

    /// Most outgoing QoS 1/2 publishes awaiting acknowledgement (1..=65,535).
    pub fn max_inflight(mut self, n: u16) -> Options {
        self.max_inflight = n.max(1);
        self
    }

    /// Most commands the session queues while offline or behind the in-flight window.
    pub fn max_queued(mut self, n: usize) -> Options {
        self.max_queued = n;
        self
    }

    /// Largest packet accepted from the broker.
    pub fn max_packet_size(mut self, bytes: u32) -> Options {
        self.max_packet_size = bytes;
        self
    }

    /// Time allowed for TCP, TLS and WebSocket handshakes, and again for CONNACK.
    pub fn connect_timeout(mut self, timeout: Duration) -> Options {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for PINGRESP (default: half the keep alive, at least 1 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Options {
        self.ping_timeout = Some(timeout);
        self
    }

    /// Reconnect policy; `None` ends the event loop when the connection ends.
    pub fn reconnect(mut self, backoff: Option<Backoff>) -> Options {
        self.reconnect = backoff;
        self
    }

    /// TLS settings for `mqtts://` and `wss://`.
    pub fn tls(mut self, tls: TlsOptions) -> Options {
        self.tls = tls;
        self
    }

    /// Messages a [`crate::Subscription`] buffers before QoS 0 messages are dropped
    /// and QoS 1/2 acknowledgements are held back (so the broker slows down).
    pub fn subscription_capacity(mut self, n: usize) -> Options {
        self.subscription_capacity = n.max(1);
        self
    }

    /// Which acknowledgements may wait up to a millisecond while the broker streams,
    /// so that one write carries up to eight (default: [`AckCoalescing::Qos2`]). The
    /// application never waits on them; a window (the broker's or our own) smaller
    /// than what is held is detected, and less is held. It applies while reads come
    /// less than a millisecond apart: with [`Options::read_pacing`] on (the
    /// default), paced reads are further apart and one write answers each of them
    /// anyway, so it matters when pacing is off or has turned itself off.
    pub fn ack_coalescing(mut self, mode: AckCoalescing) -> Options {
        self.ack_coalescing = mode;
        self
    }

    /// How long the next socket read waits while the broker streams, so that one read
    /// takes many packets and one write answers them (default: 1 ms;
    /// `Duration::ZERO` turns it off). Only a stream is paced: a read that follows
    /// the previous burst within a millisecond. The first message after a quiet
    /// spell is read at once, and waits that bring less than two packets (the
    /// broker waiting on us) turn pacing off for ten seconds. So does a stream that
    /// runs a third slower under waits twice as long (a broker that keeps few
    /// messages in flight and waits for their acknowledgements, such as rumqttd's
    /// 100): once a second a stream is paced by doubled waits for 20 ms, then by the
    /// usual ones, and the two rates compared. Nor are reads paced while our own
    /// publishes wait for an in-flight window that one wait fills three quarters of
    /// (re-measured every 20 ms). During a wait the
    /// socket's receive low-water mark is raised where the runtime can
    /// ([`crate::Runtime::set_read_low_water`]), so that arriving segments do not
    /// wake it. Under load it takes the client's CPU per QoS 1 message to a third;
    /// the cost is up to this much (rounded up to the runtime's timer) more latency
    /// while streaming.
    pub fn read_pacing(mut self, wait: Duration) -> Options {
        self.read_pacing = wait;
        self
    }

    /// Commands buffered between the [`crate::Client`] handles and the event loop.
    pub fn command_capacity(mut self, n: usize) -> Options {
        self.command_capacity = n.max(1);
        self
    }

    /// Keeps the session in `store`, so it survives the process: outgoing QoS 1/2
    /// messages until their final acknowledgement, incoming QoS 2 identifiers until
    /// PUBREL. Nothing is written to the broker before the store has it (write-ahead),
    /// and a client built from these options resumes what the store holds
    /// ([`crate::Client::restored`]). Use it with `clean_session(false)` and a fixed
    /// client id, so the broker keeps its half of the session too. A store failure
    /// ends the event loop with [`crate::ClientError::Store`].
    pub fn store<S>(mut self, store: S) -> Options
    where
        S: mqtt_session::Store + Send + 'static,
        S::Error: std::error::Error + Send + Sync + 'static,
    {
        self.store = Some(Arc::new(std::sync::Mutex::new(Some(Box::new(store)))));
        self
    }

    /// [`Options::store`] with a [`crate::FileStore`] at `path` (created if missing).
    ///
    /// ```no_run
    /// let opts = mqtt_client::Options::parse("mqtt://127.0.0.1:1883?client_id=sensor-7")?
    ///     .clean_session(false) // the broker keeps its half of the session too
    ///     .file_store("/var/lib/sensor-7.journal")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn file_store(self, path: impl AsRef<std::path::Path>) -> Result<Options, StoreError> {
        Ok(self.store(FileStore::open(path)?))
    }

    /// Takes the store out of these options (the first client built gets it).
    pub(crate) fn take_store(&self) -> Result<Option<BoxStore>, OptionsError> {
        match &self.store {
            None => Ok(None),
            Some(slot) => match slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                Some(store) => Ok(Some(store)),
                None => Err(OptionsError::Store(
                    "already used by another client built from these options".into(),
                )),
            },
        }
    }

    /// The session configuration these options describe.
    pub(crate) fn session_config(&self) -> Result<mqtt_session::Config, OptionsError> {
        use mqtt_proto::{LastWill, Str, TopicName};
        let mut c = mqtt_session::Config::new(&self.client_id)
            .map_err(|_| OptionsError::Invalid("client id"))?;
        c.keep_alive = self.keep_alive;
        c.clean_session = self.clean_session;
        c.username = match &self.username {
            Some(u) => {
                Some(Str::from_string(u.clone()).map_err(|_| OptionsError::Invalid("user name"))?)
            }
            None => None,
        };
        c.password = self.password.clone();
        c.will = match &self.will {
            Some(w) => Some(LastWill {
                topic: TopicName::from_string(w.topic.clone())
                    .map_err(|_| OptionsError::Invalid("will topic"))?,
                message: w.payload.clone(),
                qos: w.qos,
                retain: w.retain,
            }),
            None => None,
        };
        c.connect_timeout = self.connect_timeout;
        c.ping_timeout = self.ping_timeout;
        c.max_inflight = self.max_inflight;
        c.max_queued = self.max_queued;
        c.max_packet_size = self.max_packet_size;
        // The event loop acknowledges once a message is in its Subscription queues.
        c.manual_acks = true;
        c.republish_on_session_loss = true;
        c.resubscribe_on_session_loss = true;
        self.apply_v5(&mut c)?;
        Ok(c)
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("brokers", &self.brokers)
            .field("custom_transport", &self.connector.is_some())
            .field("store", &self.store.is_some())
            .field("client_id", &self.client_id)
            .field("keep_alive", &self.keep_alive)
            .field("clean_session", &self.clean_session)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("will", &self.will)
            .field("max_inflight", &self.max_inflight)
            .field("max_queued", &self.max_queued)
            .field("connect_timeout", &self.connect_timeout)
            .field("ping_timeout", &self.ping_timeout)
            .field("reconnect", &self.reconnect)
            .field("tls", &self.tls)
            .field("subscription_capacity", &self.subscription_capacity)
            .field("ack_coalescing", &self.ack_coalescing)
            .field("read_pacing", &self.read_pacing)
            .field("protocol", &self.protocol)
            .field("v5", &self.v5)
            .finish()
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn decode(s: &str) -> Result<String, OptionsError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| OptionsError::Invalid("credentials (not UTF-8)"))
}

fn parse_url(url: &str) -> Result<(Broker, url::Url), OptionsError> {
    let parsed = url::Url::parse(url).map_err(|e| OptionsError::Url(e.to_string()))?;
    let (scheme, default_port) = match parsed.scheme() {
        "mqtt" | "tcp" => (Scheme::Tcp, 1883),
        "mqtts" | "ssl" | "tls" => (Scheme::Tls, 8883),
        "ws" => (Scheme::Ws, 80),
        "wss" => (Scheme::Wss, 443),
        other => return Err(OptionsError::Scheme(other.into())),
    };
    let host = match parsed.host() {
        Some(url::Host::Ipv6(a)) => a.to_string(),
        Some(h) => h.to_string(),
        None => return Err(OptionsError::NoHost),
    };
    if host.is_empty() {
        return Err(OptionsError::NoHost);
    }
    let broker = Broker {
        scheme,
        host,
        port: parsed.port().unwrap_or(default_port),
        path: parsed.path().to_string(),
    };
    Ok((broker, parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_from_code_or_url() {
        use mqtt_proto::ProtocolVersion;
        let v5 = Options::parse("mqtt://h?protocol=5").unwrap();
        assert_eq!(v5.protocol_version(), ProtocolVersion::V5);
        let c = v5
            .clone()
            .session_expiry(60)
            .receive_maximum(0)
            .topic_alias_maximum(3)
            .connect_user_property("k", "v")
            .session_config()
            .unwrap();
        assert_eq!(c.protocol, ProtocolVersion::V5);
        assert_eq!(c.session_expiry_interval, Some(60));
        assert_eq!(c.receive_maximum, 1, "0 is no Receive Maximum: taken as 1");
        assert_eq!(c.topic_alias_maximum, 3);
        assert_eq!(c.user_properties.len(), 1);
        let old = Options::parse("mqtt://h?protocol=3.1.1").unwrap();
        assert_eq!(old.protocol_version(), ProtocolVersion::V311);
        assert_eq!(
            Options::new("h", 1).protocol_version(),
            ProtocolVersion::V311
        );
        assert!(matches!(
            Options::parse("mqtt://h?protocol=6"),
            Err(OptionsError::Parameter(_))
        ));
        assert!(matches!(
            Options::new("h", 1)
                .connect_user_property("k\0", "v")
                .session_config(),
            Err(OptionsError::Invalid(_))
        ));
    }

    #[test]
    fn urls_of_every_scheme() {
        let b = Broker::parse("mqtt://127.0.0.1").unwrap();
        assert_eq!((b.scheme, b.port), (Scheme::Tcp, 1883));
        let b = Broker::parse("mqtts://localhost").unwrap();
        assert_eq!(
            (b.scheme, b.port, b.host.as_str()),
            (Scheme::Tls, 8883, "localhost")
        );
        let b = Broker::parse("ws://127.0.0.1:9001/mqtt").unwrap();
        assert_eq!(
            (b.scheme, b.port, b.path.as_str()),
            (Scheme::Ws, 9001, "/mqtt")
        );
        let b = Broker::parse("wss://[::1]").unwrap();
        assert_eq!(
            (b.scheme, b.port, b.host.as_str()),
            (Scheme::Wss, 443, "::1")
        );
        assert_eq!(b.url(), "wss://[::1]:443/");
        assert!(matches!(
            Broker::parse("http://x"),
            Err(OptionsError::Scheme(_))
        ));
        assert!(matches!(
            Broker::parse("nonsense"),
            Err(OptionsError::Url(_))
        ));
    }

    #[test]
    fn url_credentials_and_parameters() {
        let o = Options::parse(
            "mqtt://us%40er:p%3Ass@127.0.0.1:1884?client_id=abc&keep_alive=5&clean_session=false&max_inflight=7&reconnect=false",
        )
        .unwrap();
        assert_eq!(o.username.as_deref(), Some("us@er"));
        assert_eq!(o.password.as_deref(), Some(&b"p:ss"[..]));
        assert_eq!(o.client_id, "abc");
        assert_eq!(o.keep_alive, Duration::from_secs(5));
        assert!(!o.clean_session);
        assert_eq!(o.max_inflight, 7);
        assert!(o.reconnect.is_none());
        assert!(matches!(
            Options::parse("mqtt://h?bogus=1"),
            Err(OptionsError::Parameter(_))
        ));
        assert!(matches!(
            Options::parse("mqtt://h?keep_alive=x"),
            Err(OptionsError::Parameter(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let o = Options::new("127.0.0.1", 1883).credentials("bob", "hunter2");
        let shown = format!("{o:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("bob"));
    }

    #[test]
    fn session_config_refuses_what_mqtt_cannot_carry() {
        let o = Options::new("127.0.0.1", 1883).client_id("a\0b");
        assert_eq!(
            o.session_config().unwrap_err(),
            OptionsError::Invalid("client id")
        );
        let o = Options::new("127.0.0.1", 1883).will("a/+", "x", QoS::AtMostOnce, false);
        assert_eq!(
            o.session_config().unwrap_err(),
            OptionsError::Invalid("will topic")
        );
        let c = Options::new("127.0.0.1", 1883).session_config().unwrap();
        assert!(c.manual_acks);
    }
}
