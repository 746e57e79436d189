//! At least once by default (issue 27, item 3): with the default clean
//! start, every reconnect finds no session at the broker, and a QoS 1
//! publish that was in flight is sent again as a new message; its future
//! resolves with the new acknowledgement instead of failing with
//! `SessionLost`.
//!
//! A publisher with default options pipelines 1,000 QoS 1 publishes
//! through a [`FaultProxy`] that cuts its connection three times in the
//! middle of the burst; a subscriber connected straight to the broker must
//! get every message at least once, and every future must resolve `Ok`.
//! The same burst with the switch off shows the cuts hit publishes in
//! flight: some fail with `SessionLost`, as they all did before.

mod support;

use futures_util::StreamExt;
use mqtide::proto::RequestError;
use mqtide::{Client, ClientBuilder, ConnectionEvent, PendingAck, ProtocolVersion, QoS};
use mqtide_testkit::{Fault, FaultProxy, Mosquitto, Scope};
use std::collections::BTreeMap;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::oneshot;

use support::{VERSIONS, guard};

const MESSAGES: u32 = 1_000;
/// The acknowledgements after which the connection is cut.
const CUTS: [u32; 3] = [150, 450, 750];

#[tokio::test]
async fn qos1_survives_three_cuts_with_default_options() {
    for version in VERSIONS {
        let run = burst(version, "resend", |b| b).await;
        assert_eq!(run.failed, Vec::<String>::new(), "{version}");
        let missing: Vec<u32> = (0..MESSAGES)
            .filter(|n| !run.received.contains_key(n))
            .collect();
        assert_eq!(missing, [], "{version}: never delivered");
        assert!(
            run.reconnects >= 3,
            "{version}: {} reconnects",
            run.reconnects
        );
        let twice = run.received.values().filter(|&&count| count > 1).count();
        println!(
            "{version}: {} cuts, {} reconnects, {twice} messages delivered more than once",
            CUTS.len(),
            run.reconnects
        );
    }
}

/// The switch restores the old behaviour: what was in flight at a cut
/// fails with `SessionLost` (which also shows the cuts hit publishes in
/// flight).
#[tokio::test]
async fn the_switch_off_fails_what_was_in_flight() {
    for version in VERSIONS {
        let run = burst(version, "no-resend", |b| {
            b.resend_qos1_on_session_loss(false)
        })
        .await;
        assert!(
            !run.failed.is_empty(),
            "{version}: no publish was in flight at a cut"
        );
        assert!(
            run.failed.iter().all(|e| e.contains("SessionLost")),
            "{version}: {:?}",
            run.failed
        );
        // What did not fail arrived (the burst waits for it); what failed
        // may have arrived once.
        assert!(run.received.len() >= MESSAGES as usize - run.failed.len());
    }
}

/// What one burst did.
struct Run {
    /// Failed publishes, described.
    failed: Vec<String>,
    /// Deliveries per message number.
    received: BTreeMap<u32, u32>,
    reconnects: u32,
}

async fn burst(
    version: ProtocolVersion,
    name: &str,
    options: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Run {
    let broker = Mosquitto::start().unwrap();
    let seed = fastrand::u64(..);
    let proxy = FaultProxy::start(broker.addr(), seed).unwrap();
    let topic = format!("{name}/{version}");

    let subscriber = Client::builder(&broker.url())
        .protocol(version)
        .client_id(format!("{name}-sub-{version}"))
        .connect();
    let subscriber = guard("connect the subscriber", subscriber).await.unwrap();
    let mut messages = guard("subscribe", subscriber.subscribe(&topic, QoS::AtLeastOnce))
        .await
        .unwrap();

    // Default options but the protocol: a clean start on every connection.
    let publisher = Client::builder(&proxy.url())
        .protocol(version)
        .client_id(format!("{name}-pub-{version}"));
    let publisher = guard("connect the publisher", options(publisher).connect())
        .await
        .unwrap();
    let mut events = publisher.events();

    // Read all along (Mosquitto drops what it queues for a subscriber
    // beyond 1,000 messages), until every message that must come came.
    let (required_tx, mut required_rx) = oneshot::channel::<Vec<u32>>();
    let receiving = tokio::spawn(async move {
        let mut received: BTreeMap<u32, u32> = BTreeMap::new();
        let mut required: Option<Vec<u32>> = None;
        loop {
            if let Some(required) = &required
                && required.iter().all(|n| received.contains_key(n))
            {
                return received;
            }
            tokio::select! {
                list = &mut required_rx, if required.is_none() => {
                    required = Some(list.expect("the list of messages that must come"));
                }
                message = messages.next() => {
                    let message = message.expect("the subscription stream");
                    let n: u32 = message.payload_str().unwrap().parse().unwrap();
                    *received.entry(n).or_insert(0) += 1;
                }
            }
        }
    });

    let mut pending: Vec<PendingAck> = Vec::new();
    for n in 0..MESSAGES {
        let send = publisher
            .publish(&topic, n.to_string())
            .qos(QoS::AtLeastOnce)
            .send();
        pending.push(guard("send", send).await.unwrap());
    }
    let mut failed = Vec::new();
    let mut required = Vec::new();
    for (n, ack) in (0..MESSAGES).zip(pending) {
        match guard("an acknowledgement", ack).await {
            Ok(_) => required.push(n),
            // SessionLost, with why the connection was lost
            // (`Error::Interrupted`).
            Err(e) if e.request_error() == Some(&RequestError::SessionLost) => {
                failed.push(format!("#{n}: SessionLost"));
            }
            Err(e) => failed.push(format!("#{n}: {e}")),
        }
        if CUTS.contains(&n) {
            // Mid-burst: the window is full of publishes in flight.
            proxy.inject(Fault::Cut, Scope::Current);
        }
    }
    let reconnects = count_reconnects(&mut events);
    required_tx.send(required).unwrap();
    let received = guard("every acknowledged message", receiving)
        .await
        .unwrap();
    guard("disconnect the publisher", publisher.disconnect())
        .await
        .unwrap();
    guard("disconnect the subscriber", subscriber.disconnect())
        .await
        .unwrap();
    Run {
        failed,
        received,
        reconnects,
    }
}

/// How many times the publisher connected again (lower bound: a lagging
/// receiver skips events).
fn count_reconnects(events: &mut tokio::sync::broadcast::Receiver<ConnectionEvent>) -> u32 {
    let mut reconnects = 0;
    loop {
        match events.try_recv() {
            Ok(ConnectionEvent::Connected { .. }) => reconnects += 1,
            Ok(_) | Err(TryRecvError::Lagged(_)) => {}
            Err(TryRecvError::Empty | TryRecvError::Closed) => return reconnects,
        }
    }
}
