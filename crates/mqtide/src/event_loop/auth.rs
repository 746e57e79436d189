//! Enhanced authentication in the loop: an exchange started for every
//! CONNECT, the broker's AUTH challenges answered, the broker's final data
//! checked before the connection counts as up, and re-authentication on a
//! live connection.

use mqtide_proto::{Auth, AuthProperties, ReasonCode};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::EventLoop;
use crate::auth::{AuthError, Authenticator};
use crate::command::Reply;
use crate::error::Error;
use crate::take_once::TakeOnce;

/// Enhanced authentication's state in the loop.
#[derive(Debug)]
pub(super) struct Authentication {
    authenticator: Option<Box<dyn Authenticator>>,
    /// The builder's slot the authenticator came from.
    slot: Option<TakeOnce<Box<dyn Authenticator>>>,
    /// A re-authentication waiting for its answer.
    reauth: Option<Reply<()>>,
    /// Why our side failed the exchange on this connection.
    failed: Option<AuthError>,
}

impl Authentication {
    pub(super) fn new(
        authenticator: Option<Box<dyn Authenticator>>,
        slot: Option<TakeOnce<Box<dyn Authenticator>>>,
    ) -> Self {
        Self {
            authenticator,
            slot,
            reauth: None,
            failed: None,
        }
    }

    /// Puts the authenticator back into the builder's slot: the client
    /// never served (its first connection failed), and another may use it.
    pub(super) fn give_back(&mut self) {
        if let (Some(slot), Some(authenticator)) = (&self.slot, self.authenticator.take()) {
            slot.put_back(authenticator);
        }
    }
}

impl EventLoop {
    /// Before CONNECT: starts an exchange and puts its method and first
    /// data into the CONNECT (the last connection's failure is forgotten).
    /// An authenticator that cannot start fails the attempt.
    pub(super) fn start_authentication(&mut self) -> Result<(), AuthError> {
        self.auth.failed = None;
        let Some(auth) = self.auth.authenticator.as_mut() else {
            return Ok(());
        };
        let data = auth.start()?;
        let method = auth.method().into();
        self.session.set_authentication(method, data);
        Ok(())
    }

    /// The broker sent AUTH: a challenge to answer, or the success of a
    /// re-authentication to check.
    pub(super) fn on_auth(&mut self, packet: Auth, now: Instant) {
        let Some(auth) = self.auth.authenticator.as_mut() else {
            warn!("the broker sent AUTH, but no authenticator is configured");
            return;
        };
        let data = packet.properties.authentication_data.as_ref();
        let result = match packet.reason_code {
            ReasonCode::ContinueAuthentication => auth
                .step(data.map(|d| d.expose()))
                .map(|answer| Some((auth.method().to_owned(), answer))),
            ReasonCode::Success => auth.finish(data.map(|d| d.expose())).map(|()| None),
            other => {
                debug!(?other, "AUTH with an unexpected reason code");
                return;
            }
        };
        match result {
            Ok(Some((method, answer))) => {
                let auth = Auth {
                    reason_code: ReasonCode::ContinueAuthentication,
                    properties: AuthProperties {
                        authentication_method: Some(method.into()),
                        authentication_data: answer.map(mqtide_proto::Secret::new),
                        ..Default::default()
                    },
                };
                if let Err(e) = self.session.auth(auth, now.into_std()) {
                    self.fail_authentication(AuthError::other(e), now);
                }
            }
            Ok(None) => {
                debug!("re-authenticated");
                if let Some(reply) = self.auth.reauth.take() {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => self.fail_authentication(e, now),
        }
    }

    /// CONNACK accepted the connection: the authenticator checks the
    /// broker's final data. False if it refused (the connection is being
    /// closed and must not count as up).
    pub(super) fn check_connack_authentication(
        &mut self,
        connected: &mqtide_proto::Connected,
        now: Instant,
    ) -> bool {
        let Some(auth) = self.auth.authenticator.as_mut() else {
            return true;
        };
        let data = connected.properties.authentication_data.as_ref();
        match auth.finish(data.map(|d| d.expose())) {
            Ok(()) => true,
            Err(e) => {
                self.fail_authentication(e, now);
                false
            }
        }
    }

    /// Starts a re-authentication for `reply`.
    pub(super) fn reauthenticate(&mut self, reply: Reply<()>, now: Instant) {
        if self.auth.reauth.is_some() {
            let _ = reply.send(Err(Error::Usage(mqtide_proto::UsageError::NotAllowed(
                "a re-authentication is already in progress",
            ))));
            return;
        }
        let Some(auth) = self.auth.authenticator.as_mut() else {
            let _ = reply.send(Err(Error::Usage(
                mqtide_proto::UsageError::NoAuthentication,
            )));
            return;
        };
        let started = auth.start().map(|data| (auth.method().to_owned(), data));
        let (method, data) = match started {
            Ok(started) => started,
            Err(e) => {
                let _ = reply.send(Err(Error::Auth(e)));
                return;
            }
        };
        let packet = Auth {
            reason_code: ReasonCode::ReAuthenticate,
            properties: AuthProperties {
                authentication_method: Some(method.into()),
                authentication_data: data.map(mqtide_proto::Secret::new),
                ..Default::default()
            },
        };
        match self.session.auth(packet, now.into_std()) {
            Ok(()) => self.auth.reauth = Some(reply),
            Err(e) => drop(reply.send(Err(e.into()))),
        }
    }

    /// Our side of the exchange failed: close the connection with "not
    /// authorized" and remember why, for the connection's end.
    fn fail_authentication(&mut self, error: AuthError, now: Instant) {
        warn!(%error, "enhanced authentication failed; closing the connection");
        if let Some(reply) = self.auth.reauth.take() {
            let _ = reply.send(Err(Error::Auth(error.clone())));
        }
        self.auth.failed = Some(error);
        let now = now.into_std();
        if self
            .session
            .disconnect(ReasonCode::NotAuthorized, Default::default(), now)
            .is_err()
        {
            self.session.handle_connection_lost(now);
        }
    }

    /// The connection ended (`reason`, as the session reports it): a
    /// re-authentication in progress fails with why, our authenticator's
    /// verdict or the broker's refusal (a DISCONNECT, "not authorized").
    /// Returns why our side failed the exchange, if it did: then that is
    /// why the connection ended.
    pub(super) fn end_authentication(
        &mut self,
        reason: &mqtide_proto::ConnectionError,
    ) -> Option<AuthError> {
        if let Some(reply) = self.auth.reauth.take() {
            let error = match &self.auth.failed {
                Some(failed) => Error::Auth(failed.clone()),
                None => Error::Interrupted {
                    error: mqtide_proto::RequestError::ConnectionLost,
                    // The transport's own error, when that is what ended it.
                    cause: match (reason, self.losses.cause()) {
                        (mqtide_proto::ConnectionError::ConnectionLost, Some(cause)) => {
                            cause.clone()
                        }
                        _ => reason.clone().into(),
                    },
                },
            };
            let _ = reply.send(Err(error));
        }
        self.auth.failed.take()
    }
}
