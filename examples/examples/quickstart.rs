//! The quickstart: connect, subscribe, publish at each QoS with the
//! acknowledgement awaited, print what arrives, disconnect.
//!
//! ```text
//! cargo run -p examples --example quickstart
//! MQTT_URL=mqtt://user:pass@broker.example:1883 cargo run -p examples --example quickstart
//! ```
//!
//! With `MQTT_URL` unset it uses `mqtt://localhost:1883`; if nothing
//! answers there and the `mosquitto` binary is installed, it starts a
//! private broker (through mqtide-testkit) and says so.

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::{Client, QoS};

#[path = "support/mod.rs"]
mod support;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (url, _private_broker) = support::broker_url().await?;
    println!("connecting to {}", redact(&url));
    let client = Client::builder(&url)
        .client_id(format!("mqtide-quickstart-{}", std::process::id()))
        .keep_alive(Duration::from_secs(30))
        .connect()
        .await?;
    println!("connected");

    let topic = format!("mqtide/quickstart/{}", std::process::id());
    let mut messages = client
        .subscribe(&format!("{topic}/#"), QoS::ExactlyOnce)
        .await?;
    println!("subscribed to {topic}/#");

    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let outcome = client
            .publish(
                format!("{topic}/qos{}", qos as u8),
                format!("hello at {qos:?}"),
            )
            .qos(qos)
            .await?;
        println!("published at {qos:?}: {}", outcome.reason_code);
    }

    for _ in 0..3 {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await?
            .ok_or("the subscription ended early")?;
        println!(
            "received {} at {:?}: {}",
            message.topic(),
            message.qos(),
            String::from_utf8_lossy(message.payload())
        );
    }

    client.disconnect().await?;
    println!("disconnected");
    Ok(())
}

fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((head, tail)) if head.contains("://") => {
            let scheme = head.split("://").next().unwrap_or("mqtt");
            format!("{scheme}://***@{tail}")
        }
        _ => url.to_owned(),
    }
}
