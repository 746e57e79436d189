//! Publishing and receiving through a real Mosquitto at QoS 0, 1 and 2,
//! under 3.1.1 and 5.0, with the payload intact.

mod support;

use bytes::Bytes;
use mqtide::QoS;
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, guard, next};

/// Every QoS both ways: our publishes reach the broker (acknowledged with
/// the right flow) and the broker's deliveries reach our stream at the
/// QoS granted, payload byte for byte.
#[tokio::test]
async fn each_qos_round_trips_with_payload_integrity() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = guard("connect", client(&broker.url(), version, "qos").connect())
            .await
            .unwrap();
        let mut sub = guard("subscribe", c.subscribe("qos/#", QoS::ExactlyOnce))
            .await
            .unwrap();
        assert_eq!(sub.reason_codes(), [mqtide::ReasonCode::GrantedQoS2]);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let payload: Bytes = (0..=255u8).cycle().take(1000 + qos as usize).collect();
            let outcome = guard(
                "publish",
                c.publish(format!("qos/{}", qos as u8), payload.clone())
                    .qos(qos),
            )
            .await
            .unwrap();
            assert!(!outcome.reason_code.is_error());
            let m = next(&mut sub).await;
            assert_eq!(
                (m.topic(), m.qos(), m.payload()),
                (format!("qos/{}", qos as u8).as_str(), qos, &payload)
            );
        }
        guard("disconnect", c.disconnect()).await.unwrap();
    }
}

/// A retained message reaches a later subscriber, flagged as retained.
#[tokio::test]
async fn retained_messages_reach_later_subscribers() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let publisher = guard(
            "connect",
            client(&broker.url(), version, "retain-pub").connect(),
        )
        .await
        .unwrap();
        let topic = format!("retained/{version}");
        guard(
            "publish",
            publisher
                .publish(topic.clone(), "kept")
                .qos(QoS::AtLeastOnce)
                .retain(true),
        )
        .await
        .unwrap();
        let subscriber = guard(
            "connect",
            client(&broker.url(), version, "retain-sub").connect(),
        )
        .await
        .unwrap();
        let mut sub = guard("subscribe", subscriber.subscribe(&topic, QoS::AtLeastOnce))
            .await
            .unwrap();
        let m = next(&mut sub).await;
        assert!(m.retain());
        assert_eq!(m.payload().as_ref(), b"kept");
    }
}

/// Overlapping subscriptions each get the message exactly once, and so
/// does the catch-all stream. Under 3.1.1 Mosquitto sends one copy for all
/// matching subscriptions; under 5.0 it sends one copy per subscription,
/// and the client, which gave each subscription an identifier, routes each
/// copy to its own stream only (without identifiers every stream would see
/// both copies).
#[tokio::test]
async fn overlapping_subscriptions_each_get_the_message() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = guard(
            "connect",
            client(&broker.url(), version, "overlap").connect(),
        )
        .await
        .unwrap();
        let mut all = guard("messages", c.messages()).await.unwrap();
        let mut wide = guard("subscribe", c.subscribe("o/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        let mut narrow = guard("subscribe", c.subscribe("o/+/x", QoS::AtLeastOnce))
            .await
            .unwrap();
        guard("publish", c.publish("o/1/x", "both").qos(QoS::AtLeastOnce))
            .await
            .unwrap();
        guard(
            "publish",
            c.publish("o/2", "wide only").qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        assert_eq!(next(&mut wide).await.payload().as_ref(), b"both");
        assert_eq!(next(&mut narrow).await.payload().as_ref(), b"both");
        assert_eq!(next(&mut wide).await.payload().as_ref(), b"wide only");
        // The catch-all stream sees each copy the broker sent, once.
        let copies = if version == mqtide::ProtocolVersion::V5 {
            2
        } else {
            1
        };
        for _ in 0..copies {
            assert_eq!(
                next(&mut all).await.payload().as_ref(),
                b"both",
                "{version}"
            );
        }
        assert_eq!(next(&mut all).await.payload().as_ref(), b"wide only");
        // Unsubscribing ends the stream subscribed to that filter alone.
        guard("unsubscribe", c.unsubscribe("o/+/x")).await.unwrap();
        assert!(
            guard("end of stream", futures_util::StreamExt::next(&mut narrow))
                .await
                .is_none()
        );
    }
}

/// A 1 MiB payload goes out and comes back whole.
#[tokio::test]
async fn one_mebibyte_payload() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = guard("connect", client(&broker.url(), version, "big").connect())
            .await
            .unwrap();
        let mut sub = guard("subscribe", c.subscribe("big", QoS::AtLeastOnce))
            .await
            .unwrap();
        let payload: Bytes = (0..1024 * 1024u32).map(|i| (i % 253) as u8).collect();
        guard(
            "publish",
            c.publish("big", payload.clone()).qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        assert_eq!(next(&mut sub).await.payload(), &payload);
    }
}

