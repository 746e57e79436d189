//! Enhanced authentication (5.0 §4.12): the method and data the next
//! CONNECT carries, the AUTH exchange with the server (its challenges
//! answered, re-authentication started), and the rules every AUTH obeys.

use bytes::Bytes;
use bytestring::ByteString;

use super::connection::fit_to_limit;
use super::{AfterWrite, Event, ProtocolError, Session, State, UsageError};
use crate::{Auth, Packet, ReasonCode, Secret, Timestamp};

impl<T: Timestamp> Session<T> {
    /// Sets the 5.0 Authentication Method and Data the next CONNECT
    /// carries: an authenticator starts a fresh exchange for every
    /// connection.
    pub fn set_authentication(&mut self, method: ByteString, data: Option<Bytes>) {
        self.config.properties.authentication_method = Some(method);
        self.config.properties.authentication_data = data.map(Secret::new);
    }

    /// Sends AUTH: the answer to an [`Event::Auth`] challenge
    /// (`ContinueAuthentication`), or a re-authentication (`ReAuthenticate`)
    /// once connected. Needs 5.0 and an authentication method, which every
    /// AUTH carries unchanged ([MQTT-4.12.0-5], [MQTT-4.12.1-1]; otherwise
    /// [`UsageError::AuthenticationMethodMismatch`]). A challenge is answered
    /// with `ContinueAuthentication` only ([MQTT-4.12.0-3]); without one,
    /// only `ReAuthenticate` after CONNACK; anything else is
    /// [`UsageError::UnexpectedAuth`].
    ///
    /// Like [`disconnect`](Self::disconnect), leaves out the Reason String
    /// and then User Properties when the packet would exceed the server's
    /// Maximum Packet Size ([MQTT-3.15.2-2], [MQTT-3.15.2-3]), and sends
    /// nothing if it still does not fit.
    pub fn auth(&mut self, mut auth: Auth, now: T) -> Result<(), UsageError> {
        if !self.config.protocol.is_v5() || self.config.properties.authentication_method.is_none() {
            return Err(UsageError::NoAuthentication);
        }
        if !matches!(self.state, State::Connecting | State::Connected) {
            return Err(UsageError::NotConnected);
        }
        auth.encoded_len(self.config.protocol)?;
        // [MQTT-4.12.0-5], [MQTT-4.12.1-1]: the CONNECT's method, always.
        if auth.properties.authentication_method != self.config.properties.authentication_method {
            return Err(UsageError::AuthenticationMethodMismatch);
        }
        // A challenge is answered with Continue authentication
        // [MQTT-4.12.0-3]; unasked, only a connected client speaks, to
        // re-authenticate [MQTT-4.12.1-1].
        let expected = if self.auth_challenge {
            Some(ReasonCode::ContinueAuthentication)
        } else if self.state == State::Connected {
            Some(ReasonCode::ReAuthenticate)
        } else {
            None
        };
        if expected != Some(auth.reason_code) {
            return Err(UsageError::UnexpectedAuth(auth.reason_code));
        }
        let fitted = fit_to_limit(
            &self.limits,
            &mut auth,
            |p| p.encoded_len(self.config.protocol),
            |p| {
                (
                    &mut p.properties.reason_string,
                    &mut p.properties.user_properties,
                )
            },
        );
        fitted?;
        self.auth_challenge = false;
        self.send(Packet::from(auth), AfterWrite::Nothing, now);
        Ok(())
    }

    pub(super) fn handle_auth(&mut self, auth: Auth) {
        if !self.config.protocol.is_v5() || self.config.properties.authentication_method.is_none() {
            let error = ProtocolError::UnexpectedPacket {
                packet: crate::PacketType::Auth,
                when: "without enhanced authentication",
            };
            return self.protocol_error(error);
        }
        if auth.properties.authentication_method != self.config.properties.authentication_method {
            return self.protocol_error(ProtocolError::AuthenticationMethodMismatch(
                crate::PacketType::Auth,
            ));
        }
        // The server challenges with Continue authentication
        // [MQTT-4.12.0-2] and ends a re-authentication with Success;
        // Re-authenticate is the client's alone, and the initial exchange
        // ends with CONNACK, not AUTH.
        match auth.reason_code {
            ReasonCode::ContinueAuthentication => self.auth_challenge = true,
            ReasonCode::Success if self.state == State::Connected => self.auth_challenge = false,
            code => return self.protocol_error(ProtocolError::UnexpectedAuthReason(code)),
        }
        self.events.push_back(Event::Auth(auth));
    }
}
