//! What production hits first, against a real Mosquitto (issue 27): a
//! service that starts before its broker, a builder that must survive a
//! failed `connect`, a kept session that is kept, and (in `errors.rs`)
//! the real cause in every error.

mod support;

#[path = "production_defaults/errors.rs"]
mod errors;
#[path = "support/scripted_broker.rs"]
mod scripted;

use std::time::Duration;

use mqtide::store::MemoryStore;
use mqtide::{
    ConnectError, ConnectionEvent, ConnectionState, Error, ProtocolVersion, QoS, QueueFull,
    ReasonCode,
};
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, guard, next};

/// A broker started once and stopped at once: its port is free, and
/// `restart` brings the broker back on it.
fn stopped_broker() -> (Mosquitto, String) {
    let mut broker = Mosquitto::start().unwrap();
    let url = broker.url();
    broker.stop();
    (broker, url)
}

/// Waits for the next event that `pick` keeps, under the hang guard.
async fn wait_for<T>(
    events: &mut tokio::sync::broadcast::Receiver<ConnectionEvent>,
    mut pick: impl FnMut(ConnectionEvent) -> Option<T>,
) -> T {
    guard("a connection event", async {
        loop {
            if let Some(found) = pick(events.recv().await.expect("the event channel")) {
                return found;
            }
        }
    })
    .await
}

/// `start` returns a client at once with no broker there; it keeps trying
/// with the backoff, reports each failed attempt as one (never as a lost
/// connection), queues a publish meanwhile, and connects once the broker
/// starts: the queued publish is acknowledged and comes back.
#[tokio::test]
async fn start_retries_the_first_connection_until_the_broker_is_there() {
    for version in VERSIONS {
        let (mut broker, url) = stopped_broker();
        let c = client(&url, version, "later").start().unwrap();
        let mut events = c.events();
        assert!(
            matches!(c.state(), ConnectionState::Connecting),
            "{version}: {:?}",
            c.state()
        );
        // Queued offline, retained so that the subscription below gets it.
        let pending = guard(
            "send",
            c.publish("later/x", "queued while offline")
                .qos(QoS::AtLeastOnce)
                .retain(true)
                .send(),
        )
        .await
        .unwrap();
        let (server, reason) = wait_for(&mut events, |event| match event {
            ConnectionEvent::ConnectFailed { server, reason } => Some((server, reason)),
            ConnectionEvent::Disconnected { reason } => {
                panic!("{version}: a lost connection reported before any came up: {reason}")
            }
            _ => None,
        })
        .await;
        assert!(url.ends_with(&server), "{version}: {server} for {url}");
        assert!(reason.is_retryable(), "{version}: {reason}");
        // Still connecting, not reconnecting: nothing came up yet.
        assert!(
            matches!(c.state(), ConnectionState::Connecting),
            "{version}: {:?}",
            c.state()
        );
        broker.restart().unwrap();
        guard("wait_connected", c.wait_connected()).await.unwrap();
        guard("the queued publish", pending).await.unwrap();
        let mut sub = guard("subscribe", c.subscribe("later/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        let m = next(&mut sub).await;
        assert_eq!(m.payload_str(), Some("queued while offline"), "{version}");
        guard("disconnect", c.disconnect()).await.unwrap();
    }
}

/// `retry_first_connect(true)` makes `connect` itself wait for the broker.
#[tokio::test]
async fn connect_with_retry_waits_for_the_broker() {
    let (mut broker, url) = stopped_broker();
    let connecting = tokio::spawn(
        client(&url, ProtocolVersion::V5, "retry-connect")
            .retry_first_connect(true)
            .connect(),
    );
    // Attempts fail meanwhile (a few backoff periods), and `connect` waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!connecting.is_finished(), "connect gave up with no broker");
    broker.restart().unwrap();
    let c = guard("connect", connecting).await.unwrap().unwrap();
    assert!(c.state().is_connected());
    guard("disconnect", c.disconnect()).await.unwrap();
}

/// While the first connection is retried, the offline queue's bound holds:
/// with room for two, a third publish fails at once (`QueueFull::Error`),
/// and the two queued ones are delivered once the broker is there.
#[tokio::test]
async fn the_offline_queue_bounds_what_waits_for_the_first_connection() {
    let (mut broker, url) = stopped_broker();
    let c = client(&url, ProtocolVersion::V5, "later-bound")
        .offline_queue(2, QueueFull::Error)
        .start()
        .unwrap();
    let mut acks = Vec::new();
    for n in 0..2 {
        acks.push(
            guard(
                "send",
                c.publish(format!("bound/{n}"), "x")
                    .qos(QoS::AtLeastOnce)
                    .send(),
            )
            .await
            .unwrap(),
        );
    }
    let full = guard("publish", c.publish("bound/2", "x").qos(QoS::AtLeastOnce))
        .await
        .unwrap_err();
    assert!(
        matches!(full, Error::Usage(mqtide::proto::UsageError::QueueFull(2))),
        "{full:?}"
    );
    broker.restart().unwrap();
    for ack in acks {
        guard("the queued publish", ack).await.unwrap();
    }
    guard("disconnect", c.disconnect()).await.unwrap();
}

/// A refusal that retrying cannot fix ends a retried first connection:
/// `wait_connected` (and every call after) returns it, not retryable.
#[tokio::test]
async fn start_stops_where_retrying_cannot_help() {
    let broker = Mosquitto::builder().user("alice", "right").start().unwrap();
    for version in VERSIONS {
        let c = client(&broker.url(), version, "later-refused")
            .credentials("alice", "wrong")
            .start()
            .unwrap();
        let error = guard("wait_connected", c.wait_connected())
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::Connect(ConnectError::Refused { .. })),
            "{version}: {error:?}"
        );
        assert!(
            matches!(
                error.reason_code(),
                Some(ReasonCode::BadUserNameOrPassword | ReasonCode::NotAuthorized)
            ),
            "{version}: {error}"
        );
        assert!(!error.is_retryable(), "{version}: {error}");
    }
}

