//! Publishing: the task each publishing client runs, and `mqtide bench
//! pub` (with `--sub`, its subscribers too).
//!
//! A publishing task hands messages to its client with `send()`, which
//! returns as soon as the client's event loop has queued the message, and
//! passes the pending acknowledgement to a collector task of its own. So
//! the publisher never waits for a round trip: at QoS 1/2 the client keeps
//! the broker's in-flight window full, and the collector records when each
//! acknowledgement arrives.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtide::{Client, Error, PendingAck, QoS};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::args::PubBench;
use super::broker::{self, Watcher};
use super::conn::{connect_all, none_connected};
use super::payload::PayloadWriter;
use super::progress::{Progress, Shown};
use super::report::{PublishReport, Summary, rate};
use super::stats::{Counters, Latencies};
use super::subscriber::{self, Received};
use super::topic::{Pattern, Vars};
use super::{Signals, Stop, client_id, version_name};

/// How often the wait for the subscribers looks at their count.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// What every publishing task is told.
#[derive(Debug, Clone, Copy)]
struct Plan {
    qos: QoS,
    size: usize,
    run: u32,
    limit: Option<u64>,
    period: Option<Duration>,
    clients: u32,
    pending: usize,
}

/// What one or more publishing tasks did.
#[derive(Debug)]
struct Published {
    sent: u64,
    acked: u64,
    failed: u64,
    ack_latency: Latencies,
    /// When the last message was written (QoS 0) or acknowledged.
    done: Option<Instant>,
    first_error: Option<Error>,
}

impl Published {
    fn new() -> Self {
        Self {
            sent: 0,
            acked: 0,
            failed: 0,
            ack_latency: Latencies::new(),
            done: None,
            first_error: None,
        }
    }

