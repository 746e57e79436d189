//! MQTT 5.0 enhanced authentication with SCRAM-SHA-256, against a scripted
//! broker that implements the server side (support/scram_broker.rs;
//! Mosquitto has no SCRAM): connecting, a wrong password refused, a broker
//! that does not know the password refused by the client, and
//! re-authentication on a live connection, which stays usable.
//!
//! The first test drives [`ScramSha256`] through the [`Authenticator`]
//! trait by hand, packet by packet: the dialogue the client's event loop
//! runs for every connection.

mod support;

use std::error::Error as _;

use bytes::BytesMut;
use mqtide::auth::{AuthError, Authenticator, ScramSha256};
use mqtide::proto::{Auth, AuthProperties, Connect, Packet, ReasonCode, Secret};
use mqtide::{ConnectError, Error, ProtocolVersion, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use scram::{Event, Forge, METHOD, ScramBroker};
use support::{client, guard, next};

#[path = "support/scram_broker.rs"]
mod scram;

const V5: ProtocolVersion = ProtocolVersion::V5;

/// The `AuthError` somewhere in `error`'s chain of sources.
fn auth_error(error: &Error) -> Option<&AuthError> {
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(auth) = e.downcast_ref::<AuthError>() {
            return Some(auth);
        }
        source = e.source();
    }
    None
}

/// One side of a raw MQTT 5.0 connection, for the test by hand.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    async fn connect(url: &str) -> Self {
        let addr = url.strip_prefix("mqtt://").expect("an mqtt:// URL");
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self {
            stream,
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, packet: impl Into<Packet>) {
        let mut out = BytesMut::new();
        packet.into().encode(V5, &mut out).expect("encode");
        self.stream.write_all(&out).await.expect("write");
    }

    async fn receive(&mut self) -> Packet {
        loop {
            if let Some(packet) = Packet::decode(&mut self.buf, V5, 64 * 1024).expect("decode") {
                return packet;
            }
            let n = self.stream.read_buf(&mut self.buf).await.expect("read");
            assert_ne!(n, 0, "the broker closed the connection");
        }
    }

    /// The data of an AUTH with `reason`.
    async fn auth(&mut self, reason: ReasonCode) -> Secret {
        match guard("AUTH", self.receive()).await {
            Packet::Auth(auth) if auth.reason_code == reason => {
                assert_eq!(
                    auth.properties.authentication_method.as_deref(),
                    Some(METHOD)
                );
                auth.properties.authentication_data.expect("data")
            }
            other => panic!("expected AUTH {reason}, got {other:?}"),
        }
    }
}

fn auth(reason_code: ReasonCode, data: Option<bytes::Bytes>) -> Auth {
    Auth {
        reason_code,
        properties: AuthProperties {
            authentication_method: Some(METHOD.into()),
            authentication_data: data.map(Secret::new),
            ..AuthProperties::default()
        },
    }
}

