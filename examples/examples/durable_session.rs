//! A durable session: QoS 2 readings committed to a disk store before
//! they go out, a "crash" with acknowledgements still owed, and a new
//! client that resumes from the store and delivers every reading exactly
//! once.
//!
//! ```text
//! cargo run -p examples --example durable_session
//! ```
//!
//! Here the crash is the connection task aborted mid-flight; the crash
//! tests in `tests/tests/durable_session.rs` kill real processes with
//! SIGKILL. Set `MQTIDE_STORE` to keep the store file somewhere of your
//! choosing (it is created if missing).

#[path = "support/mod.rs"]
mod support;

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::store::{DiskStore, StoreError};
use mqtide::{Client, ClientBuilder, QoS};

const READINGS: u64 = 200;

async fn sensor(url: &str, store: &std::path::Path) -> Result<ClientBuilder, Box<dyn Error>> {
    // A task aborted mid-commit still holds the store on a blocking thread
    // until that commit ends: `Locked` for a moment, then free.
    let mut attempts = 0;
    let store = loop {
        match DiskStore::open(store) {
            Err(StoreError::Locked { .. }) if attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            result => break result?,
        }
    };
    Ok(Client::builder(url)
        .client_id(format!("durable-sensor-{}", std::process::id()))
        // The broker must keep the session too.
        .session_expiry(Duration::from_secs(3600))
        .session_store(store))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (url, _broker) = support::broker_url().await?;
    let dir = std::env::temp_dir().join(format!("mqtide-durable-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store =
        std::env::var_os("MQTIDE_STORE").map_or_else(|| dir.join("sensor.redb"), Into::into);
    let topic = format!("mqtide/example/durable/{}", std::process::id());

    let watcher = Client::builder(&url).connect().await?;
    let mut readings = watcher.subscribe(&topic, QoS::ExactlyOnce).await?;

    // First life: every reading is committed to the store when `send()`
    // returns; then the process "dies" with acknowledgements still owed.
    let (client, connection) = sensor(&url, &store).await?.build()?;
    let task = tokio::spawn(connection.run());
    client.wait_connected().await?;
    let start = client.restored().map_or(0, |r| r.last_accepted);
    for n in start..READINGS {
        let pending = client
            .publish(topic.clone(), format!("reading {n}"))
            .qos(QoS::ExactlyOnce)
            .send()
            .await?;
        drop(pending); // not waiting for PUBCOMP
    }
    task.abort();
    // An aborted task is dropped (and its store closed) when it is awaited.
    let _ = task.await;
    drop(client);
    println!("first life: {READINGS} readings committed, then a crash");

    // Second life: the same store; what was in flight is resumed.
    let client = sensor(&url, &store).await?.connect().await?;
    if let Some(restored) = client.restored() {
        println!(
            "second life: resumed {} unfinished publishes (last accepted: #{})",
            restored.publishes, restored.last_accepted
        );
    }

    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < READINGS as usize {
        let message = tokio::time::timeout(Duration::from_secs(10), readings.next())
            .await?
            .ok_or("the subscription ended")?;
        let reading = String::from_utf8_lossy(message.payload()).into_owned();
        if !seen.insert(reading.clone()) {
            return Err(format!("{reading} arrived twice").into());
        }
    }
    println!("the watcher got all {READINGS} readings, each exactly once");
    client.disconnect().await?;
    watcher.disconnect().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
