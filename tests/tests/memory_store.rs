//! A memory store handing a session from one client to the next, against
//! a real Mosquitto: the publishes the first client committed reach the
//! subscriber, QoS 2 exactly once, whether the first client vanished
//! (its task aborted) or is still running when the next one takes over.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::store::{MemoryStore, StoreError};
use mqtide::{ClientBuilder, ConnectionState, Error, ProtocolVersion, QoS, Subscription};
use mqtide_testkit::Mosquitto;
use support::{client, guard, next, still_pending};

/// Publishes per client: even payloads at QoS 1, odd ones at QoS 2.
const COUNT: u8 = 10;

/// The publisher's builder on `store`, with a session the broker keeps.
fn publisher(url: &str, version: ProtocolVersion, store: &MemoryStore) -> ClientBuilder {
    let builder = client(url, version, "mem-pub").session_store(store.clone());
    if version == ProtocolVersion::V5 {
        builder.session_expiry(Duration::from_secs(600))
    } else {
        builder
    }
}

/// A subscriber to everything the publisher sends.
async fn subscriber(url: &str, version: ProtocolVersion) -> (mqtide::Client, Subscription) {
    let subscriber = guard("connect", client(url, version, "mem-sub").connect())
        .await
        .unwrap();
    let stream = guard("subscribe", subscriber.subscribe("mem/#", QoS::ExactlyOnce))
        .await
        .unwrap();
    (subscriber, stream)
}

/// Publishes `COUNT` messages: each `send` resolves once it is committed,
/// not acknowledged (the broker is paused).
async fn publish_all(client: &mqtide::Client) {
    for n in 0..COUNT {
        let qos = if n.is_multiple_of(2) {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        drop(
            guard("send", client.publish("mem/t", vec![n]).qos(qos).send())
                .await
                .unwrap(),
        );
    }
}

/// Delivers the resumed publishes through `next`, then checks that each
/// arrived, the QoS 2 ones (odd) exactly once: after `next` has
/// disconnected, 300 ms more for late copies.
async fn resumes_everything_once(
    next_client: mqtide::Client,
    stream: &mut Subscription,
    version: ProtocolVersion,
) {
    // The broker may have taken some publishes of the first client
    // before the hand-over: QoS 1 ones may come twice, QoS 2 ones never.
    let mut got: BTreeMap<u8, usize> = BTreeMap::new();
    while got.len() < usize::from(COUNT) {
        let m = next(stream).await;
        *got.entry(m.payload()[0]).or_default() += 1;
    }
    guard("disconnect", next_client.disconnect()).await.unwrap();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
        *got.entry(m.payload()[0]).or_default() += 1;
    }
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        (0..COUNT).collect::<Vec<_>>()
    );
    let twice: Vec<_> = got.iter().filter(|(n, c)| *n % 2 == 1 && **c > 1).collect();
    assert!(
        twice.is_empty(),
        "{version}: QoS 2 delivered twice: {twice:?}"
    );
}

/// A client that vanished (its task aborted mid-flight, the broker
/// paused) hands its session to a new client built on the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_store_hands_publishes_to_the_next_client() {
    for version in support::VERSIONS {
        let broker = Mosquitto::builder().persistence(true).start().unwrap();
        let url = broker.url();
        let (_subscriber, mut stream) = subscriber(&url, version).await;
        let store = MemoryStore::new();
        let builder = publisher(&url, version, &store);
        let (first, connection) = builder.clone().build().unwrap();
        let task = tokio::spawn(connection.run());
        guard("first connect", first.wait_connected())
            .await
            .unwrap();
        // The broker stops answering: the publishes are committed, not
        // acknowledged.
        broker.pause().unwrap();
        publish_all(&first).await;
        assert_eq!(store.snapshot().session.outgoing.len(), usize::from(COUNT));
        // The loop is gone before the broker answers anything.
        task.abort();
        assert!(
            guard("the aborted loop", task)
                .await
                .unwrap_err()
                .is_cancelled()
        );
        drop(first);
        broker.resume().unwrap();

        // A builder's store serves one client.
        let error = builder.clone().build().unwrap_err();
        assert!(
            error.to_string().contains("already serves another client"),
            "{error}"
        );
        let second = guard("second connect", publisher(&url, version, &store).connect())
            .await
            .unwrap();
        assert_eq!(
            second.restored().map(|r| (r.last_accepted, r.publishes)),
            Some((u64::from(COUNT), usize::from(COUNT)))
        );
        resumes_everything_once(second, &mut stream, version).await;
        assert!(store.snapshot().session.outgoing.is_empty());
    }
}

/// A client built on a store whose first client is still running takes
/// the session over, as the broker does: the first one's next commit is
/// refused, so it closes without sending what the second one sends again
/// (a PUBREL from it would let the broker deliver a QoS 2 message that
/// the second client's resend then delivers a second time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_memory_store_was_taken_over_stops() {
    for version in support::VERSIONS {
        let broker = Mosquitto::start().unwrap();
        let url = broker.url();
        let (_subscriber, mut stream) = subscriber(&url, version).await;
        let store = MemoryStore::new();
        let first = guard("first connect", publisher(&url, version, &store).connect())
            .await
            .unwrap();
        broker.pause().unwrap();
        publish_all(&first).await;
        // It waits for the publishes in flight.
        let disconnect = first.disconnect();
        tokio::pin!(disconnect);
        assert!(still_pending(&mut disconnect).await);

        // Built, not yet connected: it resumed what the first committed.
        let (second, connection) = publisher(&url, version, &store).build().unwrap();
        assert_eq!(
            second.restored().map(|r| r.last_accepted),
            Some(u64::from(COUNT))
        );
        // The broker answers the first client, which can commit nothing
        // of it any more: it closes without its DISCONNECT, and says so.
        broker.resume().unwrap();
        let result = guard("the first disconnect", disconnect).await;
        assert!(
            matches!(result, Err(Error::Store(StoreError::TakenOver))),
            "{version}: {result:?}"
        );
        let mut state = first.watch_state();
        guard(
            "the first client closing",
            state.wait_for(|s| matches!(s, ConnectionState::Closed)),
        )
        .await
        .unwrap();
        let why = first.wait_connected().await.unwrap_err();
        assert!(
            matches!(why, Error::Store(StoreError::TakenOver)),
            "{version}: {why}"
        );

        tokio::spawn(connection.run());
        guard("second connect", second.wait_connected())
            .await
            .unwrap();
        resumes_everything_once(second, &mut stream, version).await;
    }
}

/// Options that cannot keep a session are refused when the client is built.
#[test]
fn a_store_needs_a_session_the_broker_keeps() {
    let error = mqtide::Client::builder("mqtt://127.0.0.1:1")
        .protocol(ProtocolVersion::V5)
        .session_store(MemoryStore::new())
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("session_expiry"), "{error}");
    let error = mqtide::Client::builder("mqtt://127.0.0.1:1")
        .protocol(ProtocolVersion::V3_1_1)
        .client_id("")
        .clean_start(true)
        .session_store(MemoryStore::new())
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("client id"), "{error}");
}
