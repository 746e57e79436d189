//! The event loop: one task that owns the transport and the
//! [`Session`], and talks to `Client` handles through bounded channels.
//!
//! Every `select!` branch is cancel-safe (`recv`, `read_buf`, `write_buf`,
//! `reserve`, `sleep_until`), and backpressure is a branch guard, never an
//! `.await` on a full channel inside the loop: a full subscription stream
//! stops socket reads, a full session queue stops taking commands, and
//! neither blocks the other (the deadlock of rumqttc #263 / #1025).

mod auth;
mod commands;
mod ending;
mod events;
#[cfg(feature = "metrics")]
mod metrics;
mod observe;
mod persist;
mod reconnect;
mod timer;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mqtide_proto::{
    ReasonCode, RequestId, Session, SubscribeProperties, SubscriptionOptions, TopicFilter,
};
use rustc_hash::FxHashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, timeout};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::backoff::Backoff;
use crate::command::{Command, PublishOutcome, QueueFull, Reply, SubscribeOutcome};
use crate::error::{ConnectError, Error};
use crate::router::{RouteId, Router};
use crate::state::{ConnectionEvent, ConnectionState, DisconnectReason, Events};
use crate::store::{SessionStore, StoredSubscription};
use crate::take_once::TakeOnce;
use crate::transport::{Servers, Transport};
use auth::Authentication;
use commands::{Intake, Losses};
use ending::flush;
use events::Deliveries;
use observe::{Flow, Observer};
use persist::Persistence;
use reconnect::{Decision, Lost, decide};
use timer::{Timer, earliest};

/// Initial read buffer; it grows for larger packets.
const READ_MIN: usize = 1024;
/// Reads grow up to this while they keep filling the buffer: an idle
/// connection holds 1 KiB, a busy one reads 64 KiB at a time.
const READ_MAX: usize = 64 * 1024;

/// Commands are taken only while less than this waits to be written: a
/// QoS 0 publisher faster than the socket is held back here instead of
/// growing the write buffer without bound.
const WRITE_HIGH_WATER: usize = 256 * 1024;

/// How long a closing connection may take to flush its last bytes.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The client's event loop, as a future to drive: see
/// [`ClientBuilder::build`](crate::ClientBuilder::build).
#[derive(Debug)]
#[must_use = "the client does nothing until its connection runs"]
pub struct Connection {
    event_loop: EventLoop,
}

impl Connection {
    pub(crate) fn new(event_loop: EventLoop) -> Self {
        Self { event_loop }
    }

    /// Runs the client until it closes (after `disconnect`, when every
    /// handle is dropped, or when a connection fails and reconnecting is
    /// off).
    pub fn run(self) -> impl Future<Output = ()> + Send + 'static {
        // Not an `async fn`: one taking `self` by value keeps a second copy
        // of it beside the moved-in one for the future's whole life, and
        // the event loop is 2 KiB. The async block holds it once, and
        // `EventLoop::run` borrows it.
        let span = info_span!(
            "mqtide",
            client_id = %self.event_loop.session.config().client_id,
            broker = %self.event_loop.servers.connector().addr,
        );
        let mut event_loop = self.event_loop;
        async move { event_loop.run().instrument(span).await }
    }
}

pub(crate) struct Setup {
    pub(crate) servers: Servers,
    pub(crate) session: Session,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) state: watch::Sender<ConnectionState>,
    pub(crate) server: watch::Sender<Option<Arc<mqtide_proto::Connected>>>,
    pub(crate) events: Events,
    pub(crate) reconnect: Option<Backoff>,
    /// Whether the first connection is retried with `reconnect`.
    pub(crate) retry_first: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) queue_full: QueueFull,
    pub(crate) manual_acks: bool,
    pub(crate) first_connect: oneshot::Sender<Result<(), ConnectError>>,
    /// The session store, and the subscriptions it kept.
    pub(crate) store: Option<(Box<dyn SessionStore>, Vec<StoredSubscription>)>,
    /// Why the client closed, for `Client::wait_connected`.
    pub(crate) why_closed: Arc<std::sync::OnceLock<Error>>,
    pub(crate) authenticator: Option<Box<dyn crate::auth::Authenticator>>,
    /// Where the store and the authenticator came from: a client whose
    /// first connection failed gives them back, for another try.
    pub(crate) slots: Slots,
    /// Where `Client::stats` reads the figures.
    pub(crate) stats: Arc<crate::stats::StatsCells>,
    /// Whether the `metrics` series carry the `client_id` label.
    #[cfg(feature = "metrics")]
    pub(crate) metrics_client_id_label: bool,
}

