//! MQTT 5.0 request/response through a real Mosquitto: `Client::request`
//! against `Client::serve` (and against hand-made responders where a test
//! needs to misbehave on purpose).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use mqtide::proto::UsageError;
use mqtide::{Client, ConnectionEvent, Error, ProtocolVersion, QoS, Reply};
use mqtide_testkit::Mosquitto;
use support::{GUARD, client, guard, next};

/// Connects a 5.0 client named `id`.
async fn connect(broker: &Mosquitto, id: &str) -> Client {
    guard(
        "connect",
        client(&broker.url(), ProtocolVersion::V5, id).connect(),
    )
    .await
    .unwrap()
}

/// Waits (polling, under the hang guard) until the broker logged `needle`.
async fn logged(broker: &Mosquitto, needle: &str) {
    guard("the broker's log", async {
        while !broker.log().contains(needle) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// One request, one reply: payload, user properties and content type
/// travel both ways, and the reply carries the request's correlation data
/// on the response topic the request named.
#[tokio::test]
async fn a_request_gets_its_reply() {
    let broker = Mosquitto::start().unwrap();
    let server = connect(&broker, "rr-server").await;
    let service = guard(
        "serve",
        server.serve("svc/upper", |request| async move {
            let props = request.properties();
            let unit = props
                .user_properties
                .iter()
                .find(|(name, _)| name == "unit")
                .map(|(_, value)| value.to_string())
                .unwrap_or_default();
            let content_type = props.content_type.as_deref().unwrap_or("").to_owned();
            let text = String::from_utf8_lossy(request.payload()).to_uppercase();
            Reply::new(text)
                .content_type("text/plain")
                .user_property("unit-seen", unit)
                .user_property("content-type-seen", content_type)
        }),
    )
    .await
    .unwrap();

    let asker = connect(&broker, "rr-asker").await;
    let reply = guard(
        "request",
        asker
            .request("svc/upper", "hello")
            .qos(QoS::AtLeastOnce)
            .user_property("unit", "celsius")
            .content_type("text/plain"),
    )
    .await
    .unwrap();

    assert_eq!(reply.payload().as_ref(), b"HELLO");
    let props = reply.properties();
    assert_eq!(props.content_type.as_deref(), Some("text/plain"));
    let seen: Vec<(String, String)> = props
        .user_properties
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        seen,
        [
            ("unit-seen".to_owned(), "celsius".to_owned()),
            ("content-type-seen".to_owned(), "text/plain".to_owned())
        ]
    );
    assert_eq!(reply.topic(), "mqtide/response/rr-asker-5.0");
    assert!(
        props
            .correlation_data
            .as_ref()
            .is_some_and(|c| !c.is_empty())
    );
    // At the QoS the request arrived at (the responder's default).
    assert_eq!(reply.qos(), QoS::AtLeastOnce);
    guard("stop", service.stop()).await.unwrap();
}

/// 50 requests in flight at once, each answered only once all 50 have
/// reached the responder (so replies leave in whatever order the handler
/// tasks finish): every request gets the reply to its own question.
#[tokio::test]
async fn concurrent_requests_each_get_their_own_reply() {
    const N: usize = 50;
    let broker = Mosquitto::start().unwrap();
    let server = connect(&broker, "rr-many-server").await;
    let all_arrived = Arc::new(tokio::sync::Barrier::new(N));
    let service = guard(
        "serve",
        server
            .serve("svc/double", move |request| {
                let all_arrived = Arc::clone(&all_arrived);
                async move {
                    all_arrived.wait().await;
                    let n: u64 = std::str::from_utf8(request.payload())
                        .ok()
                        .and_then(|s| s.parse().ok())?;
                    Some(Reply::new((n * 2).to_string()))
                }
            })
            .concurrency(N),
    )
    .await
    .unwrap();

    let asker = connect(&broker, "rr-many-asker").await;
    let requests = (0..N).map(|i| {
        // Clones of the client share one response subscription.
        let asker = asker.clone();
        async move {
            let reply = asker
                .request("svc/double", i.to_string())
                .qos(QoS::AtLeastOnce)
                .await
                .unwrap();
            (i, String::from_utf8(reply.payload().to_vec()).unwrap())
        }
    });
    for (i, reply) in guard("50 requests", join_all(requests)).await {
        assert_eq!(reply, (i * 2).to_string(), "request {i}");
    }
    guard("stop", service.stop()).await.unwrap();
}

/// Nobody serves the topic: the request fails with `Timeout`.
#[tokio::test]
async fn a_request_nobody_answers_times_out() {
    let broker = Mosquitto::start().unwrap();
    let asker = connect(&broker, "rr-alone").await;
    let result = guard(
        "request",
        asker
            .request("svc/nobody", "anyone?")
            .timeout(Duration::from_millis(200)),
    )
    .await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
}

/// A reply that comes after its request timed out is dropped: the next
/// request, waiting when the late reply arrives, gets its own reply, not
/// the stale one (nor one with unknown or missing correlation data).
#[tokio::test]
async fn a_late_reply_is_dropped_not_given_to_another_request() {
    let broker = Mosquitto::start().unwrap();
    // A hand-made responder that answers when the test says so.
    let server = connect(&broker, "rr-late-server").await;
    let mut requests = guard("subscribe", server.subscribe("svc/slow", QoS::AtLeastOnce))
        .await
        .unwrap();
    let asker = connect(&broker, "rr-late-asker").await;

    let first = guard(
        "first request",
        asker
            .request("svc/slow", "first")
            .timeout(Duration::from_millis(200)),
    )
    .await;
    assert!(matches!(first, Err(Error::Timeout { .. })), "{first:?}");
    let stale = next(&mut requests).await;
    assert_eq!(stale.payload().as_ref(), b"first");

    let second = tokio::spawn({
        let asker = asker.clone();
        async move { asker.request("svc/slow", "second").timeout(GUARD).await }
    });
    let fresh = next(&mut requests).await;
    assert_eq!(fresh.payload().as_ref(), b"second");
    let response_topic = fresh.properties().response_topic.clone().unwrap();
    let reply_to = |request: &mqtide::Message, payload: &'static str| {
        let mut properties = mqtide::PublishProperties::default();
        properties
            .correlation_data
            .clone_from(&request.properties().correlation_data);
        server
            .publish(&response_topic, payload)
            .qos(QoS::AtLeastOnce)
            .properties(properties)
    };
    // The late reply, then noise, then the real one, in this order on one
    // connection: the asker sees them in this order too.
    guard("late reply", reply_to(&stale, "reply to first"))
        .await
        .unwrap();
    guard(
        "no correlation data",
        server
            .publish(&response_topic, "no correlation")
            .qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    let unknown = mqtide::PublishProperties {
        correlation_data: Some(Bytes::from_static(b"not one of ours")),
        ..Default::default()
    };
    guard(
        "unknown correlation data",
        server
            .publish(&response_topic, "unknown")
            .qos(QoS::AtLeastOnce)
            .properties(unknown),
    )
    .await
    .unwrap();
    guard("real reply", reply_to(&fresh, "reply to second"))
        .await
        .unwrap();

    let reply = guard("second request", second).await.unwrap().unwrap();
    assert_eq!(reply.payload().as_ref(), b"reply to second");
}

/// However many requests, from however many clones, and however many of
/// them race to be first: one SUBSCRIBE for the response topic.
#[tokio::test]
async fn the_response_topic_is_subscribed_once() {
    let broker = Mosquitto::start().unwrap();
    let server = connect(&broker, "rr-once-server").await;
    let service = guard(
        "serve",
        server
            .serve("svc/echo", |request| async move {
                Reply::new(request.payload().clone())
            })
            .concurrency(10),
    )
    .await
    .unwrap();
    let asker = connect(&broker, "rr-once-asker").await;
    // Ten first requests at once, then five one after another.
    let racing = (0..10).map(|i| asker.request("svc/echo", format!("race {i}")).into_future());
    for reply in guard("racing requests", join_all(racing)).await {
        reply.unwrap();
    }
    for i in 0..5 {
        let reply = guard("request", asker.request("svc/echo", format!("seq {i}")))
            .await
            .unwrap();
        assert_eq!(reply.payload(), format!("seq {i}").as_bytes());
    }
    let subscribes = broker
        .log()
        .matches("Received SUBSCRIBE from rr-once-asker-5.0\n")
        .count();
    assert_eq!(subscribes, 1, "broker log:\n{}", broker.log());
    guard("stop", service.stop()).await.unwrap();
}

/// Response topics and correlation data are 5.0 properties: a 3.1.1
/// client can neither ask nor serve, and is told so before anything is
/// sent.
#[tokio::test]
async fn request_response_needs_mqtt_5() {
    let broker = Mosquitto::start().unwrap();
    let old = guard(
        "connect",
        client(&broker.url(), ProtocolVersion::V3_1_1, "rr-v311").connect(),
    )
    .await
    .unwrap();
    let asked = guard("request", old.request("svc/any", "x")).await;
    assert!(
        matches!(asked, Err(Error::Usage(UsageError::NotAllowed(m))) if m.contains("5.0")),
        "{asked:?}"
    );
    let served = guard(
        "serve",
        old.serve("svc/any", |_| async { Reply::new("never") }),
    )
    .await;
    assert!(
        matches!(served, Err(Error::Usage(UsageError::NotAllowed(_)))),
        "{served:?}"
    );
    // Nothing was subscribed or published on the client's behalf.
    assert!(!broker.log().contains("Received SUBSCRIBE from rr-v311"));
    assert!(!broker.log().contains("Received PUBLISH from rr-v311"));
}

/// A message without a response topic is not a request: the handler
/// never sees it, and the requests after it are answered.
#[tokio::test]
async fn the_responder_skips_messages_without_a_response_topic() {
    let broker = Mosquitto::start().unwrap();
    let server = connect(&broker, "rr-skip-server").await;
    let handled = Arc::new(AtomicUsize::new(0));
    let service = guard(
        "serve",
        server.serve("svc/count", {
            let handled = Arc::clone(&handled);
            move |_request| {
                let n = handled.fetch_add(1, Ordering::SeqCst) + 1;
                async move { Reply::new(n.to_string()) }
            }
        }),
    )
    .await
    .unwrap();
    let asker = connect(&broker, "rr-skip-asker").await;
    // Published before the request, by the same client, at the same QoS:
    // the responder receives it first.
    guard("plain publish", asker.publish("svc/count", "not a request"))
        .await
        .unwrap();
    let reply = guard("request", asker.request("svc/count", "a request"))
        .await
        .unwrap();
    assert_eq!(reply.payload().as_ref(), b"1");
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    guard("stop", service.stop()).await.unwrap();
}

/// A handler answering `None` leaves the request unanswered (it times
/// out); a stopped responder answers nothing more.
#[tokio::test]
async fn unanswered_and_stopped() {
    let broker = Mosquitto::start().unwrap();
    let server = connect(&broker, "rr-stop-server").await;
    let service = guard(
        "serve",
        server.serve("svc/picky", |request| async move {
            (request.payload().as_ref() == b"please").then(|| Reply::new("ok"))
        }),
    )
    .await
    .unwrap();
    let asker = connect(&broker, "rr-stop-asker").await;
    let short = Duration::from_millis(200);
    let rude = guard("request", asker.request("svc/picky", "now").timeout(short)).await;
    assert!(matches!(rude, Err(Error::Timeout { .. })), "{rude:?}");
    let polite = guard("request", asker.request("svc/picky", "please"))
        .await
        .unwrap();
    assert_eq!(polite.payload().as_ref(), b"ok");

    guard("stop", service.stop()).await.unwrap();
    let after = guard(
        "request",
        asker.request("svc/picky", "please").timeout(short),
    )
    .await;
    assert!(matches!(after, Err(Error::Timeout { .. })), "{after:?}");
}

/// With manual acknowledgements on both sides, the client acknowledges
/// replies (and the responder its requests) itself: more QoS 1 exchanges
/// than Mosquitto's in-flight window (20) all complete.
#[tokio::test]
async fn manual_acks_do_not_stall_requests() {
    let broker = Mosquitto::start().unwrap();
    let manual = |id: &str| {
        client(&broker.url(), ProtocolVersion::V5, id)
            .manual_acks(true)
            .connect()
    };
    let server = guard("connect", manual("rr-manual-server")).await.unwrap();
    let service = guard(
        "serve",
        server.serve("svc/manual", |request| async move {
            Reply::new(request.payload().clone())
        }),
    )
    .await
    .unwrap();
    let asker = guard("connect", manual("rr-manual-asker")).await.unwrap();
    for i in 0..50 {
        let reply = guard(
            "request",
            asker
                .request("svc/manual", format!("{i}"))
                .qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        assert_eq!(reply.payload(), format!("{i}").as_bytes());
        assert_eq!(reply.qos(), QoS::AtLeastOnce);
    }
    guard("stop", service.stop()).await.unwrap();
}

/// The broker restarts and forgets every session: the client restores
/// its response subscription like any other, and requests go on working.
#[tokio::test]
async fn requests_work_after_the_broker_restarts() {
    let mut broker = Mosquitto::start().unwrap();
    let server = connect(&broker, "rr-restart-server").await;
    let service = guard(
        "serve",
        server.serve("svc/echo", |request| async move {
            Reply::new(request.payload().clone())
        }),
    )
    .await
    .unwrap();
    let asker = connect(&broker, "rr-restart-asker").await;
    guard("request", asker.request("svc/echo", "before"))
        .await
        .unwrap();

    let (mut server_events, mut asker_events) = (server.events(), asker.events());
    broker.restart().unwrap();
    for events in [&mut server_events, &mut asker_events] {
        guard("reconnect", async {
            loop {
                if let ConnectionEvent::Connected { .. } = events.recv().await.unwrap() {
                    break;
                }
            }
        })
        .await;
    }
    // The server's subscriptions are restored in order: once a new one is
    // acknowledged, the served filter is subscribed again too.
    guard("sync", server.subscribe("sync/restart", QoS::AtMostOnce))
        .await
        .unwrap();
    let reply = guard("request", asker.request("svc/echo", "after"))
        .await
        .unwrap();
    assert_eq!(reply.payload().as_ref(), b"after");
    guard("stop", service.stop()).await.unwrap();
}

/// The response subscription does not keep a client alive: dropping the
/// last handle of a client that made requests disconnects it.
#[tokio::test]
async fn dropping_the_last_handle_still_disconnects() {
    let broker = Mosquitto::start().unwrap();
    let server = connect(&broker, "rr-drop-server").await;
    let service = guard(
        "serve",
        server.serve("svc/echo", |request| async move {
            Reply::new(request.payload().clone())
        }),
    )
    .await
    .unwrap();
    for manual_acks in [false, true] {
        let id = format!("rr-drop-asker-{manual_acks}");
        let asker = guard(
            "connect",
            client(&broker.url(), ProtocolVersion::V5, &id)
                .manual_acks(manual_acks)
                .connect(),
        )
        .await
        .unwrap();
        guard(
            "request",
            asker.request("svc/echo", "hi").qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        drop(asker);
        logged(&broker, &format!("Received DISCONNECT from {id}-5.0")).await;
    }
    guard("stop", service.stop()).await.unwrap();
}

/// A request to a topic with a wildcard is refused before the client
/// subscribes to its response topic.
#[tokio::test]
async fn a_request_to_a_wildcard_topic_is_refused_up_front() {
    let broker = Mosquitto::start().unwrap();
    let asker = connect(&broker, "rr-wild").await;
    let result = guard("request", asker.request("svc/+/x", "?")).await;
    assert!(
        matches!(result, Err(Error::Usage(UsageError::InvalidTopic(_)))),
        "{result:?}"
    );
    assert!(!broker.log().contains("Received SUBSCRIBE from rr-wild"));
}