/// 10 000 QoS 1 messages, pipelined through the window, arrive in order.
#[tokio::test]
async fn ten_thousand_messages_arrive_in_order() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = guard("connect", client(&broker.url(), version, "order").connect())
            .await
            .unwrap();
        let mut sub = guard("subscribe", c.subscribe("order", QoS::AtLeastOnce))
            .await
            .unwrap();
        let publisher = c.clone();
        let sending = tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..10_000u32 {
                acks.push(
                    publisher
                        .publish("order", i.to_be_bytes().to_vec())
                        .qos(QoS::AtLeastOnce)
                        .send()
                        .await
                        .unwrap(),
                );
            }
            for ack in acks {
                ack.await.unwrap();
            }
        });
        for i in 0..10_000u32 {
            let m = next(&mut sub).await;
            assert_eq!(
                m.payload().as_ref(),
                i.to_be_bytes(),
                "message {i} out of order"
            );
        }
        guard("publisher", sending).await.unwrap();
    }
}

/// `disconnect` waits for what is in flight: every queued publish is
/// acknowledged before DISCONNECT.
#[tokio::test]
async fn disconnect_flushes_inflight_publishes() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let subscriber = guard(
            "connect",
            client(&broker.url(), version, "flush-sub").connect(),
        )
        .await
        .unwrap();
        let mut sub = guard("subscribe", subscriber.subscribe("flush", QoS::ExactlyOnce))
            .await
            .unwrap();
        let c = guard("connect", client(&broker.url(), version, "flush").connect())
            .await
            .unwrap();
        let mut acks = Vec::new();
        for i in 0..200u32 {
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            acks.push(
                guard(
                    "send",
                    c.publish("flush", i.to_be_bytes().to_vec()).qos(qos).send(),
                )
                .await
                .unwrap(),
            );
        }
        guard("disconnect", c.disconnect()).await.unwrap();
        for ack in acks {
            guard("ack", ack).await.unwrap();
        }
        // Order holds per QoS level (spec §4.6); Mosquitto forwards a QoS 2
        // message on PUBREL, so the two levels interleave differently.
        let mut got = Vec::new();
        for _ in 0..200 {
            let m = next(&mut sub).await;
            got.push(u32::from_be_bytes(m.payload().as_ref().try_into().unwrap()));
        }
        for parity in [0, 1] {
            let seq: Vec<u32> = got.iter().copied().filter(|i| i % 2 == parity).collect();
            assert_eq!(
                seq,
                (0..200).filter(|i| i % 2 == parity).collect::<Vec<u32>>()
            );
        }
        assert!(matches!(
            c.publish("flush", "late").await,
            Err(mqtide::Error::Closed)
        ));
    }
}

/// The same QoS flows over a Unix domain socket (`unix:///path`).
#[cfg(unix)]
#[tokio::test]
async fn each_qos_over_a_unix_socket() {
    let broker = Mosquitto::builder().unix_socket(true).start().unwrap();
    let url = broker
        .unix_url()
        .expect("the broker listens on a Unix socket");
    for version in VERSIONS {
        support::each_qos_round_trip(client(&url, version, "unix"), "unix", 100).await;
    }
}

/// Two streams subscribed to the same filter both get each message, even
/// though under 5.0 the second SUBSCRIBE replaced the first's subscription
/// identifier at the broker.
#[tokio::test]
async fn two_subscriptions_to_one_filter_both_receive() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = guard(
            "connect",
            client(&broker.url(), version, "same-filter").connect(),
        )
        .await
        .unwrap();
        let mut first = guard("subscribe", c.subscribe("same/+", QoS::AtLeastOnce))
            .await
            .unwrap();
        let mut second = guard("subscribe", c.subscribe("same/+", QoS::AtLeastOnce))
            .await
            .unwrap();
        guard("publish", c.publish("same/x", "both").qos(QoS::AtLeastOnce))
            .await
            .unwrap();
        assert_eq!(next(&mut first).await.payload().as_ref(), b"both");
        assert_eq!(next(&mut second).await.payload().as_ref(), b"both");
    }
}
