//! A production-shaped client: a fixed client id with a persistent session
//! that outlives restarts, credentials from the environment, reconnect with
//! backoff, a subscription, a publish loop that never blocks on a slow
//! broker, `tracing` logs, and a clean shutdown on Ctrl-C (or after
//! `COUNT` messages, 20 by default, so it also runs to the end in CI).
//!
//! ```text
//! RUST_LOG=mqtide=debug cargo run -p examples --example production
//! MQTT_URL=mqtt://broker:1883 MQTT_USER=u MQTT_PASSWORD=p COUNT=0 cargo run -p examples --example production
//! ```

#[path = "support/mod.rs"]
mod support;

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::{Backoff, Client, QoS, Will};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("mqtide=info")),
        )
        .init();
    let (url, _broker) = support::broker_url().await?;
    let count: u64 = std::env::var("COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20);
    let device = format!("mqtide-device-{}", std::process::id());

    let mut builder = Client::builder(&url)
        .client_id(device.clone())
        .clean_start(false)
        .session_expiry(Duration::from_secs(300))
        .keep_alive(Duration::from_secs(30))
        .reconnect(Backoff::exponential(
            Duration::from_secs(1),
            Duration::from_secs(60),
        ))
        .will(
            Will::new(format!("devices/{device}/status"), "offline")
                .qos(QoS::AtLeastOnce)
                .retain(true),
        );
    if let (Ok(user), Ok(password)) = (std::env::var("MQTT_USER"), std::env::var("MQTT_PASSWORD")) {
        builder = builder.credentials(user, password);
    }
    let client = builder.connect().await?;
    client
        .publish(format!("devices/{device}/status"), "online")
        .qos(QoS::AtLeastOnce)
        .retain(true)
        .await?;
    let mut commands = client
        .subscribe(&format!("devices/{device}/commands/#"), QoS::AtLeastOnce)
        .await?;

    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut sent = 0u64;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            Some(command) = commands.next() => {
                println!("command on {}: {:?}", command.topic(), command.payload());
            }
            _ = ticker.tick() => {
                // Queued, not awaited: a slow broker never stalls the loop;
                // the acknowledgement is checked in the background.
                let pending = client
                    .publish(format!("devices/{device}/telemetry"), sent.to_string())
                    .qos(QoS::AtLeastOnce)
                    .send()
                    .await?;
                tokio::spawn(async move {
                    if let Err(e) = pending.await {
                        eprintln!("telemetry not acknowledged: {e}");
                    }
                });
                sent += 1;
                if count > 0 && sent >= count {
                    break;
                }
            }
        }
    }
    client
        .publish(format!("devices/{device}/status"), "offline")
        .qos(QoS::AtLeastOnce)
        .retain(true)
        .await?;
    client.disconnect().await?;
    println!("sent {sent} telemetry messages; disconnected cleanly");
    Ok(())
}
