//! The shared integration suite against a real mosquitto, on tokio.

use mqtt_adapter_tests::Harness;
use mqtt_tokio::{BoxFuture, Tokio};

struct OnTokio;

impl Harness for OnTokio {
    type R = Tokio;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn spawn<T: Send + 'static>(f: BoxFuture<T>) -> BoxFuture<T> {
        let task = tokio::spawn(f);
        Box::pin(async move { task.await.expect("task panicked") })
    }
}

mqtt_adapter_tests::suite!(OnTokio);
