//! Connecting, failing to connect, and staying connected: typed refusals,
//! persistent sessions, the will, a broker restart mid-stream, and a
//! half-open connection detected by keep-alive.

mod support;

use std::time::Duration;

use mqtide::{Client, ConnectError, ConnectionState, Error, QoS, ReasonCode, Will};
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, guard, next};

#[tokio::test]
async fn refused_connection_reports_the_reason() {
    let broker = Mosquitto::start_with("allow_anonymous false").unwrap();
    for version in VERSIONS {
        let err = guard(
            "connect",
            client(&broker.url(), version, "refused").connect(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Connect(ConnectError::Refused {
                    reason_code: ReasonCode::NotAuthorized,
                    ..
                })
            ),
            "{version}: {err}"
        );
        assert_eq!(err.reason_code(), Some(ReasonCode::NotAuthorized));
        assert!(!err.is_retryable());
    }
}

/// A caller that gives up on `connect()` (drops the future, as a timeout
/// does) ends the attempt: the socket closes, nothing lingers.
#[tokio::test]
async fn a_dropped_connect_closes_its_socket() {
    use tokio::io::AsyncReadExt;

    // A "broker" that reads the CONNECT and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("mqtt://{}", listener.local_addr().unwrap());
    let (got_connect, connect_sent) = tokio::sync::oneshot::channel();
    let broker = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut first = [0u8; 1];
        socket.read_exact(&mut first).await.unwrap();
        assert_eq!(first[0], 0x10, "the first packet is a CONNECT");
        got_connect.send(()).unwrap();
        // Whatever else comes, the stream must end.
        let mut rest = Vec::new();
        socket.read_to_end(&mut rest).await.unwrap();
    });

    let attempt = Client::builder(&url).client_id("dropped").connect();
    tokio::select! {
        result = attempt => panic!("connect ended though nobody answered: {:?}", result.err()),
        sent = connect_sent => sent.unwrap(),
    }
    // `attempt` is dropped here: the broker's read must see the end.
    guard("the broker seeing the socket close", broker)
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_broker_is_an_io_error_and_bad_urls_fail_early() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = guard(
        "connect",
        Client::builder(&format!("mqtt://127.0.0.1:{port}")).connect(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Connect(ConnectError::Io { .. })),
        "{err}"
    );
    assert!(err.is_retryable());

    for url in [
        "localhost:1883",
        "mqtt://",
        "mqtt://host/path",
        "nats://host",
    ] {
        let err = guard("connect", Client::builder(url).connect())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{url}: {err}");
    }
    let err = guard(
        "connect",
        Client::builder("mqtt://localhost")
            .receive_maximum(0)
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
}

/// With a persistent session, messages published while the client was
/// away arrive when it comes back (3.1.1 clean session off; 5.0 clean start
/// off and a session expiry).
#[tokio::test]
async fn persistent_session_receives_what_was_published_while_away() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let persistent = || {
            let mut b = client(&broker.url(), version, "persistent").clean_start(false);
            if version == mqtide::ProtocolVersion::V5 {
                b = b.session_expiry(Duration::from_secs(300));
            }
            b
        };
        let c = guard("connect", persistent().connect()).await.unwrap();
        guard("subscribe", c.subscribe("away/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        guard("disconnect", c.disconnect()).await.unwrap();

        let publisher = guard(
            "connect",
            client(&broker.url(), version, "away-pub").connect(),
        )
        .await
        .unwrap();
        for i in 0..5u8 {
            guard(
                "publish",
                publisher
                    .publish(format!("away/{i}"), vec![i])
                    .qos(QoS::AtLeastOnce),
            )
            .await
            .unwrap();
        }

        // Back: the stream of everything gets the queued messages.
        let (c, connection) = persistent().build().unwrap();
        let mut all = guard("messages", c.messages()).await.unwrap();
        tokio::spawn(connection.run());
        guard("connected", c.wait_connected()).await.unwrap();
        assert!(matches!(
            c.state(),
            ConnectionState::Connected {
                session_present: true
            }
        ));
        for i in 0..5u8 {
            let m = next(&mut all).await;
            assert_eq!(
                (m.topic(), m.payload().as_ref()),
                (format!("away/{i}").as_str(), &[i][..])
            );
        }
    }
}

