//! The Eclipse Paho interoperability client scenarios for MQTT 3.1.1
//! (paho.mqtt.testing, `interoperability/client_test.py`), each a test
//! against a private Mosquitto. The scenarios themselves are in
//! `support/paho.rs`, shared with the 5.0 run in `interop_v5.rs`; what
//! each asserts, and where Mosquitto 2.0.11 differs from what Paho
//! expects, is written there.
//!
//! ```sh
//! cargo test -p tests --test interop_v311
//! ```

#[path = "support/interop.rs"]
mod interop;
#[path = "support/paho.rs"]
mod paho;
mod support;

use mqtide::ProtocolVersion::V3_1_1;

#[tokio::test]
async fn basic_v311() {
    paho::basic(V3_1_1).await;
}

#[tokio::test]
async fn retained_messages_v311() {
    paho::retained_messages(V3_1_1).await;
}

#[tokio::test]
async fn will_message_v311() {
    paho::will_message(V3_1_1).await;
}

#[tokio::test]
async fn zero_length_client_id_v311() {
    paho::zero_length_client_id(V3_1_1).await;
}

#[tokio::test]
async fn offline_message_queueing_v311() {
    paho::offline_message_queueing(V3_1_1).await;
}

#[tokio::test]
async fn overlapping_subscriptions_v311() {
    paho::overlapping_subscriptions(V3_1_1).await;
}

#[tokio::test]
async fn keep_alive_v311() {
    paho::keep_alive(V3_1_1).await;
}

#[tokio::test]
async fn redelivery_on_reconnect_v311() {
    paho::redelivery_on_reconnect(V3_1_1).await;
}

#[tokio::test]
async fn subscribe_failure_v311() {
    paho::subscribe_failure(V3_1_1).await;
}

#[tokio::test]
async fn dollar_topics_v311() {
    paho::dollar_topics(V3_1_1).await;
}

#[tokio::test]
async fn unsubscribe_v311() {
    paho::unsubscribe(V3_1_1).await;
}