/// The builder's slots the store and the authenticator were taken from.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    pub(crate) store: Option<TakeOnce<Box<dyn SessionStore>>>,
    pub(crate) authenticator: Option<TakeOnce<Box<dyn crate::auth::Authenticator>>>,
}

/// A request waiting for the session's `Completed`.
#[derive(Debug)]
enum Pending {
    Publish(Reply<PublishOutcome>, Flow),
    Subscribe(
        Reply<SubscribeOutcome>,
        RouteId,
        Vec<(TopicFilter, SubscriptionOptions)>,
        SubscribeProperties,
    ),
    Unsubscribe(Reply<()>, Vec<TopicFilter>),
    /// Restoring a subscription after the broker lost the session.
    Resubscribe,
}

/// How one connection ended.
#[derive(Debug)]
enum End {
    /// Lost; maybe reconnect.
    Lost(DisconnectReason),
    /// The client is closing.
    Shutdown,
}

/// What woke a connection's loop.
#[derive(Debug)]
enum Woke {
    /// The socket took bytes (or failed).
    Wrote(io::Result<usize>),
    /// The socket gave bytes (or failed).
    Read(io::Result<usize>),
    /// The stream the next delivery waits for has room.
    Room,
    /// Commands arrived (0: every handle is gone).
    Commands(usize),
    /// The timer fired.
    Timer,
}

/// Where the client is in its life. A disconnect under way (`closing`)
/// and the reason the client closed (`lost`, the store's failure) are kept
/// beside it: a disconnect may come in any phase, and what it needs (its
/// reply, its deadline) outlives the connection.
#[derive(Debug)]
enum Phase {
    /// No connection has come up yet: `connect` waits for the answer.
    FirstConnect(oneshot::Sender<Result<(), ConnectError>>),
    /// The current connection reached CONNACK (and its authentication
    /// checked out).
    Up,
    /// A connection came up once; the next is being made, or waited for.
    Offline,
}

/// A `disconnect` in progress.
#[derive(Debug)]
struct Closing {
    reason_code: ReasonCode,
    properties: mqtide_proto::DisconnectProperties,
    deadline: Instant,
    reply: Option<Reply<()>>,
    sent: bool,
}

#[derive(Debug)]
pub(crate) struct EventLoop {
    servers: Servers,
    session: Session,
    /// Commands from the handles; see `commands.rs`.
    intake: Intake,
    state: watch::Sender<ConnectionState>,
    server: watch::Sender<Option<Arc<mqtide_proto::Connected>>>,
    events: Events,
    reconnect: Option<Backoff>,
    retry_first: bool,
    connect_timeout: Duration,
    /// Where the client is in its life; with `closing` (a disconnect under
    /// way) and `lost` / the store's failure (why it closed), all there is
    /// to it.
    phase: Phase,
    router: Router,
    pending: FxHashMap<RequestId, Pending>,
    /// Messages on their way into streams; see `events.rs`.
    deliveries: Deliveries,
    /// Subscriptions to restore when the broker lost the session.
    subscriptions: Vec<(Vec<(TopicFilter, SubscriptionOptions)>, SubscribeProperties)>,
    /// A disconnect under way (a `disconnect`, or the last handle
    /// dropped): from then on no command is taken and no connection is
    /// made again. It stays until the client has closed.
    closing: Option<Closing>,
    /// Set when the session reports the connection over.
    ended: Option<End>,
    /// 5.0 with a broker that supports them: subscriptions get identifiers
    /// so that each copy of a message reaches only its own stream.
    subscription_ids: bool,
    next_subscription_id: u32,
    rng: fastrand::Rng,
    /// The session store, if any; see `persist.rs`.
    persist: Persistence,
    /// Enhanced authentication; see `auth.rs`.
    auth: Authentication,
    /// Why the connection ended, when the client closes because it does
    /// not reconnect.
    lost: Option<DisconnectReason>,
    /// Requests lost connections failed, told why; see `commands.rs`.
    losses: Losses,
    /// Why the client closed: the one error every call returns after.
    why_closed: Arc<std::sync::OnceLock<Error>>,
    /// Logs, statistics and metrics; see `observe.rs`.
    observer: Observer,
}

