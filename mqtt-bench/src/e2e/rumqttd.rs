//! rumqttd 0.20 as a second broker (`e2e --broker rumqttd`), in a child process of
//! this binary so that its CPU time is not counted as the clients'.
//!
//! mosquitto is single-threaded and saturated at QoS 1 and 2 with every client, so
//! through it the rate says little about the client. rumqttd runs its router and its
//! network loop on separate threads: on two cores it competes with the clients for
//! CPU, and a client that needs less of it leaves more to the broker.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The child process's command-line word (also how `/proc` finds it).
pub const NAME: &str = "rumqttd";

/// A rumqttd child process on a free loopback port, killed on drop.
pub struct Rumqttd {
    child: Child,
    port: u16,
}

impl Rumqttd {
    /// Starts `<this binary> rumqttd <port>` and waits until it accepts connections.
    pub fn start() -> Rumqttd {
        let port = mqtt_test_broker::free_port();
        let child = Command::new(std::env::current_exe().expect("own path"))
            .args([NAME, &port.to_string()])
            .stdin(Stdio::null())
            .spawn()
            .expect("rumqttd child");
        let mut broker = Rumqttd { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("rumqttd exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "rumqttd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Rumqttd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child process: rumqttd on `127.0.0.1:port` until killed. Limits as generous as
/// the mosquitto's (`max_inflight_messages 1000`, nothing dropped for size).
pub fn serve(port: u16) -> ! {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 1 << 20,
        max_inflight_count: 1000,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "v4".into(),
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    let config = rumqttd::Config {
        router: rumqttd::RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 1000,
            max_segment_size: 100 << 20,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Default::default()
    };
    let result = rumqttd::Broker::new(config).start();
    eprintln!("rumqttd stopped: {result:?}");
    std::process::exit(1)
}
