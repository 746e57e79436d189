//! The quickstart without async (`mqtide::blocking`, feature `blocking`):
//! connect, subscribe, publish at each QoS waiting for the
//! acknowledgement, print what arrives, disconnect. A program like this
//! needs no tokio dependency of its own:
//!
//! ```toml
//! [dependencies]
//! mqtide = { version = "0.1", features = ["blocking"] }
//! ```
//!
//! ```text
//! cargo run -p examples --example blocking_quickstart
//! MQTT_URL=mqtt://broker.example:1883 cargo run -p examples --example blocking_quickstart
//! ```

use std::error::Error;
use std::time::Duration;

use mqtide::QoS;
use mqtide::blocking::Client;

#[path = "support/mod.rs"]
mod support;

fn main() -> Result<(), Box<dyn Error>> {
    let (url, _private_broker) = support::broker_url_blocking()?;
    let client = Client::builder(&url)
        .client_id(format!("mqtide-blocking-quickstart-{}", std::process::id()))
        .keep_alive(Duration::from_secs(30))
        .connect()?;
    println!("connected");

    let topic = format!("mqtide/blocking-quickstart/{}", std::process::id());
    let mut messages = client.subscribe(format!("{topic}/#"), QoS::ExactlyOnce)?;
    println!("subscribed to {topic}/#");

    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let outcome = client
            .publish(
                format!("{topic}/qos{}", qos as u8),
                format!("hello at {qos:?}"),
            )
            .qos(qos)
            .wait()?;
        println!("published at {qos:?}: {}", outcome.reason_code);
    }

    for _ in 0..3 {
        let message = messages.recv_timeout(Duration::from_secs(10))?;
        println!(
            "received {} at {:?}: {}",
            message.topic(),
            message.qos(),
            String::from_utf8_lossy(message.payload())
        );
    }

    client.disconnect()?;
    println!("disconnected");
    Ok(())
}
