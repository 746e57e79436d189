//! The blocking client (`mqtide::blocking`, feature `blocking`) against a
//! real Mosquitto: no async runtime in these tests, as in the programs it
//! is for. Every wait has a hang guard (`recv_timeout`, `wait_timeout`).

use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use mqtide::blocking::Client;
use mqtide::{Backoff, ConnectionEvent, Error, ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;

/// Waits are bounded by this; a hang guard, never a delay.
const GUARD: Duration = Duration::from_secs(30);

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];

fn client(url: &str, version: ProtocolVersion, id: &str) -> mqtide::blocking::ClientBuilder {
    Client::builder(url)
        .protocol(version)
        .client_id(format!("{id}-{version}"))
        .reconnect(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
}

fn next(messages: &mut mqtide::blocking::Subscription) -> mqtide::Message {
    messages
        .recv_timeout(GUARD)
        .expect("a message within the hang guard")
}

#[test]
fn each_qos_both_ways() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = client(&broker.url(), version, "blocking-qos")
            .connect()
            .unwrap();
        let mut sub = c.subscribe("b/qos/#", QoS::ExactlyOnce).unwrap();
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let outcome = c
                .publish("b/qos/x", vec![qos as u8; 100])
                .qos(qos)
                .wait()
                .unwrap();
            assert!(!outcome.reason_code.is_error(), "{version} {qos:?}");
            let m = next(&mut sub);
            assert_eq!(
                (m.qos(), m.payload().as_ref()),
                (qos, &[qos as u8; 100][..]),
                "{version}"
            );
        }
        c.disconnect().unwrap();
    }
}

#[test]
fn pipelined_sends_are_each_acknowledged() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = client(&broker.url(), version, "blocking-send")
            .connect()
            .unwrap();
        let mut sub = c.subscribe("b/send", QoS::AtLeastOnce).unwrap();
        let pending: Vec<_> = (0..200)
            .map(|n| {
                c.publish("b/send", n.to_string())
                    .qos(QoS::AtLeastOnce)
                    .send()
            })
            .collect::<Result<_, _>>()
            .unwrap();
        for mut ack in pending {
            assert!(ack.wait_timeout(GUARD).unwrap().is_some(), "{version}");
        }
        let received: Vec<String> = (0..200)
            .map(|_| next(&mut sub).payload_str().unwrap().to_string())
            .collect();
        let expected: Vec<String> = (0..200).map(|n: i32| n.to_string()).collect();
        assert_eq!(received, expected, "{version}");
        c.disconnect().unwrap();
    }
}

#[test]
fn timeouts_say_nothing_came_yet() {
    let broker = Mosquitto::start().unwrap();
    let c = client(&broker.url(), ProtocolVersion::V5, "blocking-timeout")
        .connect()
        .unwrap();
    let mut sub = c.subscribe("b/quiet", QoS::AtLeastOnce).unwrap();
    assert_eq!(
        sub.recv_timeout(Duration::from_millis(50)).unwrap_err(),
        RecvTimeoutError::Timeout
    );
    assert_eq!(
        sub.try_recv().unwrap_err(),
        std::sync::mpsc::TryRecvError::Empty
    );
    // A stopped broker answers nothing: the acknowledgement is not there
    // yet, and comes once it runs again.
    broker.pause().unwrap();
    let mut ack = c
        .publish("b/quiet", "x")
        .qos(QoS::AtLeastOnce)
        .send()
        .unwrap();
    assert!(
        ack.wait_timeout(Duration::from_millis(100))
            .unwrap()
            .is_none()
    );
    broker.resume().unwrap();
    assert!(ack.wait_timeout(GUARD).unwrap().is_some());
    assert_eq!(next(&mut sub).payload_str(), Some("x"));
    c.disconnect().unwrap();
}

#[test]
fn the_iterator_ends_when_the_client_closes() {
    let broker = Mosquitto::start().unwrap();
    let c = client(&broker.url(), ProtocolVersion::V5, "blocking-end")
        .connect()
        .unwrap();
    let sub = c.subscribe("b/end", QoS::AtMostOnce).unwrap();
    let reader = std::thread::spawn(move || sub.count());
    c.disconnect().unwrap();
    assert_eq!(reader.join().unwrap(), 0);
}

