//! `mqtide sub`: subscribe (and unsubscribe), then print what arrives.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use mqtide::{
    Client, ClientBuilder, ConnectionEvent, Error, Message, MessageStream, PendingAck, QoS,
    SubscriptionOptions, TopicFilter, topic_matches_sub,
};
use tokio::time::Instant;

use crate::args::SubArgs;
use crate::clock::Utc;
use crate::format::{Format, View, message_id};
use crate::properties::{Properties, Role};

/// mosquitto_sub's exit code when `-W` runs out.
const EXIT_TIMEOUT: u8 = 27;

pub(crate) async fn run(args: SubArgs) -> Result<ExitCode, Error> {
    let properties = Properties::parse(&args.conn.property_groups, Role::Sub)?;
    let format = match &args.format {
        Some(text) => Some(
            Format::parse(text)
                .map_err(|e| invalid(format!("-F {text:?}: {e}")))?
                .pretty(args.pretty),
        ),
        None => None,
    };
    let qos = args.conn.qos()?;
    let target = args.conn.target();
    let mut topics = args.topics.clone();
    topics.extend(target.topic.clone());
    if topics.is_empty() && args.unsubscribe.is_empty() {
        return Err(invalid(
            "give a topic filter to subscribe to with -t (or -U to unsubscribe)",
        ));
    }
    let unsubscribe = filters("-U", &args.unsubscribe)?;
    if unsubscribe.is_empty() && !properties.unsubscribe.user_properties.is_empty() {
        return Err(invalid(
            "-D unsubscribe ... goes into UNSUBSCRIBE, which only -U sends: give -U",
        ));
    }
    filters("-T", &args.filter_out)?;
    let builder = args.conn.builder("mqtide-sub", &properties)?;
    let (client, mut messages) = connect(builder).await?;
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs(s));
    let debug = args.conn.debug;
    if debug {
        eprintln!("mqtide: connected to {}", crate::redact(&target.url));
    }
    tokio::spawn(report_reconnects(client.events(), debug));

    if !topics.is_empty() {
        let options = topics
            .iter()
            .map(|t| (t.as_str(), SubscriptionOptions::new(qos)));
        // The stream of `messages` carries what matches; this one is not read.
        let subscription = client
            .subscribe_with(options, properties.subscribe.clone())
            .await?;
        for (topic, code) in topics.iter().zip(subscription.reason_codes()) {
            if code.is_error() {
                crate::warn(format_args!(
                    "the broker refused the subscription to {topic}: {code}"
                ));
            } else if debug {
                eprintln!("mqtide: subscribed to {topic}: {code}");
            }
        }
    }
    if !unsubscribe.is_empty() {
        client
            .unsubscribe_with(unsubscribe, properties.unsubscribe.clone())
            .await?;
        if debug {
            eprintln!("mqtide: unsubscribed from {}", args.unsubscribe.join(", "));
        }
    }
    if topics.is_empty() || args.exit_after_subscribe {
        crate::disconnect(&client, &properties).await?;
        return Ok(ExitCode::SUCCESS);
    }

    let mut printer = Printer {
        args: &args,
        format: format.as_ref(),
        out: std::io::stdout().lock(),
        printed: 0,
        show_subscription_ids: properties.subscribe.subscription_identifier.is_some(),
    };
    let timeout = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let interrupted = crate::interrupted();
    tokio::pin!(timeout, interrupted);
    // --remove-retained: the empty retained messages sent, acknowledged
    // before the DISCONNECT (mosquitto_sub waits for them too).
    let mut removals = Vec::new();
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            () = &mut timeout => {
                crate::warn(format_args!("timed out (-W {})", args.timeout.unwrap_or_default()));
                drop(printer);
                settle(removals).await?;
                crate::disconnect(&client, &properties).await?;
                return Ok(ExitCode::from(EXIT_TIMEOUT));
            }
            () = &mut interrupted => break,
        };
        let Some(message) = message else {
            return Err(invalid("the connection ended and will not be resumed"));
        };
        // mosquitto_sub's order: -T, --remove-retained, --retained-only,
        // -R, then print.
        if args
            .filter_out
            .iter()
            .any(|f| topic_matches_sub(f, message.topic()))
        {
            continue;
        }
        if args.remove_retained && message.retain() {
            let clear = client
                .publish(message.topic(), Bytes::new())
                .qos(QoS::AtLeastOnce)
                .retain(true)
                .send()
                .await?;
            removals.push(clear);
        }
        if args.retained_only && !message.retain() {
            break;
        }
        match printer.print(&message) {
            Printed::Yes if args.count.is_some_and(|c| printer.printed >= c) => break,
            Printed::Yes | Printed::Skipped => {}
            // A closed pipe (`| head`) ends the subscription quietly.
            Printed::Closed => break,
        }
    }
    drop(printer);
    settle(removals).await?;
    crate::disconnect(&client, &properties).await?;
    Ok(ExitCode::SUCCESS)
}