    fn merge(&mut self, other: Self) {
        self.sent += other.sent;
        self.acked += other.acked;
        self.failed += other.failed;
        self.ack_latency.merge(&other.ack_latency);
        self.done = self.done.max(other.done);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// One client's publishing loop.
async fn publish(
    client: Client,
    topic: String,
    index: u32,
    plan: Plan,
    counters: Arc<Counters>,
    stop: Stop,
) -> Published {
    // A permit per message handed over and not yet acknowledged; the
    // collector returns it. The channel always has room for them all.
    let window = Arc::new(Semaphore::new(plan.pending));
    let (acks, pending) = mpsc::channel(plan.pending);
    let collector = tokio::spawn(collect(pending, plan.qos, Arc::clone(&counters)));
    let mut writer = PayloadWriter::new(plan.size, plan.run, index);
    let mut sent = 0u64;
    let mut error = None;
    // Paced clients start spread over one period, not all at once.
    let period_ns = plan
        .period
        .map(|p| u64::try_from(p.as_nanos()).unwrap_or(u64::MAX));
    let start = Instant::now()
        + Duration::from_nanos(
            period_ns.unwrap_or(0) / u64::from(plan.clients) * u64::from(index - 1),
        );
    let stopped = stop.wait();
    tokio::pin!(stopped);
    while !stop.is_set() && plan.limit.is_none_or(|limit| sent < limit) {
        if let Some(period_ns) = period_ns {
            let due = start + Duration::from_nanos(period_ns.saturating_mul(sent));
            if due > Instant::now() {
                tokio::select! {
                    () = tokio::time::sleep_until(due.into()) => {}
                    () = &mut stopped => break,
                }
            }
        }
        let Ok(permit) = Arc::clone(&window).acquire_owned().await else {
            break;
        };
        let payload = writer.next(sent);
        let queued = Instant::now();
        match client
            .publish(topic.as_str(), payload)
            .qos(plan.qos)
            .send()
            .await
        {
            Ok(ack) => {
                sent += 1;
                Counters::add(&counters.sent, 1);
                if acks.send((queued, ack, permit)).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                Counters::add(&counters.publish_failed, 1);
                error = Some(e);
                break;
            }
        }
    }
    drop(acks);
    let mut published = match collector.await {
        Ok(collected) => collected,
        Err(join) => {
            let mut lost = Published::new();
            lost.first_error = Some(Error::InvalidOption(format!("ack collector: {join}")));
            lost
        }
    };
    published.sent = sent;
    if let Some(e) = error {
        published.failed += 1;
        published.first_error.get_or_insert(e);
    }
    published
}

/// Awaits the acknowledgements of one publisher, in order.
async fn collect(
    mut pending: mpsc::Receiver<(Instant, PendingAck, OwnedSemaphorePermit)>,
    qos: QoS,
    counters: Arc<Counters>,
) -> Published {
    let mut got = Published::new();
    while let Some((queued, ack, permit)) = pending.recv().await {
        let outcome = ack.await;
        drop(permit);
        match outcome {
            Ok(_) => {
                let now = Instant::now();
                got.done = Some(now);
                got.acked += 1;
                if qos != QoS::AtMostOnce {
                    got.ack_latency.record(now - queued);
                    Counters::add(&counters.acked, 1);
                }
            }
            Err(e) => {
                got.failed += 1;
                Counters::add(&counters.publish_failed, 1);
                got.first_error.get_or_insert(e);
            }
        }
    }
    got
}

/// `mqtide bench pub`.
pub(crate) async fn run(args: PubBench) -> Result<ExitCode, Error> {
    args.validate()?;
    let qos = args.qos()?;
    let topic = Pattern::new(&args.topic)?;
    let filter = Pattern::new(&args.sub_topic.clone().unwrap_or_else(|| topic.wildcard()))?;
    let base = args.conn.builder()?;
    let protocol = args.conn.protocol()?;
    let username = args.conn.username.as_deref().unwrap_or_default();
    let interval = Duration::from_millis(args.conn.connect_interval);
    let run = fastrand::u32(..);
    // Check the topics as client 1 would have them, before connecting.
    let (pub_id, sub_id) = (
        client_id(&args.conn.prefix, "pub", run, 1),
        client_id(&args.conn.prefix, "sub", run, 1),
    );
    let vars = |client_id| Vars {
        index: 1,
        client_id,
        username,
    };
    topic.check_name("-t", vars(&pub_id))?;
    filter.check_filter("--sub-topic", vars(&sub_id))?;
    let subscribers = args.subscribers();
    let counters = Arc::new(Counters::default());
    let signals = Signals::install();
    let started = Instant::now();
    let shown = Shown {
        sent: true,
        acked: qos != QoS::AtMostOnce,
        received: subscribers > 0,
    };
    let progress = Progress::start(Arc::clone(&counters), args.clients + subscribers, shown);

    // Subscribers first, so that they miss nothing.
    let receiving = Stop::new();
    let mut receivers = None;
    let mut fleet = None;
    if subscribers > 0 {
        let subs = connect_all(
            &base,
            |index| client_id(&args.conn.prefix, "sub", run, index),
            subscribers,
            interval,
            &counters,
            &signals.stop,
        )
        .await;
        if subs.clients.is_empty() {
            progress.finish();
            return Err(none_connected(subs));
        }
        match subscriber::subscribe_all(&subs, &filter, username, qos).await {
            Ok(subscriptions) => {
                receivers = Some(subscriber::spawn_receivers(
                    subscriptions,
                    None,
                    Some(run),
                    &counters,
                    &receiving,
                ));
            }
            Err(e) => {
                subs.disconnect().await;
                progress.finish();
                return Err(e);
            }
        }
        fleet = Some(subs);
    }
    // The broker's drop counter, read before the run, to explain loss.
    let watcher = if subscribers > 0 {
        Watcher::start(&base, client_id(&args.conn.prefix, "sys", run, 0), run).await
    } else {
        None
    };
    let pubs = connect_all(
        &base,
        |index| client_id(&args.conn.prefix, "pub", run, index),
        args.clients,
        interval,
        &counters,
        &signals.stop,
    )
    .await;
    if pubs.clients.is_empty() {
        if let Some(subs) = &fleet {
            subs.disconnect().await;
        }
        if let Some(watcher) = watcher {
            watcher.close().await;
        }
        progress.finish();
        return Err(none_connected(pubs));
    }

    let plan = Plan {
        qos,
        size: args.size,
        run,
        limit: args.limit,
        period: args.period()?,
        clients: args.clients,
        pending: args.pending,
    };
    let publishing = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, id, client) in &pubs.clients {
        let topic = topic.expand(Vars {
            index: *index,
            client_id: id,
            username,
        });
        tasks.spawn(publish(
            client.clone(),
            topic,
            *index,
            plan,
            Arc::clone(&counters),
            signals.stop.clone(),
        ));
    }
    let timer = args.duration.map(|duration| {
        let stop = signals.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.trigger();
        })
    });
    let published = join_publishers(tasks, &signals.abort).await;
    if let Some(timer) = timer {
        timer.abort();
    }

    let received = match receivers {
        Some(set) => {
            let expected = published.sent * u64::from(subscribers);
            drain(&counters, expected, args.wait, &signals.abort).await;
            receiving.trigger();
            Some((subscriber::join_receivers(set).await, expected))
        }
        None => None,
    };

    let publishers = pubs.clients.len() as u64;
    let subscriber_clients = fleet.as_ref().map_or(0, |f| f.clients.len() as u64);
    let mut all = pubs;
    if let Some(subs) = fleet {
        all.absorb(subs);
    }
    let dropped = all.dropped();
    all.disconnect().await;
    progress.finish();

    let publish_seconds = published.done.map_or(0.0, |done| {
        done.saturating_duration_since(publishing).as_secs_f64()
    });
    let mut receive = received.map(|(got, expected): (Received, u64)| {
        subscriber::report(&got, subscriber_clients, Some(expected), Some(publishing))
    });
    match &mut receive {
        Some(report) => broker::account(report, watcher).await,
        None => {
            if let Some(watcher) = watcher {
                watcher.close().await;
            }
        }
    }
    let summary = Summary {
        mode: "pub",
        url: args.conn.url(),
        protocol: version_name(protocol),
        qos: Some(args.qos),
        payload_bytes: Some(args.size),
        seconds: started.elapsed().as_secs_f64(),
        connections: all.report(dropped),
        publish: Some(PublishReport {
            clients: publishers,
            sent: published.sent,
            acked: (qos != QoS::AtMostOnce).then_some(published.acked),
            failed: published.failed,
            seconds: publish_seconds,
            per_second: rate(published.sent, publish_seconds),
            ack_latency_us: published.ack_latency.percentiles(),
            first_error: published.first_error.as_ref().map(ToString::to_string),
        }),
        receive,
    };
    summary.print(args.conn.json);
    Ok(summary.exit_code())
}