impl EventLoop {
    pub(crate) fn new(setup: Setup) -> Self {
        let (store, restored) = match setup.store {
            Some((store, subscriptions)) => (Some(store), subscriptions),
            None => (None, Vec::new()),
        };
        // Restored subscriptions are subscribed again if the broker lost
        // the session, as after any reconnect.
        let subscriptions = if restored.is_empty() {
            Vec::new()
        } else {
            vec![(restored, SubscribeProperties::default())]
        };
        let observer = Observer::new(setup.stats);
        #[cfg(feature = "metrics")]
        let observer = {
            let client_id = setup.session.config().client_id.clone();
            let label = setup.metrics_client_id_label.then_some(&*client_id);
            observer.with_metrics(metrics::Metrics::new(label))
        };
        Self {
            servers: setup.servers,
            session: setup.session,
            intake: Intake::new(setup.commands, setup.queue_full),
            state: setup.state,
            server: setup.server,
            events: setup.events,
            reconnect: setup.reconnect,
            retry_first: setup.retry_first,
            connect_timeout: setup.connect_timeout,
            phase: Phase::FirstConnect(setup.first_connect),
            router: Router::default(),
            pending: FxHashMap::default(),
            deliveries: Deliveries::new(setup.manual_acks),
            subscriptions,
            closing: None,
            ended: None,
            subscription_ids: false,
            next_subscription_id: 0,
            rng: fastrand::Rng::new(),
            persist: Persistence::new(store, setup.slots.store),
            auth: Authentication::new(setup.authenticator, setup.slots.authenticator),
            lost: None,
            losses: Losses::default(),
            why_closed: setup.why_closed,
            observer,
        }
    }

    async fn run(&mut self) {
        #[cfg(feature = "metrics")]
        if let Some(task) = self.observer.metrics_task(self.state.subscribe()) {
            tokio::spawn(task.instrument(tracing::Span::current()));
        }
        // Commands issued before the loop started (a `messages()` stream
        // asked for before connecting) are taken before the first packet
        // arrives, so nothing the broker sends at once misses them.
        let now = Instant::now();
        while let Some(command) = self.intake.try_recv() {
            self.command(Some(command), now);
        }
        let mut attempt = 0;
        // The first connection's failure, told once the client has given
        // its store and authenticator back.
        let mut failed_first = None;
        loop {
            let reason = match self.connection().await {
                End::Shutdown => break,
                End::Lost(reason) => reason,
            };
            let tried = self.servers.connector().addr.to_string();
            let came_up = matches!(self.phase, Phase::Up);
            if came_up {
                self.observer.connection_lost();
                self.events.send(ConnectionEvent::Disconnected {
                    reason: reason.clone(),
                });
                self.phase = Phase::Offline;
                // A connection that came up resets the backoff.
                attempt = 0;
                self.servers.connected();
            } else {
                // An attempt that never came up lost no connection.
                self.observer.connect_failed();
                self.events.send(ConnectionEvent::ConnectFailed {
                    server: tried.clone(),
                    reason: reason.clone(),
                });
            }
            let (redirected, new_pass) = self.next_server(&reason, came_up);
            let first_connect = matches!(self.phase, Phase::FirstConnect(_));
            let decision = decide(&Lost {
                reason: &reason,
                came_up,
                redirected,
                new_pass,
                first_connect,
                retry_first: self.retry_first,
                closing: self.closing.is_some(),
                reconnect: self.reconnect,
            });
            let backoff = match decision {
                Decision::NextBroker => {
                    info!(%reason, next = %self.servers.connector().addr, "connecting failed; trying the next broker");
                    continue;
                }
                Decision::FailConnect => {
                    let error = self.connect_error(reason, tried);
                    let _ = self.why_closed.set(Error::Connect(error.clone()));
                    if let Phase::FirstConnect(first) =
                        std::mem::replace(&mut self.phase, Phase::Offline)
                    {
                        failed_first = Some((first, error));
                    }
                    break;
                }
                Decision::Close(why) => {
                    self.close_after_loss(reason, why);
                    break;
                }
                Decision::Reconnect { backoff } => backoff,
            };
            // The next broker of the list at once; backoff once every
            // broker has failed (or for the one that was up).
            let delay = match backoff {
                None => Duration::ZERO,
                Some(backoff) => {
                    attempt += 1;
                    backoff.delay(attempt, &mut self.rng)
                }
            };
            let next = self.servers.connector().addr.to_string();
            if came_up {
                warn!(%reason, attempt, ?delay, %next, "connection lost; reconnecting");
            } else {
                warn!(%reason, attempt, ?delay, %next, "connection attempt failed; trying again");
            }
            // Before any connection came up, the client is still
            // connecting: it has nothing to reconnect.
            if !first_connect {
                self.state.send_replace(ConnectionState::Reconnecting {
                    attempt: attempt.max(1),
                    reason,
                });
            }
            self.events.send(ConnectionEvent::Reconnecting {
                attempt: attempt.max(1),
                delay,
            });
            if !self.wait_offline(delay).await {
                break;
            }
        }
        // What a group commit still held (acknowledgements, finished flows).
        self.commit().await;
        self.shut_down();
        if let Some((first, error)) = failed_first {
            // The client never served: the builder gets its store and
            // authenticator back before `connect` returns, so that a retry
            // (with it or a clone) finds them.
            self.give_back();
            let _ = first.send(Err(error));
        }
    }

