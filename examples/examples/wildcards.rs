//! Wildcards: what `+` and `#` match, checked offline with
//! `topic_matches_sub` and then live against the broker.
//!
//! ```text
//! cargo run -p examples --example wildcards
//! ```

#[path = "support/mod.rs"]
mod support;

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::{Client, QoS, topic_matches_sub};

const TOPICS: [&str; 4] = [
    "home/kitchen/temperature",
    "home/kitchen/humidity",
    "home/hall/temperature",
    "$SYS/uptime",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let filters = ["home/+/temperature", "home/kitchen/#", "#"];
    for filter in filters {
        let matching: Vec<_> = TOPICS
            .iter()
            .filter(|t| topic_matches_sub(filter, t))
            .collect();
        println!("{filter:22} matches {matching:?}");
    }

    let (url, _broker) = support::broker_url().await?;
    let client = Client::builder(&url).connect().await?;
    let prefix = format!("mqtide-example-{}", std::process::id());
    let mut temperatures = client
        .subscribe(&format!("{prefix}/home/+/temperature"), QoS::AtLeastOnce)
        .await?;
    for topic in &TOPICS[..3] {
        client
            .publish(format!("{prefix}/{topic}"), "21.5")
            .qos(QoS::AtLeastOnce)
            .await?;
    }
    for _ in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(10), temperatures.next())
            .await?
            .ok_or("stream ended")?;
        println!("home/+/temperature received {}", m.topic());
    }
    client.disconnect().await?;
    Ok(())
}
