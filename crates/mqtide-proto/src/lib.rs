//! A fully deterministic implementation of MQTT protocol logic: no
//! networking code, and no timestamps from the operating system.
//!
//! `mqtide-proto` is the sans-IO core of [mqtide]. It has three parts:
//!
//! - the **codec**: [`Packet`] turns bytes into packets and packets into
//!   bytes for MQTT 3.1, 3.1.1 and 5.0, with zero-copy topics and payloads
//!   and a typed error for every malformed input;
//! - **topics**: [`TopicName`], [`TopicFilter`], [`topic_matches_sub`] and a
//!   [`FilterTrie`] for routing a message to every matching subscription;
//! - the **session**: [`Session`], the state machine of one client session
//!   (CONNECT/CONNACK, QoS 0/1/2 both ways, packet identifiers, the
//!   in-flight window, keep-alive, topic aliases, resume after reconnect).
//!
//! It never blocks, never sleeps and never reads a clock (clippy enforces
//! it), so any runtime (or none) can drive it, and every protocol rule is
//! tested in memory with a fake clock and a scripted broker.
//!
//! # Driving a session
//!
//! Time comes in as an argument and deadlines go out as values. After every
//! input or command, drain every output before the next input:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::BytesMut;
//! use mqtide_proto::{ConnAck, Event, Packet, ProtocolVersion, Publish, QoS, Session, SessionConfig};
//!
//! # #[allow(clippy::disallowed_methods)]
//! let mut now = Instant::now();
//! let mut session = Session::new(SessionConfig::new(ProtocolVersion::V5, "sensor-1"));
//! let mut to_broker = BytesMut::new();
//!
//! session.handle_connected(now);                        // the transport is up: CONNECT is queued
//! while session.poll_transmit(&mut to_broker) > 0 {}    // write these bytes to the socket
//!
//! // The broker's CONNACK arrives.
//! let mut from_broker = BytesMut::new();
//! Packet::from(ConnAck::new(false)).encode(ProtocolVersion::V5, &mut from_broker)?;
//! session.handle_bytes(&mut from_broker, now);
//! assert!(matches!(session.poll_event(), Some(Event::Connected(_))));
//!
//! // A command returns a RequestId; Event::Completed reports its outcome.
//! let mut publish = Publish::new("sensors/1/temperature", "22.5");
//! publish.qos = QoS::AtLeastOnce;
//! let request = session.publish(publish, now)?;
//! while session.poll_transmit(&mut to_broker) > 0 {}
//!
//! // Nothing to do until the next deadline (the keep-alive ping).
//! now = session.poll_timeout().unwrap_or(now + Duration::from_secs(60));
//! session.handle_timeout(now);
//! # let _ = request;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The codec alone
//!
//! ```
//! use bytes::BytesMut;
//! use mqtide_proto::{MAX_PACKET_SIZE, Packet, ProtocolVersion, Publish, QoS};
//!
//! let mut publish = Publish::new("sensors/1/temperature", "22.5");
//! publish.qos = QoS::AtLeastOnce;
//! publish.packet_id = core::num::NonZeroU16::new(7);
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

#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

extern crate alloc;

mod codec;
mod collections;
#[cfg(mqtide_mutants)]
#[doc(hidden)]
pub mod mutants;
mod session;
mod time;
mod topic;

pub use codec::*;
pub use session::{
    AckMode, AckToken, Completion, Connected, ConnectionError, Counters, Event, IncomingState,
    Message, ProtocolError, QoSPolicy, ReceiveOverrun, RequestError, RequestId, RestoreError,
    Session, SessionConfig, StoreChange, StoredPublish, StoredSession, TopicAliasUse, UsageError,
};
pub use time::{Millis, Timestamp};
pub use topic::{
    FilterTrie, SHARE_PREFIX, TopicError, TopicFilter, TopicName, check_topic_filter,
    check_topic_name, topic_matches_sub,
};
