//! The builder's session and flow-control options: how long the broker
//! keeps the session, what each side may have in flight, topic aliases,
//! queues and streams, and what happens to publishes a lost session held.

use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytestring::ByteString;
use mqtide_proto::{QoSPolicy, ReceiveOverrun};

use super::ClientBuilder;
use crate::command::QueueFull;
use crate::properties::secs;

impl ClientBuilder {
    /// 5.0: how long the broker keeps the session after the connection
    /// ends. The default depends on [`clean_start`](Self::clean_start):
    /// 0 (the session ends with the connection) with a clean start, never
    /// (0xFFFFFFFF) with `clean_start(false)`. Durations beyond 136 years
    /// mean never; `Duration::ZERO` with `clean_start(false)` resumes a
    /// session the broker still has but keeps none after this connection.
    pub fn session_expiry(mut self, expiry: Duration) -> Self {
        self.session.properties.session_expiry_interval = Some(secs(expiry));
        self
    }

    /// 5.0: how many incoming QoS 1/2 messages may be unacknowledged at once.
    pub fn receive_maximum(mut self, maximum: u16) -> Self {
        match NonZeroU16::new(maximum) {
            Some(m) => {
                self.session.properties.receive_maximum = Some(m);
                self
            }
            None => self.fail("receive maximum must be at least 1"),
        }
    }

    /// 5.0: what to do when the broker sends more unacknowledged QoS 1/2
    /// messages than [`receive_maximum`](Self::receive_maximum) allows. By
    /// default the client takes them (its own bounds keep memory in
    /// check; nothing is dropped) and logs the first of each connection at
    /// warn level: Mosquitto 2.0.11 keeps to a small Receive Maximum for
    /// the first QoS 2 messages only, and a strict client would disconnect
    /// (and, with a clean session, lose what the broker still held) again
    /// and again. `ReceiveOverrun::Tolerate { margin }` bounds the overrun;
    /// `ReceiveOverrun::Strict` disconnects with 0x93 at the first. See
    /// [`ReceiveOverrun`].
    pub fn receive_overrun(mut self, overrun: ReceiveOverrun) -> Self {
        self.session.receive_overrun = overrun;
        self
    }

    /// The largest packet accepted from the broker (default 16 MiB),
    /// announced to 5.0 brokers so they drop what is larger instead of
    /// sending it.
    pub fn max_packet_size(mut self, bytes: u32) -> Self {
        match NonZeroU32::new(bytes) {
            Some(_) => {
                self.session.max_incoming_packet_size = bytes;
                self
            }
            None => self.fail("maximum packet size must be at least 1"),
        }
    }

    /// 5.0: the most topic aliases the client uses towards the broker
    /// (within the broker's own maximum). 0 turns outgoing aliases off;
    /// the default uses as many as the broker allows, reassigning the
    /// least recently used. Per message, see
    /// [`PublishBuilder::no_topic_alias`](crate::PublishBuilder::no_topic_alias).
    pub fn outgoing_topic_aliases(mut self, maximum: u16) -> Self {
        self.session.outgoing_alias_maximum = maximum;
        self
    }

    /// 5.0: how many topic aliases the broker may use towards us.
    pub fn topic_alias_maximum(mut self, maximum: u16) -> Self {
        self.session.properties.topic_alias_maximum = Some(maximum);
        self
    }

    /// 5.0: a user property for CONNECT.
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.session.properties.user_properties.push((
            ByteString::from(name.into()),
            ByteString::from(value.into()),
        ));
        self
    }

    /// The QoS 1/2 window under 3.1 / 3.1.1 (default 20, Mosquitto's
    /// `max_inflight_messages`). 5.0 uses the broker's Receive Maximum.
    pub fn inflight(mut self, window: u16) -> Self {
        if window == 0 {
            return self.fail("the in-flight window must be at least 1");
        }
        self.session.v3_inflight = window;
        self
    }

    /// How many publishes may wait for the window or for a connection
    /// (default 1024), and what happens when that queue is full.
    ///
    /// ```
    /// use mqtide::QueueFull;
    ///
    /// // While disconnected, up to 10,000 publishes wait; beyond that a publish
    /// // fails at once instead of waiting for room.
    /// let builder = mqtide::Client::builder("mqtt://localhost").offline_queue(10_000, QueueFull::Error);
    /// # drop(builder);
    /// ```
    pub fn offline_queue(mut self, capacity: usize, when_full: QueueFull) -> Self {
        if capacity == 0 {
            return self.fail("the offline queue needs room for at least one message");
        }
        self.session.queue_capacity = capacity;
        self.queue_full = when_full;
        self
    }

    /// How many messages each subscription stream buffers before the
    /// client stops reading the socket (default 256).
    pub fn stream_capacity(mut self, capacity: usize) -> Self {
        if capacity == 0 {
            return self.fail("stream capacity must be at least 1");
        }
        self.stream_capacity = capacity;
        self
    }

    /// What to do with a publish above the broker's Maximum QoS (default:
    /// refuse it).
    pub fn qos_policy(mut self, policy: QoSPolicy) -> Self {
        self.session.qos_policy = policy;
        self
    }

    /// When the broker has no session for the client (with a clean start,
    /// on every reconnect; or after it lost one), QoS 1 publishes that were
    /// in flight are sent again as new messages, and their futures resolve
    /// with the new acknowledgement (default true: at least once, so a
    /// subscriber may get one twice). `false` fails them with
    /// `RequestError::SessionLost` instead, as QoS 2 publishes in flight
    /// always fail: their outcome is indeterminate (delivered once, or not
    /// at all), and a second copy could break exactly once.
    pub fn resend_qos1_on_session_loss(mut self, resend: bool) -> Self {
        self.session.resend_qos1_on_session_loss = resend;
        self
    }

    /// After this many connections in a row are lost while the same
    /// publish is the oldest in flight, it fails with
    /// `RequestError::Poisoned`, naming it (inside `Error::Interrupted`,
    /// with why the last connection ended), and the others go on (default
    /// 5; 0 never gives up): a broker that closes the connection on a
    /// publish (too large for it, not authorised) would otherwise have it
    /// resent for ever.
    pub fn poison_threshold(mut self, connections: u32) -> Self {
        self.session.poison_threshold = connections;
        self
    }

    /// Acknowledge incoming QoS 1/2 messages only when the application
    /// calls [`Client::ack`](crate::Client::ack) (default: once the message
    /// is in a stream the application holds).
    ///
    /// ```
    /// // Acknowledge each message with `Client::ack` once it is safe.
    /// let builder = mqtide::Client::builder("mqtt://localhost").manual_acks(true);
    /// # drop(builder);
    /// ```
    pub fn manual_acks(mut self, manual: bool) -> Self {
        self.manual_acks = manual;
        self
    }
}
