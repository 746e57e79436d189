//! Commands from `Client` handles (taken in batches by the [`Intake`]),
//! the completions that answer them, the subscriptions kept to restore a
//! lost session, and closing.

use std::time::Duration;

use mqtide_proto::{Completion, ReasonCode, RequestError, RequestId, TopicFilter};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{Closing, End, EventLoop, Flow, Pending};
use crate::command::{Command, PublishOutcome, QueueFull, Reply, SubscribeOutcome};
use crate::error::Error;
use crate::state::DisconnectReason;

/// The most commands taken in one turn of the loop: enough for a burst of
/// publishes to share one commit and one write, few enough that reading
/// the socket is not starved.
const COMMAND_BATCH: usize = 256;

/// Command intake: the channel from the handles, and the batch taken from
/// it and not yet handled.
#[derive(Debug)]
pub(super) struct Intake {
    channel: mpsc::Receiver<Command>,
    /// Commands taken from the channel and not yet handled, last first.
    taken: Vec<Command>,
    /// What `send()` does when the session queue is full.
    queue_full: QueueFull,
    /// The session queue filled, and commands wait until it has room for a
    /// batch: see [`EventLoop::accepting`].
    refilling: bool,
}

impl Intake {
    pub(super) fn new(channel: mpsc::Receiver<Command>, queue_full: QueueFull) -> Self {
        Self {
            channel,
            taken: Vec::new(),
            queue_full,
            refilling: false,
        }
    }

    /// A command already in the channel, without waiting.
    pub(super) fn try_recv(&mut self) -> Option<Command> {
        self.channel.try_recv().ok()
    }

    /// Waits for commands and takes up to `limit` of them; 0 when every
    /// handle is gone. Cancel-safe, as `recv_many` is.
    pub(super) async fn recv(&mut self, limit: usize) -> usize {
        self.channel.recv_many(&mut self.taken, limit).await
    }

    /// Closes the channel, and hands every command still taken or queued
    /// to `fail`.
    pub(super) fn close(&mut self, mut fail: impl FnMut(Command)) {
        self.channel.close();
        for command in self.taken.drain(..) {
            fail(command);
        }
        while let Ok(command) = self.channel.try_recv() {
            fail(command);
        }
    }
}

impl EventLoop {
    /// How many commands to take from the channel now, or `None` when the
    /// loop takes none (the intake still holds some, or `accepting` says
    /// no): a batch, but never more than the session queue has room for,
    /// so that every command taken can be handled at once. Never 0, which
    /// `recv_many` would answer with 0, the sign of a closed channel.
    pub(super) fn intake_room(&mut self) -> Option<usize> {
        if !self.intake.taken.is_empty() || !self.accepting() {
            return None;
        }
        Some(match self.intake.queue_full {
            QueueFull::Error => COMMAND_BATCH,
            QueueFull::Wait => self.session.queue_space().clamp(1, COMMAND_BATCH),
        })
    }

    /// Whether to take commands now. Once the session queue has filled,
    /// commands wait until a quarter of it is free again: the queue then
    /// drains as acknowledgements arrive, and a publisher waiting for room
    /// in the command channel is woken once per batch, not once for every
    /// message the window lets out (a thread wake-up each, on a
    /// multi-threaded runtime).
    fn accepting(&mut self) -> bool {
        if self.closing.is_some() {
            return false;
        }
        if self.intake.queue_full == QueueFull::Error {
            return true;
        }
        let space = self.session.queue_space();
        if space == 0 {
            self.intake.refilling = true;
            return false;
        }
        if self.intake.refilling {
            let resume = (self.session.config().queue_capacity / 4).clamp(1, COMMAND_BATCH);
            if space < resume {
                return false;
            }
            self.intake.refilling = false;
        }
        true
    }

    /// Handles the commands taken from the channel (`recv_many` into
    /// `intake`, stored last first), as long as the loop accepts them; a
    /// disconnect among them leaves the rest for `shut_down` to fail, as
    /// it fails those still in the channel. `recv_many` gives the
    /// channel's permits back in one go, so a publisher waiting for room
    /// is woken once for the whole batch.
    pub(super) fn take_intake(&mut self, now: Instant) {
        while !self.intake.taken.is_empty() && self.accepting() {
            if let Some(command) = self.intake.taken.pop() {
                self.command(Some(command), now);
            }
        }
    }

    /// `recv_many` took `count` commands into `intake` (0: every handle
    /// is gone).
    pub(super) fn took(&mut self, count: usize, now: Instant) {
        if count == 0 {
            self.command(None, now);
        } else {
            self.intake.taken.reverse();
            self.take_intake(now);
        }
    }

