//! Logging: connect, disconnect and reconnect are reported; credentials never are.

use std::io::Write;
use std::sync::{Arc, Mutex};

use mqtt_test_broker::Mosquitto;
use mqtt_tokio::{Options, QoS};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SECRET: &str = "pa55-w0rd-never-logged";

// A current-thread runtime: the event loop logs on this thread, into this subscriber.
#[tokio::test(flavor = "current_thread")]
async fn credentials_never_appear_in_logs_or_debug_output() {
    let broker = Mosquitto::start();
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let url = format!(
        "mqtt://alice:{SECRET}@127.0.0.1:{}?client_id=logged",
        broker.port()
    );
    let options = Options::parse(&url)
        .unwrap()
        .will("w", "x", QoS::AtLeastOnce, false);
    let shown = format!("{options:?}");
    let (client, event_loop) = mqtt_tokio::connect(options).unwrap();
    let mut sub = client.subscribe("log/#", QoS::AtLeastOnce).await.unwrap();
    client
        .publish("log/x", "hello", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    sub.recv().await.unwrap();
    let shown = format!("{shown} {client:?} {sub:?}");
    client.disconnect().await.unwrap();
    event_loop.await.unwrap().unwrap();

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("connecting") && logs.contains("connected"),
        "{logs}"
    );
    assert!(logs.contains("TRACE"), "packets are traced: {logs}");
    assert!(!logs.contains(SECRET), "password in the logs:\n{logs}");
    assert!(!shown.contains(SECRET), "password in Debug output: {shown}");
    assert!(shown.contains("alice"), "{shown}");
}