/// An authenticator that never gets to speak (the transport fails first).
#[derive(Debug)]
struct Silent;

impl mqtide::auth::Authenticator for Silent {
    fn method(&self) -> &str {
        "SILENT"
    }
    fn start(&mut self) -> Result<Option<bytes::Bytes>, mqtide::auth::AuthError> {
        Ok(None)
    }
    fn step(&mut self, _: Option<&[u8]>) -> Result<Option<bytes::Bytes>, mqtide::auth::AuthError> {
        Ok(None)
    }
    fn finish(&mut self, _: Option<&[u8]>) -> Result<(), mqtide::auth::AuthError> {
        Ok(())
    }
}

/// A `connect` that fails leaves the builder usable: a clone of it, with
/// the same session store and authenticator, connects once the broker is
/// there (the store was "already serving another client" before).
#[tokio::test]
async fn a_failed_connect_leaves_the_builder_and_its_store_usable() {
    for version in VERSIONS {
        let (mut broker, url) = stopped_broker();
        let store = MemoryStore::new();
        let mut builder = client(&url, version, "retry-store").session_store(store.clone());
        if version == ProtocolVersion::V5 {
            builder = builder
                .session_expiry(Duration::from_secs(60))
                .authenticator(Silent);
        }
        for _ in 0..2 {
            let error = guard("connect", builder.clone().connect())
                .await
                .unwrap_err();
            assert!(
                matches!(error, Error::Connect(ConnectError::Io { .. })),
                "{version}: {error:?}"
            );
        }
        if version == ProtocolVersion::V5 {
            // Mosquitto does not know the method: a refusal, and the
            // authenticator is back all the same.
            broker.restart().unwrap();
            let error = guard("connect", builder.clone().connect())
                .await
                .unwrap_err();
            assert_eq!(
                error.reason_code(),
                Some(ReasonCode::BadAuthenticationMethod),
                "{error}"
            );
            builder = client(&url, version, "retry-store")
                .session_store(store.clone())
                .session_expiry(Duration::from_secs(60));
        } else {
            broker.restart().unwrap();
        }
        let c = guard("connect", builder.clone().connect()).await.unwrap();
        guard("publish", c.publish("retry/x", "1").qos(QoS::AtLeastOnce))
            .await
            .unwrap();
        guard("disconnect", c.disconnect()).await.unwrap();
        // Served once: the store is this client's now.
        let error = builder.build().unwrap_err();
        assert!(
            error.to_string().contains("already serves another client"),
            "{version}: {error}"
        );
    }
}

/// A client for the session tests, started through `build` so that its
/// stream of every message exists before the broker's first packet.
async fn resume(builder: mqtide::ClientBuilder) -> (mqtide::Client, mqtide::MessageStream, bool) {
    let (c, connection) = builder.build().unwrap();
    let messages = guard("messages", c.messages()).await.unwrap();
    tokio::spawn(connection.run());
    guard("wait_connected", c.wait_connected()).await.unwrap();
    let present = c.server_info().expect("connected").session_present;
    (c, messages, present)
}

/// `clean_start(false)` keeps the session under 5.0 without a
/// `session_expiry` (as `mosquitto_sub -c` does): after a disconnect the
/// broker resumes it (`session_present`) and delivers the QoS 1 messages
/// it queued meanwhile. An explicit `session_expiry(0)` still ends the
/// session with the connection.
#[tokio::test]
async fn clean_start_false_keeps_the_session_under_v5() {
    let broker = Mosquitto::start().unwrap();
    let url = broker.url();
    let v5 = ProtocolVersion::V5;
    let kept = || client(&url, v5, "kept").clean_start(false);
    let (c, _, _) = resume(kept()).await;
    guard("subscribe", c.subscribe("kept/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    guard("disconnect", c.disconnect()).await.unwrap();

    let publisher = guard("connect", client(&url, v5, "kept-pub").connect())
        .await
        .unwrap();
    for n in 0..3u8 {
        guard(
            "publish",
            publisher.publish("kept/x", vec![n]).qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
    }
    let (c, mut messages, present) = resume(kept()).await;
    assert!(present, "the broker did not keep the session");
    for n in 0..3u8 {
        let m = next(&mut messages).await;
        assert_eq!(
            (m.payload().as_ref(), m.qos()),
            (&[n][..], QoS::AtLeastOnce)
        );
    }
    guard("disconnect", c.disconnect()).await.unwrap();

    // An explicit expiry of 0: the session ends with this connection.
    let ends = || kept().session_expiry(Duration::ZERO);
    let (c, _, present) = resume(ends()).await;
    assert!(present, "the session kept above is resumed once more");
    guard("disconnect", c.disconnect()).await.unwrap();
    let (c, _, present) = resume(ends()).await;
    assert!(
        !present,
        "an expiry of 0 ends the session with the connection"
    );
    guard("disconnect", c.disconnect()).await.unwrap();
    guard("disconnect", publisher.disconnect()).await.unwrap();
}
