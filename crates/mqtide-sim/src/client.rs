//! A simulated client process: the real [`Session`], driven the way the
//! tokio event loop drives it (write-ahead commits before any byte goes out
//! or any message is handed over), its session store, and the application
//! on top (a publisher or a subscriber with manual acknowledgements).
//!
//! A crash throws away everything but what the store committed, and
//! starts again with [`Session::restore`] from it, as `DiskStore` does.

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use std::time::Instant;

use bytes::BytesMut;
use mqtide_proto::{
    AckToken, Completion, Event, MAX_PACKET_SIZE, Message, Packet, Publish, QoS, RequestError,
    RequestId, Session, SessionConfig, StoreChange, StoredSession, SubscriptionOptions,
    TopicFilter,
};

use crate::net::{LinkId, Net};
use crate::oracle::Oracle;
use crate::plan::Planned;
use crate::trace::{Trace, describe};

/// What the application does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Publisher,
    Subscriber,
}

/// The filter the subscriber uses.
pub(crate) const FILTER: &str = "t/#";

/// What a store holds, as committed: the session records, whether the
/// subscription is recorded, and (for the `drop-store-record` mutant) the
/// committed changes in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    pub(crate) session: StoredSession,
    pub(crate) subscribed: bool,
    pub(crate) log: Option<Vec<StoreChange>>,
}

/// An answer the application gets once the commit covering it is made.
#[derive(Debug, Clone, Copy)]
enum Reply {
    /// `send()` returned for message `n`.
    Accepted(u64),
    /// `ack()` returned for message `n` (a retained copy when `retain`).
    Acked { n: u64, qos: QoS, retain: bool },
}

/// An application request waiting for its completion.
#[derive(Debug, Clone, Copy)]
enum Request {
    Publish(u64),
    Subscribe,
}

/// A message the application holds and has not acknowledged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unacked {
    pub(crate) n: u64,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) token: AckToken,
}

/// One client process (across its crashes: `incarnation` counts them).
#[derive(Debug)]
pub(crate) struct SimClient {
    pub(crate) index: usize,
    pub(crate) role: Role,
    pub(crate) client_id: &'static str,
    config: SessionConfig,
    pub(crate) session: Session,
    pub(crate) store: Store,
    subscriptions_dirty: bool,
    pub(crate) link: Option<LinkId>,
    write_buf: BytesMut,
    replies: Vec<Reply>,
    held: VecDeque<Message>,
    requests: HashMap<RequestId, Request>,
    pub(crate) unacked: Vec<Unacked>,
    pub(crate) incarnation: u32,
}

impl SimClient {
    pub(crate) fn new(index: usize, role: Role, config: SessionConfig, keep_log: bool) -> Self {
        let client_id = match role {
            Role::Publisher => "pub",
            Role::Subscriber => "sub",
        };
        let store = Store {
            log: keep_log.then(Vec::new),
            ..Store::default()
        };
        Self {
            index,
            role,
            client_id,
            session: Session::new(config.clone()),
            config,
            store,
            subscriptions_dirty: false,
            link: None,
            write_buf: BytesMut::new(),
            replies: Vec::new(),
            held: VecDeque::new(),
            requests: HashMap::default(),
            unacked: Vec::new(),
            incarnation: 0,
        }
    }

    /// Whether the client keeps its session in a store (and resumes it).
    pub(crate) fn durable(&self) -> bool {
        self.config.durable
    }

    /// Whether changes wait for a commit (nothing goes out until then).
    pub(crate) fn store_pending(&self) -> bool {
        self.session.has_store_changes() || self.subscriptions_dirty
    }

    /// Whether the client has nothing left to do on its own.
    pub(crate) fn is_quiet(&self) -> bool {
        !self.store_pending() && self.held.is_empty() && self.unacked.is_empty()
    }

