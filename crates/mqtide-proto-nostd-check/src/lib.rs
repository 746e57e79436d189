//! Proof that `mqtide-proto` runs without `std`: this crate is
//! `#![no_std]` (with `alloc`) and drives a [`Session`] through a
//! connection, a QoS 1 publish, a QoS 2 receive and a keep-alive ping,
//! against a broker scripted in memory.
//!
//! CI builds it for `thumbv7em-none-eabihf`, a target that has no `std`
//! at all, so any use of `std` in `mqtide-proto` or its dependencies fails
//! the build; its test runs the same dialogue on the host (the test
//! harness brings `std`, the crate and `mqtide-proto` stay without it).
//!
//! The session is named `Session<Millis>` rather than left to a default:
//! when the whole workspace builds, another member turns `mqtide-proto`'s
//! `std` on, and this crate must compile both ways.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

#[cfg(test)]
extern crate std;

use alloc::vec::Vec;
use core::num::NonZeroU16;
use core::time::Duration;

use bytes::BytesMut;
use mqtide_proto::{
    Ack, Completion, ConnAck, Event, MAX_PACKET_SIZE, Millis, Packet, ProtocolVersion, Publish,
    QoS, Session, SessionConfig,
};

/// What went wrong in the dialogue: the step that did not go as scripted.
pub type Failure = &'static str;

/// What the dialogue observed, for the test to check.
#[derive(Debug, Default)]
pub struct Transcript {
    /// The packets the client sent, in order, as their type names.
    pub sent: Vec<&'static str>,
    /// The payload of the QoS 2 message the client received.
    pub received: Vec<u8>,
    /// When the session asked to be woken for its keep-alive, in
    /// milliseconds on the caller's clock.
    pub keep_alive_deadline: u64,
}

/// The client's side (the session) and the broker's side (scripted) of an
/// in-memory wire.
struct Wire {
    session: Session<Millis>,
    version: ProtocolVersion,
    now: Millis,
    to_broker: BytesMut,
    transcript: Transcript,
}

impl Wire {
    /// Drains what the session wrote and decodes it as the broker would.
    fn sent(&mut self) -> Result<Vec<Packet>, Failure> {
        while self.session.poll_transmit(&mut self.to_broker) > 0 {}
        let mut packets = Vec::new();
        while let Some(packet) = Packet::decode(&mut self.to_broker, self.version, MAX_PACKET_SIZE)
            .map_err(|_| "the client sent bytes that do not decode")?
        {
            self.transcript.sent.push(packet.packet_type().name());
            packets.push(packet);
        }
        Ok(packets)
    }

    /// The broker sends `packet`.
    fn deliver(&mut self, packet: impl Into<Packet>) -> Result<(), Failure> {
        let mut wire = BytesMut::new();
        packet
            .into()
            .encode(self.version, &mut wire)
            .map_err(|_| "the broker's packet does not encode")?;
        self.session.handle_bytes(&mut wire, self.now);
        if wire.is_empty() {
            Ok(())
        } else {
            Err("the session left bytes unread")
        }
    }
}

/// Connects, publishes at QoS 1, receives at QoS 2 and pings, under
/// `version`; every step checked against what a broker expects.
pub fn dialogue(version: ProtocolVersion) -> Result<Transcript, Failure> {
    let mut config = SessionConfig::new(version, "nostd-check");
    config.keep_alive = 30;
    let mut wire = Wire {
        session: Session::new(config),
        version,
        now: Millis(1_000),
        to_broker: BytesMut::new(),
        transcript: Transcript::default(),
    };

    // The transport is up: CONNECT, then the broker's CONNACK.
    wire.session.handle_connected(wire.now);
    let [Packet::Connect(_)] = wire.sent()?[..] else {
        return Err("expected CONNECT");
    };
    wire.deliver(ConnAck::new(false))?;
    let Some(Event::Connected(_)) = wire.session.poll_event() else {
        return Err("expected Connected");
    };

    // QoS 1 out: PUBLISH, PUBACK, then the request completes.
    wire.now = Millis(1_010);
    let mut publish = Publish::new("sensors/1/temperature", "22.5");
    publish.qos = QoS::AtLeastOnce;
    let request = wire
        .session
        .publish(publish, wire.now)
        .map_err(|_| "publish refused")?;
    let [Packet::Publish(ref sent)] = wire.sent()?[..] else {
        return Err("expected PUBLISH");
    };
    let packet_id = sent
        .packet_id
        .ok_or("a QoS 1 PUBLISH without a packet id")?;
    wire.deliver(Packet::PubAck(Ack::new(packet_id)))?;
    let Some(Event::Completed { id, outcome }) = wire.session.poll_event() else {
        return Err("expected the publish to complete");
    };
    if id != request || !matches!(outcome, Ok(Completion::Published { .. })) {
        return Err("the publish completed with the wrong request or outcome");
    }

    // QoS 2 in: PUBLISH, PUBREC; the message is delivered once; PUBREL,
    // PUBCOMP.
    wire.now = Millis(1_020);
    let incoming_id = NonZeroU16::new(7).ok_or("7 is not zero")?;
    let mut incoming = Publish::new("actuators/1/set", "on");
    incoming.qos = QoS::ExactlyOnce;
    incoming.packet_id = Some(incoming_id);
    wire.deliver(incoming)?;
    let Some(Event::Message(message)) = wire.session.poll_event() else {
        return Err("expected the QoS 2 message");
    };
    wire.transcript.received = message.publish.payload.to_vec();
    let [Packet::PubRec(ref rec)] = wire.sent()?[..] else {
        return Err("expected PUBREC");
    };
    if rec.packet_id != incoming_id {
        return Err("PUBREC for the wrong packet id");
    }
    wire.deliver(Packet::PubRel(Ack::new(incoming_id)))?;
    let [Packet::PubComp(ref comp)] = wire.sent()?[..] else {
        return Err("expected PUBCOMP");
    };
    if comp.packet_id != incoming_id || wire.session.poll_event().is_some() {
        return Err("PUBCOMP for the wrong id, or the message twice");
    }

    // Time passes on the caller's clock: the keep-alive ping is due 30 s
    // after the last packet sent.
    let deadline = wire
        .session
        .poll_timeout()
        .ok_or("no keep-alive deadline")?;
    if deadline != wire.now + Duration::from_secs(30) {
        return Err("the keep-alive deadline is not 30 s after the last packet");
    }
    wire.transcript.keep_alive_deadline = deadline.0;
    wire.now = deadline;
    wire.session.handle_timeout(wire.now);
    let [Packet::PingReq] = wire.sent()?[..] else {
        return Err("expected PINGREQ at the keep-alive deadline");
    };
    Ok(wire.transcript)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_publish_qos1_receive_qos2_and_ping_without_std() {
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            let transcript = dialogue(version).unwrap();
            assert_eq!(
                transcript.sent,
                ["CONNECT", "PUBLISH", "PUBREC", "PUBCOMP", "PINGREQ"]
            );
            assert_eq!(transcript.received, b"on");
            assert_eq!(transcript.keep_alive_deadline, 31_020);
        }
    }
}