/// A client subscribed to the will topic `topic`.
async fn will_watcher(
    broker: &Mosquitto,
    version: mqtide::ProtocolVersion,
    topic: &str,
) -> (Client, mqtide::Subscription) {
    let watcher = guard(
        "connect",
        client(&broker.url(), version, "will-watch").connect(),
    )
    .await
    .unwrap();
    let wills = guard("subscribe", watcher.subscribe(topic, QoS::AtLeastOnce))
        .await
        .unwrap();
    (watcher, wills)
}

/// Once the broker has logged the clean disconnect of `client_id`, a marker
/// published on the will topic is the next message: no will came first.
async fn assert_no_will(
    broker: &Mosquitto,
    watcher: &Client,
    wills: &mut mqtide::Subscription,
    topic: &str,
    client_id: &str,
) {
    assert!(broker.wait_for_log(&format!("Client {client_id} disconnected"), support::GUARD));
    guard(
        "marker",
        watcher.publish(topic, "marker").qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    assert_eq!(next(wills).await.payload().as_ref(), b"marker");
}

/// The will goes out when the connection dies, not after a clean
/// disconnect.
#[tokio::test]
async fn will_is_published_only_when_the_connection_dies() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let topic = format!("will/{version}");
        let (watcher, mut wills) = will_watcher(&broker, version, &topic).await;

        // A clean disconnect: no will.
        let polite = client(&broker.url(), version, "will-polite")
            .will(Will::new(topic.clone(), "polite died").qos(QoS::AtLeastOnce))
            .connect();
        let polite = guard("connect", polite).await.unwrap();
        guard("disconnect", polite.disconnect()).await.unwrap();
        assert_no_will(
            &broker,
            &watcher,
            &mut wills,
            &topic,
            &format!("will-polite-{version}"),
        )
        .await;

        // The task dies without DISCONNECT: the will arrives.
        let (rude, connection) = client(&broker.url(), version, "will-rude")
            .will(Will::new(topic.clone(), "rude died").qos(QoS::AtLeastOnce))
            .no_reconnect()
            .build()
            .unwrap();
        let task = tokio::spawn(connection.run());
        guard("connected", rude.wait_connected()).await.unwrap();
        task.abort();
        let m = next(&mut wills).await;
        assert_eq!(m.payload().as_ref(), b"rude died");
    }
}

