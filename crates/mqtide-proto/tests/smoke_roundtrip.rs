use bytes::BytesMut;
use mqtide_proto::*;
use std::num::NonZeroU16;

fn rt(p: Packet, v: ProtocolVersion) {
    let mut b = BytesMut::new();
    p.encode(v, &mut b).unwrap();
    assert_eq!(b.len(), p.encoded_len(v).unwrap());
    let got = Packet::decode(&mut b, v, MAX_PACKET_SIZE).unwrap().unwrap();
    assert!(b.is_empty());
    assert_eq!(got, p);
}

#[test]
fn smoke() {
    for v in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        let mut c = Connect::new(v, "abc");
        c.username = Some("u".into());
        c.password = Some(Secret::new("p"));
        c.will = Some(LastWill {
            topic: "w".into(),
            payload: "x".into(),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Default::default(),
        });
        rt(c.into(), v);
        rt(ConnAck::new(true).into(), v);
        let mut p = Publish::new("a/b", "hello");
        p.qos = QoS::ExactlyOnce;
        p.packet_id = NonZeroU16::new(9);
        rt(p.into(), v);
        rt(Packet::PubAck(Ack::new(NonZeroU16::new(3).unwrap())), v);
        rt(Packet::PubRel(Ack::new(NonZeroU16::new(3).unwrap())), v);
        rt(
            Subscribe {
                packet_id: NonZeroU16::new(1).unwrap(),
                properties: Default::default(),
                filters: vec![("a/+".into(), SubscriptionOptions::new(QoS::AtLeastOnce))],
            }
            .into(),
            v,
        );
        rt(
            SubAck {
                packet_id: NonZeroU16::new(1).unwrap(),
                properties: Default::default(),
                reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
            }
            .into(),
            v,
        );
        rt(
            Unsubscribe {
                packet_id: NonZeroU16::new(1).unwrap(),
                properties: Default::default(),
                filters: vec!["a/#".into()],
            }
            .into(),
            v,
        );
        rt(Packet::PingReq, v);
        rt(Packet::PingResp, v);
        rt(Disconnect::default().into(), v);
    }
    let v = ProtocolVersion::V5;
    let mut p = Publish::new("a/b", "hello");
    p.properties.user_properties.push(("k".into(), "v".into()));
    p.properties.message_expiry_interval = Some(5);
    rt(p.into(), v);
    let mut d = Disconnect::new(ReasonCode::ServerMoved);
    d.properties.server_reference = Some("x".into());
    rt(d.into(), v);
    rt(
        Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: Default::default(),
        }
        .into(),
        v,
    );
    rt(
        UnsubAck {
            packet_id: NonZeroU16::new(1).unwrap(),
            properties: Default::default(),
            reason_codes: vec![ReasonCode::NoSubscriptionExisted],
        }
        .into(),
        v,
    );
}
