//! The shared integration suite against a real mosquitto, on async-std.

use mqtt_adapter_tests::Harness;
use mqtt_async_std::{AsyncStd, BoxFuture};

struct OnAsyncStd;

impl Harness for OnAsyncStd {
    type R = AsyncStd;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        async_std::task::block_on(f)
    }

    fn spawn<T: Send + 'static>(f: BoxFuture<T>) -> BoxFuture<T> {
        Box::pin(async_std::task::spawn(f))
    }
}

mqtt_adapter_tests::suite!(OnAsyncStd);
