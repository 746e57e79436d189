//! MQTT over WebSocket, as brokers behind HTTP load balancers serve it:
//! connect to a `ws://` (or `wss://`) URL, subscribe, publish one message
//! at each QoS, print what comes back, disconnect.
//!
//! ```text
//! cargo run -p examples --example websocket
//! MQTT_URL=ws://broker:8080/mqtt cargo run -p examples --example websocket
//! MQTT_URL=wss://broker:8443/mqtt CA_FILE=ca.pem cargo run -p examples --example websocket
//! ```
//!
//! Unless `MQTT_URL` is a `ws://` or `wss://` URL, it starts a private
//! Mosquitto with a WebSocket listener through mqtide-testkit (a
//! WebSocket front before the broker's TCP port, as a load balancer
//! would be) and says so. Every wait is bounded, so it always ends.

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::{Client, QoS, TlsOptions};
use mqtide_testkit::Mosquitto;

/// How long to wait for the broker, and for each message to come back.
const WAIT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let given = std::env::var("MQTT_URL")
        .ok()
        .filter(|url| url.starts_with("ws://") || url.starts_with("wss://"));
    let (url, _broker) = match given {
        Some(url) => (url, None),
        None => {
            let broker = Mosquitto::builder().websocket(true).start().map_err(|e| {
                format!(
                    "MQTT_URL is not a ws:// or wss:// URL and no private broker could be \
                         started ({e}).\nSet MQTT_URL=ws://host:port/path, or install mosquitto \
                         (apt-get install mosquitto)."
                )
            })?;
            let url = broker
                .ws_url()
                .ok_or("the private broker has no WebSocket listener")?;
            println!(
                "MQTT_URL is not a ws:// or wss:// URL; started a private mosquitto with a WebSocket listener at {url}"
            );
            (url, Some(broker))
        }
    };

    // The `mqtt` subprotocol and binary frames are the client's business;
    // extra upgrade headers (an API key, say) go in with `ws_header`.
    let mut builder = Client::builder(&url)
        .connect_timeout(WAIT)
        .ws_header("user-agent", "mqtide-websocket-example");
    // wss:// verifies the broker against the system's roots, or CA_FILE.
    if let (true, Ok(ca)) = (url.starts_with("wss://"), std::env::var("CA_FILE")) {
        builder = builder.tls(TlsOptions::new().ca_file(ca));
    }
    let client = builder
        .connect()
        .await
        .map_err(|e| format!("no MQTT broker answers over WebSocket at {url}: {e}"))?;
    println!("connected to {url}");

    let topic = format!("mqtide/example/websocket/{}", std::process::id());
    let mut messages = client.subscribe(&topic, QoS::ExactlyOnce).await?;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let outcome = client
            .publish(topic.clone(), format!("hello over WebSocket at {qos:?}"))
            .qos(qos)
            .await?;
        println!("published at {qos:?}: {}", outcome.reason_code);
        let message = tokio::time::timeout(WAIT, messages.next())
            .await
            .map_err(|_| format!("the message at {qos:?} did not come back within {WAIT:?}"))?
            .ok_or("the subscription ended")?;
        println!(
            "received on {} at {:?}: {}",
            message.topic(),
            message.qos(),
            String::from_utf8_lossy(message.payload())
        );
    }
    client.disconnect().await?;
    println!("disconnected");
    Ok(())
}
