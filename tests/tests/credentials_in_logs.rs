//! Credentials never appear in logs or `Debug` output.
//!
//! The tests capture every `tracing` event at TRACE level (mqtide's and its
//! dependencies') into a buffer while clients connect to a Mosquitto that
//! requires a password — given with `credentials(..)`, in the URL
//! (percent-encoded), and wrong — and check that no password appears in
//! the log, nor in the `Debug` output of the builder, the client, the
//! session configuration, a session holding its CONNECT, or the errors.
//! The URL's password is looked for both as written and decoded.

#[path = "support/log_capture.rs"]
mod log_capture;
mod support;

use std::time::{Duration, Instant};

use log_capture::{log, logged};
use mqtide::proto::{ConnectProperties, Secret, Session, SessionConfig};
use mqtide::{Client, Error, ProtocolVersion, QoS};
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, guard, next};

/// The password given with `credentials(..)`.
const PASSWORD: &str = "Tr0ub4dor-credentials";
/// The password given in the URL: as Mosquitto knows it, and as written
/// in the URL (':' and '@' percent-encoded).
const URL_PASSWORD: &str = "c0rrect:h0rse@url";
const URL_PASSWORD_ENCODED: &str = "c0rrect%3Ah0rse%40url";
/// A wrong password.
const WRONG_PASSWORD: &str = "wr0ng-passw0rd-guess";

/// Fails if `text` (named `what`) contains any of `secrets`.
#[track_caller]
fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} contains the secret {secret:?}:\n{text}"
        );
    }
}

const ALL: [&str; 4] = [PASSWORD, URL_PASSWORD, URL_PASSWORD_ENCODED, WRONG_PASSWORD];

fn broker() -> Mosquitto {
    Mosquitto::builder()
        .user("alice", PASSWORD)
        .user("bob", URL_PASSWORD)
        .start()
        .unwrap()
}

/// Connects with `builder`, sends a QoS 1 message to itself, checks the
/// `Debug` output of builder and client, and disconnects.
async fn round_trip(builder: mqtide::ClientBuilder, name: &str) {
    assert_hidden(
        &format!("{name}: Debug of the builder"),
        &format!("{builder:?}"),
        &ALL,
    );
    let c = guard("connect", builder.connect()).await.unwrap();
    assert_hidden(
        &format!("{name}: Debug of the client"),
        &format!("{c:?}"),
        &ALL,
    );
    let mut sub = guard("subscribe", c.subscribe("creds/#", QoS::AtLeastOnce))
        .await
        .unwrap();
    guard(
        "publish",
        c.publish("creds/x", "hello").qos(QoS::AtLeastOnce),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut sub).await.payload().as_ref(), b"hello");
    guard("disconnect", c.disconnect()).await.unwrap();
}

#[tokio::test]
async fn passwords_stay_out_of_logs_and_debug_output() {
    log();
    let broker = broker();
    for version in VERSIONS {
        let with_credentials =
            client(&broker.url(), version, "creds-alice").credentials("alice", PASSWORD);
        round_trip(with_credentials, "credentials(..)").await;

        let url = format!(
            "mqtt://bob:{URL_PASSWORD_ENCODED}@127.0.0.1:{}",
            broker.port()
        );
        round_trip(client(&url, version, "creds-bob"), "password in the URL").await;

        // A refused password: the error and what it logs.
        let wrong = client(&broker.url(), version, "creds-wrong")
            .credentials("alice", WRONG_PASSWORD)
            .no_reconnect();
        let error = guard("connect", wrong.connect())
            .await
            .expect_err("a wrong password is refused");
        assert!(
            matches!(error, Error::Connect(mqtide::ConnectError::Refused { .. })),
            "{error:?}"
        );
        assert_hidden("Debug of the refusal", &format!("{error:?}"), &ALL);
        assert_hidden("Display of the refusal", &error.to_string(), &ALL);
    }
    let log = logged();
    // The capture works: the clients' own events are in it.
    assert!(
        log.contains("connected") && log.contains("client closed"),
        "nothing was captured:\n{log}"
    );
    assert_hidden("the TRACE log", &log, &ALL);
}

