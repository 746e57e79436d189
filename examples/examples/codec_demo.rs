//! The codec on a real socket: connect to a broker, subscribe, publish one
//! message at each QoS to ourselves, and print every packet exchanged.
//!
//! ```text
//! cargo run -p examples --example codec_demo               # 127.0.0.1:1883, MQTT 5.0
//! cargo run -p examples --example codec_demo -- HOST:PORT 3.1.1
//! ```
//!
//! This stands in for the quickstart until the tokio client exists: it
//! drives the protocol by hand with `mqtide::proto`, which a real
//! application will never need to do.

use std::error::Error;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::BytesMut;
use mqtide::proto::{
    Ack, Connect, Disconnect, MAX_PACKET_SIZE, Packet, ProtocolVersion, Publish, QoS, Subscribe,
    SubscriptionOptions,
};

struct Wire {
    stream: TcpStream,
    read: BytesMut,
    version: ProtocolVersion,
}

impl Wire {
    fn send(&mut self, packet: Packet) -> Result<(), Box<dyn Error>> {
        let mut out = BytesMut::new();
        packet.encode(self.version, &mut out)?;
        println!(
            "-> {packet:?}\n   {} bytes: {:02x?}",
            out.len(),
            &out[..out.len().min(24)]
        );
        self.stream.write_all(&out)?;
        Ok(())
    }

    fn recv(&mut self) -> Result<Packet, Box<dyn Error>> {
        loop {
            if let Some(packet) = Packet::decode(&mut self.read, self.version, MAX_PACKET_SIZE)? {
                println!("<- {packet:?}");
                return Ok(packet);
            }
            let mut chunk = [0; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err("the broker closed the connection".into());
            }
            self.read.extend_from_slice(&chunk[..n]);
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:1883".into());
    let version = match args.next().as_deref() {
        None | Some("5") | Some("5.0") => ProtocolVersion::V5,
        Some("3.1.1") | Some("4") => ProtocolVersion::V3_1_1,
        Some("3.1") | Some("3") => ProtocolVersion::V3_1,
        Some(other) => {
            return Err(
                format!("unknown protocol version {other:?}; use 3.1, 3.1.1 or 5.0").into(),
            );
        }
    };
    let stream = TcpStream::connect(&addr).map_err(|e| {
        format!("cannot reach an MQTT broker at {addr}: {e} (is mosquitto running?)")
    })?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut wire = Wire {
        stream,
        read: BytesMut::new(),
        version,
    };

    wire.send(Connect::new(version, format!("mqtide-demo-{}", std::process::id())).into())?;
    match wire.recv()? {
        Packet::ConnAck(ack) if !ack.reason_code.is_error() => {}
        Packet::ConnAck(ack) => {
            return Err(format!("connection refused: {}", ack.reason_code).into());
        }
        other => return Err(format!("expected CONNACK, got {other:?}").into()),
    }

    let id = |n| NonZeroU16::new(n).ok_or("packet id 0");
    wire.send(
        Subscribe {
            packet_id: id(1)?,
            properties: Default::default(),
            filters: vec![(
                "mqtide/demo/#".into(),
                SubscriptionOptions::new(QoS::ExactlyOnce),
            )],
        }
        .into(),
    )?;
    wire.recv()?;

    for (n, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let mut publish = Publish::new(format!("mqtide/demo/qos{n}"), format!("hello at {qos:?}"));
        publish.qos = qos;
        publish.packet_id = if qos == QoS::AtMostOnce {
            None
        } else {
            Some(id(n as u16 + 10)?)
        };
        wire.send(publish.into())?;
    }

    // Three deliveries come back, our QoS 1 and 2 flows complete, and so
    // does the broker's QoS 2 delivery (its PUBREL, our PUBCOMP).
    let (mut delivered, mut completed) = (0, 0);
    while delivered < 3 || completed < 3 {
        match wire.recv()? {
            Packet::Publish(p) => {
                delivered += 1;
                match (p.qos, p.packet_id) {
                    (QoS::AtLeastOnce, Some(id)) => wire.send(Packet::PubAck(Ack::new(id)))?,
                    (QoS::ExactlyOnce, Some(id)) => wire.send(Packet::PubRec(Ack::new(id)))?,
                    _ => {}
                }
            }
            Packet::PubRec(ack) => wire.send(Packet::PubRel(Ack::new(ack.packet_id)))?,
            Packet::PubRel(ack) => {
                completed += 1;
                wire.send(Packet::PubComp(Ack::new(ack.packet_id)))?;
            }
            Packet::PubAck(_) | Packet::PubComp(_) => completed += 1,
            other => println!("   (ignored {other:?})"),
        }
    }
    wire.send(Disconnect::default().into())?;
    println!(
        "done: {delivered} messages delivered, {completed} QoS 1/2 flows completed over MQTT {version}"
    );
    Ok(())
}
