//! What a driver can observe of a session without reading its packets:
//! the counters ([`Session::counters`]) and the packet log
//! ([`Session::set_packet_log`]).

mod harness;

use std::time::Duration;

use harness::{Harness, ack, incoming, pid};
use mqtide_proto::{ConnAck, Direction, Packet, PacketType, ProtocolVersion, QoS};

fn persistent(version: ProtocolVersion) -> Harness {
    let mut config = Harness::config(version);
    config.clean_start = false;
    config.keep_alive = 10;
    if version.is_v5() {
        config.properties.session_expiry_interval = Some(600);
    }
    Harness::connected_with(config, ConnAck::new(false))
}

each_version! {
    /// Every packet and byte each way is counted; publishes by QoS, resends
    /// apart from first sends; messages by QoS, and a QoS 2 resend that is
    /// not delivered again as a duplicate suppressed.
    fn counters_count_each_flow_once(version: ProtocolVersion) {
        let mut h = persistent(version);
        let connect_counts = *h.session.counters();
        assert_eq!((connect_counts.packets_sent, connect_counts.packets_received), (1, 1));

        h.publish("a", b"1", QoS::AtMostOnce);
        h.publish("b", b"2", QoS::AtLeastOnce);
        h.publish("c", b"3", QoS::ExactlyOnce);
        let (_, b, c) = (h.expect_publish(), h.expect_publish(), h.expect_publish());
        h.deliver(Packet::PubAck(ack(b.packet_id.unwrap())));
        h.deliver(Packet::PubRec(ack(c.packet_id.unwrap())));
        assert!(matches!(h.expect_sent(), Packet::PubRel(_)));
        h.lose_connection();
        h.take_events();
        h.open(ConnAck::new(true));
        assert!(matches!(h.expect_sent(), Packet::PubRel(_)));

        h.deliver(incoming("in", QoS::AtLeastOnce, 5));
        h.deliver(incoming("in", QoS::ExactlyOnce, 6));
        let mut again = incoming("in", QoS::ExactlyOnce, 6);
        again.dup = true;
        h.deliver(again);
        let counts = *h.session.counters();
        assert_eq!(counts.publishes_sent, [1, 1, 1]);
        assert_eq!((counts.publishes_resent, counts.pubrels_resent), (0, 1));
        assert_eq!(counts.messages_received, [0, 1, 1]);
        assert_eq!(counts.duplicates_suppressed, 1);
        // CONNECT ×2, three PUBLISHes, PUBREL ×2, PUBACK, PUBREC ×2 (the
        // second answers the suppressed resend).
        assert_eq!(counts.packets_sent, 10);
        // CONNACK ×2, PUBACK, PUBREC, three PUBLISHes.
        assert_eq!(counts.packets_received, 7);
        assert!(counts.bytes_sent > 10 * 2 && counts.bytes_received > 7 * 2);
    }
}

each_version! {
    /// The keep-alive round trip runs from the PINGREQ to the first packet
    /// read after it.
    fn the_keep_alive_round_trip_is_measured(version: ProtocolVersion) {
        let mut h = persistent(version);
        assert_eq!(h.session.counters().keep_alive_rtt, None);
        h.advance(Duration::from_secs(10));
        assert_eq!(h.expect_sent(), Packet::PingReq);
        h.advance(Duration::from_millis(1500));
        h.deliver(Packet::PingResp);
        assert_eq!(h.session.counters().keep_alive_rtt, Some(Duration::from_millis(1500)));
    }
}

each_version! {
    /// With the log on, each packet read or written leaves one summary, in
    /// order, with its direction and size; off, none.
    fn the_packet_log_names_every_packet_once(version: ProtocolVersion) {
        let mut h = persistent(version);
        assert_eq!(h.session.poll_packet_log(), None);
        h.session.set_packet_log(true);
        h.publish("t", b"payload-bytes", QoS::AtLeastOnce);
        let sent = h.expect_publish();
        h.deliver(Packet::PubAck(ack(sent.packet_id.unwrap())));
        h.deliver(incoming("in", QoS::ExactlyOnce, 9));
        h.deliver(Packet::PubRel(ack(pid(9))));
        let log: Vec<_> = std::iter::from_fn(|| h.session.poll_packet_log()).collect();
        let seen: Vec<_> = log.iter().map(|s| (s.direction(), s.packet_type())).collect();
        assert_eq!(
            seen,
            [
                (Direction::Sent, PacketType::Publish),
                (Direction::Received, PacketType::PubAck),
                (Direction::Received, PacketType::Publish),
                (Direction::Sent, PacketType::PubRec),
                (Direction::Received, PacketType::PubRel),
                (Direction::Sent, PacketType::PubComp),
            ]
        );
        assert_eq!(log[0].qos(), Some(QoS::AtLeastOnce));
        assert!(log.iter().all(|s| !s.to_string().contains("payload-bytes")));
        let total: usize = log.iter().map(|s| s.size()).sum();
        let counted = h.session.counters();
        let before = (counted.bytes_sent + counted.bytes_received) as usize - total;
        assert!(before > 0, "the CONNECT and CONNACK were counted, not logged");

        h.take_sent();
        h.session.set_packet_log(false);
        h.publish("t", b"x", QoS::AtMostOnce);
        h.expect_publish();
        assert_eq!(h.session.poll_packet_log(), None);
    }
}
