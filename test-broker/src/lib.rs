//! Starts a real mosquitto on a free loopback port for a test, and stops it after.
//!
//! Tests across the workspace use it so that every integration test runs against a
//! real broker, only ever on 127.0.0.1.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running mosquitto, killed and cleaned up on drop.
pub struct Mosquitto {
    child: Child,
    port: u16,
    dir: PathBuf,
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

impl Mosquitto {
    /// Starts mosquitto listening on 127.0.0.1 only.
    pub fn start() -> Mosquitto {
        Mosquitto::start_with("")
    }

    /// Starts mosquitto with extra lines of configuration (e.g. `max_inflight_messages`).
    pub fn start_with(extra_config: &str) -> Mosquitto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("mqtt-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n{extra_config}\n"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("mosquitto.log")).unwrap();
        let child = Command::new(binary())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mosquitto");
        let broker = Mosquitto { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(broker.addr()).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start: {}",
                broker.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    /// The port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What mosquitto logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
