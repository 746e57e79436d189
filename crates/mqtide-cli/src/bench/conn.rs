//! Connecting many clients and timing it; `mqtide bench conn`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtide::{Client, ClientBuilder, Error};
use tokio::task::JoinSet;

use super::args::ConnBench;
use super::progress::{Progress, Shown};
use super::report::{Connections, Summary};
use super::stats::{Counters, Latencies};
use super::{Signals, Stop, client_id, version_name};

/// The clients of one role, connected.
#[derive(Debug)]
pub(crate) struct Fleet {
    /// `(number, client id, client)`, by number.
    pub(crate) clients: Vec<(u32, String, Client)>,
    /// How long each successful connection took (to CONNACK).
    pub(crate) times: Latencies,
    pub(crate) attempted: u64,
    pub(crate) failed: u64,
    pub(crate) first_error: Option<Error>,
    /// From the first attempt to the last answer.
    pub(crate) elapsed: Duration,
}

impl Fleet {
    /// The connection part of a summary.
    pub(crate) fn report(&self, dropped: u64) -> Connections {
        let seconds = self.elapsed.as_secs_f64();
        let (mut reconnects, mut resends) = (0, 0);
        for (_, _, client) in &self.clients {
            let stats = client.stats();
            reconnects += stats.connections_made.saturating_sub(1);
            resends += stats.publishes_resent + stats.pubrels_resent;
        }
        let connect_us = self.times.percentiles();
        let slow_connect_note = connect_us
            .as_ref()
            .filter(|t| t.max >= SLOW_CONNECT_US && self.attempted > 1)
            .map(|t| slow_connects(t, self.attempted));
        Connections {
            attempted: self.attempted,
            ok: self.clients.len() as u64,
            failed: self.failed,
            dropped,
            reconnects,
            resends,
            seconds,
            per_second: super::report::rate(self.clients.len() as u64, seconds),
            connect_us,
            slow_connect_note,
            first_error: self.first_error.as_ref().map(ToString::to_string),
        }
    }

    /// Takes in another fleet (publishers and subscribers in one summary).
    pub(crate) fn absorb(&mut self, other: Self) {
        self.times.merge(&other.times);
        self.attempted += other.attempted;
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.elapsed += other.elapsed;
        self.clients.extend(other.clients);
    }

    /// Clients no longer connected: lost during the run.
    pub(crate) fn dropped(&self) -> u64 {
        self.clients
            .iter()
            .filter(|(_, _, client)| !client.state().is_connected())
            .count() as u64
    }

    /// Disconnects every client, all at once.
    pub(crate) async fn disconnect(&self) {
        let all = self
            .clients
            .iter()
            .map(|(_, _, client)| client.disconnect());
        // A client whose connection is already gone has nothing to close.
        let _ = futures_util::future::join_all(all).await;
    }
}

/// A connection that took this long (1 s, in µs) waited, most likely, for
/// TCP to resend its SYN.
const SLOW_CONNECT_US: u64 = 1_000_000;

/// Why some connections took a second or more.
fn slow_connects(times: &super::stats::Percentiles, attempted: u64) -> String {
    let share = if times.p50 >= SLOW_CONNECT_US {
        "most connections"
    } else if times.p99 >= SLOW_CONNECT_US {
        "1 % or more of the connections"
    } else {
        "a few connections"
    };
    format!(
        "{share} of {attempted} took 1 s or more. Connections started faster than the broker accepts them overflow its listen backlog (Mosquitto listens with a backlog of 100, which Linux also caps at net.core.somaxconn); the broker's kernel drops the SYNs that do not fit, and the client's kernel sends them again after 1 s (then 3 s, 7 s). Those seconds are TCP's retransmission timeout, not the broker's or mqtide's processing: start the connections apart (--connect-interval), or raise the backlog"
    )
}

/// Connects `count` clients (numbered from 1) with `base`, starting one
/// every `interval` (all at once for zero), unless `stop` is set first.
pub(crate) async fn connect_all(
    base: &ClientBuilder,
    id: impl Fn(u32) -> String,
    count: u32,
    interval: Duration,
    counters: &Arc<Counters>,
    stop: &Stop,
) -> Fleet {
    let started = Instant::now();
    let mut attempts = JoinSet::new();
    for index in 1..=count {
        if index > 1 && !interval.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stop.wait() => {}
            }
        }
        if stop.is_set() {
            break;
        }
        let client_id = id(index);
        let builder = base.clone().client_id(client_id.clone());
        let counters = Arc::clone(counters);
        attempts.spawn(async move {
            let began = Instant::now();
            let result = builder.connect().await;
            let took = began.elapsed();
            match &result {
                Ok(_) => Counters::add(&counters.connected, 1),
                Err(_) => Counters::add(&counters.connect_failed, 1),
            }
            (index, client_id, took, result)
        });
    }
    let mut fleet = Fleet {
        clients: Vec::with_capacity(count as usize),
        times: Latencies::new(),
        attempted: attempts.len() as u64,
        failed: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = attempts.join_next().await {
        match joined {
            Ok((index, id, took, Ok(client))) => {
                fleet.times.record(took);
                fleet.clients.push((index, id, client));
            }
            Ok((_, _, _, Err(error))) => {
                fleet.failed += 1;
                fleet.first_error.get_or_insert(error);
            }
            Err(join) => {
                fleet.failed += 1;
                fleet
                    .first_error
                    .get_or_insert(Error::InvalidOption(format!("connect task: {join}")));
            }
        }
    }
    fleet.elapsed = started.elapsed();
    fleet.clients.sort_by_key(|(index, _, _)| *index);
    fleet
}

/// An error for a run in which no client got through.
pub(crate) fn none_connected(fleet: Fleet) -> Error {
    fleet
        .first_error
        .unwrap_or_else(|| Error::InvalidOption("no client was started".into()))
}

/// `mqtide bench conn`.
pub(crate) async fn run(args: ConnBench) -> Result<ExitCode, Error> {
    args.validate()?;
    let base = args.conn.builder()?;
    let protocol = args.conn.protocol()?;
    let run = fastrand::u32(..);
    let counters = Arc::new(Counters::default());
    let signals = Signals::install();
    let started = Instant::now();
    let progress = Progress::start(Arc::clone(&counters), args.clients, Shown::CONNECTIONS);
    let fleet = connect_all(
        &base,
        |index| client_id(&args.conn.prefix, "conn", run, index),
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
    if args.hold {
        signals.stop.wait().await;
    } else if let Some(hold) = args.duration {
        tokio::select! {
            () = tokio::time::sleep(hold) => {}
            () = signals.stop.wait() => {}
        }
    }
    let dropped = fleet.dropped();
    fleet.disconnect().await;
    progress.finish();
    let summary = Summary {
        mode: "conn",
        url: args.conn.url(),
        protocol: version_name(protocol),
        qos: None,
        payload_bytes: None,
        seconds: started.elapsed().as_secs_f64(),
        connections: fleet.report(dropped),
        publish: None,
        receive: None,
    };
    summary.print(args.conn.json);
    Ok(summary.exit_code())
}
