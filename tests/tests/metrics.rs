//! The `metrics` feature: the figures of `Client::stats` reach the
//! installed recorder under `mqtide_*` names, with a `client_id` label
//! that the builder can turn off, and each acknowledged publish leaves one
//! latency sample for its QoS. Read with metrics-util's debugging
//! recorder, against a real Mosquitto.

mod support;

use std::collections::HashMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use mqtide::{ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;
use support::{client, guard, next};

/// A series: its name and its labels, sorted, as `k=v`.
type Series = (String, Vec<String>);

/// Connects as `id`, sends one message at QoS 0, two at QoS 1 and three at
/// QoS 2 to itself, and disconnects.
async fn session(url: &str, id: &str, label: bool) {
    let c = client(url, ProtocolVersion::V5, id)
        .metrics_client_id_label(label)
        .connect();
    let c = guard("connect", c).await.unwrap();
    let mut sub = guard(
        "subscribe",
        c.subscribe(&format!("{id}/#"), QoS::ExactlyOnce),
    )
    .await
    .unwrap();
    for (qos, count) in [
        (QoS::AtMostOnce, 1),
        (QoS::AtLeastOnce, 2),
        (QoS::ExactlyOnce, 3),
    ] {
        for _ in 0..count {
            guard("publish", c.publish(format!("{id}/x"), "m").qos(qos))
                .await
                .unwrap();
            next(&mut sub).await;
        }
    }
    guard("disconnect", c.disconnect()).await.unwrap();
}

#[tokio::test]
async fn figures_reach_the_recorder_with_and_without_the_client_label() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");
    let broker = Mosquitto::start().unwrap();
    session(&broker.url(), "metrics-labelled", true).await;
    session(&broker.url(), "metrics-unlabelled", false).await;

    let mut seen: HashMap<Series, DebugValue> = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        seen.insert((key.name().to_owned(), labels), value);
    }
    let labelled = "client_id=metrics-labelled-5.0";
    let get = |name: &str, labels: &[&str]| {
        let mut labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        labels.sort();
        let series = (name.to_owned(), labels);
        seen.get(&series)
            .unwrap_or_else(|| panic!("no series {series:?} among {:#?}", seen.keys()))
    };
    for labels in [vec![labelled], vec![]] {
        let with = |extra: &'static str| {
            let mut all = labels.clone();
            all.push(extra);
            all
        };
        assert_eq!(
            get("mqtide_connections_total", &labels),
            &DebugValue::Counter(1)
        );
        assert_eq!(
            get("mqtide_connections_lost_total", &labels),
            &DebugValue::Counter(0)
        );
        for (qos, count) in [("qos=0", 1), ("qos=1", 2), ("qos=2", 3)] {
            for name in [
                "mqtide_publishes_queued_total",
                "mqtide_publishes_sent_total",
                "mqtide_publishes_acknowledged_total",
                "mqtide_messages_received_total",
            ] {
                assert_eq!(
                    get(name, &with(qos)),
                    &DebugValue::Counter(count),
                    "{name} {qos} {labels:?}"
                );
            }
            let DebugValue::Histogram(samples) = get("mqtide_publish_ack_seconds", &with(qos))
            else {
                panic!("the latency is a histogram");
            };
            assert_eq!(samples.len(), count as usize, "{qos} {labels:?}");
            assert!(samples.iter().all(|s| s.0 >= 0.0));
        }
        let DebugValue::Counter(bytes) = get("mqtide_bytes_total", &with("direction=sent")) else {
            panic!("bytes are counted");
        };
        assert!(*bytes > 0);
    }
    // No series of the unlabelled client carries a client id.
    assert!(
        !seen
            .keys()
            .any(|(_, labels)| labels.iter().any(|l| l.contains("metrics-unlabelled"))),
        "{:#?}",
        seen.keys()
    );
}
