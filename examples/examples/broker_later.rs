//! A service that starts before its broker (a compose file, a Kubernetes
//! pod): `ClientBuilder::start` returns a client at once and keeps trying
//! the first connection with the backoff. A publish made meanwhile waits
//! in the offline queue; `wait_connected` says when the broker is there.
//! The example exits once its own QoS 1 message has come back to it.
//!
//! ```text
//! MQTT_URL=mqtt://127.0.0.1:18830 cargo run -p examples --example broker_later &
//! sleep 3; mosquitto -p 18830
//! ```
//!
//! Without `MQTT_URL` it plays both parts: it starts a private Mosquitto,
//! stops it, and starts it again on the same port two seconds after the
//! client.

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::{Backoff, Client, ConnectionEvent, QoS};
use tokio::time::timeout;

/// How long the example waits for a broker to appear.
const WAIT: Duration = Duration::from_secs(40);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (url, mut broker) = match std::env::var("MQTT_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let mut broker = mqtide_testkit::Mosquitto::start()?;
            broker.stop();
            println!(
                "no MQTT_URL: a private mosquitto will start at {} in 2 s",
                broker.url()
            );
            (broker.url(), Some(broker))
        }
    };
    let id = format!("mqtide-broker-later-{}", std::process::id());
    let topic = format!("mqtide/examples/broker_later/{id}");

    // Returns at once: no broker needs to be there yet.
    let client = Client::builder(&url)
        .client_id(id)
        .reconnect(Backoff::exponential(
            Duration::from_millis(250),
            Duration::from_secs(2),
        ))
        .start()?;
    let mut events = client.events();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            match event {
                ConnectionEvent::ConnectFailed { server, reason } => {
                    println!("no broker at {server} yet: {reason}");
                }
                ConnectionEvent::Connected { .. } => println!("connected"),
                _ => {}
            }
        }
    });

    // Queued while offline; retained, so that the subscription made once
    // connected gets it back.
    let pending = client
        .publish(topic.clone(), "queued before the broker was there")
        .qos(QoS::AtLeastOnce)
        .retain(true)
        .send()
        .await?;

    if let Some(broker) = &mut broker {
        tokio::time::sleep(Duration::from_secs(2)).await;
        broker.restart()?;
    }
    timeout(WAIT, client.wait_connected())
        .await
        .map_err(|_| format!("no broker appeared at {url} within {WAIT:?}"))??;
    let outcome = timeout(WAIT, pending).await??;
    println!(
        "the queued publish was acknowledged ({})",
        outcome.reason_code
    );

    let mut messages = client.subscribe(&topic, QoS::AtLeastOnce).await?;
    let message = timeout(WAIT, messages.next())
        .await?
        .ok_or("the subscription ended")?;
    println!(
        "it came back: {:?} (retained: {})",
        message.payload_str(),
        message.retain()
    );
    // Clear the retained message, and leave.
    client
        .publish(topic, "")
        .qos(QoS::AtLeastOnce)
        .retain(true)
        .await?;
    client.disconnect().await?;
    Ok(())
}
