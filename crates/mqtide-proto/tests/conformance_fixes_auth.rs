//! Conformance: enhanced authentication (5.0 §4.12). Every AUTH and the
//! successful CONNACK carry the Authentication Method of the CONNECT, both
//! ways; the client answers a challenge with Continue authentication only,
//! and starts re-authentication with Re-authenticate only once connected.
//! What the application gets wrong is a `UsageError` with nothing sent;
//! what the server gets wrong ends the connection as a protocol error.

mod harness;

use harness::Harness;
use mqtide_proto::{
    Auth, AuthProperties, ConnAck, ConnectionError, Disconnect, Event, Packet, PacketType,
    ProtocolError, ProtocolVersion, ReasonCode, Secret, SessionConfig, UsageError,
};

const V5: ProtocolVersion = ProtocolVersion::V5;
const METHOD: &str = "SCRAM-SHA-256";

fn config() -> SessionConfig {
    let mut config = Harness::config(V5);
    config.properties.authentication_method = Some(METHOD.into());
    config.properties.authentication_data = Some(Secret::new("client-first"));
    config
}

fn auth(reason_code: ReasonCode, method: Option<&str>) -> Auth {
    let mut auth = Auth {
        reason_code,
        properties: AuthProperties::default(),
    };
    auth.properties.authentication_method = method.map(Into::into);
    // Data needs a method (the codec refuses it alone).
    if method.is_some() {
        auth.properties.authentication_data = Some(Secret::new("data"));
    }
    auth
}

fn connack(method: Option<&str>) -> ConnAck {
    let mut connack = ConnAck::new(false);
    connack.properties.authentication_method = method.map(Into::into);
    connack
}

/// A session with CONNECT sent and no CONNACK yet.
fn connecting() -> Harness {
    let mut h = Harness::new(config());
    h.session.handle_connected(h.now);
    h.drain();
    assert!(matches!(h.expect_sent(), Packet::Connect(_)));
    h
}

/// Expects the connection to have ended on `error`, with DISCONNECT 0x82.
fn expect_protocol_error(h: &mut Harness, error: ProtocolError) {
    assert_eq!(h.expect_disconnected(), ConnectionError::Protocol(error));
    assert_eq!(
        h.expect_sent(),
        Packet::Disconnect(Disconnect::new(ReasonCode::ProtocolError))
    );
    h.expect_nothing_sent();
}

/// [MQTT-4.12.0-3]: the answer to the server's AUTH carries Continue
/// authentication (0x18): Success or Re-authenticate is refused unsent,
/// and so is an AUTH the server did not ask for (before CONNACK, the
/// client speaks only when challenged).
#[test]
fn a_challenge_is_answered_with_continue_authentication_v5() {
    let mut h = connecting();
    let unasked = h.session.auth(
        auth(ReasonCode::ContinueAuthentication, Some(METHOD)),
        h.now,
    );
    assert_eq!(
        unasked,
        Err(UsageError::UnexpectedAuth(
            ReasonCode::ContinueAuthentication
        ))
    );
    h.deliver(auth(ReasonCode::ContinueAuthentication, Some(METHOD)));
    assert!(matches!(h.expect_event(), Event::Auth(_)));
    for wrong in [ReasonCode::Success, ReasonCode::ReAuthenticate] {
        assert_eq!(
            h.session.auth(auth(wrong, Some(METHOD)), h.now),
            Err(UsageError::UnexpectedAuth(wrong))
        );
    }
    h.drain();
    h.expect_nothing_sent();
    let answer = auth(ReasonCode::ContinueAuthentication, Some(METHOD));
    h.session.auth(answer.clone(), h.now).unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::Auth(answer.clone()));
    // One answer per challenge.
    assert_eq!(
        h.session.auth(answer, h.now),
        Err(UsageError::UnexpectedAuth(
            ReasonCode::ContinueAuthentication
        ))
    );
    h.deliver(connack(Some(METHOD)));
    assert!(matches!(h.expect_event(), Event::Connected(_)));
}

