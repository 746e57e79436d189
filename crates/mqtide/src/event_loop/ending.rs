//! How the loop ends: a connection's failure told as an error, and the
//! client closing for good, when every waiter learns why and `disconnect`
//! is answered.

use std::io;
use std::sync::Arc;

use mqtide_proto::ConnectionError;
use tracing::{debug, info};

use super::{End, EventLoop, Pending, commands};
use crate::error::{ConnectError, Error, TlsFailure};
use crate::state::{ConnectionState, DisconnectReason};

/// The result of a write at a connection's end, under `FLUSH_TIMEOUT`.
pub(super) fn flush(result: Result<io::Result<()>, tokio::time::error::Elapsed>) -> io::Result<()> {
    result.unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the last bytes could not be written in time",
        ))
    })
}

impl Drop for EventLoop {
    /// A loop dropped before the client closed (its `Connection` future
    /// dropped, its task aborted, its runtime shut down) leaves that as
    /// why, before its replies are dropped: a caller woken by one finds
    /// the reason set.
    fn drop(&mut self) {
        let _ = self.why_closed.set(Error::EventLoopGone);
    }
}

impl EventLoop {
    pub(super) fn connect_error(&self, reason: DisconnectReason, addr: String) -> ConnectError {
        // A TLS failure the transport explained (`transport::tls::explain`)
        // is reported as what it is, not as an I/O error.
        if let DisconnectReason::Transport(source) = &reason
            && let Some(failure) = source
                .get_ref()
                .and_then(|e| e.downcast_ref::<TlsFailure>())
        {
            return ConnectError::Tls {
                addr,
                failure: failure.clone(),
            };
        }
        match reason {
            DisconnectReason::Session(ConnectionError::Refused {
                reason_code,
                properties,
            }) => ConnectError::Refused {
                reason_code,
                reason_string: properties.reason_string.map(|s| s.to_string()),
            },
            // The transport was up: the broker never answered CONNECT.
            DisconnectReason::Session(ConnectionError::ConnectTimeout) => ConnectError::NoConnack {
                addr,
                seconds: self.connect_timeout.as_secs_f64(),
                protocol: self.session.config().protocol,
            },
            DisconnectReason::Transport(source) if source.kind() == io::ErrorKind::TimedOut => {
                ConnectError::Timeout {
                    addr,
                    seconds: self.connect_timeout.as_secs_f64(),
                }
            }
            DisconnectReason::Transport(source) => ConnectError::Io { addr, source },
            DisconnectReason::Session(reason) => ConnectError::Lost { addr, reason },
            DisconnectReason::Auth(e) => ConnectError::Auth(e),
        }
    }

    pub(super) fn transport_lost(&mut self, error: io::Error) -> End {
        // Under TLS 1.3 a refused client certificate shows on the first
        // read, not in the handshake: explain it the same way (a failed
        // first connection then ends with `ConnectError::Tls`).
        #[cfg(feature = "tls")]
        let error = crate::transport::tls::explain(error);
        debug!(%error, "transport lost");
        End::Lost(DisconnectReason::Transport(Arc::new(error)))
    }

    /// The client is closing for good: every waiter learns it, every
    /// stream ends.
    pub(super) fn shut_down(&mut self) {
        // Waiters learn why the client closed under them, all the same
        // reason, which every call after returns too (a first connection
        // that failed set it already).
        let closed = match (self.persist.failed(), &self.lost) {
            (Some(e), _) => Error::Store(e.clone()),
            (None, Some(reason)) => Error::ConnectionLost(reason.clone()),
            (None, None) => Error::Closed,
        };
        let closed = self.why_closed.get_or_init(|| closed).clone();
        for reply in self.persist.take_waiting() {
            let _ = reply.send(Err(closed.clone()));
        }
        let interrupted = self.losses.take_interrupted();
        for pending in self.pending.drain().map(|(_, p)| p).chain(interrupted) {
            match pending {
                Pending::Publish(reply, flow) => {
                    self.observer.failed(flow.qos);
                    drop(reply.send(Err(closed.clone())));
                }
                Pending::Subscribe(reply, ..) => drop(reply.send(Err(closed.clone()))),
                Pending::Unsubscribe(reply, _) => drop(reply.send(Err(closed.clone()))),
                Pending::Resubscribe => {}
            }
        }
        self.intake
            .close(|command| commands::fail_command(command, &closed));
        self.router.clear();
        self.deliveries.clear();
        // The last figures, before anyone learns the client closed.
        self.observer.store(&self.session, 0);
        self.observer.flush_metrics();
        self.state.send_replace(ConnectionState::Closed);
        // Last: once `disconnect` returns, the client is closed and every
        // stream has ended. A failed store wrote nothing more, the
        // DISCONNECT included.
        let result = match self.persist.failed() {
            Some(e) => Err(Error::Store(e.clone())),
            None => Ok(()),
        };
        self.answer_disconnect(result);
        info!("client closed");
    }

    /// The client's first connection failed and it closed without ever
    /// serving: its store and authenticator go back to the builder.
    pub(super) fn give_back(&mut self) {
        self.persist.give_back();
        self.auth.give_back();
    }

    /// Answers a `disconnect` waiting for its end, if one is.
    pub(super) fn answer_disconnect(&mut self, result: Result<(), Error>) {
        if let Some(reply) = self.closing.as_mut().and_then(|c| c.reply.take()) {
            let _ = reply.send(result);
        }
    }
}
