//! A fully deterministic implementation of MQTT protocol logic: no
//! networking code, and no timestamps from the operating system.
//!
//! `mqtide-proto` is the sans-IO core of [mqtide]. It turns bytes into
//! packets and packets into bytes for MQTT 3.1, 3.1.1 and 5.0 ([`Packet`]),
//! and validates and matches topics ([`TopicName`], [`TopicFilter`],
//! [`topic_matches_sub`], [`FilterTrie`]). It never blocks, never sleeps and
//! never reads a clock, so any runtime (or none) can drive it and every
//! rule can be tested in memory.
//!
//! ```
//! use bytes::BytesMut;
//! use mqtide_proto::{MAX_PACKET_SIZE, Packet, ProtocolVersion, Publish, QoS};
//!
//! let mut publish = Publish::new("sensors/1/temperature", "22.5");
//! publish.qos = QoS::AtLeastOnce;
//! publish.packet_id = std::num::NonZeroU16::new(7);
//!
//! let mut wire = BytesMut::new();
//! Packet::Publish(publish.clone()).encode(ProtocolVersion::V3_1_1, &mut wire)?;
//!
//! // Bytes arrive in pieces; a partial packet decodes to `None`.
//! let mut read = BytesMut::from(&wire[..5]);
//! assert_eq!(Packet::decode(&mut read, ProtocolVersion::V3_1_1, MAX_PACKET_SIZE)?, None);
//! read.extend_from_slice(&wire[5..]);
//! let packet = Packet::decode(&mut read, ProtocolVersion::V3_1_1, MAX_PACKET_SIZE)?;
//! assert_eq!(packet, Some(Packet::Publish(publish)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [mqtide]: https://docs.rs/mqtide

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod codec;
mod session;
mod topic;

pub use codec::*;
pub use session::{
    AckMode, AckToken, Completion, Connected, ConnectionError, Event, Message, ProtocolError,
    QoSPolicy, RequestError, RequestId, Session, SessionConfig, TopicAliasUse, UsageError,
};
pub use topic::{
    FilterTrie, SHARE_PREFIX, TopicError, TopicFilter, TopicName, check_topic_filter,
    check_topic_name, topic_matches_sub,
};
