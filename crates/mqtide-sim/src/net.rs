//! The simulated network: one link per connection, a FIFO of packets each
//! way. Faults act on links: a cut drops what is on the wire both ways.
//! Delay is the scheduler's: it picks which link and direction moves next,
//! so acknowledgements are late, or early, by its choice.

use std::collections::VecDeque;

use bytes::Bytes;
use mqtide_proto::Packet;

/// A connection's identity (never reused within a schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct LinkId(pub(crate) u32);

/// Which way a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    ToBroker,
    ToClient,
}

/// One connection between a client and the broker.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) id: LinkId,
    /// Index of the client at the client end.
    pub(crate) client: usize,
    /// Decoded packets from the client, not yet read by the broker.
    pub(crate) to_broker: VecDeque<Packet>,
    /// Encoded packets from the broker (with the packet, for the trace),
    /// not yet read by the client.
    pub(crate) to_client: VecDeque<(Bytes, Packet)>,
    /// The client closed its end: the broker reads what is left, then
    /// sees the connection end.
    pub(crate) client_closed: bool,
}

/// Every open link.
#[derive(Debug, Default)]
pub(crate) struct Net {
    pub(crate) links: Vec<Link>,
    next: u32,
}

impl Net {
    /// Opens a link for `client`.
    pub(crate) fn open(&mut self, client: usize) -> LinkId {
        self.next += 1;
        let id = LinkId(self.next);
        self.links.push(Link {
            id,
            client,
            to_broker: VecDeque::new(),
            to_client: VecDeque::new(),
            client_closed: false,
        });
        id
    }

    pub(crate) fn get_mut(&mut self, id: LinkId) -> Option<&mut Link> {
        self.links.iter_mut().find(|l| l.id == id)
    }

    /// Removes a link; what was on it is lost.
    pub(crate) fn remove(&mut self, id: LinkId) -> Option<Link> {
        let at = self.links.iter().position(|l| l.id == id)?;
        Some(self.links.remove(at))
    }
}
