//! The `mqtide` binary: `mqtide pub` and `mqtide sub`, with flags that
//! follow mosquitto_pub and mosquitto_sub so scripts and habits carry over,
//! and `mqtide bench`, a load generator (see the `bench` module).

mod args;
mod bench;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use mqtide::{Error, QoS, SubscribeProperties, SubscriptionOptions, topic_matches_sub};
use tokio::io::AsyncBufReadExt;

use args::{Cli, Command, PubArgs, SubArgs};

/// mosquitto_sub's exit code when `-W` runs out.
const EXIT_TIMEOUT: u8 = 27;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mqtide: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Pub(args) => publish(args).await,
            Command::Sub(args) => subscribe(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mqtide: {e}");
            if let Error::Connect(_) = e {
                eprintln!(
                    "mqtide: check the host, port and credentials (-h, -p, -u, -P or -L), and that the broker runs"
                );
            }
            ExitCode::FAILURE
        }
    }
}

async fn publish(args: PubArgs) -> Result<ExitCode, Error> {
    let qos = args.conn.qos()?;
    let client = args.conn.builder("mqtide-pub")?.connect().await?;
    if args.lines {
        // One message per line of standard input.
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            client
                .publish(args.topic.clone(), line)
                .qos(qos)
                .retain(args.retain)
                .await?;
        }
    } else {
        let payload = args
            .payload()
            .map_err(|e| Error::InvalidOption(e.to_string()))?;
        let outcome = client
            .publish(args.topic.clone(), payload)
            .qos(qos)
            .retain(args.retain)
            .await?;
        if args.conn.debug {
            eprintln!(
                "published to {} at {qos:?}: {}",
                args.topic, outcome.reason_code
            );
        }
    }
    client.disconnect().await?;
    Ok(ExitCode::SUCCESS)
}

async fn subscribe(args: SubArgs) -> Result<ExitCode, Error> {
    let qos = args.conn.qos()?;
    let mut builder = args.conn.builder("mqtide-sub")?.clean_start(!args.no_clean);
    if let Some(expiry) = args.session_expiry {
        builder = builder.session_expiry(Duration::from_secs(expiry));
    }
    let client = builder.connect().await?;
    let filters = args
        .topics
        .iter()
        .map(|t| (t.as_str(), SubscriptionOptions::new(qos)));
    let mut messages = client
        .subscribe_many(filters, SubscribeProperties::default())
        .await?;
    let deadline = args
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut received = 0usize;
    let mut stdout = std::io::stdout().lock();
    loop {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, messages.next()).await {
                Ok(next) => next,
                Err(_) => {
                    drop(stdout);
                    client.disconnect().await?;
                    return Ok(ExitCode::from(EXIT_TIMEOUT));
                }
            },
            None => messages.next().await,
        };
        let Some(message) = next else { break };
        if args.no_retained && message.retain() {
            continue;
        }
        if args
            .filter_out
            .iter()
            .any(|f| topic_matches_sub(f, message.topic()))
        {
            continue;
        }
        let mut line = Vec::new();
        if args.verbose {
            line.extend_from_slice(message.topic().as_bytes());
            line.push(b' ');
        }
        line.extend_from_slice(message.payload());
        if !args.no_newline {
            line.push(b'\n');
        }
        // A closed pipe (`| head`) ends the subscription quietly.
        if stdout
            .write_all(&line)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
        received += 1;
        if args.count.is_some_and(|c| received >= c) {
            break;
        }
    }
    drop(stdout);
    client.disconnect().await?;
    Ok(ExitCode::SUCCESS)
}

impl PubArgs {
    /// The payload from `-m`, `-f`, `-s` or `-n`.
    fn payload(&self) -> std::io::Result<Bytes> {
        if let Some(message) = &self.message {
            Ok(Bytes::from(message.clone()))
        } else if let Some(file) = &self.file {
            std::fs::read(file).map(Bytes::from)
        } else if self.stdin {
            let mut all = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut all)?;
            Ok(Bytes::from(all))
        } else {
            Ok(Bytes::new())
        }
    }
}

/// QoS from the `-q` number.
pub(crate) fn qos_from(value: u8) -> Result<QoS, Error> {
    QoS::from_u8(value)
        .ok_or_else(|| Error::InvalidOption(format!("-q {value}: QoS must be 0, 1 or 2")))
}
