//! The trace of a schedule: packets and faults in order, kept only when a
//! schedule is replayed (building it costs more than the schedule).

use std::fmt::Write as _;

use mqtide_proto::Packet;

/// What happened, line by line, when tracing is on.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    on: bool,
    pub(crate) lines: Vec<String>,
}

impl Trace {
    pub(crate) fn new(on: bool) -> Self {
        Self {
            on,
            lines: Vec::new(),
        }
    }

    /// Adds a line, built only when tracing is on.
    pub(crate) fn line(&mut self, step: u64, line: impl FnOnce() -> String) {
        if self.on {
            self.lines.push(format!("{step:>5}  {}", line()));
        }
    }
}

/// A packet in one line: type, identifier, topic, QoS, flags, payload (the
/// simulator's payloads are message numbers) and reason codes.
pub(crate) fn describe(packet: &Packet) -> String {
    let mut s = String::new();
    match packet {
        Packet::Connect(c) => {
            let expiry = c.properties.session_expiry_interval.unwrap_or(0);
            let _ = write!(
                s,
                "CONNECT {} clean={} expiry={expiry}",
                c.client_id, c.clean_start
            );
        }
        Packet::ConnAck(c) => {
            let _ = write!(
                s,
                "CONNACK present={} {:?}",
                c.session_present, c.reason_code
            );
        }
        Packet::Publish(p) => {
            let id = p.packet_id.map_or(0, |i| i.get());
            let payload = String::from_utf8_lossy(&p.payload);
            let _ = write!(s, "PUBLISH id={id} {} q{} #{payload}", p.topic, p.qos as u8);
            if p.dup {
                s.push_str(" DUP");
            }
            if p.retain {
                s.push_str(" RETAIN");
            }
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            let _ = write!(s, "{:?} id={}", packet.packet_type(), a.packet_id);
            if a.reason_code != mqtide_proto::ReasonCode::Success {
                let _ = write!(s, " {:?}", a.reason_code);
            }
        }
        Packet::Subscribe(x) => {
            let filters: Vec<&str> = x.filters.iter().map(|(f, _)| &**f).collect();
            let _ = write!(s, "SUBSCRIBE id={} {filters:?}", x.packet_id);
        }
        Packet::SubAck(x) => {
            let _ = write!(s, "SUBACK id={} {:?}", x.packet_id, x.reason_codes);
        }
        other => {
            let _ = write!(s, "{:?}", other.packet_type());
        }
    }
    s
}