    /// One connection, from opening the transport to its end.
    async fn connection(&mut self) -> End {
        let stream = match timeout(
            self.connect_timeout,
            // Boxed: the transport handshakes (TLS, WebSocket) are large futures,
            // and inline they would size every idle connection's task.
            Box::pin(self.servers.connector().connect()),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return End::Lost(DisconnectReason::Transport(Arc::new(e))),
            Err(_) => {
                let e = io::Error::new(io::ErrorKind::TimedOut, "transport connect timed out");
                return End::Lost(DisconnectReason::Transport(Arc::new(e)));
            }
        };
        debug!("transport up; sending CONNECT");
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut read_buf = BytesMut::with_capacity(READ_MIN);
        let mut write_buf = BytesMut::new();
        self.ended = None;
        if let Err(e) = self.start_authentication() {
            return End::Lost(DisconnectReason::Auth(e));
        }
        self.session.handle_connected(Instant::now().into_std());
        let end = self
            .drive_connection(&mut reader, &mut writer, &mut read_buf, &mut write_buf)
            .await;
        // What its loss fails (now, or when the next connection finds the
        // session gone) is told why; an attempt that never came up lost
        // nothing, and a clean close is no loss.
        let lost = match (&end, &self.phase) {
            (End::Lost(reason), Phase::Up) => Some(reason.clone()),
            _ => None,
        };
        self.losses.connection_ended(lost.clone());
        // Best effort: the last bytes (our DISCONNECT) reach the broker;
        // nothing at all once the store failed, for they may depend on
        // what it could not commit (dropping the socket closes it).
        if self.persist.failed().is_none() {
            let last_bytes = async {
                if !write_buf.is_empty() {
                    writer.write_all(&write_buf).await?;
                }
                // TLS may still hold records the socket did not take.
                writer.flush().await
            };
            // A disconnect is answered once its DISCONNECT (and every
            // packet before it) is written: here if that failed, in
            // `shut_down` if not. A program that exits when `disconnect`
            // returns loses nothing it sent.
            if let Err(e) = flush(timeout(FLUSH_TIMEOUT, last_bytes).await)
                && self.closing.as_ref().is_some_and(|c| c.sent)
            {
                let reason = DisconnectReason::Transport(Arc::new(e));
                self.answer_disconnect(Err(Error::ConnectionLost(reason)));
            }
            let _ = timeout(FLUSH_TIMEOUT, writer.shutdown()).await;
        }
        let now = Instant::now();
        self.session.handle_connection_lost(now.into_std());
        // Messages still waiting for room in their streams stay: a QoS 2
        // message must reach the application even though the broker will
        // resend it (the session will not deliver that resend again).
        self.process(&mut BytesMut::new(), now);
        if matches!(end, End::Lost(_)) {
            self.answer_interrupted(lost);
        }
        end
    }