/// [MQTT-4.12.0-5]: every AUTH the client sends carries the CONNECT's
/// Authentication Method; another one, or none, is refused unsent.
#[test]
fn every_auth_carries_the_connect_method_v5() {
    let mut h = connecting();
    h.deliver(auth(ReasonCode::ContinueAuthentication, Some(METHOD)));
    h.take_events();
    for method in [Some("PLAIN"), None, Some("scram-sha-256")] {
        assert_eq!(
            h.session
                .auth(auth(ReasonCode::ContinueAuthentication, method), h.now),
            Err(UsageError::AuthenticationMethodMismatch),
            "{method:?}"
        );
    }
    h.drain();
    h.expect_nothing_sent();
}

/// [MQTT-4.12.0-5]: the server's AUTH and its successful CONNACK carry the
/// CONNECT's method; another one, or none, is a protocol error. A
/// Re-authenticate from the server, or a Success AUTH before CONNACK, is
/// one too.
#[test]
fn the_server_must_keep_the_method_v5() {
    for method in [Some("PLAIN"), None] {
        let mut h = connecting();
        h.deliver(connack(method));
        expect_protocol_error(
            &mut h,
            ProtocolError::AuthenticationMethodMismatch(PacketType::ConnAck),
        );

        let mut h = connecting();
        h.deliver(auth(ReasonCode::ContinueAuthentication, method));
        expect_protocol_error(
            &mut h,
            ProtocolError::AuthenticationMethodMismatch(PacketType::Auth),
        );
    }
    for code in [ReasonCode::ReAuthenticate, ReasonCode::Success] {
        let mut h = connecting();
        h.deliver(auth(code, Some(METHOD)));
        expect_protocol_error(&mut h, ProtocolError::UnexpectedAuthReason(code));
    }
    // Without enhanced authentication, a CONNACK naming a method is wrong
    // too (the server's side of it is [MQTT-4.12.0-6]).
    let mut h = Harness::new(Harness::config(V5));
    h.session.handle_connected(h.now);
    h.drain();
    h.expect_sent();
    h.deliver(connack(Some(METHOD)));
    expect_protocol_error(
        &mut h,
        ProtocolError::AuthenticationMethodMismatch(PacketType::ConnAck),
    );
}

/// [MQTT-4.12.1-1]: re-authentication starts after CONNACK with
/// Re-authenticate and the method first used; the server's challenge is
/// answered as during connection, and its Success ends the exchange.
#[test]
fn reauthentication_uses_the_first_method_v5() {
    let mut h = Harness::connected_with(config(), connack(Some(METHOD)));
    assert_eq!(
        h.session
            .auth(auth(ReasonCode::ReAuthenticate, Some("PLAIN")), h.now),
        Err(UsageError::AuthenticationMethodMismatch)
    );
    assert_eq!(
        h.session.auth(
            auth(ReasonCode::ContinueAuthentication, Some(METHOD)),
            h.now
        ),
        Err(UsageError::UnexpectedAuth(
            ReasonCode::ContinueAuthentication
        ))
    );
    h.drain();
    h.expect_nothing_sent();

    let start = auth(ReasonCode::ReAuthenticate, Some(METHOD));
    h.session.auth(start.clone(), h.now).unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::Auth(start));
    h.deliver(auth(ReasonCode::ContinueAuthentication, Some(METHOD)));
    assert!(matches!(h.expect_event(), Event::Auth(_)));
    assert_eq!(
        h.session
            .auth(auth(ReasonCode::ReAuthenticate, Some(METHOD)), h.now),
        Err(UsageError::UnexpectedAuth(ReasonCode::ReAuthenticate))
    );
    let answer = auth(ReasonCode::ContinueAuthentication, Some(METHOD));
    h.session.auth(answer.clone(), h.now).unwrap();
    h.drain();
    assert_eq!(h.expect_sent(), Packet::Auth(answer));
    let done = auth(ReasonCode::Success, Some(METHOD));
    h.deliver(done.clone());
    assert_eq!(h.expect_event(), Event::Auth(done));
    assert!(h.session.is_connected());
}
