//! A tour of the client against a real broker: connection events, overlapping
//! subscriptions, every QoS, retained messages, publishing from the receiving task,
//! status, and a clean disconnect.
//!
//! ```text
//! cargo run -p mqtt-tokio --example demo -- mqtt://127.0.0.1:1883
//! ```
//!
//! `scripts/demo.sh` starts a mosquitto on a free loopback port and runs this.

use std::time::Duration;

use mqtt_tokio::{ConnectionEvent, Options, QoS};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
    let id = format!("demo-{}", std::process::id());
    let opts = Options::parse(&url)?
        .client_id(&id)
        .keep_alive(Duration::from_secs(30))
        .will(
            "demo/status",
            "offline (connection lost)",
            QoS::AtLeastOnce,
            true,
        );
    let (client, event_loop) = mqtt_tokio::client(opts)?;

    // 1. Connection events, as they happen.
    let mut events = client.connection_events();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let ConnectionEvent::Connected { broker, .. } = &event {
                println!("[event] connected to {broker}");
            } else {
                println!("[event] {event:?}");
            }
        }
    });
    let event_loop = tokio::spawn(event_loop.run());

    // 2. Two overlapping subscriptions: a message on demo/kitchen/temp matches both.
    let mut all = client.subscribe("demo/#", QoS::ExactlyOnce).await?;
    let mut temps = client.subscribe("demo/+/temp", QoS::AtLeastOnce).await?;
    println!(
        "subscribed: {} (granted {:?}), {} (granted {:?})",
        all.filter(),
        all.granted_qos(),
        temps.filter(),
        temps.granted_qos()
    );

    // 3. One publish per QoS; each call returns once the broker has the message
    //    (QoS 0: written, QoS 1: PUBACK, QoS 2: PUBCOMP).
    for (qos, text) in [
        (QoS::AtMostOnce, "19.5"),
        (QoS::AtLeastOnce, "20.0"),
        (QoS::ExactlyOnce, "20.5"),
    ] {
        client
            .publish("demo/kitchen/temp", text, qos, false)
            .await?;
        println!("published {text} at {qos:?}: done (QoS 0 written, 1 PUBACK, 2 PUBCOMP)");
    }
    for _ in 0..3 {
        let m = all.recv().await.ok_or("subscription ended")?;
        let t = temps.recv().await.ok_or("subscription ended")?;
        println!(
            "  {} got {} {:?} (delivered at {:?}); {} got it too at {:?}",
            all.filter(),
            m.topic(),
            String::from_utf8_lossy(m.payload()),
            m.qos(),
            temps.filter(),
            t.qos()
        );
    }

    // 4. A retained message: the broker keeps it for later subscribers.
    client
        .publish("demo/status", "online", QoS::AtLeastOnce, true)
        .await?;
    let m = all.recv().await.ok_or("subscription ended")?;
    println!(
        "live: {} = {:?}",
        m.topic(),
        String::from_utf8_lossy(m.payload())
    );
    drop(all); // unsubscribes from demo/#
    let mut late = client.subscribe("demo/status", QoS::AtLeastOnce).await?;
    let m = late.recv().await.ok_or("subscription ended")?;
    println!(
        "a later subscriber gets the retained {:?} (retain flag {})",
        String::from_utf8_lossy(m.payload()),
        m.retain()
    );

    // 5. Publishing from the task that consumes a subscription never deadlocks.
    let echo = client.clone();
    let mut pings = client.subscribe("demo/ping", QoS::AtLeastOnce).await?;
    let mut pongs = client.subscribe("demo/pong", QoS::AtLeastOnce).await?;
    let responder = tokio::spawn(async move {
        while let Some(m) = pings.recv().await {
            let reply = format!("pong {}", String::from_utf8_lossy(m.payload()));
            echo.publish("demo/pong", reply, QoS::AtLeastOnce, false)
                .await
                .expect("reply");
        }
    });
    for i in 1..=3 {
        client
            .publish("demo/ping", i.to_string(), QoS::AtLeastOnce, false)
            .await?;
        let m = pongs.recv().await.ok_or("subscription ended")?;
        println!("request {i} -> {:?}", String::from_utf8_lossy(m.payload()));
    }

    // 6. What the client can tell about itself.
    let s = client.status();
    println!(
        "status: {:?} to {}, {} in flight, {} queued, {} received, {} subscriptions",
        s.state,
        s.broker.as_deref().unwrap_or("?"),
        s.inflight,
        s.queued,
        s.messages_received,
        s.subscriptions
    );

    // 7. Clear the retained message, then a clean DISCONNECT (the will is discarded).
    client
        .publish("demo/status", "", QoS::AtLeastOnce, true)
        .await?;
    client.disconnect().await?;
    event_loop.await??;
    responder.await?;
    println!("disconnected cleanly");
    Ok(())
}