    pub(super) fn completed(
        &mut self,
        id: RequestId,
        outcome: Result<Completion, RequestError>,
        now: Instant,
    ) {
        let Some(pending) = self.pending.remove(&id) else {
            restored_completed(id, &outcome);
            return;
        };
        match (pending, outcome) {
            (
                Pending::Publish(reply, flow),
                Ok(Completion::Published {
                    reason_code,
                    properties,
                }),
            ) => {
                if reason_code.is_error() {
                    warn!(reason = %reason_code, qos = flow.qos as u8, "the broker refused a publish");
                    self.observer.failed(flow.qos);
                } else {
                    if self.observer.flows {
                        debug!(target: "mqtide::flow", request = id.get(), reason = %reason_code, "publish acknowledged");
                    }
                    self.observer.acknowledged(flow, now);
                }
                let _ = reply.send(Ok(PublishOutcome {
                    reason_code,
                    properties,
                }));
            }
            (
                Pending::Subscribe(reply, route, filters, properties),
                Ok(Completion::Subscribed { reason_codes, .. }),
            ) => {
                if reason_codes.iter().all(|c| c.is_error()) {
                    self.router.remove(route);
                    let reason_code = reason_codes
                        .first()
                        .copied()
                        .unwrap_or(ReasonCode::UnspecifiedError);
                    let _ = reply.send(Err(Error::Request(RequestError::Rejected {
                        reason_code,
                        reason_string: None,
                    })));
                } else {
                    self.subscriptions.push((filters, properties));
                    self.persist.subscriptions_changed();
                    let _ = reply.send(Ok(SubscribeOutcome { reason_codes }));
                }
            }
            (Pending::Unsubscribe(reply, filters), Ok(_)) => {
                self.router.remove_filters(&filters);
                self.forget_subscriptions(&filters);
                let _ = reply.send(Ok(()));
            }
            (Pending::Resubscribe, outcome) => {
                if let Ok(Completion::Subscribed { reason_codes, .. }) = &outcome {
                    if reason_codes.iter().any(|c| c.is_error()) {
                        warn!(?reason_codes, "restoring a subscription was refused");
                    }
                } else {
                    warn!(?outcome, "restoring a subscription failed");
                }
            }
            (pending @ (Pending::Publish(..) | Pending::Unsubscribe(..)), Err(e)) => {
                self.request_failed(pending, e);
            }
            (pending @ Pending::Subscribe(..), Err(e)) => {
                if let Pending::Subscribe(_, route, ..) = &pending {
                    self.router.remove(*route);
                }
                self.request_failed(pending, e);
            }
            (pending, outcome) => warn!(?pending, ?outcome, "completion of an unexpected kind"),
        }
    }

    /// A request the session failed. One a lost connection failed carries
    /// why it was lost: a publish whose session the new connection did not
    /// resume learns it at once (the loss is known by then); a request
    /// that connection's end failed waits for [`answer_interrupted`](Self::answer_interrupted),
    /// for the session reports what it failed before why it ended.
    fn request_failed(&mut self, pending: Pending, error: RequestError) {
        if let (Pending::Publish(_, flow), RequestError::SessionLost) = (&pending, &error) {
            let qos = flow.qos as u8;
            warn!(
                qos,
                "a publish in flight was lost with the broker's session"
            );
        }
        let failed = match (error, &self.losses.cause) {
            // A poison publish is given up on as its connection ends: it
            // learns why that connection ended, as a lost request does.
            (error @ (RequestError::ConnectionLost | RequestError::Poisoned { .. }), _) => {
                self.losses.interrupted.push((pending, error));
                None
            }
            (error @ RequestError::SessionLost, Some(cause)) => {
                let cause = cause.clone();
                answer(pending, Error::Interrupted { error, cause })
            }
            (error, _) => answer(pending, Error::Request(error)),
        };
        if let Some(flow) = failed {
            self.observer.failed(flow.qos);
        }
    }

    /// Answers the requests the end of a connection failed, with why it
    /// ended (`None`: not known, as for an attempt that never came up).
    pub(super) fn answer_interrupted(&mut self, cause: Option<DisconnectReason>) {
        for (pending, error) in std::mem::take(&mut self.losses.interrupted) {
            if let RequestError::Poisoned { .. } = &error {
                warn!(%error, "a poison publish was given up on");
            }
            let error = match &cause {
                Some(cause) => Error::Interrupted {
                    error,
                    cause: cause.clone(),
                },
                None => Error::Request(error),
            };
            if let Some(flow) = answer(pending, error) {
                self.observer.failed(flow.qos);
            }
        }
    }

