//! Keep-alive (spec §3.1.2.10): PINGREQ when nothing was sent for the
//! interval, and a dead connection detected when nothing answers.

mod harness;

use std::time::Duration;

use harness::Harness;
use mqtide_proto::{ConnAck, ConnectionError, Packet, ProtocolVersion, QoS};

fn with_keep_alive(version: ProtocolVersion, seconds: u16) -> Harness {
    let mut config = Harness::config(version);
    config.keep_alive = seconds;
    config.ping_timeout = Duration::from_secs(4);
    Harness::connected_with(config, ConnAck::new(false))
}

each_version! {
    /// [MQTT-3.1.2-20]: a PINGREQ goes out when nothing else was sent for
    /// the keep-alive interval; PINGRESP keeps the connection.
    fn idle_connection_pings(version: ProtocolVersion) {
        let mut h = with_keep_alive(version, 10);
        h.advance(Duration::from_secs(9));
        h.expect_nothing_sent();
        h.advance(Duration::from_secs(1));
        assert_eq!(h.expect_sent(), Packet::PingReq);
        h.deliver(Packet::PingResp);
        h.advance(Duration::from_secs(4));
        h.expect_no_event();
        assert!(h.session.is_connected());
        h.advance(Duration::from_secs(6));
        assert_eq!(h.expect_sent(), Packet::PingReq);
    }
}

each_version! {
    /// Sending anything postpones the ping: keep-alive counts from the
    /// last packet sent.
    fn traffic_postpones_the_ping(version: ProtocolVersion) {
        let mut h = with_keep_alive(version, 10);
        h.advance(Duration::from_secs(8));
        h.publish("t", b"x", QoS::AtMostOnce);
        h.expect_publish();
        h.advance(Duration::from_secs(8));
        h.expect_nothing_sent();
        h.advance(Duration::from_secs(2));
        assert_eq!(h.expect_sent(), Packet::PingReq);
    }
}

each_version! {
    /// No PINGRESP (or any packet) within the ping timeout: the connection
    /// is lost, reported once.
    fn silence_after_ping_loses_the_connection(version: ProtocolVersion) {
        let mut h = with_keep_alive(version, 10);
        h.advance(Duration::from_secs(10));
        assert_eq!(h.expect_sent(), Packet::PingReq);
        h.advance(Duration::from_secs(3));
        h.expect_no_event();
        h.advance(Duration::from_secs(1));
        assert_eq!(h.expect_disconnected(), ConnectionError::KeepAliveTimeout);
        h.expect_no_event();
    }
}

each_version! {
    /// Any packet from the server answers the ping, not only PINGRESP.
    fn any_packet_answers_the_ping(version: ProtocolVersion) {
        let mut h = with_keep_alive(version, 10);
        h.advance(Duration::from_secs(10));
        h.expect_sent();
        h.deliver(harness::incoming("t", QoS::AtMostOnce, 0));
        h.expect_event();
        h.advance(Duration::from_secs(4));
        h.expect_no_event();
        assert!(h.session.is_connected());
    }
}

each_version! {
    /// Keep-alive 0 turns the mechanism off (spec §3.1.2.10).
    fn zero_disables_keep_alive(version: ProtocolVersion) {
        let mut h = with_keep_alive(version, 0);
        assert_eq!(h.session.poll_timeout(), None);
        h.advance(Duration::from_secs(3600));
        h.expect_nothing_sent();
        h.expect_no_event();
    }
}

#[test]
fn handle_timeout_is_safe_to_call_spuriously() {
    let mut h = with_keep_alive(ProtocolVersion::V5, 10);
    for _ in 0..5 {
        h.session.handle_timeout(h.now);
        h.drain();
    }
    h.expect_nothing_sent();
    h.expect_no_event();
}
