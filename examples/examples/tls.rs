//! Mutual TLS with ALPN, as AWS IoT Core wants it: trust the broker's CA,
//! present a client certificate, offer an ALPN protocol.
//!
//! ```text
//! cargo run -p examples --example tls
//! MQTT_URL=mqtts://broker:8883 CA_FILE=ca.pem CERT_FILE=client.pem KEY_FILE=client.key \
//!     ALPN=x-amzn-mqtt-ca cargo run -p examples --example tls
//! ```
//!
//! Without `MQTT_URL` it starts a private Mosquitto with a mutual-TLS
//! listener and certificates generated on the spot.

use std::error::Error;

use mqtide::{Client, QoS, TlsOptions};
use mqtide_testkit::{Mosquitto, TlsListener};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let env = |name: &str| std::env::var(name).ok();
    let (url, tls, _broker) = match env("MQTT_URL") {
        Some(url) => {
            let mut tls = TlsOptions::new();
            if let Some(ca) = env("CA_FILE") {
                tls = tls.ca_file(ca);
            }
            if let (Some(cert), Some(key)) = (env("CERT_FILE"), env("KEY_FILE")) {
                tls = tls.client_cert(std::fs::read(cert)?, std::fs::read(key)?);
            }
            if let Some(alpn) = env("ALPN") {
                tls = tls.alpn([alpn]);
            }
            (url, tls, None)
        }
        None => {
            let broker = Mosquitto::builder()
                .tls(TlsListener {
                    require_client_cert: true,
                    ..TlsListener::default()
                })
                .start()
                .map_err(|e| {
                    format!("set MQTT_URL, or install mosquitto for a private broker: {e}")
                })?;
            let url = broker.tls_url().ok_or("no TLS listener")?;
            println!("started a private mosquitto with mutual TLS at {url}");
            let material = broker.tls_material().ok_or("no TLS material")?;
            let tls = TlsOptions::new()
                .ca_pem(material.ca_pem.clone())
                .client_cert(
                    material.client_cert_pem.clone(),
                    material.client_key_pem.clone(),
                );
            (url, tls, Some(broker))
        }
    };
    let client = Client::builder(&url).tls(tls).connect().await?;
    println!("connected over mutual TLS");
    let outcome = client
        .publish("mqtide/example/tls", "secured")
        .qos(QoS::AtLeastOnce)
        .await?;
    println!("published: {}", outcome.reason_code);
    client.disconnect().await?;
    Ok(())
}
