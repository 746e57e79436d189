//! Shared by the examples: where the broker is. `MQTT_URL` if set, else
//! `mqtt://localhost:1883` if something answers there, else a private
//! Mosquitto started through mqtide-testkit (said out loud).

#![allow(dead_code, reason = "each example uses part of it")]

use std::error::Error;

pub(crate) const DEFAULT_URL: &str = "mqtt://localhost:1883";

/// The broker URL, and the private broker if one was started (keep it
/// alive as long as the URL is used).
pub(crate) async fn broker_url()
-> Result<(String, Option<mqtide_testkit::Mosquitto>), Box<dyn Error>> {
    if let Ok(url) = std::env::var("MQTT_URL") {
        return Ok((url, None));
    }
    if tokio::net::TcpStream::connect("localhost:1883")
        .await
        .is_ok()
    {
        return Ok((DEFAULT_URL.to_owned(), None));
    }
    private_broker()
}

/// [`broker_url`] without async, for the blocking examples.
pub(crate) fn broker_url_blocking()
-> Result<(String, Option<mqtide_testkit::Mosquitto>), Box<dyn Error>> {
    if let Ok(url) = std::env::var("MQTT_URL") {
        return Ok((url, None));
    }
    if std::net::TcpStream::connect("localhost:1883").is_ok() {
        return Ok((DEFAULT_URL.to_owned(), None));
    }
    private_broker()
}

/// Nothing answers at the default address: a private Mosquitto, said out
/// loud.
fn private_broker() -> Result<(String, Option<mqtide_testkit::Mosquitto>), Box<dyn Error>> {
    let broker = mqtide_testkit::Mosquitto::start().map_err(|e| {
        format!(
            "no MQTT broker at {DEFAULT_URL} and none could be started ({e}).\n\
             Set MQTT_URL=mqtt://host:port, or install mosquitto (apt-get install mosquitto)."
        )
    })?;
    println!(
        "nothing answers at {DEFAULT_URL}; started a private mosquitto at {}",
        broker.url()
    );
    Ok((broker.url(), Some(broker)))
}
