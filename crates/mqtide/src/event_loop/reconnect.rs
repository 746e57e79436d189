//! Between connections: what to do when one ends (try the next broker,
//! fail the first `connect`, close, or reconnect after a backoff), decided
//! by a pure function of what the loop knows then, and the wait offline
//! before the next attempt.

use std::time::Duration;

use bytes::BytesMut;
use mqtide_proto::ConnectionError;
use tokio::time::Instant;
use tracing::{info, warn};

use super::EventLoop;
use super::timer::{Timer, earliest};
use crate::backoff::Backoff;
use crate::error::Error;
use crate::state::{ConnectionEvent, DisconnectReason};

/// What the loop knows when a connection, or an attempt at one, is lost.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lost<'a> {
    /// Why it ended.
    pub(super) reason: &'a DisconnectReason,
    /// Whether it reached CONNACK.
    pub(super) came_up: bool,
    /// Whether the broker redirected the client and the redirection is
    /// followed: the next attempt goes where it points.
    pub(super) redirected: bool,
    /// Whether moving on from the broker that failed started a new pass
    /// over the list (every broker has failed once). False when the list
    /// did not move: the broker was up, or a redirection is followed.
    pub(super) new_pass: bool,
    /// Whether no connection has come up yet.
    pub(super) first_connect: bool,
    /// Whether the first connection is retried with the backoff, as a
    /// lost one is ([`ClientBuilder::start`](crate::ClientBuilder::start)),
    /// instead of failing `connect` once every broker failed.
    pub(super) retry_first: bool,
    /// Whether the client is closing (a `disconnect`, or every handle
    /// dropped).
    pub(super) closing: bool,
    /// The reconnect policy; `None` when reconnecting is off.
    pub(super) reconnect: Option<Backoff>,
}

/// What the loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// The first connection failed on this broker: try another at once,
    /// `connect` still waiting.
    NextBroker,
    /// The first connection failed for good: `connect` fails with why.
    FailConnect,
    /// Close the client.
    Close(CloseWhy),
    /// Connect again: at once when `backoff` is `None` (another broker is
    /// next), after its next delay otherwise.
    Reconnect {
        /// The backoff to wait out first, if any.
        backoff: Option<Backoff>,
    },
}

/// Why a lost connection closes the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CloseWhy {
    /// The session cannot send the configuration: every attempt would
    /// fail the same way. The loss is why the client closed.
    Unsendable,
    /// Reconnecting is off. The loss is why the client closed.
    ReconnectOff,
    /// The client was closing anyway.
    Closing,
}

/// Decides what follows a lost connection.
pub(super) fn decide(lost: &Lost<'_>) -> Decision {
    // A broker that failed (or refused) gives way to the next, at once,
    // until every broker has failed; one that was up is tried again first,
    // after the backoff. A redirection is followed at once.
    let next_broker_now = lost.redirected || (!lost.came_up && !lost.new_pass);
    // A first connection retried goes on as a reconnect would, unless
    // trying again cannot help (bad credentials, a certificate that does
    // not verify): then it fails as an unretried one does.
    let retried =
        lost.retry_first && lost.reconnect.is_some() && !lost.closing && lost.reason.is_retryable();
    if lost.first_connect && !retried {
        return if next_broker_now && !lost.closing {
            Decision::NextBroker
        } else {
            Decision::FailConnect
        };
    }
    // A configuration the session cannot send fails every attempt the
    // same way: no point in reconnecting.
    if let DisconnectReason::Session(ConnectionError::InvalidConfig(_)) = lost.reason {
        return Decision::Close(CloseWhy::Unsendable);
    }
    let Some(backoff) = lost.reconnect else {
        return Decision::Close(CloseWhy::ReconnectOff);
    };
    if lost.closing {
        return Decision::Close(CloseWhy::Closing);
    }
    Decision::Reconnect {
        backoff: (!next_broker_now).then_some(backoff),
    }
}

