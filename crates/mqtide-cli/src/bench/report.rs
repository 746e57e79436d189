//! The summary at the end of a run, as text for people or (`--json`) one
//! JSON object for machines. Times in the JSON are in microseconds
//! (`*_us`) or seconds; a section or figure that does not apply to the run
//! is `null`.

use std::process::ExitCode;

use serde::Serialize;

use super::stats::Percentiles;

/// Everything a run measured.
#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    /// `pub`, `sub` or `conn`.
    pub(crate) mode: &'static str,
    pub(crate) url: String,
    /// `3.1`, `3.1.1` or `5.0`.
    pub(crate) protocol: &'static str,
    pub(crate) qos: Option<u8>,
    pub(crate) payload_bytes: Option<usize>,
    /// The whole run, connecting and draining included.
    pub(crate) seconds: f64,
    pub(crate) connections: Connections,
    pub(crate) publish: Option<PublishReport>,
    pub(crate) receive: Option<ReceiveReport>,
}

/// How connecting went.
#[derive(Debug, Serialize)]
pub(crate) struct Connections {
    pub(crate) attempted: u64,
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    /// Connections that were up and then lost before the end of the run.
    pub(crate) dropped: u64,
    /// Connections made again after a loss, over every client
    /// (`Client::stats`).
    pub(crate) reconnects: u64,
    /// PUBLISH and PUBREL packets resent after a loss, over every client.
    pub(crate) resends: u64,
    /// The time spent connecting.
    pub(crate) seconds: f64,
    /// Successful connections per second of that time.
    pub(crate) per_second: Option<f64>,
    /// Time from starting a connection to its CONNACK.
    pub(crate) connect_us: Option<Percentiles>,
    pub(crate) first_error: Option<String>,
    /// Why some connections took a second or more, when they did.
    pub(crate) slow_connect_note: Option<String>,
}

/// What the publishers did.
#[derive(Debug, Serialize)]
pub(crate) struct PublishReport {
    pub(crate) clients: u64,
    /// Messages handed to the clients.
    pub(crate) sent: u64,
    /// Messages the broker acknowledged (PUBACK / PUBCOMP); `null` at QoS 0.
    pub(crate) acked: Option<u64>,
    /// Publishes that failed (the connection closed, the broker refused).
    pub(crate) failed: u64,
    /// From the start of publishing to the last message written (QoS 0) or
    /// acknowledged (QoS 1/2).
    pub(crate) seconds: f64,
    pub(crate) per_second: Option<f64>,
    /// Time from handing a message to the client to its acknowledgement;
    /// `null` at QoS 0.
    pub(crate) ack_latency_us: Option<Percentiles>,
    pub(crate) first_error: Option<String>,
}

/// What the subscribers received.
#[derive(Debug, Serialize)]
pub(crate) struct ReceiveReport {
    pub(crate) clients: u64,
    /// Every message received, repeats included.
    pub(crate) received: u64,
    /// `bench pub --sub`: messages sent times subscribers. `null` for
    /// `bench sub`, which cannot know it.
    pub(crate) expected: Option<u64>,
    /// `bench pub --sub`: expected minus distinct messages received.
    /// `bench sub`: sequence numbers skipped (messages after a publisher's
    /// last received one cannot be seen).
    pub(crate) lost: u64,
    pub(crate) loss_percent: Option<f64>,
    /// Messages whose sequence number was not above the last one from
    /// their publisher: duplicates or reordered.
    pub(crate) out_of_order: u64,
    /// Messages without the bench header (not from `bench pub`): counted,
    /// but no latency.
    pub(crate) foreign: u64,
    /// `bench pub --sub`: from the start of publishing to the last message;
    /// `bench sub`: from the first message to the last.
    pub(crate) seconds: f64,
    pub(crate) per_second: Option<f64>,
    /// From the send time in the payload to receipt.
    pub(crate) latency_us: Option<Percentiles>,
    /// When messages were lost: how many the broker says it dropped during
    /// the run (Mosquitto's `$SYS/broker/publish/messages/dropped`, counted
    /// broker-wide); `null` when it does not say.
    pub(crate) broker_dropped: Option<u64>,
    /// When messages were lost: why, as far as the broker's counters tell.
    pub(crate) loss_note: Option<String>,
}

