//! The codec against a real Mosquitto: every packet a client sends is
//! encoded by mqtide-proto, every packet the broker sends is decoded by it,
//! over a plain TCP socket, for MQTT 3.1, 3.1.1 and 5.0.
//!
//! The read timeout is a hang guard only; nothing here waits on time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtide_proto::{
    Ack, Connect, Disconnect, MAX_PACKET_SIZE, Packet, PacketId, PayloadFormat, ProtocolVersion,
    Publish, QoS, ReasonCode, Subscribe, SubscriptionId, SubscriptionOptions, Unsubscribe,
};
use mqtide_testkit::Mosquitto;

const HANG_GUARD: Duration = Duration::from_secs(10);

/// One raw MQTT connection driven by hand.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    version: ProtocolVersion,
}

impl Conn {
    fn open(broker: &Mosquitto, version: ProtocolVersion) -> Self {
        let stream = TcpStream::connect(broker.addr()).unwrap();
        stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            buf: BytesMut::with_capacity(4096),
            version,
        }
    }

    fn send(&mut self, packet: impl Into<Packet>) {
        let packet = packet.into();
        let mut out = BytesMut::new();
        packet.encode(self.version, &mut out).unwrap();
        assert_eq!(out.len(), packet.encoded_len(self.version).unwrap());
        self.stream.write_all(&out).unwrap();
    }

    fn recv(&mut self) -> Packet {
        loop {
            if let Some(packet) =
                Packet::decode(&mut self.buf, self.version, MAX_PACKET_SIZE).unwrap()
            {
                return packet;
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "broker closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn connect(&mut self, client_id: &str) {
        let mut connect = Connect::new(self.version, client_id);
        connect.keep_alive = 30;
        self.send(connect);
        match self.recv() {
            Packet::ConnAck(ack) => {
                assert_eq!(ack.reason_code, ReasonCode::Success);
                assert!(!ack.session_present);
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }
}

fn pid(n: u16) -> PacketId {
    NonZeroU16::new(n).unwrap()
}

fn publish(topic: &str, payload: &'static [u8], qos: QoS, packet_id: u16) -> Publish {
    let mut p = Publish::new(topic, Bytes::from_static(payload));
    p.qos = qos;
    p.packet_id = NonZeroU16::new(packet_id);
    p
}

/// Subscribes at QoS 2, publishes one message at each QoS to itself, and
/// completes every flow in both directions: PUBACK, PUBREC/PUBREL/PUBCOMP,
/// and the broker's deliveries with the matching acknowledgements.
fn publish_subscribe_dialogue(version: ProtocolVersion) {
    let broker = Mosquitto::start().unwrap();
    let mut conn = Conn::open(&broker, version);
    conn.connect(&format!("codec-interop-{version}"));

    let mut subscribe = Subscribe {
        packet_id: pid(1),
        properties: Default::default(),
        filters: vec![(
            "codec/test/#".into(),
            SubscriptionOptions::new(QoS::ExactlyOnce),
        )],
    };
    if version.is_v5() {
        subscribe.properties.subscription_identifier = SubscriptionId::new(42);
    }
    conn.send(subscribe);
    match conn.recv() {
        Packet::SubAck(ack) => {
            assert_eq!(ack.packet_id, pid(1));
            assert_eq!(ack.reason_codes, [ReasonCode::GrantedQoS2]);
        }
        other => panic!("expected SUBACK, got {other:?}"),
    }

    let mut sent = [
        publish("codec/test/0", b"at most once", QoS::AtMostOnce, 0),
        publish("codec/test/1", b"at least once", QoS::AtLeastOnce, 2),
        publish("codec/test/2", b"exactly once", QoS::ExactlyOnce, 3),
    ];
    if version.is_v5() {
        for p in &mut sent {
            p.properties
                .user_properties
                .push(("origin".into(), "mqtide".into()));
            p.properties.content_type = Some("text/plain".into());
            p.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
        }
    }
    for p in &sent {
        conn.send(p.clone());
    }

    let mut received = Vec::new();
    let (mut puback, mut pubcomp) = (false, false);
    while received.len() < sent.len() || !puback || !pubcomp {
        match conn.recv() {
            Packet::PubAck(ack) => {
                assert_eq!(ack.packet_id, pid(2));
                puback = true;
            }
            Packet::PubRec(ack) => {
                assert_eq!(ack.packet_id, pid(3));
                conn.send(Packet::PubRel(Ack::new(pid(3))));
            }
            Packet::PubComp(ack) => {
                assert_eq!(ack.packet_id, pid(3));
                pubcomp = true;
            }
            Packet::Publish(p) => {
                match (p.qos, p.packet_id) {
                    (QoS::AtMostOnce, None) => {}
                    (QoS::AtLeastOnce, Some(id)) => conn.send(Packet::PubAck(Ack::new(id))),
                    (QoS::ExactlyOnce, Some(id)) => conn.send(Packet::PubRec(Ack::new(id))),
                    other => panic!("inconsistent QoS and packet id {other:?}"),
                }
                received.push(p);
            }
            Packet::PubRel(ack) => conn.send(Packet::PubComp(Ack::new(ack.packet_id))),
            other => panic!("unexpected {other:?}"),
        }
    }
    // The broker's PUBREL for its QoS 2 delivery may still be on its way;
    // the PINGREQ exchange below answers it.
    received.sort_by(|a, b| a.topic.cmp(&b.topic));
    for (got, want) in received.iter().zip(&sent) {
        assert_eq!(got.topic, want.topic);
        assert_eq!(got.payload, want.payload);
        assert_eq!(got.qos, want.qos);
        assert!(!got.dup && !got.retain);
        if version.is_v5() {
            assert_eq!(
                got.properties.user_properties,
                want.properties.user_properties
            );
            assert_eq!(got.properties.content_type, want.properties.content_type);
            assert_eq!(
                got.properties.payload_format_indicator,
                Some(PayloadFormat::Utf8)
            );
            assert_eq!(
                got.properties.subscription_identifiers,
                [SubscriptionId::new(42).unwrap()]
            );
        }
    }

    conn.send(Packet::PingReq);
    loop {
        match conn.recv() {
            Packet::PingResp => break,
            Packet::PubRel(ack) => conn.send(Packet::PubComp(Ack::new(ack.packet_id))),
            other => panic!("expected PINGRESP, got {other:?}"),
        }
    }

    conn.send(Unsubscribe {
        packet_id: pid(4),
        properties: Default::default(),
        filters: vec!["codec/test/#".into()],
    });
    match conn.recv() {
        Packet::UnsubAck(ack) => {
            assert_eq!(ack.packet_id, pid(4));
            if version.is_v5() {
                assert_eq!(ack.reason_codes, [ReasonCode::Success]);
            }
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
    conn.send(Disconnect::default());
}

#[test]
fn publish_subscribe_dialogue_v3_1() {
    publish_subscribe_dialogue(ProtocolVersion::V3_1);
}

#[test]
fn publish_subscribe_dialogue_v3_1_1() {
    publish_subscribe_dialogue(ProtocolVersion::V3_1_1);
}

#[test]
fn publish_subscribe_dialogue_v5() {
    publish_subscribe_dialogue(ProtocolVersion::V5);
}

/// A payload far larger than one socket read arrives in pieces and decodes
/// whole.
#[test]
fn large_payload_is_reassembled_from_many_reads() {
    let broker = Mosquitto::start().unwrap();
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut conn = Conn::open(&broker, version);
        conn.connect(&format!("codec-large-{version}"));
        conn.send(Subscribe {
            packet_id: pid(1),
            properties: Default::default(),
            filters: vec![(
                "codec/large".into(),
                SubscriptionOptions::new(QoS::AtMostOnce),
            )],
        });
        assert!(matches!(conn.recv(), Packet::SubAck(_)));
        let payload: Bytes = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        conn.send(Publish::new("codec/large", payload.clone()));
        match conn.recv() {
            Packet::Publish(p) => assert_eq!(p.payload, payload),
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

/// Mosquitto's 5.0 CONNACK carries properties; an unsupported protocol level
/// is refused with the 3.1.1 return code mapped onto the 5.0 reason.
#[test]
fn connack_outcomes() {
    let broker = Mosquitto::start_with("max_inflight_messages 7").unwrap();
    let mut conn = Conn::open(&broker, ProtocolVersion::V5);
    conn.send(Connect::new(ProtocolVersion::V5, "codec-connack"));
    match conn.recv() {
        Packet::ConnAck(ack) => {
            assert_eq!(ack.reason_code, ReasonCode::Success);
            assert_eq!(ack.properties.receive_maximum, NonZeroU16::new(7));
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }

    // An empty client id with clean session off is refused under 3.1.1
    // with return code 2, which maps onto ClientIdentifierNotValid.
    let mut conn = Conn::open(&broker, ProtocolVersion::V3_1_1);
    let mut connect = Connect::new(ProtocolVersion::V3_1_1, "");
    connect.clean_start = false;
    conn.send(connect);
    match conn.recv() {
        Packet::ConnAck(ack) => assert_eq!(ack.reason_code, ReasonCode::ClientIdentifierNotValid),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}