    /// A fresh subscription identifier (1 to 268,435,455, wrapping).
    fn next_subscription_id(&mut self) -> Option<mqtide_proto::SubscriptionId> {
        self.next_subscription_id =
            self.next_subscription_id % mqtide_proto::SubscriptionId::MAX + 1;
        mqtide_proto::SubscriptionId::new(self.next_subscription_id)
    }

    fn forget_subscriptions(&mut self, filters: &[TopicFilter]) {
        self.persist.subscriptions_changed();
        for (subscription, _) in &mut self.subscriptions {
            subscription.retain(|(f, _)| !filters.contains(f));
        }
        self.subscriptions.retain(|(s, _)| !s.is_empty());
    }

    /// The broker has no session for us: subscribe again so that the
    /// streams keep flowing.
    pub(super) fn resubscribe(&mut self, now: Instant) {
        let subscriptions = self.subscriptions.clone();
        for (filters, properties) in subscriptions {
            debug!(?filters, "restoring subscription");
            match self.session.subscribe(filters, properties, now.into_std()) {
                Ok(id) => {
                    self.pending.insert(id, Pending::Resubscribe);
                }
                Err(e) => warn!(%e, "cannot restore a subscription"),
            }
        }
    }

    pub(super) fn command(&mut self, command: Option<Command>, now: Instant) {
        let Some(command) = command else {
            // Every handle is gone: close cleanly.
            self.begin_close(
                ReasonCode::Success,
                Default::default(),
                Duration::from_secs(10),
                None,
                now,
            );
            return;
        };
        match command {
            Command::Publish {
                publish,
                alias,
                reply,
                stored,
            } => {
                let qos = publish.qos;
                match self.session.publish_with(*publish, alias, now.into_std()) {
                    Ok(id) => {
                        self.observer.queued(qos);
                        if self.observer.flows {
                            debug!(target: "mqtide::flow", request = id.get(), qos = qos as u8, "publish queued");
                        }
                        let flow = Flow { qos, accepted: now };
                        self.pending.insert(id, Pending::Publish(reply, flow));
                        // Answered by the commit that stores it.
                        if let Some(stored) = stored {
                            self.persist.answer_after_commit(stored);
                        }
                    }
                    Err(e) => {
                        self.observer.failed(qos);
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Subscribe {
                filters,
                properties,
                sender,
                reply,
            } => {
                let mut properties = *properties;
                if self.subscription_ids && properties.subscription_identifier.is_none() {
                    properties.subscription_identifier = self.next_subscription_id();
                }
                let route = self.router.add(
                    filters.iter().map(|(f, _)| f.clone()).collect(),
                    sender,
                    properties.subscription_identifier,
                );
                match self
                    .session
                    .subscribe(filters.clone(), properties.clone(), now.into_std())
                {
                    Ok(id) => {
                        self.pending
                            .insert(id, Pending::Subscribe(reply, route, filters, properties));
                    }
                    Err(e) => {
                        self.router.remove(route);
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Unsubscribe {
                filters,
                properties,
                reply,
            } => match self
                .session
                .unsubscribe(filters.clone(), *properties, now.into_std())
            {
                Ok(id) => {
                    self.pending
                        .insert(id, Pending::Unsubscribe(reply, filters));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Messages { sender } => self.router.add_catch_all(sender),
            Command::Ack {
                token,
                reason_code,
                reply,
            } => match self.session.ack_with(token, reason_code, now.into_std()) {
                // With a store, the acknowledgement is answered once it is
                // committed: from then on the message is never delivered again.
                Ok(()) if self.persist.is_durable() => self.persist.answer_after_commit(reply),
                result => drop(reply.send(result.map_err(Error::from))),
            },
            Command::Reauthenticate { reply } => self.reauthenticate(reply, now),
            Command::Disconnect {
                reason_code,
                properties,
                timeout,
                reply,
            } => self.begin_close(reason_code, *properties, timeout, Some(reply), now),
        }
    }

    pub(super) fn begin_close(
        &mut self,
        reason_code: ReasonCode,
        properties: mqtide_proto::DisconnectProperties,
        timeout: Duration,
        reply: Option<Reply<()>>,
        now: Instant,
    ) {
        if let Some(closing) = &mut self.closing {
            // Already closing: answer this caller too when done.
            if let (None, Some(reply)) = (&closing.reply, reply) {
                closing.reply = Some(reply);
            }
            return;
        }
        debug!("disconnecting");
        self.closing = Some(Closing {
            reason_code,
            properties,
            deadline: now + timeout,
            reply,
            sent: false,
        });
        if !self.session.is_connected() {
            // Nothing to flush to: close now.
            self.ended = Some(End::Shutdown);
        }
    }

    /// Sends DISCONNECT once nothing is in flight or queued any more.
    pub(super) fn maybe_disconnect(&mut self, now: Instant) {
        let Some(closing) = &self.closing else {
            return;
        };
        if closing.sent || !self.session.is_connected() {
            return;
        }
        if self.session.inflight() == 0 && self.session.queued() == 0 {
            self.send_disconnect(now);
        }
    }

    pub(super) fn force_disconnect(&mut self, now: Instant) {
        if let Some(closing) = &mut self.closing {
            warn!(
                inflight = self.session.inflight(),
                "disconnect timed out waiting for in-flight publishes"
            );
            if let Some(reply) = closing.reply.take() {
                let _ = reply.send(Err(Error::DisconnectTimeout));
            }
        }
        if self.session.is_connected() {
            self.send_disconnect(now);
        } else {
            self.ended = Some(End::Shutdown);
        }
    }

    fn send_disconnect(&mut self, now: Instant) {
        let Some(closing) = &mut self.closing else {
            return;
        };
        closing.sent = true;
        let (reason_code, properties) = (closing.reason_code, closing.properties.clone());
        if let Err(e) = self
            .session
            .disconnect(reason_code, properties, now.into_std())
        {
            warn!(%e, "cannot send DISCONNECT; closing the connection");
            if let Some(reply) = self.closing.as_mut().and_then(|c| c.reply.take()) {
                let _ = reply.send(Err(e.into()));
            }
            self.ended = Some(End::Shutdown);
        }
    }
}

/// A request nobody waits for ended: a publish the session store restored
/// (every other request has its `Pending`). Its failure is logged, for no
/// future will tell it.
fn restored_completed(id: RequestId, outcome: &Result<Completion, RequestError>) {
    let request = id.get();
    match outcome {
        Ok(Completion::Published { reason_code, .. }) if reason_code.is_error() => {
            warn!(request, reason = %reason_code, "the broker refused a publish restored from the session store");
        }
        Ok(_) => {
            debug!(target: "mqtide::flow", request, "a publish restored from the session store finished");
        }
        Err(error) => {
            warn!(request, %error, "a publish restored from the session store failed");
        }
    }
}

/// Fails a request with `error`; a publish's flow is returned, to be
/// counted.
#[must_use]
fn answer(pending: Pending, error: Error) -> Option<Flow> {
    match pending {
        Pending::Publish(reply, flow) => {
            drop(reply.send(Err(error)));
            return Some(flow);
        }
        Pending::Subscribe(reply, ..) => drop(reply.send(Err(error))),
        Pending::Unsubscribe(reply, _) => drop(reply.send(Err(error))),
        Pending::Resubscribe => {}
    }
    None
}

/// What lost connections failed, and why they were lost.
#[derive(Debug, Default)]
pub(super) struct Losses {
    /// Why the last connection that came up was lost: what a request its
    /// loss failed is told.
    cause: Option<DisconnectReason>,
    /// Requests the end of the current connection failed, answered once
    /// why it ended is known.
    interrupted: Vec<(Pending, RequestError)>,
}

impl Losses {
    /// Why the last connection that came up was lost.
    pub(super) fn cause(&self) -> Option<&DisconnectReason> {
        self.cause.as_ref()
    }

    /// A connection ended: lost for `cause` (a connection that was up), or
    /// `None` (one that never came up, or a clean close), which leaves the
    /// last loss as the cause.
    pub(super) fn connection_ended(&mut self, cause: Option<DisconnectReason>) {
        if cause.is_some() {
            self.cause = cause;
        }
    }

    /// The requests still waiting for why their connection ended, when
    /// the client closes.
    pub(super) fn take_interrupted(&mut self) -> impl Iterator<Item = Pending> {
        std::mem::take(&mut self.interrupted)
            .into_iter()
            .map(|(pending, _)| pending)
    }
}

/// Answers a command that arrived after the client closed with why it
/// closed. A `disconnect` of a client the application closed is done.
pub(super) fn fail_command(command: Command, closed: &Error) {
    match command {
        Command::Publish { reply, .. } => drop(reply.send(Err(closed.clone()))),
        Command::Subscribe { reply, .. } => drop(reply.send(Err(closed.clone()))),
        Command::Unsubscribe { reply, .. }
        | Command::Ack { reply, .. }
        | Command::Reauthenticate { reply } => {
            drop(reply.send(Err(closed.clone())));
        }
        Command::Disconnect { reply, .. } => drop(reply.send(match closed {
            Error::Closed => Ok(()),
            other => Err(other.clone()),
        })),
        Command::Messages { .. } => {}
    }
}