/// The broker restarts in the middle of a QoS 1 stream: both clients
/// reconnect, the subscriber's persistent session is resumed from the
/// broker's disk, and every message arrives, in order of first arrival.
#[tokio::test]
async fn broker_restart_mid_stream_loses_nothing() {
    let mut broker = Mosquitto::builder().persistence(true).start().unwrap();
    for version in VERSIONS {
        let mut sub_builder = client(&broker.url(), version, "restart-sub").clean_start(false);
        let mut pub_builder = client(&broker.url(), version, "restart-pub").clean_start(false);
        if version == mqtide::ProtocolVersion::V5 {
            sub_builder = sub_builder.session_expiry(Duration::from_secs(300));
            pub_builder = pub_builder.session_expiry(Duration::from_secs(300));
        }
        let subscriber = guard("connect", sub_builder.connect()).await.unwrap();
        let mut stream = guard(
            "subscribe",
            subscriber.subscribe("restart", QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        let publisher = guard("connect", pub_builder.connect()).await.unwrap();

        let total = 400u32;
        let seq =
            |m: &mqtide::Message| u32::from_be_bytes(m.payload().as_ref().try_into().unwrap());
        // First half queued; restart once some of it has arrived.
        let mut acks = Vec::new();
        for i in 0..total / 2 {
            let send = publisher
                .publish("restart", i.to_be_bytes().to_vec())
                .qos(QoS::AtLeastOnce)
                .send();
            acks.push(guard("send", send).await.unwrap());
        }
        let mut arrived = vec![seq(&next(&mut stream).await)];
        broker.restart().unwrap();
        // Every publish of the first half completes despite the restart.
        for ack in acks {
            guard("ack", ack).await.unwrap();
        }
        for i in total / 2..total {
            guard(
                "publish",
                publisher
                    .publish("restart", i.to_be_bytes().to_vec())
                    .qos(QoS::AtLeastOnce),
            )
            .await
            .unwrap();
        }
        // At least once, and first arrivals in publish order.
        let mut seen = std::collections::BTreeSet::from([arrived[0]]);
        while seen.len() < total as usize {
            let s = seq(&next(&mut stream).await);
            if seen.insert(s) {
                arrived.push(s);
            }
        }
        assert_eq!(
            arrived,
            (0..total).collect::<Vec<_>>(),
            "{version}: first arrivals out of order"
        );
    }
}

/// A broker that stops answering (SIGSTOP: the TCP connection stays open)
/// is noticed by keep-alive, and the client reconnects once it is back.
#[tokio::test]
async fn keep_alive_detects_a_paused_broker() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = client(&broker.url(), version, "half-open")
            .keep_alive(Duration::from_secs(1))
            .ping_timeout(Duration::from_millis(500))
            .connect();
        let c = guard("connect", c).await.unwrap();
        let mut state = c.watch_state();
        broker.pause().unwrap();
        guard(
            "keep-alive timeout",
            state.wait_for(|s| matches!(s, ConnectionState::Reconnecting { .. })),
        )
        .await
        .unwrap();
        broker.resume().unwrap();
        guard("reconnected", c.wait_connected()).await.unwrap();
        guard(
            "publish after reconnect",
            c.publish("alive", "yes").qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
    }
}

/// A broker that lost everything (restarted without persistence): the
/// client reconnects, finds no session, and subscribes again, so the
/// existing stream keeps flowing.
#[tokio::test]
async fn subscriptions_are_restored_when_the_broker_lost_the_session() {
    let mut broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = guard(
            "connect",
            client(&broker.url(), version, "restore").connect(),
        )
        .await
        .unwrap();
        let mut stream = guard("subscribe", c.subscribe("restore/#", QoS::AtLeastOnce))
            .await
            .unwrap();
        let mut events = c.events();
        broker.restart().unwrap();
        // The resubscription is queued when CONNACK is handled, before any
        // later command: a publish after the Connected event follows it on
        // the wire, so the broker has the subscription when it routes it.
        loop {
            match guard("reconnect", events.recv()).await.unwrap() {
                mqtide::ConnectionEvent::Connected { session_present } => {
                    assert!(!session_present);
                    break;
                }
                _ => continue,
            }
        }
        guard(
            "publish",
            c.publish("restore/x", "after").qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        assert_eq!(next(&mut stream).await.payload().as_ref(), b"after");
    }
}

/// 5.0: a clean disconnect can still ask the broker to publish the will.
#[tokio::test]
async fn disconnect_with_will_publishes_the_will() {
    let broker = Mosquitto::start().unwrap();
    let version = mqtide::ProtocolVersion::V5;
    let (_watcher, mut wills) = will_watcher(&broker, version, "dww").await;
    let c = client(&broker.url(), version, "dww")
        .will(Will::new("dww", "asked for").qos(QoS::AtLeastOnce))
        .connect();
    let c = guard("connect", c).await.unwrap();
    guard("disconnect", c.disconnect_with_will()).await.unwrap();
    assert_eq!(next(&mut wills).await.payload().as_ref(), b"asked for");
}

/// Dropping every handle disconnects cleanly: DISCONNECT goes out, so the
/// broker does not publish the will.
#[tokio::test]
async fn dropping_the_last_handle_disconnects_cleanly() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let topic = format!("dropped/{version}");
        let (watcher, mut wills) = will_watcher(&broker, version, &topic).await;
        let c = client(&broker.url(), version, "dropper")
            .will(Will::new(topic.clone(), "died").qos(QoS::AtLeastOnce))
            .connect();
        let c = guard("connect", c).await.unwrap();
        let mut state = c.watch_state();
        drop(c);
        guard(
            "closed",
            state.wait_for(|s| matches!(s, ConnectionState::Closed)),
        )
        .await
        .unwrap();
        assert_no_will(
            &broker,
            &watcher,
            &mut wills,
            &topic,
            &format!("dropper-{version}"),
        )
        .await;
    }
}
