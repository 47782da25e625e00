//! Read pacing's receive low-water mark, and pacing giving way to a broker's window, on tokio (see `mqtt_adapter_tests::low_water`).
#![cfg(target_os = "linux")]

use mqtt_adapter_tests::low_water::{every_transport, Recording};
use mqtt_adapter_tests::windowed::{
    a_publisher_waiting_for_its_window_is_not_paced, pacing_gives_way_to_a_broker_window,
};
use mqtt_adapter_tests::{within, Harness};
use mqtt_tokio::{BoxFuture, Tokio};

struct OnTokio;

impl Harness for OnTokio {
    type R = Recording<Tokio>;

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

/// One test: the marks are recorded globally, so the cases run in turn.
#[test]
fn raised_for_each_paced_wait_on_every_transport_and_given_up_for_a_broker_window() {
    OnTokio::block_on(within::<OnTokio, _>(120, "low water", async {
        every_transport::<OnTokio>().await;
        pacing_gives_way_to_a_broker_window::<OnTokio>().await;
        a_publisher_waiting_for_its_window_is_not_paced::<OnTokio>().await;
    }));
}