#[tokio::test]
async fn the_exchange_by_hand() {
    let broker = ScramBroker::start("user", "pencil", Forge::Never).await;
    let mut scram = ScramSha256::new("user", "pencil");
    let mut raw = Raw::connect(broker.url()).await;

    // CONNECT carries the method and start()'s data.
    let mut connect = Connect::new(V5, "by-hand");
    connect.properties.authentication_method = Some(scram.method().to_owned().into());
    connect.properties.authentication_data = scram.start().unwrap().map(Secret::new);
    raw.send(Packet::Connect(Box::new(connect))).await;
    // Each AUTH Continue is answered with step()'s data.
    let server_first = raw.auth(ReasonCode::ContinueAuthentication).await;
    let client_final = scram.step(Some(server_first.expose())).unwrap();
    raw.send(auth(ReasonCode::ContinueAuthentication, client_final))
        .await;
    // CONNACK Success goes to finish().
    match guard("CONNACK", raw.receive()).await {
        Packet::ConnAck(connack) => {
            assert_eq!(connack.reason_code, ReasonCode::Success);
            let data = connack
                .properties
                .authentication_data
                .expect("server-final");
            scram.finish(Some(data.expose())).unwrap();
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }

    // Re-authentication: AUTH Re-authenticate with start()'s data, then
    // the same steps, ending with AUTH Success.
    raw.send(auth(ReasonCode::ReAuthenticate, scram.start().unwrap()))
        .await;
    let server_first = raw.auth(ReasonCode::ContinueAuthentication).await;
    let client_final = scram.step(Some(server_first.expose())).unwrap();
    raw.send(auth(ReasonCode::ContinueAuthentication, client_final))
        .await;
    let server_final = raw.auth(ReasonCode::Success).await;
    scram.finish(Some(server_final.expose())).unwrap();

    raw.send(Packet::PingReq).await;
    assert_eq!(guard("PINGRESP", raw.receive()).await, Packet::PingResp);
    assert_eq!(
        broker.events(),
        [
            Event::Authenticated { reauth: false },
            Event::Authenticated { reauth: true },
            Event::Ping
        ]
    );
}

#[tokio::test]
async fn connects_with_scram_sha_256() {
    let broker = ScramBroker::start("user", "pencil", Forge::Never).await;
    let c = client(broker.url(), V5, "scram")
        .authenticator(ScramSha256::new("user", "pencil"))
        .connect();
    let c = guard("connect", c).await.unwrap();
    let mut messages = guard("messages", c.messages()).await.unwrap();
    guard("publish", c.publish("echo/1", "hello").qos(QoS::AtMostOnce))
        .await
        .unwrap();
    assert_eq!(next(&mut messages).await.payload().as_ref(), b"hello");
    guard("disconnect", c.disconnect()).await.unwrap();
    assert_eq!(
        broker.events(),
        [
            Event::Authenticated { reauth: false },
            Event::Echoed("hello".into())
        ]
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_by_the_broker() {
    let broker = ScramBroker::start("user", "pencil", Forge::Never).await;
    for (user, password) in [("user", "pencil2"), ("someone", "pencil")] {
        let c = client(broker.url(), V5, "wrong")
            .authenticator(ScramSha256::new(user, password))
            .connect();
        match guard("connect", c).await {
            Err(Error::Connect(ConnectError::Refused { reason_code, .. })) => {
                assert_eq!(reason_code, ReasonCode::NotAuthorized, "{user}/{password}");
            }
            Err(other) => panic!("expected a refusal, got {other}"),
            Ok(_) => panic!("{user}/{password} connected"),
        }
    }
    assert_eq!(
        broker.events(),
        [
            Event::Refused { reauth: false },
            Event::Refused { reauth: false }
        ]
    );
}

#[tokio::test]
async fn a_broker_that_does_not_know_the_password_is_refused_by_the_client() {
    let broker = ScramBroker::start("user", "pencil", Forge::AtConnect).await;
    let c = client(broker.url(), V5, "forged")
        .authenticator(ScramSha256::new("user", "pencil"))
        .connect();
    let Err(error) = guard("connect", c).await else {
        panic!("connected to a broker whose signature is wrong");
    };
    assert!(
        matches!(auth_error(&error), Some(AuthError::ServerSignature)),
        "{error}"
    );
    assert!(!error.is_retryable(), "{error}");
    // The broker accepted the proof; the client refused the broker.
    assert_eq!(broker.events()[0], Event::Authenticated { reauth: false });
}

#[tokio::test]
async fn re_authentication_keeps_the_connection_usable() {
    let broker = ScramBroker::start("user", "pencil", Forge::Never).await;
    let c = client(broker.url(), V5, "reauth")
        .authenticator(ScramSha256::new("user", "pencil"))
        .connect();
    let c = guard("connect", c).await.unwrap();
    let mut messages = guard("messages", c.messages()).await.unwrap();
    for round in 0..2 {
        guard("reauthenticate", c.reauthenticate()).await.unwrap();
        let payload = format!("after re-authentication {round}");
        guard(
            "publish",
            c.publish("echo/1", payload.clone()).qos(QoS::AtMostOnce),
        )
        .await
        .unwrap();
        assert_eq!(next(&mut messages).await.payload(), payload.as_bytes());
    }
    guard("disconnect", c.disconnect()).await.unwrap();
    assert_eq!(
        broker.events(),
        [
            Event::Authenticated { reauth: false },
            Event::Authenticated { reauth: true },
            Event::Echoed("after re-authentication 0".into()),
            Event::Authenticated { reauth: true },
            Event::Echoed("after re-authentication 1".into())
        ]
    );
}

#[tokio::test]
async fn a_forged_signature_fails_the_re_authentication() {
    let broker = ScramBroker::start("user", "pencil", Forge::AtReauth).await;
    let c = client(broker.url(), V5, "reauth-forged")
        .authenticator(ScramSha256::new("user", "pencil"))
        .connect();
    let c = guard("connect", c).await.unwrap();
    let error = guard("reauthenticate", c.reauthenticate())
        .await
        .expect_err("re-authenticated with a broker whose signature is wrong");
    assert!(
        matches!(auth_error(&error), Some(AuthError::ServerSignature)),
        "{error}"
    );
    assert_eq!(
        broker.events()[..2],
        [
            Event::Authenticated { reauth: false },
            Event::Authenticated { reauth: true }
        ]
    );
}
