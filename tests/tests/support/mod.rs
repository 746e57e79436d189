//! Shared by the client tests: a broker per test, clients with fast
//! reconnects, and a hang guard for every wait.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::future::IntoFuture;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::{Backoff, Client, ClientBuilder, Message, ProtocolVersion};

/// Waits are bounded by this; it is a hang guard, never a delay.
pub(crate) const GUARD: Duration = Duration::from_secs(30);

/// Whether `future` is still pending after 300 ms: the time a test gives
/// the event loop to take a command sent just before, so that what follows
/// meets it taken. Never a bound on how fast anything must be.
pub(crate) async fn still_pending<F: Future + Unpin>(future: &mut F) -> bool {
    tokio::time::timeout(Duration::from_millis(300), future)
        .await
        .is_err()
}

/// Awaits `future`, failing the test if it hangs.
pub(crate) async fn guard<T>(what: &str, future: impl IntoFuture<Output = T>) -> T {
    match tokio::time::timeout(GUARD, future.into_future()).await {
        Ok(value) => value,
        Err(_) => panic!("hang guard: {what} did not finish within {GUARD:?}"),
    }
}

/// A builder for `url` with a unique client id and quick reconnects.
pub(crate) fn client(url: &str, version: ProtocolVersion, id: &str) -> ClientBuilder {
    Client::builder(url)
        .protocol(version)
        .client_id(format!("{id}-{version}"))
        .reconnect(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
}

/// The next item of a message stream, under the hang guard.
pub(crate) async fn next<S: futures_util::Stream<Item = Message> + Unpin>(
    stream: &mut S,
) -> Message {
    guard("the next message", stream.next())
        .await
        .expect("the stream ended")
}

pub(crate) const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];

/// Connects with `builder`, subscribes to `{topic}/#` at QoS 2, and sends
/// a `size`-byte message at each QoS to itself: each must come back at
/// that QoS, byte for byte. Then disconnects.
pub(crate) async fn each_qos_round_trip(builder: ClientBuilder, topic: &str, size: usize) {
    use mqtide::QoS;
    let c = guard("connect", builder.connect()).await.unwrap();
    let mut sub = guard(
        "subscribe",
        c.subscribe(&format!("{topic}/#"), QoS::ExactlyOnce),
    )
    .await
    .unwrap();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let payload = vec![qos as u8 + 1; size];
        guard(
            "publish",
            c.publish(format!("{topic}/x"), payload.clone()).qos(qos),
        )
        .await
        .unwrap();
        let m = next(&mut sub).await;
        assert_eq!((m.qos(), m.payload().as_ref()), (qos, payload.as_slice()));
    }
    guard("disconnect", c.disconnect()).await.unwrap();
}
