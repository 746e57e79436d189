//! Bidirectional device control, home-automation style: a lamp subscribes
//! to its command topic and reports its state (retained); a controller
//! switches it and waits for the state to confirm the change.
//!
//! ```text
//! cargo run -p examples --example device_control
//! ```

#[path = "support/mod.rs"]
mod support;

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::{Client, QoS};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (url, _broker) = support::broker_url().await?;
    let home = format!("mqtide-home-{}", std::process::id());
    let (command_topic, state_topic) = (format!("{home}/lamp/set"), format!("{home}/lamp/state"));

    // The lamp: obeys commands, reports its state, retained so a new
    // controller sees it at once.
    let lamp = Client::builder(&url)
        .client_id(format!("{home}-lamp"))
        .connect()
        .await?;
    let mut commands = lamp.subscribe(&command_topic, QoS::AtLeastOnce).await?;
    lamp.publish(state_topic.clone(), "OFF")
        .qos(QoS::AtLeastOnce)
        .retain(true)
        .await?;
    let lamp_task = tokio::spawn({
        let (lamp, state_topic) = (lamp.clone(), state_topic.clone());
        async move {
            while let Some(command) = commands.next().await {
                let state = if command.payload().as_ref() == b"ON" {
                    "ON"
                } else {
                    "OFF"
                };
                println!("lamp: switched {state}");
                lamp.publish(state_topic.clone(), state)
                    .qos(QoS::AtLeastOnce)
                    .retain(true)
                    .await?;
            }
            Ok::<_, mqtide::Error>(())
        }
    });

    // The controller: sees the current (retained) state, switches the lamp,
    // waits for the confirmation.
    let controller = Client::builder(&url)
        .client_id(format!("{home}-controller"))
        .connect()
        .await?;
    let mut states = controller.subscribe(&state_topic, QoS::AtLeastOnce).await?;
    let current = next_state(&mut states).await.ok_or("no state")?;
    println!(
        "controller: lamp is {}",
        String::from_utf8_lossy(current.payload())
    );
    for wanted in ["ON", "OFF"] {
        controller
            .publish(command_topic.clone(), wanted)
            .qos(QoS::AtLeastOnce)
            .await?;
        let state = next_state(&mut states).await.ok_or("no confirmation")?;
        println!(
            "controller: lamp confirmed {}",
            String::from_utf8_lossy(state.payload())
        );
    }

    // Tidy up: an empty retained message deletes the retained state.
    controller
        .publish(state_topic.clone(), "")
        .retain(true)
        .await?;
    controller.disconnect().await?;
    lamp.disconnect().await?;
    lamp_task.await??;
    Ok(())
}

/// The next state report, or `None` after 10 s.
async fn next_state(states: &mut mqtide::Subscription) -> Option<mqtide::Message> {
    tokio::time::timeout(Duration::from_secs(10), states.next())
        .await
        .ok()
        .flatten()
}
