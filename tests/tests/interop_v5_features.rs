//! The Eclipse Paho interoperability client scenarios for MQTT 5.0
//! (paho.mqtt.testing, `interoperability/client_test5.py`) about 5.0
//! features, each a test against a private Mosquitto: subscription options
//! and identifiers, topic aliases both ways, maximum packet size, server
//! keep-alive, flow control and shared subscriptions. The others are in
//! `interop_v5.rs`.
//!
//! Where Mosquitto 2.0.11 does something else than Paho expects, the test
//! asserts what Mosquitto does and a comment says so.
//!
//! ```sh
//! cargo test -p tests --test interop_v5_features
//! ```

#[path = "support/interop.rs"]
mod interop;
mod support;

use std::time::Duration;

use interop::{
    Raw, TOPICS, WILDTOPICS, assert_next_is_marker, connect, disconnect, qos_levels,
    session_present, take,
};
use mqtide::ProtocolVersion::V5;
use mqtide::proto::{Packet, Publish, SubscriptionId};
use mqtide::{
    ConnectionEvent, Error, Message, QoS, ReasonCode, RetainHandling, SubscribeProperties,
    SubscriptionOptions,
};
use mqtide_testkit::{Fault, FaultProxy, Mosquitto, Scope};
use support::{client, guard, next};

/// Options at QoS 2 with `edit` applied.
fn options(edit: impl FnOnce(&mut SubscriptionOptions)) -> SubscriptionOptions {
    let mut options = SubscriptionOptions::new(QoS::ExactlyOnce);
    edit(&mut options);
    options
}

/// Subscribes `c` to `filter` with `options`.
async fn subscribe(
    c: &mqtide::Client,
    filter: &str,
    options: SubscriptionOptions,
) -> mqtide::Subscription {
    let sub = c.subscribe_many([(filter, options)]);
    guard("subscribe", sub).await.unwrap()
}

/// Paho's retained messages for the retain handling steps: QoS 0, 1 and 2
/// on three topics `+/+` matches.
async fn publish_retained(c: &mqtide::Client) {
    for (topic, payload, qos) in [
        (TOPICS[1], "qos 0", QoS::AtMostOnce),
        (TOPICS[2], "qos 1", QoS::AtLeastOnce),
        (TOPICS[3], "qos 2", QoS::ExactlyOnce),
    ] {
        guard("publish", c.publish(topic, payload).qos(qos).retain(true))
            .await
            .unwrap();
    }
}

