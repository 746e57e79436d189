//! Receiving: the task each subscribing client runs (for `bench sub` and
//! `bench pub --sub`), and `mqtide bench sub`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtide::{Error, QoS, Subscription};
use tokio::task::JoinSet;

use super::args::SubBench;
use super::broker::{self, Watcher};
use super::conn::{Fleet, connect_all, none_connected};
use super::payload::{Header, unix_nanos};
use super::progress::{Progress, Shown};
use super::report::{ReceiveReport, Summary, rate};
use super::stats::{Counters, Latencies};
use super::topic::{Pattern, Vars};
use super::{Signals, Stop, client_id, version_name};

/// What one or more subscribers received.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) latency: Latencies,
    pub(crate) received: u64,
    pub(crate) foreign: u64,
    pub(crate) gaps: u64,
    pub(crate) out_of_order: u64,
    pub(crate) first: Option<Instant>,
    pub(crate) last: Option<Instant>,
}

impl Received {
    fn new() -> Self {
        Self {
            latency: Latencies::new(),
            received: 0,
            foreign: 0,
            gaps: 0,
            out_of_order: 0,
            first: None,
            last: None,
        }
    }

    fn merge(&mut self, other: &Self) {
        self.latency.merge(&other.latency);
        self.received += other.received;
        self.foreign += other.foreign;
        self.gaps += other.gaps;
        self.out_of_order += other.out_of_order;
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(other.last);
    }

    /// Bench messages received once each (as far as sequence numbers tell).
    pub(crate) fn distinct(&self) -> u64 {
        self.received - self.foreign - self.out_of_order
    }
}

/// Subscribes every client of `fleet` to `filter`, expanded for it.
pub(crate) async fn subscribe_all(
    fleet: &Fleet,
    filter: &Pattern,
    username: &str,
    qos: QoS,
) -> Result<Vec<Subscription>, Error> {
    let subscribing = fleet.clients.iter().map(|(index, id, client)| {
        let filter = filter.expand(Vars {
            index: *index,
            client_id: id,
            username,
        });
        async move { client.subscribe(&filter, qos).await }
    });
    futures_util::future::join_all(subscribing)
        .await
        .into_iter()
        .collect()
}

/// Starts one receiving task per subscription. Each stops after `limit`
/// messages, or when `stop` is set. With `run`, only messages from that
/// `bench pub` run count as bench messages.
pub(crate) fn spawn_receivers(
    subscriptions: Vec<Subscription>,
    limit: Option<u64>,
    run: Option<u32>,
    counters: &Arc<Counters>,
    stop: &Stop,
) -> JoinSet<Received> {
    let mut set = JoinSet::new();
    for subscription in subscriptions {
        set.spawn(receive(
            subscription,
            limit,
            run,
            Arc::clone(counters),
            stop.clone(),
        ));
    }
    set
}

/// Waits for every receiving task and adds up what they got.
pub(crate) async fn join_receivers(mut set: JoinSet<Received>) -> Received {
    let mut total = Received::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(received) = joined {
            total.merge(&received);
        }
    }
    total
}

async fn receive(
    mut subscription: Subscription,
    limit: Option<u64>,
    run: Option<u32>,
    counters: Arc<Counters>,
    stop: Stop,
) -> Received {
    // The next sequence number expected from each publisher (run, client).
    let mut next_seq: HashMap<(u32, u32), u64> = HashMap::new();
    let mut got = Received::new();
    let stopped = stop.wait();
    tokio::pin!(stopped);
    while !stop.is_set() && limit.is_none_or(|l| got.received < l) {
        let message = tokio::select! {
            biased;
            message = subscription.recv() => message,
            () = &mut stopped => None,
        };
        let Some(message) = message else { break };
        let now_ns = unix_nanos();
        let now = Instant::now();
        got.first.get_or_insert(now);
        got.last = Some(now);
        got.received += 1;
        Counters::add(&counters.received, 1);
        let header = Header::parse(message.payload()).filter(|h| run.is_none_or(|r| h.run == r));
        let Some(header) = header else {
            got.foreign += 1;
            Counters::add(&counters.foreign, 1);
            continue;
        };
        // A send time ahead of our clock (another host's) counts as 0.
        got.latency
            .record_us(now_ns.saturating_sub(header.sent_ns) / 1000);
        let next = next_seq.entry((header.run, header.client)).or_insert(0);
        if header.seq >= *next {
            got.gaps += header.seq - *next;
            *next = header.seq + 1;
        } else {
            got.out_of_order += 1;
            Counters::add(&counters.out_of_order, 1);
        }
    }
    got
}

