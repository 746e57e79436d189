//! What the broker says about loss.
//!
//! A broker may drop messages on purpose: Mosquitto keeps at most
//! `max_queued_messages` (1000 by default) QoS 1/2 messages, and
//! `max_queued_bytes`, queued for a subscriber beyond its in-flight
//! window, and discards the rest; a subscriber that cannot keep up with
//! the publishers then misses messages that every publisher saw
//! acknowledged. That is the broker working as configured, not a fault of
//! the client, and a bench run should say which it was.
//!
//! Mosquitto counts what it discards in `$SYS/broker/publish/messages/dropped`
//! (a retained message, updated every `sys_interval` seconds, 10 by
//! default). A watcher client subscribes to it (and to
//! `$SYS/broker/uptime`, which changes on every update) before the run;
//! when messages were lost, it waits for the broker's next update and
//! compares. The counter is broker-wide: other clients' drops count too.
//!
//! To know when the retained messages of its subscription have all
//! arrived without sleeping, the watcher publishes a marker to a topic of
//! its own and waits for it to come back: the broker queued the retained
//! messages before it (same connection, in order).

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use mqtide::{Client, ClientBuilder, QoS};
use tokio::sync::watch;

/// The counter of messages Mosquitto discarded.
const DROPPED: &str = "$SYS/broker/publish/messages/dropped";
/// A `$SYS` topic that changes on every update.
const UPTIME: &str = "$SYS/broker/uptime";
/// How long to wait for the marker: a hang guard on a loopback round trip.
const MARKER_GUARD: Duration = Duration::from_secs(10);
/// How long to wait for the broker's next `$SYS` update after a run that
/// lost messages: Mosquitto's default `sys_interval` is 10 s.
pub(crate) const UPDATE_WAIT: Duration = Duration::from_secs(15);

/// What the watcher has seen so far.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    dropped: Option<u64>,
    updates: u64,
    markers: u64,
}

/// A client watching the broker's `$SYS` drop counter.
pub(crate) struct Watcher {
    client: Client,
    marker: String,
    seen: watch::Receiver<Seen>,
    /// The counter when the run started.
    before: u64,
}

/// What the broker's counters say about a run's loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The broker discarded this many messages during the run
    /// (broker-wide).
    Dropped(u64),
    /// The broker publishes no drop counter (not Mosquitto, `$SYS` off
    /// with `sys_interval 0`, or denied to this user).
    NoCounter,
    /// The counter did not update within [`UPDATE_WAIT`].
    NoUpdate,
}

impl Watcher {
    /// Connects the watcher and reads the counter; `None` when the broker
    /// offers no counter (or the watcher cannot connect or subscribe).
    pub(crate) async fn start(base: &ClientBuilder, id: String, run: u32) -> Option<Self> {
        let client = base.clone().client_id(id).connect().await.ok()?;
        let marker = format!("mqtide/bench/sys-marker/{run:08x}");
        let watched = Self::watch(&client, &marker).await;
        match watched {
            Some((seen, before)) => Some(Self {
                client,
                marker,
                seen,
                before,
            }),
            None => {
                let _ = client.disconnect().await;
                None
            }
        }
    }

    async fn watch(client: &Client, marker: &str) -> Option<(watch::Receiver<Seen>, u64)> {
        let mut messages = client.messages().await.ok()?;
        let filters = [DROPPED, UPTIME, marker].map(|filter| (filter, QoS::AtLeastOnce));
        let subscription = client.subscribe_many(filters).await.ok()?;
        if subscription.reason_codes().iter().any(|c| c.is_error()) {
            return None;
        }
        let (tx, mut seen) = watch::channel(Seen::default());
        let marker_topic = marker.to_owned();
        tokio::spawn(async move {
            while let Some(message) = messages.next().await {
                let topic = message.topic();
                tx.send_modify(|seen| {
                    if topic == DROPPED {
                        seen.dropped = std::str::from_utf8(message.payload())
                            .ok()
                            .and_then(|text| text.trim().parse().ok());
                    } else if topic == UPTIME {
                        seen.updates += 1;
                    } else if topic == marker_topic {
                        seen.markers += 1;
                    }
                });
            }
        });
        Self::mark(client, marker, &mut seen).await?;
        let before = seen.borrow().dropped?;
        Some((seen, before))
    }

