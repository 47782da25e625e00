//! Command-line options shared by the `pub` and `sub` examples, spelled as
//! mosquitto_pub / mosquitto_sub spell them.

use std::time::Duration;

use mqtt_tokio::{Options, QoS, TlsOptions};

/// What both tools accept, plus the flags only one of them uses.
#[derive(Debug, Default)]
pub struct Args {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub topics: Vec<String>,
    pub message: Option<String>,
    pub null_message: bool,
    pub lines: bool,
    pub qos: Option<u8>,
    pub retain: bool,
    pub client_id: Option<String>,
    pub persistent: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub cafile: Option<String>,
    pub insecure: bool,
    pub keepalive: Option<u64>,
    pub count: Option<u64>,
    pub verbose: bool,
    pub v5: bool,
}

pub const COMMON_HELP: &str = "\
  -L URL        broker URL: mqtt://, mqtts://, ws://, wss:// (instead of -h/-p)
  -h HOST       broker host (default 127.0.0.1)
  -p PORT       broker port (default 1883)
  -t TOPIC      topic (sub: a filter; may be given several times)
  -q QOS        quality of service, 0, 1 or 2
  -i ID         client id
  -c            persistent session (clean session off; needs -i)
  -u USER       user name
  -P PASSWORD   password
  -k SECONDS    keep alive (default 60)
  -V VERSION    protocol: mqttv311 (default) or mqttv5
  --cafile FILE trust this CA (PEM) for mqtts:// and wss://
  --insecure    do not check the server certificate (dangerous: tests only)
  --help        this text";

impl Args {
    /// Parses `std::env::args`, or prints `usage` and exits.
    pub fn parse(usage: &str) -> Args {
        match Args::from_iter(std::env::args().skip(1)) {
            Ok(a) => a,
            Err(msg) => {
                if !msg.is_empty() {
                    eprintln!("error: {msg}\n");
                }
                eprintln!("{usage}\n{COMMON_HELP}");
                std::process::exit(if msg.is_empty() { 0 } else { 2 });
            }
        }
    }

    /// Parses arguments; `Err("")` asks for the help text.
    pub fn from_iter(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut a = Args::default();
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "-L" | "--url" => a.url = Some(value()?),
                "-h" | "--host" => a.host = Some(value()?),
                "-p" | "--port" => a.port = Some(parse(&flag, &value()?)?),
                "-t" | "--topic" => a.topics.push(value()?),
                "-m" | "--message" => a.message = Some(value()?),
                "-n" | "--null-message" => a.null_message = true,
                "-l" | "--stdin-line" => a.lines = true,
                "-q" | "--qos" => a.qos = Some(parse(&flag, &value()?)?),
                "-r" | "--retain" => a.retain = true,
                "-i" | "--id" => a.client_id = Some(value()?),
                "-c" | "--disable-clean-session" => a.persistent = true,
                "-u" | "--username" => a.username = Some(value()?),
                "-P" | "--pw" => a.password = Some(value()?),
                "-k" | "--keepalive" => a.keepalive = Some(parse(&flag, &value()?)?),
                "-C" => a.count = Some(parse(&flag, &value()?)?),
                "-v" | "--verbose" => a.verbose = true,
                "--cafile" => a.cafile = Some(value()?),
                "--insecure" => a.insecure = true,
                "-V" | "--protocol-version" => {
                    a.v5 = match value()?.as_str() {
                        "mqttv5" | "5" => true,
                        "mqttv311" | "311" | "4" => false,
                        v => return Err(format!("protocol version {v}: mqttv311 or mqttv5")),
                    }
                }
                "--help" => return Err(String::new()),
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(a)
    }

    pub fn qos(&self) -> Result<QoS, String> {
        match self.qos.unwrap_or(0) {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            q => Err(format!("QoS {q}: must be 0, 1 or 2")),
        }
    }

    /// Client options from the flags; `default_id` when `-i` is not given.
    pub fn options(&self, default_id: &str) -> Result<Options, String> {
        if self.persistent && self.client_id.is_none() {
            return Err("-c needs a client id (-i)".into());
        }
        let mut opts = match &self.url {
            Some(url) => Options::parse(url).map_err(|e| format!("{url}: {e}"))?,
            None => Options::new(
                self.host.as_deref().unwrap_or("127.0.0.1"),
                self.port.unwrap_or(1883),
            ),
        };
        let id = self.client_id.clone().unwrap_or_else(|| default_id.into());
        opts = opts
            .client_id(&id)
            .clean_session(!self.persistent)
            .keep_alive(Duration::from_secs(self.keepalive.unwrap_or(60)))
            // A command-line tool reports a dead broker instead of retrying forever.
            .reconnect(None);
        if self.v5 {
            opts = opts.protocol(mqtt_tokio::ProtocolVersion::V5);
        }
        if let Some(user) = &self.username {
            opts = opts.credentials(user, self.password.clone().unwrap_or_default());
        }
        let mut tls = TlsOptions::default();
        if let Some(ca) = &self.cafile {
            tls = tls.ca_file(ca).map_err(|e| format!("{ca}: {e}"))?;
        }
        if self.insecure {
            tls = tls.dangerous_accept_any_server_certificate();
        }
        Ok(opts.tls(tls))
    }
}

/// Runs a tool's `run` on the parsed arguments; errors go to stderr as `name: error`.
pub async fn main<F, Fut>(name: &str, usage: &str, run: F) -> std::process::ExitCode
where
    F: FnOnce(Args) -> Fut,
    Fut: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>,
{
    match run(Args::parse(usage)).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn parse<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag}: bad value {v:?}"))
}
