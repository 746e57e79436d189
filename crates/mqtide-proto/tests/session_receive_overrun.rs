//! A 5.0 server that sends more unacknowledged messages than our Receive
//! Maximum ([MQTT-3.3.4-9]), as Mosquitto 2.0.11 does at QoS 2 after the
//! first few messages. By default (`ReceiveOverrun::Tolerate`) the session
//! takes them, keeps exactly once, counts them and reports the first of
//! each connection; a margin bounds how far beyond the Receive Maximum it
//! goes. `Strict` disconnects with 0x93 (`session_publish_in.rs`).

mod harness;

use std::num::NonZeroU16;

use harness::{Harness, ack, incoming, pid};
use mqtide_proto::{
    AckMode, ConnAck, ConnectionError, Event, Packet, ProtocolError, ProtocolVersion, QoS,
    ReasonCode, ReceiveOverrun, SessionConfig,
};

fn config(receive_maximum: u16) -> SessionConfig {
    let mut config = Harness::config(ProtocolVersion::V5);
    config.properties.receive_maximum = NonZeroU16::new(receive_maximum);
    config
}

/// The broker sends QoS 2 message `id`; the session must deliver it and
/// answer PUBREC.
fn delivered(h: &mut Harness, id: u16) {
    h.deliver(incoming("t", QoS::ExactlyOnce, id));
    let events = h.take_events();
    assert!(
        matches!(events.last(), Some(Event::Message(_))),
        "message {id}: {events:?}"
    );
    for event in &events[..events.len() - 1] {
        assert!(
            matches!(event, Event::ReceiveMaximumOverrun { .. }),
            "{event:?}"
        );
    }
    assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(id))));
}

/// QoS 2 messages sent before the ones before them are released: the
/// session takes them all, reports the first overrun once, counts each,
/// and still delivers none twice.
#[test]
fn qos2_places_freed_at_pubrec_are_tolerated_and_reported_once() {
    let mut h = Harness::connected_with(config(2), ConnAck::new(false));
    delivered(&mut h, 1);
    delivered(&mut h, 2);
    h.deliver(incoming("t", QoS::ExactlyOnce, 3));
    assert_eq!(
        h.expect_event(),
        Event::ReceiveMaximumOverrun {
            maximum: 2,
            unacknowledged: 3
        }
    );
    assert!(matches!(h.expect_event(), Event::Message(_)));
    h.expect_sent();
    for id in 4..40 {
        delivered(&mut h, id);
    }
    assert_eq!(h.session.receive_overruns(), 37);
    // Exactly once holds: a resend of one not yet released is answered,
    // not delivered.
    let mut again = incoming("t", QoS::ExactlyOnce, 7);
    again.dup = true;
    h.deliver(again);
    h.expect_no_event();
    assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(7))));
    // The releases come.
    for id in 1..40 {
        h.deliver(Packet::PubRel(ack(pid(id))));
        assert_eq!(h.expect_sent(), Packet::PubComp(ack(pid(id))));
    }
    // Reported again on the next connection, once.
    h.lose_connection();
    h.expect_disconnected();
    h.open(ConnAck::new(false));
    delivered(&mut h, 1);
    delivered(&mut h, 2);
    h.deliver(incoming("t", QoS::ExactlyOnce, 3));
    assert!(matches!(
        h.expect_event(),
        Event::ReceiveMaximumOverrun { .. }
    ));
    assert!(matches!(h.expect_event(), Event::Message(_)));
    h.expect_sent();
    delivered(&mut h, 4);
    h.expect_no_event();
}

/// With a margin, the messages unacknowledged may exceed the Receive
/// Maximum by that much, and no more: one beyond ends the connection with
/// 0x93, as under `Strict`.
#[test]
fn messages_awaiting_acknowledgement_are_bounded_by_the_margin() {
    let mut config = config(2);
    config.ack_mode = AckMode::Manual;
    config.receive_overrun = ReceiveOverrun::Tolerate { margin: 3 };
    let mut h = Harness::connected_with(config, ConnAck::new(false));
    for id in 1..=5 {
        h.deliver(incoming("t", QoS::AtLeastOnce, id));
    }
    let events = h.take_events();
    let messages = events
        .iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count();
    assert_eq!(messages, 5, "{events:?}");
    h.expect_nothing_sent();
    h.deliver(incoming("t", QoS::AtLeastOnce, 6));
    assert_eq!(
        h.expect_disconnected(),
        ConnectionError::Protocol(ProtocolError::ReceiveMaximumExceeded(2))
    );
    let Packet::Disconnect(d) = h.expect_sent() else {
        panic!("expected DISCONNECT")
    };
    assert_eq!(d.reason_code, ReasonCode::ReceiveMaximumExceeded);
}

/// The livelock the simulator found: a broker lost the session, and the
/// CONNACK saying so was lost too, so the client resumed the broker's new,
/// empty session as its own and kept a QoS 2 identifier it had
/// acknowledged, which the broker will never release. With a Receive
/// Maximum of 1, `Strict` refuses every new message on every reconnect
/// (0x93, reconnect, 0x93, …); the default takes it, and the stale
/// identifier waits for a PUBREL that never comes, harmlessly.
#[test]
fn a_stale_qos2_identifier_no_longer_holds_the_window() {
    for overrun in [ReceiveOverrun::Strict, ReceiveOverrun::default()] {
        let mut config = config(1);
        config.clean_start = false;
        config.properties.session_expiry_interval = Some(600);
        config.receive_overrun = overrun;
        let mut h = Harness::connected_with(config, ConnAck::new(false));
        delivered(&mut h, 9);
        for _ in 0..3 {
            h.lose_connection();
            h.take_events();
            // The broker's new session: present, and empty.
            h.open(ConnAck::new(true));
            h.deliver(incoming("t", QoS::ExactlyOnce, 1));
            if overrun == ReceiveOverrun::Strict {
                assert_eq!(
                    h.expect_disconnected(),
                    ConnectionError::Protocol(ProtocolError::ReceiveMaximumExceeded(1))
                );
                continue;
            }
            let events = h.take_events();
            assert!(
                matches!(events.last(), Some(Event::Message(_))),
                "{events:?}"
            );
            assert_eq!(h.expect_sent(), Packet::PubRec(ack(pid(1))));
            h.deliver(Packet::PubRel(ack(pid(1))));
            assert_eq!(h.expect_sent(), Packet::PubComp(ack(pid(1))));
        }
    }
}
