//! One line of a packet log: what a packet was, never what it carried.
//!
//! A [`PacketSummary`] names the packet type, its identifier, topic, QoS,
//! flags, sizes, reason codes and the names of the properties it carried.
//! It never holds a payload, a password, authentication data, a will's
//! message or a property's value, so a log of summaries can be shared as
//! it is.

use alloc::vec::Vec;
use core::fmt;

use bytestring::ByteString;

use super::properties::PropertyId;
use super::{Packet, PacketId, PacketType, ProtocolVersion, Publish, QoS, ReasonCode};

/// Which way a packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the server.
    Sent,
    /// From the server to the client.
    Received,
}

impl Direction {
    /// `"sent"` or `"received"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Received => "received",
        }
    }
}

/// What one packet was, for a packet log (see
/// [`Session::set_packet_log`](crate::Session::set_packet_log)).
///
/// Its [`Display`](fmt::Display) is one line in the manner of
/// `mosquitto_pub -d`:
///
/// ```text
/// PUBLISH (id 3, q1, d0, r0, 'sensors/1', payload 256 B; props: content type, user property) 285 B
/// PUBACK (id 3, Success (0x00)) 4 B
/// ```
///
/// It holds no payload, password, authentication data or property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketSummary {
    direction: Direction,
    packet_type: PacketType,
    packet_id: Option<PacketId>,
    size: usize,
    detail: Detail,
    properties: Vec<PropertyId>,
}

/// The per-type part of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Detail {
    None,
    Connect {
        protocol: ProtocolVersion,
        client_id: ByteString,
        clean_start: bool,
        keep_alive: u16,
        username: bool,
        password: bool,
        will: Option<(ByteString, QoS, bool)>,
    },
    ConnAck {
        session_present: bool,
        reason_code: ReasonCode,
    },
    Publish {
        topic: ByteString,
        qos: QoS,
        dup: bool,
        retain: bool,
        payload: usize,
    },
    Reason(ReasonCode),
    Reasons(Vec<ReasonCode>),
    Subscribe(Vec<(ByteString, QoS)>),
    Unsubscribe(Vec<ByteString>),
}

impl PacketSummary {
    /// The summary of `packet`, which took `size` bytes on the wire.
    pub fn of(packet: &Packet, direction: Direction, size: usize) -> Self {
        let (packet_id, detail, properties) = match packet {
            Packet::Connect(c) => (
                None,
                Detail::Connect {
                    protocol: c.protocol,
                    client_id: c.client_id.clone(),
                    clean_start: c.clean_start,
                    keep_alive: c.keep_alive,
                    username: c.username.is_some(),
                    password: c.password.is_some(),
                    will: c.will.as_ref().map(|w| (w.topic.clone(), w.qos, w.retain)),
                },
                c.properties.ids(),
            ),
            Packet::ConnAck(c) => (
                None,
                Detail::ConnAck {
                    session_present: c.session_present,
                    reason_code: c.reason_code,
                },
                c.properties.ids(),
            ),
            Packet::Publish(publish) => return Self::of_publish(publish, direction, size),
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => (
                Some(a.packet_id),
                Detail::Reason(a.reason_code),
                a.properties.ids(),
            ),
            Packet::Subscribe(s) => (
                Some(s.packet_id),
                Detail::Subscribe(s.filters.iter().map(|(f, o)| (f.clone(), o.qos)).collect()),
                s.properties.ids(),
            ),
            Packet::SubAck(a) => (
                Some(a.packet_id),
                Detail::Reasons(a.reason_codes.clone()),
                a.properties.ids(),
            ),
            Packet::Unsubscribe(u) => (
                Some(u.packet_id),
                Detail::Unsubscribe(u.filters.clone()),
                u.properties.ids(),
            ),
            Packet::UnsubAck(a) => (
                Some(a.packet_id),
                Detail::Reasons(a.reason_codes.clone()),
                a.properties.ids(),
            ),
            Packet::PingReq | Packet::PingResp => (None, Detail::None, Vec::new()),
            Packet::Disconnect(d) => (None, Detail::Reason(d.reason_code), d.properties.ids()),
            Packet::Auth(a) => (None, Detail::Reason(a.reason_code), a.properties.ids()),
        };
        Self {
            direction,
            packet_type: packet.packet_type(),
            packet_id,
            size,
            detail,
            properties,
        }
    }

    /// The summary of a PUBLISH, which took `size` bytes on the wire.
    pub fn of_publish(publish: &Publish, direction: Direction, size: usize) -> Self {
        Self {
            direction,
            packet_type: PacketType::Publish,
            packet_id: publish.packet_id,
            size,
            detail: Detail::Publish {
                topic: publish.topic.clone(),
                qos: publish.qos,
                dup: publish.dup,
                retain: publish.retain,
                payload: publish.payload.len(),
            },
            properties: publish.properties.ids(),
        }
    }

    /// Which way the packet went.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The packet identifier, for the packets that have one.
    pub fn packet_id(&self) -> Option<PacketId> {
        self.packet_id
    }

    /// The packet's size on the wire, fixed header included.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The PUBLISH's QoS (`None` for other packets).
    pub fn qos(&self) -> Option<QoS> {
        match self.detail {
            Detail::Publish { qos, .. } => Some(qos),
            _ => None,
        }
    }

