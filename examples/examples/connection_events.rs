//! Connection management: the state as a `watch`, and events as they
//! happen — connected (with session present), disconnected (with the
//! reason), reconnecting (attempt and delay).
//!
//! ```text
//! cargo run -p examples --example connection_events
//! ```
//!
//! With `MQTT_URL` unset it starts a private Mosquitto and restarts it
//! once, so there is something to see.

use std::error::Error;
use std::time::Duration;

use mqtide::{Backoff, Client, ConnectionEvent, ConnectionState};
use mqtide_testkit::Mosquitto;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut broker = match std::env::var("MQTT_URL") {
        Ok(_) => None,
        Err(_) => Some(
            Mosquitto::start().map_err(|e| format!("set MQTT_URL, or install mosquitto: {e}"))?,
        ),
    };
    let url = match &broker {
        Some(b) => b.url(),
        None => std::env::var("MQTT_URL")?,
    };
    let client = Client::builder(&url)
        .reconnect(Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_secs(5),
        ))
        .connect()
        .await?;
    let mut events = client.events();
    println!("state: {:?}", client.state());

    if let Some(broker) = &mut broker {
        println!("restarting the broker");
        broker.restart()?;
        // Until the client is back.
        loop {
            let event = tokio::time::timeout(Duration::from_secs(30), events.recv()).await??;
            match event {
                ConnectionEvent::Connected { session_present } => {
                    println!("event: connected again (session present: {session_present})");
                    break;
                }
                ConnectionEvent::Disconnected { reason } => {
                    println!("event: disconnected: {reason}");
                }
                ConnectionEvent::Reconnecting { attempt, delay } => {
                    println!("event: reconnecting, attempt {attempt} in {delay:?}");
                }
                other => println!("event: {other:?}"),
            }
        }
    }
    assert!(matches!(client.state(), ConnectionState::Connected { .. }));
    client.disconnect().await?;
    println!("state: {:?}", client.state());
    Ok(())
}
