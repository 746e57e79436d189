//! Durable-session throughput: QoS 1 and QoS 2 publishes through a private
//! Mosquitto with no store, a `MemoryStore`, and a `DiskStore` under each
//! commit policy, in one run, reported as a ratio to no store.
//!
//! ```text
//! cargo run --release -p benches --bin durable [-- <messages per round> <rounds>]
//! ```
//!
//! Each round publishes the messages pipelined (up to 256 `send()`s
//! waiting for their commit at once, as a producer that wants throughput
//! does), and ends when every acknowledgement is in; the configurations
//! take turns round by round, and the table shows the median round.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mqtide::store::{
    CommitPolicy, DiskStore, MemoryStore, SessionStore, StoreBatch, StoreError, StoreIdentity,
    StoredState,
};
use mqtide::{Client, ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;

const PIPELINE: usize = 256;
const PAYLOAD: [u8; 64] = [b'x'; 64];

#[derive(Clone, Copy, Debug)]
enum Store {
    None,
    Memory,
    Disk(CommitPolicy),
}

impl Store {
    fn name(self) -> String {
        match self {
            Self::None => "no store (in memory)".into(),
            Self::Memory => "MemoryStore".into(),
            Self::Disk(CommitPolicy::SyncEachCommit) => "DiskStore, sync each commit".into(),
            Self::Disk(CommitPolicy::GroupCommit(d)) => {
                format!("DiskStore, group commit {} ms", d.as_millis())
            }
        }
    }
}

/// A store that counts the commits of the store it wraps.
#[derive(Debug)]
struct Counting<S> {
    inner: S,
    commits: Arc<AtomicU64>,
}

impl<S: SessionStore> SessionStore for Counting<S> {
    fn load(&mut self, identity: &StoreIdentity) -> Result<StoredState, StoreError> {
        self.inner.load(identity)
    }

    fn commit(&mut self, batch: StoreBatch<'_>) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.inner.commit(batch)
    }

    fn commit_interval(&self) -> Duration {
        self.inner.commit_interval()
    }
}

/// One round: `count` publishes at `qos`; messages per second, and
/// commits per message.
async fn round(url: &str, store: Store, qos: QoS, count: usize, round: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = format!("durable-bench-{}-{round}", std::process::id());
    let mut builder = Client::builder(url)
        .protocol(ProtocolVersion::V5)
        .client_id(&id)
        .session_expiry(Duration::from_secs(60))
        .offline_queue(4096, mqtide::QueueFull::Wait);
    let commits = Arc::new(AtomicU64::new(0));
    builder = match store {
        Store::None => builder,
        Store::Memory => builder.session_store(Counting {
            inner: MemoryStore::new(),
            commits: commits.clone(),
        }),
        Store::Disk(policy) => builder.session_store(Counting {
            inner: DiskStore::builder(dir.path().join("bench.redb"))
                .commit_policy(policy)
                .open()
                .expect("open the store"),
            commits: commits.clone(),
        }),
    };
    let client = builder.connect().await.expect("connect");
    let started = Instant::now();
    let mut sends = futures_util::stream::iter(0..count)
        .map(|_| {
            client
                .publish("bench/durable", &PAYLOAD[..])
                .qos(qos)
                .send()
        })
        .buffered(PIPELINE);
    let mut acks = Vec::with_capacity(count);
    while let Some(ack) = sends.next().await {
        acks.push(ack.expect("send"));
    }
    for ack in acks {
        ack.await.expect("acknowledged");
    }
    let elapsed = started.elapsed();
    let commits = commits.load(Ordering::Relaxed);
    client.disconnect().await.expect("disconnect");
    (
        count as f64 / elapsed.as_secs_f64(),
        commits as f64 / count as f64,
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("usage: durable [messages-per-round] [rounds]")
        })
        .collect();
    let count = args.first().copied().unwrap_or(5_000);
    let rounds = args.get(1).copied().unwrap_or(5);
    let broker = Mosquitto::start().expect("start mosquitto");
    let url = broker.url();
    let stores = [
        Store::None,
        Store::Memory,
        Store::Disk(CommitPolicy::SyncEachCommit),
        Store::Disk(CommitPolicy::GroupCommit(Duration::from_millis(2))),
        Store::Disk(CommitPolicy::GroupCommit(Duration::from_millis(10))),
    ];
    println!(
        "durable-session throughput: {count} messages of 64 B per round, {rounds} rounds (+1 warm-up), MQTT 5.0, Mosquitto on loopback\n"
    );
    println!(
        "| QoS | store | msg/s (median) | min | max | ratio to no store | commits per message |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut results: Vec<Vec<f64>> = vec![Vec::new(); stores.len()];
        let mut commits: Vec<Vec<f64>> = vec![Vec::new(); stores.len()];
        for r in 0..=rounds {
            // Alternate the order round by round.
            let order: Vec<usize> = if r % 2 == 0 {
                (0..stores.len()).collect()
            } else {
                (0..stores.len()).rev().collect()
            };
            for i in order {
                let (rate, per_message) = round(&url, stores[i], qos, count, r).await;
                if r > 0 {
                    results[i].push(rate);
                    commits[i].push(per_message);
                }
            }
        }
        let baseline = median(&mut results[0].clone());
        for ((store, rates), commits) in stores.iter().zip(&mut results).zip(&mut commits) {
            let med = median(rates);
            let commits = match store {
                Store::None => "-".to_string(),
                _ => format!("{:.3}", median(commits)),
            };
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {commits} |",
                qos as u8,
                store.name(),
                med,
                rates[0],
                rates[rates.len() - 1],
                med / baseline
            );
        }
    }
}