    /// A transport came up.
    pub(crate) fn connect(&mut self, net: &mut Net, now: Instant, cx: &mut Cx<'_>) {
        self.link = Some(net.open(self.index));
        cx.trace
            .line(cx.step, || format!("{} connects", self.client_id));
        self.session.handle_connected(now);
        self.process(net, now, cx);
    }

    /// Bytes of one packet from the broker arrived.
    pub(crate) fn receive(&mut self, bytes: &[u8], net: &mut Net, now: Instant, cx: &mut Cx<'_>) {
        let mut buf = BytesMut::from(bytes);
        self.session.handle_bytes(&mut buf, now);
        self.process(net, now, cx);
    }

    /// The transport went away under the client.
    pub(crate) fn lost(&mut self, net: &mut Net, now: Instant, cx: &mut Cx<'_>) {
        self.link = None;
        self.session.handle_connection_lost(now);
        self.process(net, now, cx);
    }

    /// Time passed to `now`.
    pub(crate) fn timeout(&mut self, net: &mut Net, now: Instant, cx: &mut Cx<'_>) {
        self.session.handle_timeout(now);
        self.process(net, now, cx);
    }

    /// Makes what the session recorded durable, then answers what waited
    /// for it and lets the held bytes and messages go.
    pub(crate) fn commit(&mut self, net: &mut Net, now: Instant, cx: &mut Cx<'_>) {
        let changes: Vec<StoreChange> = self.session.drain_store_changes().collect();
        for change in &changes {
            self.store.session.apply(change);
        }
        if let Some(log) = &mut self.store.log {
            log.extend(changes);
        }
        if std::mem::take(&mut self.subscriptions_dirty) {
            self.store.subscribed = true;
        }
        cx.oracle.check_store(self, cx.bounds);
        self.process(net, now, cx);
    }

    /// The process dies: what was not committed is gone, and a new process
    /// resumes from the store. The socket closes with it (what was already
    /// written still reaches the broker).
    pub(crate) fn crash(&mut self, net: &mut Net, cx: &mut Cx<'_>, lose_record: Option<u64>) {
        if let Some(link) = self.link.take()
            && let Some(link) = net.get_mut(link)
        {
            link.client_closed = true;
            link.to_client.clear();
        }
        if let Some(pick) = lose_record {
            self.lose_a_record(pick, cx);
        }
        self.incarnation += 1;
        self.write_buf.clear();
        self.replies.clear();
        self.held.clear();
        self.requests.clear();
        self.unacked.clear();
        self.subscriptions_dirty = false;
        match Session::restore(self.config.clone(), self.store.session.clone()) {
            Ok(session) => self.session = session,
            Err(e) => {
                cx.oracle
                    .violation("restore", format!("{}: {e}", self.client_id));
                self.session = Session::new(self.config.clone());
            }
        }
    }

    /// The `drop-store-record` mutant: one committed record (chosen by
    /// `pick`) is lost before the crash, and the store is rebuilt without it.
    fn lose_a_record(&mut self, pick: u64, cx: &mut Cx<'_>) {
        let Some(log) = &mut self.store.log else {
            return;
        };
        if log.is_empty() {
            return;
        }
        let at = usize::try_from(pick % log.len() as u64).unwrap_or(0);
        let lost = log.remove(at);
        cx.trace.line(cx.step, || {
            format!("MUTANT {} loses store record {lost:?}", self.client_id)
        });
        let mut session = StoredSession::default();
        for change in log.iter() {
            session.apply(change);
        }
        self.store.session = session;
    }

    /// The publisher application publishes message `planned.n`.
    pub(crate) fn publish(
        &mut self,
        planned: &Planned,
        net: &mut Net,
        now: Instant,
        cx: &mut Cx<'_>,
    ) {
        let mut publish = Publish::new(planned.topic(), planned.n.to_string());
        publish.qos = planned.qos;
        publish.retain = planned.retain;
        match self.session.publish(publish, now) {
            Ok(id) => {
                cx.trace
                    .line(cx.step, || format!("pub app: send #{}", planned.n));
                self.requests.insert(id, Request::Publish(planned.n));
                if planned.qos == QoS::AtMostOnce {
                    cx.oracle.accepted(planned.n);
                } else {
                    self.replies.push(Reply::Accepted(planned.n));
                }
            }
            Err(e) => cx
                .oracle
                .violation("usage", format!("publish #{} refused: {e}", planned.n)),
        }
        self.process(net, now, cx);
    }

