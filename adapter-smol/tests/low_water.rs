//! Read pacing's receive low-water mark, and pacing giving way to a broker's window, on smol (see `mqtt_adapter_tests::low_water`).
#![cfg(target_os = "linux")]

use mqtt_adapter_tests::low_water::{every_transport, Recording};
use mqtt_adapter_tests::windowed::{
    a_publisher_waiting_for_its_window_is_not_paced, pacing_gives_way_to_a_broker_window,
};
use mqtt_adapter_tests::{within, Harness};
use mqtt_smol::{BoxFuture, Smol};

struct OnSmol;

impl Harness for OnSmol {
    type R = Recording<Smol>;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        smol::block_on(f)
    }

    fn spawn<T: Send + 'static>(f: BoxFuture<T>) -> BoxFuture<T> {
        Box::pin(smol::spawn(f))
    }
}

/// One test: the marks are recorded globally, so the cases run in turn.
#[test]
fn raised_for_each_paced_wait_on_every_transport_and_given_up_for_a_broker_window() {
    OnSmol::block_on(within::<OnSmol, _>(120, "low water", async {
        every_transport::<OnSmol>().await;
        pacing_gives_way_to_a_broker_window::<OnSmol>().await;
        a_publisher_waiting_for_its_window_is_not_paced::<OnSmol>().await;
    }));
}
