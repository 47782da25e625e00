//! One integration suite against a real mosquitto, run by every runtime adapter:
//! `mqtt_adapter_tests::suite!(MyHarness);` expands to one `#[test]` per scenario.

pub mod killable;
pub mod low_water;
pub mod scenarios;
pub mod scenarios_v5;
pub mod windowed;

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use mqtt_client::{BoxFuture, Client, ClientError, Options, Runtime};

/// What a runtime adapter's tests provide.
pub trait Harness: 'static {
    /// The runtime under test.
    type R: Runtime;
    /// Runs a test to completion on the current thread.
    fn block_on<F: Future>(f: F) -> F::Output;
    /// Spawns a task on the runtime (on other threads than `block_on`'s, so a test
    /// may block briefly, e.g. to restart the broker); returns its result.
    fn spawn<T: Send + 'static>(f: BoxFuture<T>) -> BoxFuture<T>;
}

/// Sleeps on the runtime under test.
pub fn sleep<H: Harness>(d: Duration) -> BoxFuture<()> {
    H::R::sleep_until(Instant::now() + d)
}

/// A client with its event loop spawned.
pub fn start<H: Harness>(options: Options) -> (Client, BoxFuture<Result<(), ClientError>>) {
    let (client, event_loop) = mqtt_client::new_client::<H::R>(options).expect("valid options");
    (client, H::spawn(Box::pin(event_loop.run())))
}

/// Fails the test if `f` takes longer than `secs` (a deadlock shows up as a failure,
/// not a hang).
pub async fn within<H: Harness, F: Future>(secs: u64, what: &str, f: F) -> F::Output {
    let f = std::pin::pin!(f);
    match select(f, sleep::<H>(Duration::from_secs(secs))).await {
        Either::Left((out, _)) => out,
        Either::Right(_) => panic!("{what}: not done within {secs} s"),
    }
}

/// Expands to one `#[test]` per scenario of [`scenarios`] and [`scenarios_v5`] for a
/// [`Harness`].
#[macro_export]
macro_rules! suite {
    ($h:ty) => {
        $crate::suite!(@tests $h; scenarios;
            pubsub_every_qos_and_size,
            retained_messages,
            will_on_dead_connection,
            persistent_session,
            broker_restart,
            resubscribe_after_broker_lost_session,
            overlapping_subscriptions,
            tls_with_test_ca,
            tls_wrong_ca_is_refused,
            tls_client_certificate,
            websocket,
            secure_websocket,
            publish_from_subscriber_task_never_deadlocks,
            custom_transport,
            failover_to_second_broker,
            status_and_connection_events,
            half_open_connection_detected_by_keepalive,
            unsubscribe_stops_delivery,
            invalid_input_is_an_error_at_the_call,
            publisher_cut_at_random_moments,
            bytes_one_at_a_time,
            ack_coalescing_keeps_every_message,
            read_pacing_keeps_every_message
        );
        $crate::suite!(@tests $h; scenarios_v5;
            v5_properties_round_trip,
            v5_receive_maximum_respected,
            v5_topic_alias_used,
            v5_shared_subscription_load_balanced,
            v5_request_response,
            v5_server_disconnect_handled,
            v5_overlapping_subscriptions_by_identifier,
            v5_subscription_options,
            v5_disconnect_with_reason
        );
    };
    (@tests $h:ty; $module:ident; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                <$h as $crate::Harness>::block_on($crate::within::<$h, _>(
                    120,
                    stringify!($name),
                    $crate::$module::$name::<$h>(),
                ));
            }
        )*
    };
}