#[test]
fn a_subscription_goes_on_across_a_broker_restart() {
    let mut broker = Mosquitto::builder().persistence(true).start().unwrap();
    let c = client(&broker.url(), ProtocolVersion::V5, "blocking-restart")
        .clean_start(false)
        .session_expiry(Duration::from_secs(600))
        .connect()
        .unwrap();
    let mut sub = c.subscribe("b/restart", QoS::AtLeastOnce).unwrap();
    let mut events = c.events();
    c.publish("b/restart", "before")
        .qos(QoS::AtLeastOnce)
        .wait()
        .unwrap();
    assert_eq!(next(&mut sub).payload_str(), Some("before"));
    broker.restart().unwrap();
    loop {
        match events
            .recv_timeout(GUARD)
            .expect("an event within the hang guard")
        {
            ConnectionEvent::Connected { .. } => break,
            _ => continue,
        }
    }
    c.publish("b/restart", "after")
        .qos(QoS::AtLeastOnce)
        .wait()
        .unwrap();
    assert_eq!(next(&mut sub).payload_str(), Some("after"));
    c.disconnect().unwrap();
}

#[test]
fn manual_acks() {
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let c = client(&broker.url(), version, "blocking-acks")
            .manual_acks(true)
            .connect()
            .unwrap();
        let mut sub = c.subscribe("b/acks", QoS::ExactlyOnce).unwrap();
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let _queued = c.publish("b/acks", "m").qos(qos).send().unwrap();
            let m = next(&mut sub);
            c.ack(&m).unwrap();
        }
        c.disconnect().unwrap();
    }
}

#[test]
fn a_blocking_call_inside_a_runtime_is_refused() {
    let broker = Mosquitto::start().unwrap();
    let c = client(&broker.url(), ProtocolVersion::V5, "blocking-rt")
        .connect()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (published, connected) = runtime.block_on(async {
        let published = c.publish("b/rt", "x").wait();
        let connected = Client::builder(&broker.url()).connect();
        (published, connected)
    });
    assert!(
        matches!(published, Err(Error::BlockingInRuntime)),
        "{published:?}"
    );
    assert!(
        matches!(connected, Err(Error::BlockingInRuntime)),
        "{:?}",
        connected.err()
    );
    c.disconnect().unwrap();
}

#[test]
fn many_threads_publish_through_clones() {
    let broker = Mosquitto::start().unwrap();
    let c = client(&broker.url(), ProtocolVersion::V5, "blocking-threads")
        .connect()
        .unwrap();
    let mut sub = c.subscribe("b/threads/#", QoS::AtLeastOnce).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for n in 0..50 {
                    c.publish(format!("b/threads/{t}"), n.to_string())
                        .qos(QoS::AtLeastOnce)
                        .wait()
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let mut per_thread = [0; 8];
    for _ in 0..400 {
        let m = next(&mut sub);
        let t: usize = m.topic().rsplit('/').next().unwrap().parse().unwrap();
        assert_eq!(
            m.payload_str().unwrap(),
            per_thread[t].to_string(),
            "order per thread"
        );
        per_thread[t] += 1;
    }
    c.disconnect().unwrap();
}

#[test]
fn start_before_the_broker_is_there() {
    // A broker started and stopped: its port is free, and `restart`
    // brings it back there. The client keeps trying meanwhile.
    let mut broker = Mosquitto::start().unwrap();
    let url = broker.url();
    broker.stop();
    let c = Client::builder(&url)
        .client_id("blocking-start")
        .reconnect(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
        .start()
        .unwrap();
    let mut ack = c
        .publish("b/start", "queued")
        .qos(QoS::AtLeastOnce)
        .send()
        .unwrap();
    assert!(
        ack.wait_timeout(Duration::from_millis(100))
            .unwrap()
            .is_none()
    );
    broker.restart().unwrap();
    c.wait_connected().unwrap();
    assert!(ack.wait_timeout(GUARD).unwrap().is_some());
    c.disconnect().unwrap();
}