    /// The subscriber application subscribes (once per store).
    pub(crate) fn subscribe(&mut self, net: &mut Net, now: Instant, cx: &mut Cx<'_>) {
        match self.send_subscribe(now) {
            Ok(id) => {
                self.requests.insert(id, Request::Subscribe);
            }
            Err(e) => cx
                .oracle
                .violation("usage", format!("subscribe refused: {e}")),
        }
        self.process(net, now, cx);
    }

    fn send_subscribe(&mut self, now: Instant) -> Result<RequestId, String> {
        let filter = TopicFilter::new(FILTER).map_err(|e| e.to_string())?;
        let options = SubscriptionOptions::new(QoS::ExactlyOnce);
        self.session
            .subscribe(vec![(filter, options)], Default::default(), now)
            .map_err(|e| e.to_string())
    }

    /// The subscriber application acknowledges the message it holds at `at`.
    pub(crate) fn ack(&mut self, at: usize, net: &mut Net, now: Instant, cx: &mut Cx<'_>) {
        if at >= self.unacked.len() {
            return;
        }
        let message = self.unacked.remove(at);
        cx.trace
            .line(cx.step, || format!("sub app: ack #{}", message.n));
        match self.session.ack(message.token, now) {
            Ok(()) => self.replies.push(Reply::Acked {
                n: message.n,
                qos: message.qos,
                retain: message.retain,
            }),
            // Its connection (QoS 1) or its session (QoS 2) is gone: the
            // broker sends it again, or has forgotten it; nothing to ack.
            Err(mqtide_proto::UsageError::UnknownAckToken) => {
                cx.trace.line(cx.step, || {
                    format!("sub app: ack of #{} is void", message.n)
                });
            }
            Err(e) => cx
                .oracle
                .violation("usage", format!("ack of #{} refused: {e}", message.n)),
        }
        self.process(net, now, cx);
    }

    /// Whether the application has a subscription (or is getting one).
    pub(crate) fn wants_subscription(&self) -> bool {
        self.store.subscribed
            || self.subscriptions_dirty
            || self
                .requests
                .values()
                .any(|r| matches!(r, Request::Subscribe))
    }

    /// Drains the session as the event loop does: nothing reaches the
    /// socket or the application while changes wait for a commit.
    fn process(&mut self, net: &mut Net, now: Instant, cx: &mut Cx<'_>) {
        let mut ended = false;
        loop {
            if !self.store_pending() {
                for reply in std::mem::take(&mut self.replies) {
                    match reply {
                        Reply::Accepted(n) => cx.oracle.accepted(n),
                        Reply::Acked { n, qos, retain } => cx.oracle.ack_committed(n, qos, retain),
                    }
                }
                while let Some(message) = self.held.pop_front() {
                    self.hand_over(message, cx);
                }
                while self.session.poll_transmit(&mut self.write_buf) > 0 {}
                self.put_on_wire(net, cx);
            }
            let mut any = false;
            while let Some(event) = self.session.poll_event() {
                any = true;
                ended |= self.event(event, now, cx);
            }
            if !any {
                break;
            }
        }
        if ended {
            // The driver closes the transport once the session says the
            // connection is over (after writing what it still queued).
            if let Some(id) = self.link.take()
                && let Some(link) = net.get_mut(id)
            {
                link.client_closed = true;
                link.to_client.clear();
            }
            self.session.handle_connection_lost(now);
            self.process(net, now, cx);
        }
    }