    /// Whether this is a PUBLISH with DUP set: a resend.
    pub fn is_resend(&self) -> bool {
        matches!(self.detail, Detail::Publish { dup: true, .. })
    }
}

impl fmt::Display for PacketSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.packet_type.name())?;
        let mut parts = Parts::new(f);
        if let Some(id) = self.packet_id {
            parts.next(format_args!("id {id}"))?;
        }
        match &self.detail {
            Detail::None => {}
            Detail::Connect {
                protocol,
                client_id,
                clean_start,
                keep_alive,
                username,
                password,
                will,
            } => {
                parts.next(format_args!("v{protocol}, client id '{client_id}'"))?;
                parts.next(format_args!("clean start {}", u8::from(*clean_start)))?;
                parts.next(format_args!("keep alive {keep_alive} s"))?;
                if *username {
                    parts.next(format_args!("username"))?;
                }
                if *password {
                    parts.next(format_args!("password"))?;
                }
                if let Some((topic, qos, retain)) = will {
                    let (q, r) = (*qos as u8, u8::from(*retain));
                    parts.next(format_args!("will '{topic}' q{q} r{r}"))?;
                }
            }
            Detail::ConnAck {
                session_present,
                reason_code,
            } => {
                let present = u8::from(*session_present);
                parts.next(format_args!("session present {present}, {reason_code}"))?;
            }
            Detail::Publish {
                topic,
                qos,
                dup,
                retain,
                payload,
            } => {
                let (q, d, r) = (*qos as u8, u8::from(*dup), u8::from(*retain));
                parts.next(format_args!(
                    "q{q}, d{d}, r{r}, '{topic}', payload {payload} B"
                ))?;
            }
            Detail::Reason(code) => parts.next(format_args!("{code}"))?,
            Detail::Reasons(codes) => {
                for code in codes {
                    parts.next(format_args!("{code}"))?;
                }
            }
            Detail::Subscribe(filters) => {
                for (filter, qos) in filters {
                    parts.next(format_args!("'{filter}' q{}", *qos as u8))?;
                }
            }
            Detail::Unsubscribe(filters) => {
                for filter in filters {
                    parts.next(format_args!("'{filter}'"))?;
                }
            }
        }
        if !self.properties.is_empty() {
            let f = parts.props()?;
            for (i, id) in self.properties.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{}", id.label())?;
            }
        }
        parts.close()?;
        write!(f, " {} B", self.size)
    }
}

/// Writes `(a, b; props: …)` after a packet's name, or nothing when there
/// is nothing to say.
struct Parts<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    open: bool,
}

impl<'a, 'b> Parts<'a, 'b> {
    fn new(f: &'a mut fmt::Formatter<'b>) -> Self {
        Self { f, open: false }
    }

    fn next(&mut self, part: fmt::Arguments<'_>) -> fmt::Result {
        let sep = if self.open { ", " } else { " (" };
        self.open = true;
        write!(self.f, "{sep}{part}")
    }

    fn props(&mut self) -> Result<&mut fmt::Formatter<'b>, fmt::Error> {
        let sep = if self.open { "; " } else { " (" };
        self.open = true;
        self.f.write_str(sep)?;
        self.f.write_str("props: ")?;
        Ok(self.f)
    }

    fn close(self) -> fmt::Result {
        if self.open {
            self.f.write_str(")")
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{Ack, Connect, Secret};

    #[test]
    fn a_publish_names_its_topic_flags_and_property_names_never_the_values() {
        let mut publish = Publish::new("sensors/1", Bytes::from_static(b"secret-payload"));
        publish.qos = QoS::AtLeastOnce;
        publish.packet_id = PacketId::new(3);
        publish.properties.content_type = Some("text/plain".into());
        publish
            .properties
            .user_properties
            .push(("tenant".into(), "hidden-value".into()));
        let line = PacketSummary::of_publish(&publish, Direction::Sent, 40).to_string();
        assert_eq!(
            line,
            "PUBLISH (id 3, q1, d0, r0, 'sensors/1', payload 14 B; \
             props: content type, user property) 40 B"
        );
        assert!(!line.contains("secret-payload") && !line.contains("hidden-value"));
    }

    #[test]
    fn a_connect_says_a_password_was_given_and_never_what_it_was() {
        let mut connect = Connect::new(ProtocolVersion::V5, "sensor-1");
        connect.username = Some("alice".into());
        connect.password = Some(Secret::new("hunter2"));
        let line =
            PacketSummary::of(&Packet::Connect(Box::new(connect)), Direction::Sent, 30).to_string();
        assert!(
            line.starts_with("CONNECT (v5.0, client id 'sensor-1'"),
            "{line}"
        );
        assert!(line.contains("username, password"), "{line}");
        assert!(
            !line.contains("hunter2") && !line.contains("alice"),
            "{line}"
        );
    }

    #[test]
    fn packets_without_details_are_their_name_and_size() {
        let ping = PacketSummary::of(&Packet::PingReq, Direction::Sent, 2);
        assert_eq!(ping.to_string(), "PINGREQ 2 B");
        let ack = PacketSummary::of(
            &Packet::PubAck(Ack::new(PacketId::new(7).unwrap())),
            Direction::Received,
            4,
        );
        assert_eq!(ack.to_string(), "PUBACK (id 7, Success (0x00)) 4 B");
        assert_eq!(ack.direction(), Direction::Received);
    }
}
