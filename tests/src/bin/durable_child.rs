//! A client process with a disk session store, for the crash tests in
//! `tests/durable_session.rs` to kill with SIGKILL and start again.
//!
//! ```text
//! durable_child publish   <url> <store> <client-id> <4|5> <count>
//! durable_child subscribe <url> <store> <client-id> <4|5> <record-file>
//! ```
//!
//! `publish` publishes messages 0..count (even: QoS 1, odd: QoS 2) on
//! `crash/<qos>/<n % 3>`, resuming after the last one its store accepted,
//! waits for every acknowledgement and exits 0. `subscribe` subscribes to
//! `crash/#` (unless its store kept the subscription) with manual
//! acknowledgements and, for each message, appends `R <n> <dup> <packet-id>`
//! to the record file, acknowledges it and, once the acknowledgement is
//! committed, appends `A <n>`, each line with a single write. It runs
//! until killed. (The packet identifier lets the test match a duplicate
//! with the broker's log.)

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::store::DiskStore;
use mqtide::{Backoff, Client, ClientBuilder, ProtocolVersion, QoS};

/// How many publishes may wait for their commit at once.
const PIPELINE: usize = 64;

fn builder(url: &str, store: &str, id: &str, version: &str) -> Result<ClientBuilder, String> {
    let version = match version {
        "4" => ProtocolVersion::V3_1_1,
        "5" => ProtocolVersion::V5,
        other => return Err(format!("unknown protocol level {other}")),
    };
    let store = DiskStore::open(store).map_err(|e| e.to_string())?;
    let mut builder = Client::builder(url)
        .protocol(version)
        .client_id(id)
        .reconnect(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
        .session_store(store);
    if version == ProtocolVersion::V5 {
        builder = builder.session_expiry(Duration::from_secs(3600));
    }
    Ok(builder)
}

async fn publish(builder: ClientBuilder, count: u64) -> Result<(), mqtide::Error> {
    let client = builder.connect().await?;
    let start = client.restored().map_or(0, |r| r.last_accepted);
    let mut acks = futures_util::stream::iter(start..count)
        .map(|n| {
            let qos = if n.is_multiple_of(2) {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            client
                .publish(format!("crash/{}/{}", qos as u8, n % 3), n.to_string())
                .qos(qos)
                .send()
        })
        .buffered(PIPELINE);
    let mut pending = Vec::new();
    while let Some(ack) = acks.next().await {
        pending.push(ack?);
    }
    for ack in pending {
        ack.await?;
    }
    client.disconnect().await
}

/// Opens the record file for appending. A run killed in the middle of a
/// line left it without its end: that line is marked ` cut` and ended, so
/// that it is never glued to this run's first line (the test drops it).
fn open_record(path: &str) -> std::io::Result<File> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    if file.metadata()?.len() > 0 {
        let mut last = [0];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b" cut\n")?;
        }
    }
    Ok(file)
}

/// Appends one record line with one `write` (`writeln!` on a `File` makes
/// a call per formatted piece, and a SIGKILL between two of them leaves
/// half a line). Unbuffered: a SIGKILL loses nothing the kernel has.
fn append(file: &mut File, line: String) -> Result<(), String> {
    file.write_all(line.as_bytes()).map_err(|e| e.to_string())
}

async fn subscribe(builder: ClientBuilder, record: &str) -> Result<(), String> {
    let mut file = open_record(record).map_err(|e| format!("{record}: {e}"))?;
    let (client, connection) = builder
        .manual_acks(true)
        .build()
        .map_err(|e| e.to_string())?;
    let mut messages = client.messages().await.map_err(|e| e.to_string())?;
    tokio::spawn(connection.run());
    if client.restored().is_some_and(|r| r.subscriptions == 0) {
        // Messages reach `messages`; the subscription's own stream is not needed.
        drop(
            client
                .subscribe("crash/#", QoS::ExactlyOnce)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    println!("subscribed");
    while let Some(message) = messages.next().await {
        let n = String::from_utf8_lossy(message.payload()).into_owned();
        let dup = u8::from(message.dup());
        // Every message is QoS 1 or 2, so it has one.
        let packet_id = message
            .clone()
            .into_publish()
            .packet_id
            .map_or(0, |id| id.get());
        append(&mut file, format!("R {n} {dup} {packet_id}\n"))?;
        client.ack(&message).await.map_err(|e| e.to_string())?;
        append(&mut file, format!("A {n}\n"))?;
    }
    Err("the message stream ended".into())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [mode, url, store, id, version, last] => match builder(url, store, id, version) {
            Ok(builder) if mode == "publish" => match last.parse() {
                Ok(count) => publish(builder, count).await.map_err(|e| e.to_string()),
                Err(e) => Err(format!("count {last:?}: {e}")),
            },
            Ok(builder) if mode == "subscribe" => subscribe(builder, last).await,
            Ok(_) => Err(format!("unknown mode {mode:?}")),
            Err(e) => Err(e),
        },
        _ => Err("usage: durable_child publish|subscribe <url> <store> <client-id> <4|5> <count|record-file>".into()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("durable_child: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