    /// Publishes a marker and waits for it: everything the broker queued
    /// for the watcher before it has then been read.
    async fn mark(client: &Client, marker: &str, seen: &mut watch::Receiver<Seen>) -> Option<()> {
        let sent = seen.borrow().markers;
        client
            .publish(marker, Bytes::new())
            .qos(QoS::AtLeastOnce)
            .await
            .ok()?;
        tokio::time::timeout(MARKER_GUARD, seen.wait_for(|s| s.markers > sent))
            .await
            .ok()?
            .ok()?;
        Some(())
    }

    /// Waits for the broker's next `$SYS` update (up to [`UPDATE_WAIT`])
    /// and says how many messages it dropped since the start.
    pub(crate) async fn verdict(mut self) -> Verdict {
        let updates = self.seen.borrow().updates;
        let updated =
            tokio::time::timeout(UPDATE_WAIT, self.seen.wait_for(|s| s.updates > updates))
                .await
                .is_ok_and(|seen| seen.is_ok());
        let verdict = match updated {
            true => {
                // The counter may come after the uptime of the same update.
                match Self::mark(&self.client, &self.marker, &mut self.seen).await {
                    Some(()) => {
                        let after = self.seen.borrow().dropped.unwrap_or(self.before);
                        Verdict::Dropped(after.saturating_sub(self.before))
                    }
                    None => Verdict::NoUpdate,
                }
            }
            false => Verdict::NoUpdate,
        };
        let _ = self.client.disconnect().await;
        verdict
    }

    /// Disconnects without a verdict (nothing was lost).
    pub(crate) async fn close(self) {
        let _ = self.client.disconnect().await;
    }
}

/// What to tell the user about `lost` messages, given what the broker
/// said (`None`: it offers no counter).
pub(crate) fn explain(lost: u64, verdict: &Verdict) -> String {
    match verdict {
        Verdict::Dropped(0) => format!(
            "the broker dropped none ({DROPPED} did not change): the {lost} lost messages were not discarded by its queue limits. Messages still on their way when --wait ran out count as lost (raise --wait); an access rule that denies the subscribers silently withholds messages; at QoS 0 a client or the network may drop them"
        ),
        Verdict::Dropped(dropped) if *dropped >= lost => format!(
            "the broker dropped {dropped} messages during the run ({DROPPED}, counted broker-wide): it discards messages queued for a subscriber beyond its limits (Mosquitto: max_queued_messages, 1000 by default, and max_queued_bytes), so the subscribers could not keep up with the publishers. Raise the limits (max_queued_messages 0: no limit), pace the publishers (--rate), or use more subscribers"
        ),
        Verdict::Dropped(dropped) => format!(
            "the broker dropped {dropped} of the {lost} lost messages ({DROPPED}, counted broker-wide): those it discarded beyond its queue limits (Mosquitto: max_queued_messages, max_queued_bytes); the other {} were lost elsewhere (still on their way when --wait ran out, withheld by an access rule, or at QoS 0 dropped by a client or the network)",
            lost - dropped
        ),
        Verdict::NoUpdate => format!(
            "the broker's {DROPPED} did not update within {} s (Mosquitto updates $SYS every sys_interval seconds), so whether it dropped them is unknown",
            UPDATE_WAIT.as_secs()
        ),
        Verdict::NoCounter => format!(
            "the broker publishes no {DROPPED} (Mosquitto does, unless sys_interval is 0 or its access rules deny $SYS), so whether it dropped them cannot be told. Brokers commonly discard messages queued for a subscriber that cannot keep up (Mosquitto max_queued_messages, EMQX max_mqueue_len): see the broker's own metrics"
        ),
    }
}

/// Fills in what the broker says about the loss of `report`, if any
/// (waiting up to [`UPDATE_WAIT`] for its counters), and closes `watcher`.
pub(crate) async fn account(report: &mut super::report::ReceiveReport, watcher: Option<Watcher>) {
    if report.lost == 0 {
        if let Some(watcher) = watcher {
            watcher.close().await;
        }
        return;
    }
    let verdict = match watcher {
        Some(watcher) => {
            eprintln!(
                "mqtide: {} messages lost; waiting up to {} s for the broker's next $SYS update to see whether it dropped them",
                report.lost,
                UPDATE_WAIT.as_secs()
            );
            watcher.verdict().await
        }
        None => Verdict::NoCounter,
    };
    if let Verdict::Dropped(dropped) = verdict {
        report.broker_dropped = Some(dropped);
    }
    report.loss_note = Some(explain(report.lost, &verdict));
}
