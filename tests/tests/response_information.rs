//! What the broker says in CONNACK reaches the application
//! (`Client::server_info`), and a broker's 5.0 Response Information
//! becomes the prefix of the response topic `Client::request` uses. No
//! Mosquitto offers Response Information, so a scripted broker does.

mod support;

use bytes::BytesMut;
use mqtide::{ProtocolVersion, ReasonCode};
use mqtide_proto::{ConnAck, MAX_PACKET_SIZE, Packet, Publish, QoS, SubAck};
use mqtide_testkit::Mosquitto;
use support::{client, guard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn server_info_reports_the_connack() {
    let broker = Mosquitto::start().unwrap();
    let c = guard(
        "connect",
        client(&broker.url(), ProtocolVersion::V5, "info")
            .client_id("")
            .connect(),
    )
    .await
    .unwrap();
    let info = c.server_info().expect("connected");
    // Mosquitto assigned an id, and said so.
    assert!(!info.client_id.is_empty());
    assert_eq!(
        info.properties.assigned_client_identifier.as_deref(),
        Some(&*info.client_id)
    );
    assert!(info.send_window > 0);
    guard("disconnect", c.disconnect()).await.unwrap();
}

async fn read_packet(socket: &mut TcpStream, buf: &mut BytesMut) -> Option<Packet> {
    loop {
        match Packet::decode(buf, ProtocolVersion::V5, MAX_PACKET_SIZE) {
            Ok(Some(packet)) => return Some(packet),
            Ok(None) => {
                if socket.read_buf(buf).await.ok()? == 0 {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

async fn send(socket: &mut TcpStream, packet: Packet) {
    let mut out = BytesMut::new();
    packet.encode(ProtocolVersion::V5, &mut out).unwrap();
    socket.write_all(&out).await.unwrap();
}

/// Offers Response Information "svc/replies", records the response topic
/// the client subscribes to, and answers the request on it.
async fn responding_broker() -> (String, tokio::task::JoinHandle<Option<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("mqtt://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.ok()?;
        let mut buf = BytesMut::new();
        let Packet::Connect(connect) = read_packet(&mut socket, &mut buf).await? else {
            return None;
        };
        assert_eq!(connect.properties.request_response_information, Some(true));
        let mut ack = ConnAck::new(false);
        ack.properties.response_information = Some("svc/replies".into());
        send(&mut socket, Packet::ConnAck(Box::new(ack))).await;
        let mut subscribed = None;
        while let Some(packet) = read_packet(&mut socket, &mut buf).await {
            match packet {
                Packet::Subscribe(subscribe) => {
                    subscribed = Some(subscribe.filters[0].0.to_string());
                    let suback = SubAck {
                        packet_id: subscribe.packet_id,
                        properties: Default::default(),
                        reason_codes: vec![ReasonCode::GrantedQoS2],
                    };
                    send(&mut socket, Packet::SubAck(suback)).await;
                }
                Packet::Publish(request) => {
                    let mut reply =
                        Publish::new(request.properties.response_topic.clone()?, "pong");
                    reply.properties.correlation_data = request.properties.correlation_data;
                    reply.qos = QoS::AtMostOnce;
                    send(&mut socket, Packet::Publish(reply)).await;
                }
                Packet::Disconnect(_) => break,
                _ => {}
            }
        }
        subscribed
    });
    (url, task)
}

#[tokio::test]
async fn requests_use_the_offered_response_information() {
    let (url, broker) = responding_broker().await;
    let c = guard(
        "connect",
        client(&url, ProtocolVersion::V5, "asker")
            .request_response_information(true)
            .no_reconnect()
            .connect(),
    )
    .await
    .unwrap();
    let reply = guard("request", c.request("svc/ping", "ping"))
        .await
        .unwrap();
    assert_eq!(reply.payload().as_ref(), b"pong");
    guard("disconnect", c.disconnect()).await.unwrap();
    let subscribed = guard("the broker's record", broker).await.unwrap();
    assert_eq!(subscribed.as_deref(), Some("svc/replies/asker-5.0"));
}