/// The receive part of a summary. `expected` and `window` come from
/// `bench pub --sub`; without them, loss is the sequence gaps and the
/// window runs from the first message to the last.
pub(crate) fn report(
    got: &Received,
    clients: u64,
    expected: Option<u64>,
    window_start: Option<Instant>,
) -> ReceiveReport {
    let distinct = got.distinct();
    let (lost, loss_percent) = match expected {
        Some(expected) => {
            let lost = expected.saturating_sub(distinct);
            (lost, rate(lost * 100, expected as f64))
        }
        None => (got.gaps, rate(got.gaps * 100, (got.gaps + distinct) as f64)),
    };
    let seconds = match (window_start.or(got.first), got.last) {
        (Some(first), Some(last)) => last.saturating_duration_since(first).as_secs_f64(),
        _ => 0.0,
    };
    ReceiveReport {
        clients,
        received: got.received,
        expected,
        lost,
        loss_percent,
        out_of_order: got.out_of_order,
        foreign: got.foreign,
        seconds,
        per_second: rate(got.received, seconds),
        latency_us: got.latency.percentiles(),
        broker_dropped: None,
        loss_note: None,
    }
}

/// `mqtide bench sub`.
pub(crate) async fn run(args: SubBench) -> Result<ExitCode, Error> {
    let qos = args.validate()?;
    let filter = Pattern::new(&args.topic)?;
    let base = args.conn.builder()?;
    let protocol = args.conn.protocol()?;
    let run = fastrand::u32(..);
    let username = args.conn.username.as_deref().unwrap_or_default();
    filter.check_filter(
        "-t",
        Vars {
            index: 1,
            client_id: &client_id(&args.conn.prefix, "sub", run, 1),
            username,
        },
    )?;
    let counters = Arc::new(Counters::default());
    let signals = Signals::install();
    let started = Instant::now();
    let shown = Shown {
        sent: false,
        acked: false,
        received: true,
    };
    let progress = Progress::start(Arc::clone(&counters), args.clients, shown);
    let fleet = connect_all(
        &base,
        |index| client_id(&args.conn.prefix, "sub", run, index),
        args.clients,
        Duration::from_millis(args.conn.connect_interval),
        &counters,
        &signals.stop,
    )
    .await;
    if fleet.clients.is_empty() {
        progress.finish();
        return Err(none_connected(fleet));
    }
    let subscriptions = match subscribe_all(&fleet, &filter, username, qos).await {
        Ok(subscriptions) => subscriptions,
        Err(e) => {
            fleet.disconnect().await;
            progress.finish();
            return Err(e);
        }
    };
    // The broker's drop counter, read before the run, to explain loss.
    let watcher = Watcher::start(&base, client_id(&args.conn.prefix, "sys", run, 0), run).await;
    let receivers = spawn_receivers(subscriptions, args.limit, None, &counters, &signals.stop);
    let timer = args.duration.map(|duration| {
        let stop = signals.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.trigger();
        })
    });
    let got = join_receivers(receivers).await;
    if let Some(timer) = timer {
        timer.abort();
    }
    let dropped = fleet.dropped();
    fleet.disconnect().await;
    progress.finish();
    let mut receive = report(&got, fleet.clients.len() as u64, None, None);
    broker::account(&mut receive, watcher).await;
    let summary = Summary {
        mode: "sub",
        url: args.conn.url(),
        protocol: version_name(protocol),
        qos: Some(args.qos),
        payload_bytes: None,
        seconds: started.elapsed().as_secs_f64(),
        connections: fleet.report(dropped),
        publish: None,
        receive: Some(receive),
    };
    summary.print(args.conn.json);
    Ok(summary.exit_code())
}