impl EventLoop {
    /// Where the next attempt goes after a loss: where a followed
    /// redirection points; the next broker of the list after one that
    /// failed (or refused); the same broker again after one that was up.
    /// Returns whether a redirection is followed and whether the list
    /// started a new pass, for [`decide`].
    pub(super) fn next_server(&mut self, reason: &DisconnectReason, came_up: bool) -> (bool, bool) {
        let redirected = reason
            .redirection()
            .and_then(|(code, reference)| self.servers.follow(code, reference));
        if let Some((server, permanent)) = redirected {
            info!(%server, permanent, "the broker redirects us");
            self.events
                .send(ConnectionEvent::Redirected { server, permanent });
            return (true, false);
        }
        let new_pass = !came_up && self.servers.advance();
        (false, new_pass)
    }

    /// A lost connection closes the client: a `disconnect` waiting for
    /// in-flight publishes learns that its DISCONNECT never went out, and
    /// the loss is kept as why the client closed when it is.
    pub(super) fn close_after_loss(&mut self, reason: DisconnectReason, why: CloseWhy) {
        // The connection ended before a DISCONNECT was written (had it
        // been, this would be `End::Shutdown`).
        if self.closing.is_some() {
            self.answer_disconnect(Err(Error::ConnectionLost(reason.clone())));
        }
        match why {
            CloseWhy::Unsendable => {
                warn!(%reason, "the configuration cannot be sent; not reconnecting");
                self.lost = Some(reason);
            }
            CloseWhy::ReconnectOff => {
                info!(%reason, "connection lost; reconnecting is off");
                self.lost = Some(reason);
            }
            CloseWhy::Closing => {}
        }
    }

