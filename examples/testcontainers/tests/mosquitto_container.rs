//! mqtide against Mosquitto in a Docker container, started by
//! testcontainers-modules instead of mqtide-testkit: the pattern for
//! projects whose tests already run their services in Docker.
//!
//! ```text
//! cargo test -p examples-testcontainers -- --ignored
//! ```
//!
//! It needs a running Docker engine (it pulls and starts the
//! `eclipse-mosquitto` image), so it is `#[ignore]`d: CI and machines
//! without Docker compile it but do not run it. mqtide's own tests use
//! mqtide-testkit, which starts the distribution's `mosquitto` binary on a
//! free port and needs no Docker.

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::{Client, QoS};
use testcontainers_modules::mosquitto::Mosquitto;
use testcontainers_modules::testcontainers::runners::AsyncRunner;

/// A hang guard for each message, never a delay.
const GUARD: Duration = Duration::from_secs(30);

#[tokio::test]
#[ignore = "needs a Docker engine: testcontainers starts the eclipse-mosquitto image \
            (run with `cargo test -p examples-testcontainers -- --ignored`)"]
async fn each_qos_against_a_mosquitto_container() -> Result<(), Box<dyn Error>> {
    // The container (Mosquitto with anonymous access on 1883) lives as
    // long as this handle; dropping it removes the container.
    let broker = Mosquitto::default().start().await?;
    let url = format!(
        "mqtt://{}:{}",
        broker.get_host().await?,
        broker.get_host_port_ipv4(1883).await?
    );

    let client = Client::builder(&url)
        .client_id("mqtide-testcontainers")
        .connect()
        .await?;
    let mut messages = client
        .subscribe("mqtide/testcontainers/#", QoS::ExactlyOnce)
        .await?;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let payload = format!("{qos:?}");
        client
            .publish("mqtide/testcontainers/qos", payload.clone())
            .qos(qos)
            .await?;
        let message = tokio::time::timeout(GUARD, messages.next())
            .await?
            .ok_or("the subscription ended")?;
        assert_eq!(message.qos(), qos);
        assert_eq!(message.payload().as_ref(), payload.as_bytes());
    }
    client.disconnect().await?;
    Ok(())
}
