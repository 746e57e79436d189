//! What paho-mqtt's users write first, without async (`mqtide::blocking`):
//! a persistent session, credentials from the environment, a last will,
//! reconnect with backoff, a subscription at QoS 1 read on a thread of its
//! own (paho's `loop_start` and `on_message`), a publish every 100 ms with
//! its acknowledgement awaited (`wait_for_publish`), and a clean shutdown
//! on Ctrl-C (or after `COUNT` messages, 20 by default, so it also ends in
//! CI).
//!
//! ```text
//! cargo run -p examples --example blocking_production
//! MQTT_URL=mqtt://broker:1883 MQTT_USER=u MQTT_PASSWORD=p COUNT=0 cargo run -p examples --example blocking_production
//! ```

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mqtide::blocking::Client;
use mqtide::{Backoff, QoS, Will};

#[path = "support/mod.rs"]
mod support;

fn main() -> Result<(), Box<dyn Error>> {
    let (url, _private_broker) = support::broker_url_blocking()?;
    let count: u64 = std::env::var("COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20);
    let device = format!("mqtide-blocking-device-{}", std::process::id());

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
    let client = builder.connect()?;
    println!("{device}: connected");
    client
        .publish(format!("devices/{device}/status"), "online")
        .qos(QoS::AtLeastOnce)
        .retain(true)
        .wait()?;

    // paho's on_message, on a thread of its own: the iterator ends when
    // the client closes.
    let commands = client.subscribe(format!("devices/{device}/#"), QoS::AtLeastOnce)?;
    let listener = std::thread::spawn(move || {
        let mut seen = 0u64;
        for message in commands {
            seen += 1;
            if seen.is_multiple_of(5) {
                println!("received {} ({} so far)", message.topic(), seen);
            }
        }
        seen
    });

    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, Ordering::Relaxed))?;

    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) && (count == 0 || sent < count) {
        let reading = format!("{{\"n\":{sent}}}");
        client
            .publish(format!("devices/{device}/readings"), reading)
            .qos(QoS::AtLeastOnce)
            .wait()?;
        sent += 1;
        std::thread::sleep(Duration::from_millis(100));
    }

    client
        .publish(format!("devices/{device}/status"), "offline")
        .qos(QoS::AtLeastOnce)
        .retain(true)
        .wait()?;
    client.disconnect()?;
    let received = listener
        .join()
        .map_err(|_| "the listener thread panicked")?;
    println!("{device}: sent {sent} readings, received {received} messages; disconnected");
    Ok(())
}
