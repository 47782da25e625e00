//! Starts a real mosquitto on free loopback ports for a test, and stops it after.
//!
//! Tests across the workspace use it so that every integration test runs against a
//! real broker, only ever on 127.0.0.1. Listeners: plain TCP always; TLS, TLS with
//! client certificates, WebSocket and secure WebSocket on request, with certificates
//! generated at start ([`Certs`]). [`FaultProxy`] sits between a client and the
//! broker to cut, stall or slow connections.

mod certs;
mod proxy;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use certs::Certs;
pub use proxy::{seed, FaultProxy, SplitMix64};

/// A running mosquitto, killed and cleaned up on drop.
pub struct Mosquitto {
    child: Option<Child>,
    port: u16,
    tls_port: Option<u16>,
    mtls_port: Option<u16>,
    ws_port: Option<u16>,
    wss_port: Option<u16>,
    certs: Option<Certs>,
    dir: PathBuf,
}

/// Which listeners and settings a [`Mosquitto`] starts with.
#[derive(Debug, Default, Clone)]
pub struct Builder {
    extra: String,
    listener_extra: String,
    tls: bool,
    websockets: bool,
    persistence: bool,
    base_dir: Option<PathBuf>,
}

fn binary() -> PathBuf {
    let candidates = [
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
        "/usr/bin/mosquitto",
    ];
    if let Some(found) = candidates.iter().map(Path::new).find(|p| p.exists()) {
        return found.to_path_buf();
    }
    if Command::new("mosquitto").arg("-h").output().is_ok() {
        return PathBuf::from("mosquitto");
    }
    panic!(
        "mosquitto is not installed: these tests need a real broker. \
         Install the Debian package (`apt-get install -y mosquitto`) or run `bash scripts/setup.sh`."
    );
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct ports on 127.0.0.1 that nothing listens on. All are held bound
/// until the last is picked: ports picked one at a time can repeat, since the
/// kernel may hand out a just-released port again.
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Builder {
    /// Extra global configuration lines (e.g. `max_inflight_messages 1000`).
    pub fn config(mut self, lines: &str) -> Builder {
        self.extra.push_str(lines);
        self.extra.push('\n');
        self
    }

    /// Extra configuration lines for the plain TCP listener (listener options such as
    /// `max_qos 1` or `max_topic_alias 2`, which mosquitto ignores before a
    /// `listener` line).
    pub fn listener_config(mut self, lines: &str) -> Builder {
        self.listener_extra.push_str(lines);
        self.listener_extra.push('\n');
        self
    }

    /// TLS listeners (server authentication, and one requiring a client certificate),
    /// with certificates from a CA made now.
    pub fn tls(mut self) -> Builder {
        self.tls = true;
        self
    }

    /// WebSocket listeners (plain, and over TLS when [`Builder::tls`] is set).
    pub fn websockets(mut self) -> Builder {
        self.websockets = true;
        self
    }

    /// Persist sessions and messages in the broker's directory, so that
    /// [`Mosquitto::restart`] keeps them.
    pub fn persistence(mut self) -> Builder {
        self.persistence = true;
        self
    }

    /// Keep the broker's directory (configuration, log, persistence file) under
    /// `base` instead of the system's temporary directory, e.g. `/dev/shm`, where
    /// mosquitto's `fsync` after every save costs nothing.
    pub fn dir_in(mut self, base: impl Into<PathBuf>) -> Builder {
        self.base_dir = Some(base.into());
        self
    }

    /// Starts it and waits until every listener accepts connections.
    ///
    /// Ports are picked free but released before mosquitto binds them, so another
    /// process may take one in between: when mosquitto then exits at start, it is
    /// started again on fresh ports (a few times before giving up).
    pub fn start(self) -> Mosquitto {
        let mut certs = self.tls.then(Certs::generate);
        let mut attempt = 1;
        loop {
            let mut broker = self.configure(certs.take());
            match broker.try_launch() {
                Ok(()) => return broker,
                Err(why) if attempt < START_ATTEMPTS && broker.exited() => {
                    certs = broker.certs.take();
                    attempt += 1;
                    eprintln!("mosquitto failed to start, retrying on other ports: {why}");
                }
                Err(why) => panic!("mosquitto did not start: {why}"),
            }
        }
    }

    /// Picks ports and writes the configuration in a directory of its own.
    fn configure(&self, certs: Option<Certs>) -> Mosquitto {
        let listeners = 1
            + 2 * usize::from(self.tls)
            + usize::from(self.websockets)
            + usize::from(self.websockets && self.tls);
        let mut ports = free_ports(listeners).into_iter();
        let port = ports.next().expect("one port per listener");
        let base = self.base_dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("mqtt-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Run as root, mosquitto drops to its own user: let it write its database.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut conf =
            String::from("per_listener_settings false\nallow_anonymous true\nlog_dest stderr\n");
        if self.persistence {
            conf += &format!(
                "persistence true\npersistence_location {}/\n",
                dir.display()
            );
        } else {
            conf += "persistence false\n";
        }
        conf += &self.extra;
        conf += &format!("listener {port} 127.0.0.1\n");
        conf += &self.listener_extra;
        if let Some(certs) = &certs {
            certs.write_server_files(&dir);
        }
        let tls_files = format!(
            "cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n",
            d = dir.display()
        );
        let (mut tls_port, mut mtls_port, mut ws_port, mut wss_port) = (None, None, None, None);
        let mut next = || ports.next().expect("one port per listener");
        if self.tls {
            let p = next();
            conf += &format!("listener {p} 127.0.0.1\n{tls_files}");
            tls_port = Some(p);
            let p = next();
            conf += &format!("listener {p} 127.0.0.1\n{tls_files}require_certificate true\n");
            mtls_port = Some(p);
        }
        if self.websockets {
            let p = next();
            conf += &format!("listener {p} 127.0.0.1\nprotocol websockets\n");
            ws_port = Some(p);
            if self.tls {
                let p = next();
                conf += &format!("listener {p} 127.0.0.1\nprotocol websockets\n{tls_files}");
                wss_port = Some(p);
            }
        }
        std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
        Mosquitto {
            child: None,
            port,
            tls_port,
            mtls_port,
            ws_port,
            wss_port,
            certs,
            dir,
        }
    }
}

/// How many times [`Builder::start`] tries fresh ports when mosquitto cannot bind.
const START_ATTEMPTS: u32 = 5;

impl Mosquitto {
    /// Starts mosquitto listening on 127.0.0.1 only (plain TCP).
    pub fn start() -> Mosquitto {
        Mosquitto::builder().start()
    }

    /// Starts mosquitto with extra lines of configuration (e.g. `max_inflight_messages`).
    pub fn start_with(extra_config: &str) -> Mosquitto {
        Mosquitto::builder().config(extra_config).start()
    }

    /// Choose listeners and settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts the process on the configured ports; panics if it does not come up.
    fn launch(&mut self) {
        if let Err(why) = self.try_launch() {
            panic!("mosquitto did not start: {why}");
        }
    }

    /// Starts the process and waits until every listener accepts connections. On
    /// failure, returns the log.
    fn try_launch(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("mosquitto.log"))
            .unwrap();
        let child = Command::new(binary())
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let ports: Vec<u16> = [
            Some(self.port),
            self.tls_port,
            self.mtls_port,
            self.ws_port,
            self.wss_port,
        ]
        .into_iter()
        .flatten()
        .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        for p in ports {
            while TcpStream::connect(("127.0.0.1", p)).is_err() {
                // Exited (a port was taken, a bad line): no use waiting out the deadline.
                if Instant::now() >= deadline || self.exited() {
                    return Err(self.log());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Whether the process has exited (or was never started).
    fn exited(&mut self) -> bool {
        match &mut self.child {
            Some(child) => child.try_wait().ok().flatten().is_some(),
            None => true,
        }
    }

    /// Stops it gracefully (SIGTERM: it saves its persistence file), waits, and
    /// starts it again on the same ports with the same configuration.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Stops it gracefully (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it with SIGKILL (it saves nothing: what it had not yet written to its
    /// persistence file is lost) and waits for it to exit. [`Mosquitto::start_again`]
    /// brings it back on the same ports.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on unix
            let _ = child.wait();
        }
    }

    /// [`Mosquitto::kill`], then starts it again on the same ports with the same
    /// configuration (a crash and a restart).
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Starts it again after [`Mosquitto::stop`] or [`Mosquitto::kill`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.launch();
    }

    /// The plain TCP port (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// `mqtts://127.0.0.1:<port>` (needs [`Builder::tls`]).
    pub fn tls_url(&self) -> String {
        format!(
            "mqtts://127.0.0.1:{}",
            self.tls_port.expect("started without tls()")
        )
    }

    /// The TLS listener that requires a client certificate.
    pub fn mtls_url(&self) -> String {
        format!(
            "mqtts://127.0.0.1:{}",
            self.mtls_port.expect("started without tls()")
        )
    }

    /// `ws://127.0.0.1:<port>/mqtt` (needs [`Builder::websockets`]).
    pub fn ws_url(&self) -> String {
        format!(
            "ws://127.0.0.1:{}/mqtt",
            self.ws_port.expect("started without websockets()")
        )
    }

    /// `wss://127.0.0.1:<port>/mqtt` (needs [`Builder::tls`] and [`Builder::websockets`]).
    pub fn wss_url(&self) -> String {
        format!(
            "wss://127.0.0.1:{}/mqtt",
            self.wss_port
                .expect("started without tls() and websockets()")
        )
    }

    /// The certificates (needs [`Builder::tls`]).
    pub fn certs(&self) -> &Certs {
        self.certs.as_ref().expect("started without tls()")
    }

    /// What mosquitto logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let mut ports = free_ports(64);
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 64);
    }

    #[test]
    fn every_listener_gets_its_own_port() {
        let broker = Mosquitto::builder().tls().websockets().start();
        let mut ports = [
            Some(broker.port),
            broker.tls_port,
            broker.mtls_port,
            broker.ws_port,
            broker.wss_port,
        ]
        .map(Option::unwrap);
        ports.sort_unstable();
        assert!(ports.windows(2).all(|w| w[0] != w[1]), "{ports:?}");
    }

    #[test]
    fn a_broker_that_exits_at_start_is_reported_at_once() {
        let mut broker = Mosquitto::builder()
            .config("no_such_option true")
            .configure(None);
        let started = Instant::now();
        let log = broker.try_launch().unwrap_err();
        assert!(broker.exited());
        // Well before the 10 s a listener gets to come up.
        assert!(started.elapsed() < Duration::from_secs(5), "{log}");
    }
}
