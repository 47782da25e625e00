//! A tour of MQTT 5.0 against a real broker: what the server allows (CONNACK
//! properties), a message with properties, request / response, a shared
//! subscription spread over two workers, subscription options, and DISCONNECT with
//! a reason code that has the broker publish the will.
//!
//! ```text
//! cargo run -p mqtt-tokio --example v5 -- mqtt://127.0.0.1:1883
//! ```

use std::time::Duration;

use mqtt_tokio::v5::DisconnectReasonCode;
use mqtt_tokio::{Options, PayloadFormat, ProtocolVersion, QoS, SubscriptionOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
    let id = |name: &str| format!("v5-{name}-{}", std::process::id());
    let v5 = |name: &str| -> Result<Options, Box<dyn std::error::Error>> {
        Ok(Options::parse(&url)?
            .protocol(ProtocolVersion::V5)
            .client_id(&id(name)))
    };

    // 1. What the server allows on this connection, from its CONNACK.
    let (client, event_loop) = mqtt_tokio::connect(v5("tour")?.will(
        "v5demo/status",
        "tour gone",
        QoS::AtLeastOnce,
        false,
    ))?;
    let mut sub = client.subscribe("v5demo/#", QoS::AtLeastOnce).await?;
    let limits = client.server_limits().ok_or("no CONNACK properties")?;
    println!(
        "server allows: receive maximum {}, topic aliases {}, maximum QoS {:?}, retain {}, shared subscriptions {}",
        limits.receive_maximum,
        limits.topic_alias_maximum,
        limits.maximum_qos,
        limits.retain_available,
        limits.shared_subscription_available
    );

    // 2. A message with properties; the subscriber sees them all.
    client
        .message("v5demo/reading", "21.5")
        .qos(QoS::AtLeastOnce)
        .content_type("text/plain")
        .payload_format(PayloadFormat::Utf8)
        .user_property("unit", "celsius")
        .user_property("sensor", "kitchen")
        .message_expiry(Duration::from_secs(60))
        .publish()
        .await?;
    let m = sub.recv().await.ok_or("subscription ended")?;
    println!(
        "received {} = {:?}: content type {:?}, user properties {:?}, expires in {:?} s",
        m.topic(),
        String::from_utf8_lossy(m.payload()),
        m.content_type(),
        m.user_properties(),
        m.message_expiry_interval()
    );

    // 3. Request / response: a service answers on the Response Topic each request
    //    names, with its Correlation Data.
    let (service, _service_loop) = mqtt_tokio::connect(v5("service")?)?;
    let mut requests = service
        .subscribe("v5demo/svc/upper", QoS::AtLeastOnce)
        .await?;
    let responder = service.clone();
    tokio::spawn(async move {
        while let Some(req) = requests.recv().await {
            let answer = String::from_utf8_lossy(req.payload()).to_uppercase();
            let _ = responder.respond(&req, answer).await;
        }
    });
    for word in ["hello", "mqtt five"] {
        let answer = client
            .request("v5demo/svc/upper", word, QoS::AtLeastOnce)
            .await?;
        println!(
            "request {word:?} -> {:?}",
            String::from_utf8_lossy(answer.payload())
        );
    }

    // 4. A shared subscription: two workers split the jobs between them.
    let (worker, _worker_loop) = mqtt_tokio::connect(v5("worker")?)?;
    let mut mine = client
        .subscribe("$share/workers/v5jobs/#", QoS::AtLeastOnce)
        .await?;
    let mut theirs = worker
        .subscribe("$share/workers/v5jobs/#", QoS::AtLeastOnce)
        .await?;
    for i in 0..10 {
        client
            .publish(format!("v5jobs/{i}"), "job", QoS::AtLeastOnce, false)
            .await?;
    }
    let (mut a, mut b) = (0, 0);
    while a + b < 10 {
        tokio::select! {
            Some(_) = mine.recv() => a += 1,
            Some(_) = theirs.recv() => b += 1,
        }
    }
    println!("shared subscription: this client took {a} jobs, the worker {b}");

    // 5. No Local: a subscription that never sees this client's own messages.
    let mut others_only = client
        .subscribe_with(
            "v5demo/chat",
            SubscriptionOptions {
                no_local: true,
                ..SubscriptionOptions::new(QoS::AtLeastOnce)
            },
        )
        .await?;
    client
        .publish("v5demo/chat", "from me", QoS::AtLeastOnce, false)
        .await?;
    worker
        .publish("v5demo/chat", "from the worker", QoS::AtLeastOnce, false)
        .await?;
    let m = others_only.recv().await.ok_or("subscription ended")?;
    println!(
        "no local: got only {:?}",
        String::from_utf8_lossy(m.payload())
    );

    // 6. DISCONNECT with reason 0x04: the broker publishes the will anyway.
    let mut wills = worker.subscribe("v5demo/status", QoS::AtLeastOnce).await?;
    client
        .disconnect_with(DisconnectReasonCode::DisconnectWithWillMessage, None)
        .await?;
    event_loop.await??;
    let will = wills.recv().await.ok_or("subscription ended")?;
    println!(
        "disconnected with the will: the worker got {:?}",
        String::from_utf8_lossy(will.payload())
    );
    worker.disconnect().await?;
    service.disconnect().await?;
    println!("done");
    Ok(())
}
