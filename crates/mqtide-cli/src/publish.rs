//! `mqtide pub`: one message from -m, -f, -s or -n (`--repeat` times), or
//! one per line of standard input with -l.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use mqtide::{Client, Error, PendingAck, QoS, ReasonCode};
use tokio::io::AsyncBufReadExt;

use crate::args::PubArgs;
use crate::properties::{Properties, Role};

/// Publishes of `-l` in flight at once: enough to keep the broker's window
/// (20 by default) full, few enough to stop reading standard input when
/// the broker is slow.
const LINE_WINDOW: usize = 64;

pub(crate) async fn run(args: PubArgs) -> Result<ExitCode, Error> {
    let properties = Properties::parse(&args.conn.property_groups, Role::Pub)?;
    let qos = args.conn.qos()?;
    let target = args.conn.target();
    let topic = match (args.topic.clone(), target.topic) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "the topic is given twice: by -t and by the path of the -L URL",
            ));
        }
        (Some(topic), None) | (None, Some(topic)) => topic,
        (None, None) => return Err(invalid("give the topic to publish to with -t")),
    };
    // Read the message before connecting: a missing file fails at once.
    let payload = if args.lines {
        None
    } else {
        Some(args.payload()?)
    };
    let repeat_delay = match args.repeat_delay {
        Some(seconds) => Some(Duration::try_from_secs_f64(seconds).map_err(|_| {
            invalid(format!(
                "--repeat-delay {seconds}: give the seconds to wait, 0 or more"
            ))
        })?),
        None => None,
    };
    let mut builder = args.conn.builder("mqtide-pub", &properties)?;
    if let Some(window) = args.max_inflight {
        builder = builder.inflight(window);
    }
    let client = builder.no_reconnect().connect().await?;
    if args.conn.debug {
        eprintln!("mqtide: connected to {}", crate::redact(&target.url));
    }
    let publisher = Publisher {
        client: &client,
        topic,
        qos,
        retain: args.retain,
        properties: &properties,
        window: args.max_inflight.map_or(LINE_WINDOW, usize::from),
    };
    let sent = match payload {
        Some(payload) => {
            let times = args.repeat.unwrap_or(1);
            for sent in 1..=times {
                let outcome = publisher.message(payload.clone()).await?;
                if args.conn.debug {
                    eprintln!(
                        "mqtide: published to {} at QoS {}: {}",
                        publisher.topic, qos as u8, outcome
                    );
                }
                // mosquitto's --repeat-delay: from the delivery of one to
                // the start of the next.
                if let Some(delay) = repeat_delay.filter(|_| sent < times) {
                    tokio::time::sleep(delay).await;
                }
            }
            times as usize
        }
        None => publisher.lines().await?,
    };
    if args.conn.debug {
        eprintln!("mqtide: {sent} message(s) sent; disconnecting");
    }
    crate::disconnect(&client, &properties).await?;
    Ok(ExitCode::SUCCESS)
}

struct Publisher<'a> {
    client: &'a Client,
    topic: String,
    qos: QoS,
    retain: bool,
    properties: &'a Properties,
    /// `-l`: publishes not yet acknowledged before the next line waits
    /// (`-M`, else [`LINE_WINDOW`]).
    window: usize,
}

impl Publisher<'_> {
    fn build(&self, payload: Bytes) -> mqtide::PublishBuilder {
        self.client
            .publish(self.topic.clone(), payload)
            .qos(self.qos)
            .retain(self.retain)
            .properties(self.properties.publish.clone())
    }

    /// Publishes one message and waits for its acknowledgement.
    async fn message(&self, payload: Bytes) -> Result<ReasonCode, Error> {
        Ok(self.build(payload).await?.reason_code)
    }

    /// One message per line of standard input, until its end or an
    /// interrupt; acknowledgements are awaited a window behind.
    async fn lines(&self) -> Result<usize, Error> {
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
        let mut pending: VecDeque<PendingAck> = VecDeque::new();
        let mut sent = 0;
        let interrupted = crate::interrupted();
        tokio::pin!(interrupted);
        loop {
            let mut line = Vec::new();
            let read = tokio::select! {
                read = stdin.read_until(b'\n', &mut line) => read,
                () = &mut interrupted => break,
            };
            match read {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(invalid(format!("reading standard input: {e}"))),
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            pending.push_back(self.build(Bytes::from(line)).send().await?);
            sent += 1;
            if pending.len() >= self.window
                && let Some(oldest) = pending.pop_front()
            {
                oldest.await?;
            }
        }
        for ack in pending {
            ack.await?;
        }
        Ok(sent)
    }
}

impl PubArgs {
    /// The payload from `-m`, `-f`, `-s` or `-n`.
    fn payload(&self) -> Result<Bytes, Error> {
        if let Some(message) = &self.message {
            Ok(Bytes::from(message.clone()))
        } else if let Some(file) = &self.file {
            std::fs::read(file)
                .map(Bytes::from)
                .map_err(|e| invalid(format!("-f {}: {e}", file.display())))
        } else if self.stdin {
            let mut all = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut all)
                .map_err(|e| invalid(format!("reading standard input: {e}")))?;
            Ok(Bytes::from(all))
        } else if self.null {
            Ok(Bytes::new())
        } else {
            Err(invalid(
                "give the message: -m TEXT, -f FILE, -s (standard input), -l (a message per line) or -n (empty)",
            ))
        }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidOption(message.into())
}
