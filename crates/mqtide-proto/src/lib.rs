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
//! # Using mqtide-proto without std
//!
//! With `default-features = false` the crate is `#![no_std]` and needs
//! only `alloc`: a heap (see [Memory](#memory)), and nothing of an
//! operating system. CI builds it for `thumbv7em-none-eabihf` (Cortex-M4F)
//! and runs a `#![no_std]` crate that drives a session through a
//! connection, a QoS 1 publish and a QoS 2 receive.
//!
//! ```toml
//! [dependencies]
//! mqtide-proto = { version = "0.1", default-features = false }
//! ```
//!
//! What changes is time. With `std`, `now` is a
//! [`std::time::Instant`][std-instant] and [`Session`] means
//! `Session<std::time::Instant>`. Without it, name the time type: [`Millis`], a millisecond count from any fixed point (boot,
//! usually) that you read from your tick counter, or your own clock's
//! instant type with [`Timestamp`] implemented for it. Name it in code
//! that may also be built with `std` (host tests, a workspace where
//! another crate turns `std` on): `Session<Millis>` compiles either way.
//!
//! The driving loop is the one above. On a device it is the main loop (or
//! one task of an executor), and the socket is whatever the network stack
//! gives you (smoltcp, lwIP, a modem's AT socket):
//!
//! ```
//! use core::time::Duration;
//! use bytes::BytesMut;
//! use mqtide_proto::{Event, Millis, ProtocolVersion, Session, SessionConfig, Timestamp};
//!
//! # fn tick_millis() -> u64 { 1_000 }
//! # fn socket_write(_: &[u8]) {}
//! # fn socket_read_until(_: Millis, _: &mut BytesMut) -> bool { false }
//! let mut session: Session<Millis> =
//!     Session::new(SessionConfig::new(ProtocolVersion::V5, "sensor-1"));
//! let (mut read_buf, mut write_buf) = (BytesMut::new(), BytesMut::new());
//!
//! session.handle_connected(Millis(tick_millis()));
//! # for _ in 0..2 {
//! loop {
//!     // 1. Drain: bytes to the socket, events to the application.
//!     while session.poll_transmit(&mut write_buf) > 0 {}
//!     socket_write(&write_buf);
//!     write_buf.clear();
//!     while let Some(event) = session.poll_event() { /* act on it */ }
//!
//!     // 2. Wait for bytes until the next deadline (sleep, WFI, or a read
//!     //    with a timeout), then 3. hand over what happened.
//!     let now = Millis(tick_millis());
//!     let deadline = session.poll_timeout().unwrap_or(now + Duration::from_secs(1));
//!     if socket_read_until(deadline, &mut read_buf) {
//!         session.handle_bytes(&mut read_buf, Millis(tick_millis()));
//!     } else {
//!         session.handle_timeout(Millis(tick_millis()));
//!     }
//! #   break;
//! }
//! # }
//! ```
//!
//! `examples/blocking_loop.rs` is this loop, complete, on a blocking
//! `std::net::TcpStream` with no async runtime (`cargo run -p
//! mqtide-proto --example blocking_loop`).
//!
//! The `std` feature adds only [`Timestamp`] for
//! [`std::time::Instant`][std-instant], the default of `Session`'s time
//! parameter, and the dependencies' std support; errors implement
//! [`core::error::Error`] either way, and the codec, topics and session
//! behave the same.
//!
//! # Memory
//!
//! The heap one session holds, in bytes, so that a device's heap can be
//! sized: connected, with N QoS 1 publishes sent and not yet acknowledged
//! and N QoS 2 messages received and waiting for their PUBREL, the
//! outgoing payloads filling 16 KiB packets. "Payloads" are the outgoing
//! messages, kept whole until acknowledged (to be sent again after a lost
//! connection); "session's own" is the rest, and does not depend on the
//! payload size:
//!
//! | In flight each way | Held      | Payloads  | Session's own |
//! |-------------------:|----------:|----------:|--------------:|
//! | idle               |       579 |         0 |           579 |
//! | 1                  |    35,473 |    16,320 |        19,153 |
//! | 10                 |   185,767 |   163,200 |        22,567 |
//! | 100                | 1,686,587 | 1,632,000 |        54,587 |
//!
//! MQTT 3.1.1 and 5.0 measure the same. Most of the step from idle to 1
//! is two sets of the packet identifiers in use (65,535 bits, 8 KiB
//! each), one per direction, allocated by the first flow that needs one;
//! after that, about 360 bytes per step of N (one message each way).
//! Measured on x86_64 (a 32-bit MCU's pointers are half the size, so it
//! needs somewhat less) by `tests/memory_budget.rs`, which prints the
//! table (`cargo test -p mqtide-proto --test memory_budget --
//! --nocapture`) and fails if the session's own bytes grow markedly.
//!
//! Besides, a driver needs a read buffer that holds the largest packet it
//! accepts ([`SessionConfig::max_incoming_packet_size`]; the default is
//! 16 MiB: set it to what the device can hold; 5.0 tells the server, and
//! a larger packet ends the connection as soon as its fixed header has
//! arrived, so the buffer never has to hold one) and a write buffer
//! ([`Session::poll_transmit`] appends packets until it has appended
//! 64 KiB, so one call appends at most 64 KiB plus one packet; write it
//! out between calls). Bounding what is in flight bounds the rest: the
//! broker's Receive Maximum (or [`SessionConfig::v3_inflight`])
//! limits outgoing flights, our Receive Maximum (5.0) limits incoming
//! ones, and [`SessionConfig::queue_capacity`] and
//! [`SessionConfig::event_capacity`] limit what waits.
//!
//! [mqtide]: https://docs.rs/mqtide
//! [std-instant]: https://doc.rust-lang.org/std/time/struct.Instant.html

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
