//! The three QoS levels, with acknowledgements awaited one by one, and a
//! burst of publishes pipelined through the in-flight window with
//! `send()`, the acknowledgements collected afterwards.
//!
//! ```text
//! cargo run -p examples --example qos_levels
//! ```

#[path = "support/mod.rs"]
mod support;

use std::error::Error;
use std::time::Instant;

use mqtide::{Client, QoS};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (url, _broker) = support::broker_url().await?;
    let client = Client::builder(&url).connect().await?;
    let topic = format!("mqtide/example/qos/{}", std::process::id());

    // QoS 0: done once written. QoS 1: PUBACK. QoS 2: PUBREC, PUBREL, PUBCOMP.
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let started = Instant::now();
        let outcome = client.publish(topic.clone(), "one").qos(qos).await?;
        println!(
            "{qos:?}: {} after {:?}",
            outcome.reason_code,
            started.elapsed()
        );
    }

    // Pipelined: queue 1000 at QoS 1, then wait for every PUBACK.
    let started = Instant::now();
    let mut pending = Vec::new();
    for i in 0..1000u32 {
        pending.push(
            client
                .publish(topic.clone(), i.to_string())
                .qos(QoS::AtLeastOnce)
                .send()
                .await?,
        );
    }
    for ack in pending {
        ack.await?;
    }
    println!(
        "1000 QoS 1 publishes acknowledged in {:?}",
        started.elapsed()
    );
    client.disconnect().await?;
    Ok(())
}
