//! What a session has done over its life, counted as it happens: the
//! protocol's half of a client's statistics (the driver adds what only it
//! sees: connections, requests and their outcomes).

use core::time::Duration;

use crate::QoS;

/// Counts kept by a [`Session`](crate::Session) over its whole life (they
/// do not restart with a connection), read with
/// [`Session::counters`](crate::Session::counters). Arrays by QoS are
/// indexed by the QoS's number (`[qos as usize]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// PUBLISH packets written the first time, by QoS.
    pub publishes_sent: [u64; 3],
    /// PUBLISH packets written again with DUP set, after a lost connection
    /// ([MQTT-4.4.0-1]).
    pub publishes_resent: u64,
    /// PUBREL packets written again after a lost connection.
    pub pubrels_resent: u64,
    /// Messages from the server handed to the application, by QoS.
    pub messages_received: [u64; 3],
    /// QoS 2 messages the server sent again after the session had taken
    /// them: answered, never delivered twice.
    pub duplicates_suppressed: u64,
    /// Packets written, of every type.
    pub packets_sent: u64,
    /// Packets read and decoded, of every type.
    pub packets_received: u64,
    /// Bytes of the packets written.
    pub bytes_sent: u64,
    /// Bytes of the packets read.
    pub bytes_received: u64,
    /// The last keep-alive round trip: from the PINGREQ's queueing to the
    /// first packet read after it.
    pub keep_alive_rtt: Option<Duration>,
}

impl Counters {
    pub(super) fn sent(&mut self, size: usize) {
        self.packets_sent += 1;
        self.bytes_sent += size as u64;
    }

    pub(super) fn received(&mut self, size: usize) {
        self.packets_received += 1;
        self.bytes_received += size as u64;
    }

    pub(super) fn publish_sent(&mut self, qos: QoS, dup: bool) {
        if dup {
            self.publishes_resent += 1;
        } else {
            self.publishes_sent[qos as usize] += 1;
        }
    }
}