    /// Moves the written bytes onto the link, packet by packet.
    fn put_on_wire(&mut self, net: &mut Net, cx: &mut Cx<'_>) {
        if self.write_buf.is_empty() {
            return;
        }
        let link = self.link.and_then(|id| net.get_mut(id));
        let Some(link) = link.filter(|l| !l.client_closed) else {
            self.write_buf.clear();
            return;
        };
        loop {
            match Packet::decode(&mut self.write_buf, self.config.protocol, MAX_PACKET_SIZE) {
                Ok(Some(packet)) => {
                    cx.trace.line(cx.step, || {
                        format!("{} writes  {}", self.client_id, describe(&packet))
                    });
                    link.to_broker.push_back(packet);
                }
                Ok(None) => break,
                Err(e) => {
                    cx.oracle.violation(
                        "wire",
                        format!("{} wrote a malformed packet: {e}", self.client_id),
                    );
                    self.write_buf.clear();
                    break;
                }
            }
        }
    }

    /// One session event; true when the connection ended.
    fn event(&mut self, event: Event, now: Instant, cx: &mut Cx<'_>) -> bool {
        match event {
            Event::Connected(connected) => {
                cx.trace.line(cx.step, || {
                    format!(
                        "{} connected, session present: {}",
                        self.client_id, connected.session_present
                    )
                });
                if !connected.session_present {
                    cx.oracle.session_not_present(self.role);
                    // The broker has no subscription for us: subscribe
                    // again, as the event loop does.
                    if self.role == Role::Subscriber && self.wants_subscription() {
                        let _ = self.send_subscribe(now);
                    }
                }
            }
            Event::Message(message) => self.held.push_back(message),
            Event::Completed { id, outcome } => match self.requests.remove(&id) {
                Some(Request::Publish(n)) => {
                    let ok = matches!(outcome, Ok(Completion::Published { reason_code, .. }) if !reason_code.is_error());
                    cx.trace
                        .line(cx.step, || format!("pub app: #{n} completed: {outcome:?}"));
                    cx.oracle.completed(n, ok);
                    if outcome == Err(RequestError::SessionLost) {
                        cx.oracle.failed_by_session_loss(n);
                    }
                }
                Some(Request::Subscribe) => {
                    if matches!(outcome, Ok(Completion::Subscribed { .. })) {
                        self.subscriptions_dirty = true;
                    }
                }
                // A publish restored from the store, given up on: the error
                // names it by its acceptance number (message `seq - 1`).
                None => {
                    if let Err(RequestError::Poisoned { seq, .. }) = outcome {
                        cx.trace.line(cx.step, || {
                            format!("pub app: restored #{} failed: poisoned", seq - 1)
                        });
                        cx.oracle.completed(seq - 1, false);
                    }
                }
            },
            Event::Disconnected(reason) => {
                cx.trace.line(cx.step, || {
                    format!("{} disconnected: {reason}", self.client_id)
                });
                return true;
            }
            _ => {}
        }
        false
    }

    /// A message reaches the application.
    fn hand_over(&mut self, message: Message, cx: &mut Cx<'_>) {
        let publish = &message.publish;
        let n = std::str::from_utf8(&publish.payload)
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        let Some(n) = n else {
            cx.oracle
                .violation("payload", format!("{:?}", publish.payload));
            return;
        };
        cx.trace.line(cx.step, || {
            format!(
                "sub app: got #{n} q{}{}{}",
                publish.qos as u8,
                if publish.dup { " DUP" } else { "" },
                if publish.retain { " RETAIN" } else { "" }
            )
        });
        cx.oracle.delivered(n, publish, self.incarnation);
        if let Some(token) = message.ack {
            self.unacked.push(Unacked {
                n,
                qos: publish.qos,
                retain: publish.retain,
                token,
            });
        }
    }
}

/// What a client step needs besides the network: the checker, the bounds
/// it checks against, and the trace.
#[derive(Debug)]
pub(crate) struct Cx<'a> {
    pub(crate) oracle: &'a mut Oracle,
    pub(crate) bounds: &'a crate::oracle::Bounds,
    pub(crate) trace: &'a mut Trace,
    pub(crate) step: u64,
}