    async fn drive_connection(
        &mut self,
        reader: &mut ReadHalf<Box<dyn Transport>>,
        writer: &mut WriteHalf<Box<dyn Transport>>,
        read_buf: &mut BytesMut,
        write_buf: &mut BytesMut,
    ) -> End {
        let mut read_chunk = READ_MIN;
        let mut timer = Timer::default();
        // Read once per turn of the loop, when it wakes: every input of
        // the turn (bytes, commands, timeouts) is handled at that time.
        let mut now = Instant::now();
        loop {
            self.process(write_buf, now);
            if self.commit_ready(now) {
                self.commit().await;
                now = Instant::now();
                continue;
            }
            if let Some(end) = self.ended.take() {
                return end;
            }
            // The clock before the timer: what is due is handled now.
            let deadline = self.session.poll_timeout().map(Instant::from_std);
            let closing_deadline = self.closing.as_ref().map(|c| c.deadline);
            if deadline.is_some_and(|due| due <= now) {
                self.session.handle_timeout(now.into_std());
                continue;
            }
            if closing_deadline.is_some_and(|due| due <= now) {
                self.force_disconnect(now);
                continue;
            }
            if self.persist.commit_due().is_some_and(|due| due <= now) {
                self.commit().await;
                now = Instant::now();
                continue;
            }
            timer.set(earliest([
                deadline,
                closing_deadline,
                self.persist.commit_due(),
            ]));
            let reading = self.deliveries.have_room();
            // Keep room for a full read: once the buffer is full, `read_buf`
            // would otherwise grow it 64 bytes at a time. `reserve` reuses
            // the space of packets already split off when it can.
            if read_buf.capacity() - read_buf.len() < read_chunk / 4 {
                read_buf.reserve(read_chunk);
            }
            let spare = read_buf.capacity() - read_buf.len();
            // Deliveries wait for a commit as much as for room.
            let blocked = if self.store_pending() {
                None
            } else {
                self.deliveries.blocked_on()
            };
            let intake = self
                .intake_room()
                .filter(|_| write_buf.len() < WRITE_HIGH_WATER);
            let woke = tokio::select! {
                result = writer.write_buf(write_buf), if !write_buf.is_empty() => Woke::Wrote(result),
                result = reader.read_buf(read_buf), if reading => Woke::Read(result),
                _ = async { blocked.as_ref()?.reserve().await.ok().map(drop) }, if blocked.is_some() => Woke::Room,
                count = self.intake.recv(intake.unwrap_or(1)), if intake.is_some() => {
                    Woke::Commands(count)
                }
                () = timer.expired(), if timer.is_set() => Woke::Timer,
            };
            now = Instant::now();
            match woke {
                Woke::Wrote(Ok(0)) => return self.transport_lost(io::ErrorKind::WriteZero.into()),
                Woke::Read(Ok(0)) => {
                    let eof = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the broker closed the connection",
                    );
                    return self.transport_lost(eof);
                }
                Woke::Wrote(Err(e)) | Woke::Read(Err(e)) => return self.transport_lost(e),
                Woke::Read(Ok(n)) => {
                    if n >= spare {
                        read_chunk = (read_chunk * 2).min(READ_MAX);
                    }
                    self.session.handle_bytes(read_buf, now.into_std());
                }
                Woke::Commands(count) => self.took(count, now),
                // Due now: handled at the top of the next turn.
                Woke::Wrote(Ok(_)) | Woke::Room | Woke::Timer => {}
            }
            // Decoding stopped when the event queue filled; go on now that
            // `process` will drain it.
            if !read_buf.is_empty() && self.deliveries.have_room() {
                self.session.handle_bytes(read_buf, now.into_std());
            }
        }
    }

    /// Drains the session: bytes to write, events to dispatch, deliveries
    /// to push into streams, and a pending disconnect to start.
    fn process(&mut self, write_buf: &mut BytesMut, now: Instant) {
        // Packets read since the last turn; and the log is on (or off)
        // before this turn writes any.
        self.observer.listen(&mut self.session);
        loop {
            // Commands left from a batch, once there is room for them
            // (acknowledgements handled below free the queue).
            self.take_intake(now);
            // Write-ahead: while the session has recorded changes not yet
            // committed, no message reaches a stream (`deliver` checks) and
            // no byte reaches the socket; the loop commits, then comes back.
            self.deliver(now);
            self.maybe_disconnect(now);
            if self.persist.failed().is_some() {
                break;
            }
            if !self.store_pending() {
                while self.session.poll_transmit(write_buf) > 0 {}
            }
            let mut any = false;
            while let Some(event) = self.session.poll_event() {
                any = true;
                self.event(event, now);
            }
            if !any {
                break;
            }
        }
        self.observer.drain(&mut self.session);
        self.observer.store(&self.session, self.deliveries.held());
    }
}