/// The session configuration and a session that has queued its CONNECT
/// (password and 5.0 authentication data inside) show neither.
#[test]
fn session_config_and_session_hide_secrets() {
    const AUTH_DATA: &str = "auth-data-t0ken";
    let mut config = SessionConfig::new(ProtocolVersion::V5, "creds-session");
    config.username = Some("alice".into());
    config.password = Some(Secret::new(PASSWORD));
    config.properties = ConnectProperties {
        authentication_method: Some("TOKEN".into()),
        authentication_data: Some(Secret::new(AUTH_DATA)),
        ..ConnectProperties::default()
    };
    assert_hidden(
        "Debug of SessionConfig",
        &format!("{config:?}"),
        &[PASSWORD, AUTH_DATA],
    );
    let mut session = Session::new(config);
    session.handle_connected(Instant::now());
    assert_hidden(
        "Debug of Session",
        &format!("{session:?}"),
        &[PASSWORD, AUTH_DATA],
    );

    let builder = Client::builder("mqtt://127.0.0.1:1883").session_config(|c| {
        c.password = Some(Secret::new(PASSWORD));
    });
    assert_hidden("Debug of the builder", &format!("{builder:?}"), &[PASSWORD]);
}

/// URLs the client refuses still hold the password: the error, its
/// `Debug` and the builder carrying it must not show it.
#[test]
fn invalid_urls_do_not_echo_the_password() {
    for url in [
        // Parsed, then refused: an mqtt:// URL has no path.
        format!("mqtt://bob:{URL_PASSWORD_ENCODED}@localhost:1883/path"),
        // Refused by the URL parser itself: the port is out of range.
        format!("mqtt://bob:{URL_PASSWORD_ENCODED}@localhost:99999"),
        // An unknown scheme.
        format!("mqttx://bob:{URL_PASSWORD_ENCODED}@localhost"),
    ] {
        let builder = Client::builder(&url);
        assert_hidden(
            &format!("Debug of the builder for {url}"),
            &format!("{builder:?}"),
            &ALL,
        );
        let error = builder.build().expect_err("an invalid URL");
        assert!(matches!(error, Error::InvalidUrl { .. }), "{error:?}");
        assert_hidden(
            &format!("Debug of the error for {url}"),
            &format!("{error:?}"),
            &ALL,
        );
        assert_hidden(
            &format!("Display of the error for {url}"),
            &error.to_string(),
            &ALL,
        );
    }
}

/// Credentials for a proxy, a TLS client key and an authorization header
/// for a WebSocket gateway are credentials too.
#[test]
fn proxy_tls_and_websocket_secrets_stay_out_of_debug_output() {
    const PROXY_PASSWORD: &str = "pr0xy-passw0rd";
    const KEY_BODY: &str = "MC4CAQAwBQYDK2VwBCIEIKEYMATERIALNOTREAL";
    const TOKEN: &str = "Bearer gat3way-t0ken";
    let proxy = mqtide::Proxy::socks5("127.0.0.1", 1080).credentials("carol", PROXY_PASSWORD);
    assert_hidden(
        "Debug of the proxy",
        &format!("{proxy:?}"),
        &[PROXY_PASSWORD],
    );
    let builder = Client::builder("mqtt://127.0.0.1:1883").proxy(proxy);
    assert_hidden(
        "Debug of the builder with a proxy",
        &format!("{builder:?}"),
        &[PROXY_PASSWORD],
    );

    let key = format!("-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----\n");
    let tls = mqtide::TlsOptions::new().client_cert(b"-----BEGIN CERTIFICATE-----\n".to_vec(), key);
    assert_hidden("Debug of TlsOptions", &format!("{tls:?}"), &[KEY_BODY]);
    let builder = Client::builder("mqtts://127.0.0.1:8883").tls(tls);
    assert_hidden(
        "Debug of the builder with TLS",
        &format!("{builder:?}"),
        &[KEY_BODY],
    );

    let builder = Client::builder("ws://127.0.0.1:8080/mqtt").ws_header("Authorization", TOKEN);
    assert_hidden(
        "Debug of the builder with a WebSocket header",
        &format!("{builder:?}"),
        &[TOKEN],
    );
}

/// A proxy that refuses the connection: the error and the log do not show
/// the proxy's password.
#[tokio::test]
async fn failed_proxy_connection_hides_the_proxy_password() {
    const PROXY_PASSWORD: &str = "pr0xy-passw0rd-2";
    log();
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let proxy = mqtide::Proxy::socks5("127.0.0.1", port).credentials("carol", PROXY_PASSWORD);
    let error = guard(
        "connect",
        Client::builder("mqtt://127.0.0.1:1883")
            .proxy(proxy)
            .connect_timeout(Duration::from_secs(5))
            .no_reconnect()
            .connect(),
    )
    .await
    .expect_err("nothing listens there");
    assert_hidden(
        "Debug of the error",
        &format!("{error:?}"),
        &[PROXY_PASSWORD],
    );
    assert_hidden(
        "Display of the error",
        &error.to_string(),
        &[PROXY_PASSWORD],
    );
    assert_hidden("the TRACE log", &logged(), &[PROXY_PASSWORD]);
}
