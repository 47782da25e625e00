//! Read pacing's receive low-water mark on smol (see `mqtt_adapter_tests::low_water`).
#![cfg(target_os = "linux")]

use mqtt_adapter_tests::low_water::{every_transport, Recording};
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

#[test]
fn raised_for_each_paced_wait_on_every_transport() {
    OnSmol::block_on(within::<OnSmol, _>(
        120,
        "low water",
        every_transport::<OnSmol>(),
    ));
}