/// Waits for every publisher (a second Ctrl-C cancels them).
async fn join_publishers(mut tasks: JoinSet<Published>, abort: &Stop) -> Published {
    let mut total = Published::new();
    let mut aborted = false;
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(published)) => total.merge(published),
                Some(Err(_)) => {}
                None => break,
            },
            () = abort.wait(), if !aborted => {
                aborted = true;
                tasks.abort_all();
            }
        }
    }
    total
}

/// Waits until the subscribers have `expected` distinct messages, or have
/// been silent for `quiet`, or a second Ctrl-C.
async fn drain(counters: &Counters, expected: u64, quiet: Duration, abort: &Stop) {
    let distinct = || {
        // Read the parts before the whole, so the whole is the newer.
        let others = Counters::get(&counters.foreign) + Counters::get(&counters.out_of_order);
        Counters::get(&counters.received).saturating_sub(others)
    };
    let mut last = Counters::get(&counters.received);
    let mut silent_since = Instant::now();
    while distinct() < expected && !abort.is_set() {
        tokio::select! {
            () = tokio::time::sleep(DRAIN_POLL) => {}
            () = abort.wait() => break,
        }
        let now = Counters::get(&counters.received);
        if now != last {
            last = now;
            silent_since = Instant::now();
        } else if silent_since.elapsed() >= quiet {
            break;
        }
    }
}
