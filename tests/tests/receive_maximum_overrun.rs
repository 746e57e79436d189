//! A broker that overruns our Receive Maximum (issue 27, item 5).
//! Mosquitto 2.0.11 keeps to a subscriber's Receive Maximum of 2 for the
//! first QoS 2 messages, then sends more and more before the subscriber's
//! acknowledgements (dozens at once after a few hundred messages; with a
//! subscriber that never sends PUBREC, or never PUBCOMP, it does stop at
//! 2), against [MQTT-3.3.4-9]. The strict client disconnected with 0x93,
//! reconnected with a clean session, and lost the rest; by default
//! (`ReceiveOverrun::Tolerate`) the client takes them.
//!
//! Against a stock Mosquitto, a subscriber with Receive Maximum 2 at QoS 2
//! gets 1,000 messages, each once, on one connection. The same subscriber
//! with `ReceiveOverrun::Strict` disconnects with 0x93, which shows the
//! broker does overrun.

mod support;

use std::collections::BTreeSet;

use futures_util::StreamExt;
use mqtide::proto::{ConnectionError, ProtocolError, ReceiveOverrun};
use mqtide::{Client, ClientBuilder, ConnectionEvent, DisconnectReason, ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;
use tokio::sync::broadcast::error::TryRecvError;

use support::{client, guard};

const MESSAGES: u32 = 1_000;
const V5: ProtocolVersion = ProtocolVersion::V5;

#[tokio::test]
async fn a_thousand_qos2_messages_with_receive_maximum_2() {
    let broker = Mosquitto::start().unwrap();
    let url = broker.url();
    let subscriber = client(&url, V5, "rm2-sub").receive_maximum(2);
    let subscriber = guard("connect the subscriber", subscriber.connect())
        .await
        .unwrap();
    let mut events = subscriber.events();
    let mut messages = guard("subscribe", subscriber.subscribe("rm2/t", QoS::ExactlyOnce))
        .await
        .unwrap();

    let publisher = publish_burst(url.clone(), "rm2-pub");
    let publishing = tokio::spawn(publisher);
    let mut seen = BTreeSet::new();
    while seen.len() < MESSAGES as usize {
        let message = guard("a message", messages.next())
            .await
            .expect("the stream");
        assert_eq!(message.qos(), QoS::ExactlyOnce);
        let n: u32 = message.payload_str().unwrap().parse().unwrap();
        assert!(seen.insert(n), "message {n} delivered twice");
    }
    guard("the publisher", publishing).await.unwrap();
    // One connection throughout.
    match events.try_recv() {
        Ok(event) => panic!("the subscriber's connection changed: {event:?}"),
        Err(TryRecvError::Empty) => {}
        Err(e) => panic!("{e}"),
    }
    guard("disconnect", subscriber.disconnect()).await.unwrap();
}

/// The strict rule, kept as an option: the same broker makes it end the
/// connection with Receive Maximum exceeded.
#[tokio::test]
async fn strict_disconnects_against_the_same_broker() {
    let broker = Mosquitto::start().unwrap();
    let url = broker.url();
    let subscriber = client(&url, V5, "rm2-strict-sub")
        .receive_maximum(2)
        .receive_overrun(ReceiveOverrun::Strict);
    let subscriber = guard("connect the subscriber", subscriber.connect())
        .await
        .unwrap();
    let mut events = subscriber.events();
    let messages = guard("subscribe", subscriber.subscribe("rm2/t", QoS::ExactlyOnce))
        .await
        .unwrap();
    // Read along, so that only the broker's overrun can end the connection.
    let reading = tokio::spawn(messages.for_each(|_| async {}));
    let publishing = tokio::spawn(publish_burst(url.clone(), "rm2-strict-pub"));
    let reason = loop {
        match guard("the connection to end", events.recv()).await {
            Ok(ConnectionEvent::Disconnected {
                reason: DisconnectReason::Session(reason),
            }) => break reason,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(
        reason,
        ConnectionError::Protocol(ProtocolError::ReceiveMaximumExceeded(2))
    );
    guard("the publisher", publishing).await.unwrap();
    guard("disconnect", subscriber.disconnect()).await.unwrap();
    reading.abort();
}

/// 1,000 QoS 2 publishes on `rm2/t`, pipelined, each acknowledged.
async fn publish_burst(url: String, id: &'static str) {
    let builder: ClientBuilder = client(&url, V5, id);
    let publisher: Client = guard("connect the publisher", builder.connect())
        .await
        .unwrap();
    let mut pending = Vec::new();
    for n in 0..MESSAGES {
        let send = publisher
            .publish("rm2/t", n.to_string())
            .qos(QoS::ExactlyOnce)
            .send();
        pending.push(guard("send", send).await.unwrap());
    }
    for ack in pending {
        guard("an acknowledgement", ack).await.unwrap();
    }
    guard("disconnect the publisher", publisher.disconnect())
        .await
        .unwrap();
}