    /// Between connections: wait out the backoff while still taking
    /// commands (publishes queue offline). False if the client should close.
    pub(super) async fn wait_offline(&mut self, delay: Duration) -> bool {
        let mut timer = Timer::default();
        let mut now = Instant::now();
        let until = now + delay;
        loop {
            self.process(&mut BytesMut::new(), now);
            if self.commit_ready(now) || self.persist.commit_due().is_some_and(|due| due <= now) {
                self.commit().await;
                now = Instant::now();
                continue;
            }
            if self.closing.is_some() || self.persist.failed().is_some() {
                return false;
            }
            if until <= now {
                return true;
            }
            timer.set(earliest([Some(until), self.persist.commit_due()]));
            let intake = self.intake_room();
            let took = tokio::select! {
                () = timer.expired() => None,
                count = self.intake.recv(intake.unwrap_or(1)), if intake.is_some() => {
                    Some(count)
                }
            };
            now = Instant::now();
            if let Some(count) = took {
                self.took(count, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::Arc;

    use mqtide_proto::UsageError;

    use super::*;

    fn lost(reason: &DisconnectReason) -> Lost<'_> {
        Lost {
            reason,
            came_up: false,
            redirected: false,
            new_pass: false,
            first_connect: false,
            retry_first: false,
            closing: false,
            reconnect: Some(Backoff::default()),
        }
    }

    fn transport() -> DisconnectReason {
        DisconnectReason::Transport(Arc::new(io::ErrorKind::ConnectionRefused.into()))
    }

    #[test]
    fn a_first_connect_tries_every_broker_of_the_pass_then_fails() {
        let reason = transport();
        let first = Lost {
            first_connect: true,
            ..lost(&reason)
        };
        assert_eq!(decide(&first), Decision::NextBroker);
        // A redirection is followed even at the end of the list.
        let redirected = Lost {
            redirected: true,
            new_pass: false,
            ..first
        };
        assert_eq!(decide(&redirected), Decision::NextBroker);
        let every_broker_failed = Lost {
            new_pass: true,
            ..first
        };
        assert_eq!(decide(&every_broker_failed), Decision::FailConnect);
        // Reconnecting off or not, the first connect does not back off.
        let no_reconnect = Lost {
            new_pass: true,
            reconnect: None,
            ..first
        };
        assert_eq!(decide(&no_reconnect), Decision::FailConnect);
    }

    #[test]
    fn a_first_connect_retried_backs_off_after_every_broker_failed() {
        let reason = transport();
        let first = Lost {
            first_connect: true,
            retry_first: true,
            ..lost(&reason)
        };
        assert_eq!(decide(&first), Decision::Reconnect { backoff: None });
        let every_broker_failed = Lost {
            new_pass: true,
            ..first
        };
        assert_eq!(
            decide(&every_broker_failed),
            Decision::Reconnect {
                backoff: Some(Backoff::default())
            }
        );
        // Without a backoff to retry with, the first pass decides.
        let no_reconnect = Lost {
            reconnect: None,
            ..every_broker_failed
        };
        assert_eq!(decide(&no_reconnect), Decision::FailConnect);
        let closing = Lost {
            closing: true,
            ..every_broker_failed
        };
        assert_eq!(decide(&closing), Decision::FailConnect);
    }

    #[test]
    fn a_first_connect_retried_stops_where_retrying_cannot_help() {
        let refused = DisconnectReason::Session(ConnectionError::Refused {
            reason_code: mqtide_proto::ReasonCode::BadUserNameOrPassword,
            properties: Box::default(),
        });
        let first = Lost {
            first_connect: true,
            retry_first: true,
            new_pass: true,
            ..lost(&refused)
        };
        assert_eq!(decide(&first), Decision::FailConnect);
        // Another broker of the list is still tried first.
        let more_brokers = Lost {
            new_pass: false,
            ..first
        };
        assert_eq!(decide(&more_brokers), Decision::NextBroker);
        let unavailable = DisconnectReason::Session(ConnectionError::Refused {
            reason_code: mqtide_proto::ReasonCode::ServerUnavailable,
            properties: Box::default(),
        });
        let transient = Lost {
            reason: &unavailable,
            ..first
        };
        assert_eq!(
            decide(&transient),
            Decision::Reconnect {
                backoff: Some(Backoff::default())
            }
        );
    }

    #[test]
    fn a_first_connect_closing_fails_at_once() {
        let reason = transport();
        let closing = Lost {
            first_connect: true,
            closing: true,
            ..lost(&reason)
        };
        assert_eq!(decide(&closing), Decision::FailConnect);
        let redirected = Lost {
            redirected: true,
            ..closing
        };
        assert_eq!(decide(&redirected), Decision::FailConnect);
    }

    #[test]
    fn a_failed_broker_gives_way_to_the_next_at_once() {
        let reason = transport();
        assert_eq!(
            decide(&lost(&reason)),
            Decision::Reconnect { backoff: None }
        );
        let redirected = Lost {
            redirected: true,
            ..lost(&reason)
        };
        assert_eq!(decide(&redirected), Decision::Reconnect { backoff: None });
        let redirected_after_up = Lost {
            came_up: true,
            redirected: true,
            ..lost(&reason)
        };
        assert_eq!(
            decide(&redirected_after_up),
            Decision::Reconnect { backoff: None }
        );
    }

    #[test]
    fn the_backoff_follows_a_full_pass_or_a_connection_that_was_up() {
        let reason = transport();
        let backoff = Some(Backoff::default());
        let every_broker_failed = Lost {
            new_pass: true,
            ..lost(&reason)
        };
        assert_eq!(
            decide(&every_broker_failed),
            Decision::Reconnect { backoff }
        );
        let was_up = Lost {
            came_up: true,
            ..lost(&reason)
        };
        assert_eq!(decide(&was_up), Decision::Reconnect { backoff });
    }

    #[test]
    fn a_configuration_that_cannot_be_sent_is_not_retried() {
        let reason = DisconnectReason::Session(ConnectionError::InvalidConfig(
            UsageError::NotAllowed("test"),
        ));
        assert_eq!(
            decide(&lost(&reason)),
            Decision::Close(CloseWhy::Unsendable)
        );
        // Before closing and the policy: the loss is why the client closed.
        let closing = Lost {
            closing: true,
            reconnect: None,
            ..lost(&reason)
        };
        assert_eq!(decide(&closing), Decision::Close(CloseWhy::Unsendable));
    }

    #[test]
    fn reconnecting_off_closes_with_the_loss() {
        let reason = transport();
        let off = Lost {
            reconnect: None,
            ..lost(&reason)
        };
        assert_eq!(decide(&off), Decision::Close(CloseWhy::ReconnectOff));
        let closing = Lost {
            closing: true,
            ..off
        };
        assert_eq!(decide(&closing), Decision::Close(CloseWhy::ReconnectOff));
    }

    #[test]
    fn a_closing_client_does_not_reconnect() {
        let reason = transport();
        let closing = Lost {
            closing: true,
            came_up: true,
            ..lost(&reason)
        };
        assert_eq!(decide(&closing), Decision::Close(CloseWhy::Closing));
    }
}