/// Subscribe options: no local (a client does not get its own messages),
/// retain as published (the RETAIN flag kept as sent), and retain handling
/// 0, 1 and 2 (retained messages at every subscribe, only at a new one,
/// never).
#[tokio::test]
async fn subscribe_options_v5() {
    let broker = Mosquitto::start().unwrap();
    let url = broker.url();

    // No local.
    let a = connect(client(&url, V5, "myclientid")).await;
    let b = connect(client(&url, V5, "myclientid2")).await;
    let no_local = options(|o| o.no_local = true);
    let mut at_a = subscribe(&a, TOPICS[0], no_local).await;
    let mut at_b = subscribe(&b, TOPICS[0], no_local).await;
    guard(
        "publish",
        a.publish(TOPICS[0], "noLocal test").qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut at_b).await.payload_str(), Some("noLocal test"));
    // `a` did not get its own message: the next it gets is b's marker.
    assert_next_is_marker(&b, TOPICS[0], &mut at_a).await;
    disconnect(a).await;
    disconnect(b).await;

    // Retain as published.
    let a = connect(client(&url, V5, "myclientid")).await;
    let mut sub = subscribe(&a, TOPICS[0], options(|o| o.retain_as_published = true)).await;
    for retain in [false, true] {
        let payload = format!("retain as published {retain}");
        let publish = a
            .publish(TOPICS[0], payload)
            .qos(QoS::AtLeastOnce)
            .retain(retain);
        guard("publish", publish).await.unwrap();
    }
    let flags: Vec<bool> = take(&mut sub, 2)
        .await
        .iter()
        .map(Message::retain)
        .collect();
    assert_eq!(flags, [false, true]);
    disconnect(a).await;

    // Retain handling 1: retained messages for a new subscription only.
    let a = connect(client(&url, V5, "myclientid")).await;
    let mut all = guard("messages", a.messages()).await.unwrap();
    publish_retained(&a).await;
    let send_if_new = options(|o| o.retain_handling = RetainHandling::SendIfNew);
    let _first = subscribe(&a, WILDTOPICS[5], send_if_new).await;
    let retained = take(&mut all, 3).await;
    assert!(retained.iter().all(Message::retain));
    assert_eq!(
        qos_levels(&retained),
        [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
    );
    let _again = subscribe(&a, WILDTOPICS[5], send_if_new).await;
    assert_next_is_marker(&a, TOPICS[1], &mut all).await;
    disconnect(a).await;

    // Retain handling 2: never.
    let a = connect(client(&url, V5, "myclientid")).await;
    let mut all = guard("messages", a.messages()).await.unwrap();
    let do_not_send = options(|o| o.retain_handling = RetainHandling::DoNotSend);
    for _ in 0..2 {
        let _sub = subscribe(&a, WILDTOPICS[5], do_not_send).await;
        assert_next_is_marker(&a, TOPICS[1], &mut all).await;
    }
    disconnect(a).await;

    // Retain handling 0: at every subscribe.
    let a = connect(client(&url, V5, "myclientid")).await;
    let mut all = guard("messages", a.messages()).await.unwrap();
    for _ in 0..2 {
        let _sub = subscribe(
            &a,
            WILDTOPICS[5],
            SubscriptionOptions::new(QoS::ExactlyOnce),
        )
        .await;
        let retained = take(&mut all, 3).await;
        assert_eq!(
            qos_levels(&retained),
            [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        );
    }
    disconnect(a).await;
}

/// The identifiers a message carries, sorted.
fn subscription_ids(m: &Message) -> Vec<u32> {
    let mut ids: Vec<u32> = m
        .properties()
        .subscription_identifiers
        .iter()
        .map(|id| id.get())
        .collect();
    ids.sort_unstable();
    ids
}

/// Subscription identifiers: a message carries the identifier of the
/// subscription it matched (456789); matching two subscriptions of one
/// client (2 and 3), the identifiers of both. Paho expects one message
/// with both; Mosquitto 2.0.11 sends one copy per subscription, each with
/// its own. Then the identifiers mqtide assigns by itself, which route each
/// copy to its stream.
#[tokio::test]
async fn subscription_identifiers_v5() {
    let broker = Mosquitto::start().unwrap();
    let with_id = |id: u32| SubscribeProperties {
        subscription_identifier: SubscriptionId::new(id),
        ..SubscribeProperties::default()
    };
    let qos2 = SubscriptionOptions::new(QoS::ExactlyOnce);
    let a = connect(client(&broker.url(), V5, "myclientid")).await;
    let sub = a.subscribe_with([(TOPICS[0], qos2)], with_id(456_789));
    let mut at_a = guard("subscribe", sub).await.unwrap();

    let b = connect(client(&broker.url(), V5, "myclientid2")).await;
    let mut at_b = guard("messages", b.messages()).await.unwrap();
    for (filter, id) in [(TOPICS[0], 2), ("TopicA/#", 3)] {
        let sub = b.subscribe_with([(filter, qos2)], with_id(id));
        guard("subscribe", sub).await.unwrap();
    }
    guard(
        "publish",
        b.publish(TOPICS[0], "sub identifier test")
            .qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();

    assert_eq!(subscription_ids(&next(&mut at_a).await), [456_789]);
    let copies = take(&mut at_b, 2).await;
    let mut ids: Vec<Vec<u32>> = copies.iter().map(subscription_ids).collect();
    ids.sort();
    assert_eq!(ids, [vec![2], vec![3]]);
    assert_next_is_marker(&b, TOPICS[0], &mut at_a).await;
    disconnect(a).await;
    disconnect(b).await;

    // Identifiers mqtide assigns: one per subscription, each copy to the
    // stream of the subscription it names.
    let c = connect(client(&broker.url(), V5, "auto")).await;
    let mut exact = guard("subscribe", c.subscribe(TOPICS[0], QoS::ExactlyOnce))
        .await
        .unwrap();
    let mut wild = guard("subscribe", c.subscribe("TopicA/#", QoS::ExactlyOnce))
        .await
        .unwrap();
    guard(
        "publish",
        c.publish(TOPICS[0], "auto").qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let (one, two) = (next(&mut exact).await, next(&mut wild).await);
    let (one, two) = (subscription_ids(&one), subscription_ids(&two));
    assert_eq!((one.len(), two.len()), (1, 1), "{one:?} {two:?}");
    assert_ne!(one, two);
    disconnect(c).await;
}

/// Client topic aliases: mqtide gives a topic an alias once the broker
/// allows aliases (Mosquitto: Topic Alias Maximum 10), and sends the alias
/// alone from then on; aliases end with the connection, so after a
/// reconnect the topic goes in full again. What crossed the wire is
/// counted by a proxy in front of the broker; a long topic makes the
/// difference plain.
///
/// Paho also sends alias 0, and reuses an alias of the last connection,
/// and expects the broker to disconnect it (Topic Alias Invalid). mqtide
/// cannot be made to: it assigns aliases itself, from 1, per connection,
/// and refuses a publish that sets one.
#[tokio::test]
async fn client_topic_aliases_v5() {
    let broker = Mosquitto::start().unwrap();
    let proxy = FaultProxy::start(broker.addr(), 5).unwrap();
    let topic = format!("{}/{}", TOPICS[0], "a".repeat(500));
    let watcher = connect(client(&broker.url(), V5, "myclientid2")).await;
    let mut sub = guard("subscribe", watcher.subscribe(&topic, QoS::ExactlyOnce))
        .await
        .unwrap();

    let a = client(&proxy.url(), V5, "myclientid")
        .topic_alias_maximum(0)
        .session_expiry(Duration::from_secs(99_999));
    let a = connect(a).await;
    let info = a.server_info().unwrap();
    assert_eq!(info.properties.topic_alias_maximum, Some(10));

    // Bytes through the proxy (both ways) for `n` QoS 1 publishes.
    let bytes_for = |n: usize, alias: bool| {
        let (a, topic, proxy) = (&a, &topic, &proxy);
        async move {
            let before = proxy.stats().bytes;
            for i in 0..n {
                let mut publish = a.publish(topic.as_str(), format!("topic alias {i}"));
                if !alias {
                    publish = publish.no_topic_alias();
                }
                guard("publish", publish.qos(QoS::AtLeastOnce))
                    .await
                    .unwrap();
            }
            (proxy.stats().bytes - before) as usize
        }
    };
    let aliased = bytes_for(10, true).await;
    assert!(aliased < 2 * topic.len(), "{aliased} bytes");
    let full = bytes_for(10, false).await;
    assert!(full >= 10 * topic.len(), "{full} bytes");
    for m in take(&mut sub, 20).await {
        assert_eq!(m.topic(), topic);
    }

    // A new connection: the topic in full once, then by alias again.
    let mut events = a.events();
    proxy.inject(Fault::Cut, Scope::Current);
    loop {
        let event = guard("reconnect", events.recv()).await.unwrap();
        if matches!(event, ConnectionEvent::Connected { .. }) {
            break;
        }
    }
    assert!(bytes_for(1, true).await >= topic.len());
    assert!(bytes_for(1, true).await < topic.len());
    for m in take(&mut sub, 2).await {
        assert_eq!(m.topic(), topic);
    }
    disconnect(a).await;
    disconnect(watcher).await;
}

/// Server topic aliases: Paho expects the broker, allowed one alias, to
/// give the topic an alias on the first message and send the alias alone
/// after; and no alias when it is not allowed any (by default or with 0).
/// Mosquitto 2.0.11 sends no aliases to clients: every message comes with
/// its topic and without an alias, whatever the client allows.
#[tokio::test]
async fn server_topic_aliases_v5() {
    let broker = Mosquitto::start().unwrap();
    for maximum in [Some(1), None, Some(0)] {
        let mut a = client(&broker.url(), V5, "myclientid");
        if let Some(maximum) = maximum {
            a = a.topic_alias_maximum(maximum);
        }
        let a = connect(a).await;
        let mut sub = guard("subscribe", a.subscribe(TOPICS[0], QoS::ExactlyOnce))
            .await
            .unwrap();
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            guard("publish", a.publish(TOPICS[0], "topic alias 1").qos(qos))
                .await
                .unwrap();
        }
        for m in take(&mut sub, 3).await {
            assert_eq!(m.topic(), TOPICS[0]);
            assert_eq!(m.properties().topic_alias, None, "{maximum:?}");
        }
        disconnect(a).await;
    }
}

/// Maximum packet size: the broker's (Mosquitto `max_packet_size 1024`,
/// announced in CONNACK) and the client's (64 bytes, announced in CONNECT).
/// Paho sends a packet above the broker's maximum and expects DISCONNECT
/// "packet too large"; mqtide refuses to send it [MQTT-3.1.2-24] and stays
/// connected. A message above the client's maximum is not sent to it: the
/// broker drops it [MQTT-3.1.2-25].
#[tokio::test]
async fn maximum_packet_size_v5() {
    let broker = Mosquitto::start_with("max_packet_size 1024").unwrap();
    let a = connect(client(&broker.url(), V5, "myclientid")).await;
    assert_eq!(a.server_info().unwrap().maximum_packet_size, Some(1024));
    let error = guard("publish", a.publish(TOPICS[0], vec![b'.'; 1024]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Usage(mqtide::proto::UsageError::PacketTooLarge { maximum: 1024, .. })
        ),
        "{error}"
    );
    assert!(a.state().is_connected());
    disconnect(a).await;

    let a = connect(client(&broker.url(), V5, "myclientid").max_packet_size(64)).await;
    let mut sub = guard("subscribe", a.subscribe(TOPICS[0], QoS::ExactlyOnce))
        .await
        .unwrap();
    guard("publish", a.publish(TOPICS[0], vec![b'.'; 32]))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.payload().len(), 32);
    guard(
        "publish",
        a.publish(TOPICS[0], vec![b'.'; 64]).qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    assert_next_is_marker(&a, TOPICS[0], &mut sub).await;
    assert!(
        broker
            .log()
            .contains("Dropping too large outgoing PUBLISH for myclientid-5.0")
    );
    disconnect(a).await;
}

/// Server keep-alive: asking for more than the broker allows (Mosquitto
/// `max_keepalive 60`), the client gets the broker's value in CONNACK, as
/// Paho asks for 120 s and expects 60, and mqtide keeps that value.
#[tokio::test]
async fn server_keep_alive_v5() {
    let broker = Mosquitto::start_with("max_keepalive 60").unwrap();
    let a = client(&broker.url(), V5, "myclientid").keep_alive(Duration::from_secs(120));
    let a = connect(a).await;
    let info = a.server_info().unwrap();
    assert_eq!(info.properties.server_keep_alive, Some(60));
    assert_eq!(info.keep_alive, 60);
    disconnect(a).await;
}

/// Flow control, both ways. The client's Receive Maximum (2): the broker
/// sends two QoS 1 messages and holds the third until one is
/// acknowledged. The broker's (Mosquitto `max_inflight_messages 2`): mqtide
/// keeps to it, so QoS 2 publishes beyond it wait and all succeed.
///
/// Paho holds acknowledgements back by reading the socket itself; mqtide
/// does it with manual acks. To show the third message waits, a QoS 0
/// message (which Receive Maximum does not hold back) published after it
/// arrives first. Paho also sends past the broker's Receive Maximum and
/// expects DISCONNECT 0x93 (receive maximum exceeded); mqtide never does,
/// so a bare connection does it: Mosquitto 2.0.11 answers the extra
/// publish with PUBREC 0x97 (quota exceeded) instead, and stays connected.
#[tokio::test]
async fn flow_control_v5() {
    let broker = Mosquitto::start().unwrap();
    let a = client(&broker.url(), V5, "myclientid")
        .receive_maximum(2)
        .manual_acks(true);
    let a = connect(a).await;
    let mut sub = guard("subscribe", a.subscribe(TOPICS[0], QoS::ExactlyOnce))
        .await
        .unwrap();
    for i in 1..=3 {
        let publish = a
            .publish(TOPICS[0], format!("message {i}"))
            .qos(QoS::AtLeastOnce);
        guard("publish", publish).await.unwrap();
    }
    let first = take(&mut sub, 2).await;
    let payloads: Vec<_> = first.iter().map(|m| m.payload_str().unwrap()).collect();
    assert_eq!(payloads, ["message 1", "message 2"]);
    guard("publish", a.publish(TOPICS[0], "qos 0"))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.payload_str(), Some("qos 0"));
    guard("ack", a.ack(&first[0])).await.unwrap();
    let third = next(&mut sub).await;
    assert_eq!(third.payload_str(), Some("message 3"));
    for m in [&first[1], &third] {
        guard("ack", a.ack(m)).await.unwrap();
    }
    disconnect(a).await;

    // The broker's Receive Maximum.
    let broker = Mosquitto::start_with("max_inflight_messages 2").unwrap();
    let a = connect(client(&broker.url(), V5, "myclientid")).await;
    assert_eq!(a.server_info().unwrap().send_window, 2);
    let mut events = a.events();
    let mut pending = Vec::new();
    for i in 1..=10 {
        let publish = a
            .publish(TOPICS[0], format!("message {i}"))
            .qos(QoS::ExactlyOnce);
        pending.push(guard("send", publish.send()).await.unwrap());
    }
    for ack in pending {
        let outcome = guard("ack", ack).await.unwrap();
        assert_eq!(outcome.reason_code, ReasonCode::Success);
    }
    assert!(events.try_recv().is_err(), "the connection did not change");
    assert!(!broker.log().contains("rc151"), "no quota exceeded");
    disconnect(a).await;

    let mut raw = Raw::open(&broker, V5).await;
    let connack = raw.connect("raw").await;
    let Some(Packet::ConnAck(connack)) = connack else {
        panic!("{connack:?}");
    };
    assert_eq!(connack.properties.receive_maximum.map(|r| r.get()), Some(2));
    for id in 1..=3u16 {
        let mut publish = Publish::new(TOPICS[0], "over");
        publish.qos = QoS::ExactlyOnce;
        publish.packet_id = std::num::NonZeroU16::new(id);
        raw.send(&Packet::Publish(publish)).await;
    }
    let mut codes = Vec::new();
    for _ in 0..3 {
        match raw.recv().await {
            Some(Packet::PubRec(ack)) => codes.push((ack.packet_id.get(), ack.reason_code)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        codes,
        [
            (1, ReasonCode::Success),
            (2, ReasonCode::Success),
            (3, ReasonCode::QuotaExceeded)
        ]
    );
}

/// Shared subscriptions: two clients subscribed to the same shared
/// subscription (and each to TopicA): a message to TopicA reaches both, a
/// message to the shared topic one of them, each exactly once.
#[tokio::test]
async fn shared_subscriptions_v5() {
    let broker = Mosquitto::start().unwrap();
    let shared_topic = "client_test5/x";
    let shared_filter = format!("$share/sharename/{shared_topic}");
    let qos2 = SubscriptionOptions::new(QoS::ExactlyOnce);
    let mut clients = Vec::new();
    for id in ["myclientid", "myclientid2"] {
        let c = connect(client(&broker.url(), V5, id)).await;
        assert!(!session_present(&c));
        let sub = c.subscribe_many([(shared_filter.as_str(), qos2), (TOPICS[0], qos2)]);
        let sub = guard("subscribe", sub).await.unwrap();
        clients.push((c, sub));
    }
    let b = clients[1].0.clone();
    guard("publish", b.publish(TOPICS[0], "message 0"))
        .await
        .unwrap();
    for (_, sub) in &mut clients {
        assert_eq!(next(sub).await.payload_str(), Some("message 0"));
    }

    let count = 10;
    for i in 0..count {
        guard("publish", b.publish(shared_topic, format!("shared {i}")))
            .await
            .unwrap();
    }
    // Both get the marker, after their share of the shared messages.
    guard(
        "marker",
        b.publish(TOPICS[0], "marker").qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let mut received = Vec::new();
    for (_, sub) in &mut clients {
        loop {
            let m = next(sub).await;
            if m.topic() == TOPICS[0] {
                assert_eq!(m.payload_str(), Some("marker"));
                break;
            }
            assert_eq!(m.topic(), shared_topic);
            received.push(m.payload_str().unwrap().to_owned());
        }
    }
    received.sort();
    let mut expected: Vec<String> = (0..count).map(|i| format!("shared {i}")).collect();
    expected.sort();
    assert_eq!(received, expected, "each shared message exactly once");
    for (c, _) in clients {
        disconnect(c).await;
    }
}