/// Waits for the broker to acknowledge the messages `--remove-retained`
/// sent.
async fn settle(removals: Vec<PendingAck>) -> Result<(), Error> {
    for removal in removals {
        removal.await?;
    }
    Ok(())
}

enum Printed {
    Yes,
    Skipped,
    Closed,
}

struct Printer<'a> {
    args: &'a SubArgs,
    format: Option<&'a Format>,
    out: std::io::StdoutLock<'static>,
    printed: usize,
    show_subscription_ids: bool,
}

impl Printer<'_> {
    fn print(&mut self, message: &Message) -> Printed {
        let args = self.args;
        if args.no_retained && message.retain() {
            return Printed::Skipped;
        }
        let mut line = Vec::new();
        if let Some(format) = self.format {
            let id = if format.needs_message_id() {
                message_id(message)
            } else {
                0
            };
            let now = Utc::of(SystemTime::now());
            let ids = self.show_subscription_ids;
            if let Err(e) = format.render(View::of(message, id, ids), now, &mut line) {
                // As mosquitto does: say so, and count the message.
                crate::warn(&e);
                self.printed += 1;
                return Printed::Yes;
            }
        } else {
            if args.verbose {
                line.extend_from_slice(message.topic().as_bytes());
                line.push(b' ');
            }
            line.extend_from_slice(message.payload());
        }
        if !args.no_newline {
            line.push(b'\n');
        }
        if self
            .out
            .write_all(&line)
            .and_then(|()| self.out.flush())
            .is_err()
        {
            return Printed::Closed;
        }
        self.printed += 1;
        Printed::Yes
    }
}

/// Connects with a stream of every message registered first, so that what
/// a kept session (-c) delivers right after CONNACK is printed too.
async fn connect(builder: ClientBuilder) -> Result<(Client, MessageStream), Error> {
    let (client, connection) = builder.build()?;
    let messages = client.messages().await?;
    tokio::spawn(connection.run());
    // The first connection's typed error if it fails, as `connect` gives.
    client.wait_connected().await?;
    Ok((client, messages))
}

/// Says on standard error when the connection drops and comes back (the
/// client reconnects, as mosquitto_sub does).
async fn report_reconnects(
    mut events: tokio::sync::broadcast::Receiver<ConnectionEvent>,
    debug: bool,
) {
    use tokio::sync::broadcast::error::RecvError;
    // The first connection's event may still be on its way: only a
    // connection after a loss is a reconnection.
    let mut lost = false;
    loop {
        match events.recv().await {
            Ok(ConnectionEvent::Disconnected { reason }) => {
                lost = true;
                crate::warn(format_args!("connection lost: {reason}"));
            }
            // An attempt to reconnect that failed (the first connection's
            // failure is the command's error).
            Ok(ConnectionEvent::ConnectFailed { server, reason }) if lost => {
                crate::warn(format_args!("reconnecting to {server} failed: {reason}"));
            }
            Ok(ConnectionEvent::Reconnecting { attempt, delay }) if debug => {
                eprintln!("mqtide: reconnecting (attempt {attempt}) in {delay:?}");
            }
            Ok(ConnectionEvent::Connected { session_present }) if lost => {
                crate::warn(format_args!(
                    "reconnected (session present: {session_present})"
                ));
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => break,
        }
    }
}

/// Checks the filters of `-U` or `-T`.
fn filters(flag: &str, filters: &[String]) -> Result<Vec<TopicFilter>, Error> {
    filters
        .iter()
        .map(|f| TopicFilter::new(f.as_str()).map_err(|e| invalid(format!("{flag} {f}: {e}"))))
        .collect()
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidOption(message.into())
}
