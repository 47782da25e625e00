//! The shared integration suite against a real mosquitto, on smol.

use mqtt_adapter_tests::Harness;
use mqtt_smol::{BoxFuture, Smol};

struct OnSmol;

impl Harness for OnSmol {
    type R = Smol;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        smol::block_on(f)
    }

    fn spawn<T: Send + 'static>(f: BoxFuture<T>) -> BoxFuture<T> {
        Box::pin(smol::spawn(f))
    }
}

mqtt_adapter_tests::suite!(OnSmol);
