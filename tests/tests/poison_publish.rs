//! Poison publishes (issue 27, item 4): a broker that closes the
//! connection whenever a certain publish reaches it (too large for it, not
//! authorised, …) would have the client reconnect and resend it for ever.
//! After `SessionConfig::poison_threshold` (default 5) connections in a row
//! lost while that publish was the oldest in flight, the client fails it
//! with `RequestError::Poisoned`, which names it, and goes on with the
//! others.
//!
//! A scripted broker plays that broker: it acknowledges every QoS 1
//! PUBLISH but one on topic `poison`, on which it closes the connection.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use mqtide::proto::RequestError;
use mqtide::{Error, QoS};

use scripted::{PUBACK, PUBLISH, ScriptedBroker, ack};
use support::{VERSIONS, client, guard};

#[path = "support/scripted_broker.rs"]
mod scripted;

#[tokio::test]
async fn a_poison_publish_fails_and_the_others_go_on() {
    for version in VERSIONS {
        let broker = ScriptedBroker::bind(version).await;
        let url = broker.url();
        let poison_seen = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&poison_seen);
        let script = tokio::spawn(async move { closes_on_poison(broker, &seen).await });

        // As in the issue: a kept session (3.1.1), reconnecting quickly.
        let builder = client(&url, version, "poison").clean_start(false);
        let c = guard("connect", builder.connect()).await.unwrap();
        let poison = c.publish("poison", "x").qos(QoS::AtLeastOnce).send();
        let poison = guard("send the poison", poison).await.unwrap();
        let good = c.publish("good", "y").qos(QoS::AtLeastOnce).send();
        let good = guard("send the good one", good).await.unwrap();

        match guard("the poison's outcome", poison).await {
            Err(Error::Interrupted {
                error:
                    RequestError::Poisoned {
                        seq,
                        ref topic,
                        connections,
                    },
                ref cause,
            }) => {
                assert_eq!(
                    (seq, topic.as_ref(), connections),
                    (1, "poison", 5),
                    "{version}"
                );
                // Why the fifth connection ended: the broker closed it.
                assert!(
                    matches!(cause, mqtide::DisconnectReason::Transport(_)),
                    "{version}: {cause:?}"
                );
            }
            other => panic!("{version}: expected Poisoned, got {other:?}"),
        }
        guard("the good one's acknowledgement", good)
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        // Sent on exactly five connections, then given up.
        assert_eq!(poison_seen.load(Ordering::Relaxed), 5, "{version}");
        guard("disconnect", c.disconnect()).await.unwrap();
        script.abort();
    }
}

/// The broker: acknowledges every QoS 1 PUBLISH except those on `poison`,
/// on which it drops the connection; counts those.
async fn closes_on_poison(broker: ScriptedBroker, seen: &AtomicU32) {
    loop {
        let mut peer = broker.accept().await;
        while let Ok(Some(frame)) = peer.reader.next().await {
            if frame.kind() != PUBLISH {
                continue;
            }
            let (topic, id) = topic_and_id(&frame.body);
            if topic == b"poison" {
                seen.fetch_add(1, Ordering::Relaxed);
                break;
            }
            let _ = peer.writer.send(&ack(PUBACK, id)).await;
        }
    }
}

/// The topic and packet identifier of a QoS 1/2 PUBLISH's body.
fn topic_and_id(body: &[u8]) -> (&[u8], u16) {
    let len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let topic = &body[2..2 + len];
    let id = u16::from_be_bytes([body[2 + len], body[3 + len]]);
    (topic, id)
}