/// The exit code of a run that lost messages (and had no failures, which
/// exit 1).
pub(crate) const EXIT_LOST: u8 = 3;

/// `count / seconds`, when there was time to divide by.
pub(crate) fn rate(count: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0).then(|| count as f64 / seconds)
}

impl Summary {
    /// Prints the summary to standard output.
    pub(crate) fn print(&self, json: bool) {
        if json {
            match serde_json::to_string(self) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("mqtide: cannot write the summary as JSON: {e}"),
            }
        } else {
            print!("{}", self.text());
        }
    }

    /// 0 when every connection and publish succeeded and no message was
    /// lost; 1 when a connection or publish failed; [`EXIT_LOST`] when
    /// only messages were lost.
    pub(crate) fn exit_code(&self) -> ExitCode {
        let c = &self.connections;
        let publish_failed = self.publish.as_ref().is_some_and(|p| p.failed > 0);
        if c.failed > 0 || c.dropped > 0 || publish_failed {
            ExitCode::FAILURE
        } else if self.receive.as_ref().is_some_and(|r| r.lost > 0) {
            ExitCode::from(EXIT_LOST)
        } else {
            ExitCode::SUCCESS
        }
    }

    /// The summary for people.
    pub(crate) fn text(&self) -> String {
        let mut out = format!(
            "mqtide bench {}: {} (MQTT {})",
            self.mode, self.url, self.protocol
        );
        if let Some(qos) = self.qos {
            out += &format!(", QoS {qos}");
        }
        if let Some(bytes) = self.payload_bytes {
            out += &format!(", {bytes} B payloads");
        }
        out += &format!(", {:.3} s\n", self.seconds);

        let c = &self.connections;
        out += &format!(
            "  connections  {} ok, {} failed, {} dropped, {} reconnects, {} resends",
            c.ok, c.failed, c.dropped, c.reconnects, c.resends
        );
        if let Some(per_second) = c.per_second {
            out += &format!(" ({per_second:.0}/s)");
        }
        if let Some(t) = &c.connect_us {
            out += &format!(
                "; connect p50 {}, p99 {}, max {}",
                ms(t.p50),
                ms(t.p99),
                ms(t.max)
            );
        }
        out.push('\n');
        if let Some(error) = &c.first_error {
            out += &format!("  first connection error: {error}\n");
        }
        if let Some(note) = &c.slow_connect_note {
            out += &format!("  slow connects: {note}\n");
        }

        if let Some(p) = &self.publish {
            out += &format!(
                "  sent         {} by {} clients in {:.3} s{}",
                p.sent,
                p.clients,
                p.seconds,
                per_second(p.per_second)
            );
            if let Some(acked) = p.acked {
                out += &format!(", {acked} acknowledged");
            }
            out += &format!(", {} failed\n", p.failed);
            if let Some(l) = &p.ack_latency_us {
                out += &format!("  ack latency  {}\n", percentiles(l));
            }
            if let Some(error) = &p.first_error {
                out += &format!("  first publish error: {error}\n");
            }
        }

        if let Some(r) = &self.receive {
            out += &format!(
                "  received     {} by {} clients in {:.3} s{}",
                r.received,
                r.clients,
                r.seconds,
                per_second(r.per_second)
            );
            if let Some(expected) = r.expected {
                out += &format!(", expected {expected}");
            }
            out += &format!(", lost {}", r.lost);
            if let Some(percent) = r.loss_percent {
                out += &format!(" ({percent:.2} %)");
            }
            out += &format!(", out of order {}", r.out_of_order);
            if r.foreign > 0 {
                out += &format!(", {} without bench header", r.foreign);
            }
            out.push('\n');
            if let Some(l) = &r.latency_us {
                out += &format!("  latency      {} (send to receipt)\n", percentiles(l));
            }
            if let Some(note) = &r.loss_note {
                out += &format!("  loss: {note}\n");
            }
        }
        out
    }
}

fn per_second(rate: Option<f64>) -> String {
    rate.map(|r| format!(" = {r:.0} msg/s")).unwrap_or_default()
}

fn percentiles(p: &Percentiles) -> String {
    format!(
        "p50 {}, p90 {}, p99 {}, max {} ({} samples)",
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.max),
        p.samples
    )
}

/// Microseconds as milliseconds.
fn ms(micros: u64) -> String {
    format!("{:.3} ms", micros as f64 / 1000.0)
}
