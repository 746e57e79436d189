//! The bench payload: a fixed header that lets a subscriber, in this
//! process or another, measure latency and find lost or repeated messages.
//!
//! Every message `mqtide bench pub` sends starts with 28 bytes, all
//! integers big-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `mqtb` (format version 1) |
//! | 4 | 4 | run id: random per `bench pub` process |
//! | 8 | 4 | the publishing client's number (`%i`, from 1) |
//! | 12 | 8 | sequence number of the message within that client, from 0 |
//! | 20 | 8 | send time: nanoseconds since the Unix epoch (wall clock) |
//!
//! and is padded with zero bytes to the `-s` size. The send time is taken
//! just before the message is handed to the client, so the latency a
//! subscriber computes (its own wall clock at receipt minus the send time)
//! includes the time the message waited in the publisher's queue. Across
//! hosts it is only as good as their clock synchronisation.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};

/// Length of the header; payloads are at least this long.
pub(crate) const HEADER_LEN: usize = 28;

const MAGIC: [u8; 4] = *b"mqtb";

/// Payloads are cut from arenas of this size, so that building one is a
/// copy, not an allocation.
const ARENA: usize = 64 * 1024;

/// What a bench payload says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The publishing process's run id.
    pub(crate) run: u32,
    /// The publishing client's number.
    pub(crate) client: u32,
    /// The message's sequence number within its client.
    pub(crate) seq: u64,
    /// Send time, nanoseconds since the Unix epoch.
    pub(crate) sent_ns: u64,
}

impl Header {
    /// Reads the header of a payload; `None` for a payload that is not a
    /// bench payload (too short, or another magic).
    pub(crate) fn parse(payload: &[u8]) -> Option<Self> {
        let header = payload.get(..HEADER_LEN)?;
        if header[..4] != MAGIC {
            return None;
        }
        let u32_at = |at: usize| {
            let mut bytes = [0; 4];
            bytes.copy_from_slice(&header[at..at + 4]);
            u32::from_be_bytes(bytes)
        };
        let u64_at = |at: usize| {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(&header[at..at + 8]);
            u64::from_be_bytes(bytes)
        };
        Some(Self {
            run: u32_at(4),
            client: u32_at(8),
            seq: u64_at(12),
            sent_ns: u64_at(20),
        })
    }
}

/// Builds one client's payloads.
#[derive(Debug)]
pub(crate) struct PayloadWriter {
    arena: BytesMut,
    size: usize,
    run: u32,
    client: u32,
}

impl PayloadWriter {
    /// Payloads of `size` bytes (at least [`HEADER_LEN`]) for client number
    /// `client` of run `run`.
    pub(crate) fn new(size: usize, run: u32, client: u32) -> Self {
        Self {
            arena: BytesMut::new(),
            size: size.max(HEADER_LEN),
            run,
            client,
        }
    }

    /// The payload of message `seq`, stamped with the time now.
    pub(crate) fn next(&mut self, seq: u64) -> Bytes {
        if self.arena.capacity() < self.size {
            // A fresh arena once the old one is used up; the payloads cut
            // from the old one keep it alive until the broker has them.
            self.arena = BytesMut::with_capacity(ARENA.max(self.size));
        }
        self.arena.put_slice(&MAGIC);
        self.arena.put_u32(self.run);
        self.arena.put_u32(self.client);
        self.arena.put_u64(seq);
        self.arena.put_u64(unix_nanos());
        self.arena.put_bytes(0, self.size - HEADER_LEN);
        self.arena.split().freeze()
    }
}

/// The wall clock in nanoseconds since the Unix epoch (0 before it).
pub(crate) fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_padding() {
        let before = unix_nanos();
        let mut writer = PayloadWriter::new(256, 0xdead_beef, 7);
        let first = writer.next(0);
        let second = writer.next(1);
        assert_eq!(first.len(), 256);
        assert!(first[HEADER_LEN..].iter().all(|&b| b == 0));
        let header = Header::parse(&second).unwrap();
        assert_eq!((header.run, header.client, header.seq), (0xdead_beef, 7, 1));
        assert!(header.sent_ns >= before && header.sent_ns <= unix_nanos());
        assert_eq!(Header::parse(&first).unwrap().seq, 0);
    }

    #[test]
    fn arenas_are_renewed_and_payloads_stay_intact() {
        let mut writer = PayloadWriter::new(HEADER_LEN + 1000, 1, 1);
        let payloads: Vec<Bytes> = (0..200).map(|seq| writer.next(seq)).collect();
        for (seq, payload) in payloads.iter().enumerate() {
            assert_eq!(Header::parse(payload).unwrap().seq, seq as u64);
        }
    }

    #[test]
    fn foreign_payloads_have_no_header() {
        assert_eq!(Header::parse(b"hello"), None);
        assert_eq!(Header::parse(&[0; 64]), None);
        let mut short = PayloadWriter::new(HEADER_LEN, 1, 1).next(3).to_vec();
        short.pop();
        assert_eq!(Header::parse(&short), None);
    }
}
