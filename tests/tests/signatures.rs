//! The argument conventions of issue 31, as a user writes them, against a
//! real Mosquitto: borrowed payloads, topics and filters as `&str`,
//! `String`, `&String` or `&&str`, `subscribe_many` with plain QoS,
//! `unsubscribe_many` with string filters, `oneshot::Outgoing`'s builder
//! methods, and the error types matched at the crate root.

mod support;

use mqtide::oneshot::Outgoing;
use mqtide::{Error, ProtocolVersion, QoS, RequestError, UsageError};
use mqtide_testkit::Mosquitto;
use support::{client, guard, next};

#[tokio::test]
async fn borrowed_and_owned_arguments_are_taken_alike() {
    let broker = Mosquitto::start().unwrap();
    let c = client(&broker.url(), ProtocolVersion::V5, "signatures").connect();
    let c = guard("connect", c).await.unwrap();

    let filter = String::from("sig/owned/#");
    let mut owned = guard("subscribe", c.subscribe(&filter, QoS::AtLeastOnce))
        .await
        .unwrap();
    let filters = ["sig/a", "sig/b"];
    let mut each = Vec::new();
    for filter in &filters {
        // `&&str`
        each.push(
            guard("subscribe", c.subscribe(filter, QoS::AtMostOnce))
                .await
                .unwrap(),
        );
    }
    let mut many = guard(
        "subscribe_many",
        c.subscribe_many([("sig/m/1", QoS::AtLeastOnce), ("sig/m/2", QoS::ExactlyOnce)]),
    )
    .await
    .unwrap();
    assert_eq!(many.reason_codes().len(), 2);

    // A payload borrowed from a String that lives shorter than the call.
    let text = format!("reading {}", 21);
    let topic = String::from("sig/owned/x");
    guard(
        "publish",
        c.publish(&topic, text.as_str()).qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    drop(text);
    assert_eq!(next(&mut owned).await.payload_str(), Some("reading 21"));
    guard("publish", c.publish(topic.clone(), b"bytes"))
        .await
        .unwrap();
    assert_eq!(next(&mut owned).await.payload().as_ref(), b"bytes");
    guard(
        "publish",
        c.publish("sig/m/2", vec![1u8, 2]).qos(QoS::ExactlyOnce),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut many).await.payload().as_ref(), [1, 2]);

    guard("unsubscribe_many", c.unsubscribe_many(filters))
        .await
        .unwrap();
    guard("unsubscribe", c.unsubscribe(String::from("sig/m/1")))
        .await
        .unwrap();

    // Errors users match on, at the crate root.
    match c.subscribe("sig/#/bad", QoS::AtMostOnce).await {
        Err(Error::InvalidFilter { filter, .. }) => assert_eq!(filter, "sig/#/bad"),
        other => panic!("{other:?}"),
    }
    match c.publish("sig/+", "x").await {
        Err(Error::Usage(UsageError::InvalidTopic(_))) => {}
        other => panic!("{other:?}"),
    }
    let _: Option<RequestError> = None;

    let message = Outgoing::new("sig/owned/y", "one-shot")
        .qos(QoS::AtLeastOnce)
        .retain(false);
    assert_eq!(message.qos, QoS::AtLeastOnce);
    guard("disconnect", c.disconnect()).await.unwrap();
}
