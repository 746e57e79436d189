//! The live progress line: counters and rates once a second, on standard
//! error when it is a terminal (hidden otherwise, so logs and pipes get
//! only the summary).

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use super::stats::Counters;

/// Which counters a run has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shown {
    pub(crate) sent: bool,
    pub(crate) acked: bool,
    pub(crate) received: bool,
}

impl Shown {
    pub(crate) const CONNECTIONS: Self = Self {
        sent: false,
        acked: false,
        received: false,
    };
}

/// A running progress line; [`finish`](Self::finish) clears it.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
    ticker: JoinHandle<()>,
}

impl Progress {
    /// Starts the line for a run of `clients` clients.
    pub(crate) fn start(counters: Arc<Counters>, clients: u32, shown: Shown) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        } else {
            ProgressBar::hidden()
        };
        let line = bar.clone();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut last = (0, 0);
            loop {
                tick.tick().await;
                let sent = Counters::get(&counters.sent);
                let received = Counters::get(&counters.received);
                line.set_message(describe(&counters, clients, shown, (sent, received), last));
                last = (sent, received);
            }
        });
        Self { bar, ticker }
    }

    /// Stops and clears the line.
    pub(crate) fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// One line: connections, then the counters the run has, with the rate
/// over the last second.
fn describe(
    counters: &Counters,
    clients: u32,
    shown: Shown,
    (sent, received): (u64, u64),
    (last_sent, last_received): (u64, u64),
) -> String {
    let mut line = format!("connected {}/{clients}", Counters::get(&counters.connected));
    let failed = Counters::get(&counters.connect_failed);
    if failed > 0 {
        let _ = write!(line, " ({failed} failed)");
    }
    if shown.sent {
        let _ = write!(
            line,
            " | sent {sent} ({}/s)",
            sent.saturating_sub(last_sent)
        );
    }
    if shown.acked {
        let _ = write!(line, " | acked {}", Counters::get(&counters.acked));
    }
    let publish_failed = Counters::get(&counters.publish_failed);
    if publish_failed > 0 {
        let _ = write!(line, " | {publish_failed} failed");
    }
    if shown.received {
        let _ = write!(
            line,
            " | received {received} ({}/s)",
            received.saturating_sub(last_received)
        );
    }
    line
}
