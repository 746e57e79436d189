//! Mosquitto's client-library TLS scenarios (test/lib/08-ssl-*) that
//! `client_tls.rs` does not already cover, against a real Mosquitto TLS
//! listener with certificates generated at test time. The others are named
//! in `client_tls.rs`: 08-ssl-connect-no-auth
//! (`each_qos_over_tls`) and 08-ssl-connect-cert-auth
//! (`mutual_tls_needs_the_client_certificate`).
//!
//! 08-ssl-connect-cert-auth-enc (a client key in an encrypted PEM, opened
//! with a password) has no counterpart: `TlsOptions::client_cert` takes
//! PKCS#1, PKCS#8 or SEC1 keys in the clear only.

mod support;

use std::io::ErrorKind;

use mqtide::{Client, ConnectError, Error, TlsFailure, TlsOptions};
use mqtide_testkit::{Mosquitto, ServerCert, TlsListener, generate_tls};
use support::guard;

/// 08-ssl-bad-cacert: a CA file that does not exist is a configuration
/// error, reported when the client is built and before any connection is
/// attempted: the listener behind the URL never sees one.
#[tokio::test]
async fn bad_cacert_is_refused_before_connecting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("mqtts://{}", listener.local_addr().unwrap());
    let options = TlsOptions::new().ca_file("this/file/doesnt/exist");
    let result = guard("connect", Client::builder(&url).tls(options).connect()).await;
    match result {
        Err(Error::InvalidOption(reason)) => {
            assert!(reason.contains("this/file/doesnt/exist"), "{reason}");
        }
        Err(other) => panic!("expected an option error, got {other}"),
        Ok(_) => panic!("a missing CA file must not connect"),
    }
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == ErrorKind::WouldBlock),
        "the client opened a connection: {accepted:?}"
    );
}

/// 08-ssl-fake-cacert: the client trusts a CA with the same name as the
/// broker's ("mqtide test CA") but another key, and presents a client
/// certificate that CA signed; the broker requires client certificates.
/// The broker's certificate does not verify (its signature is not the
/// trusted CA's), so the client ends the handshake and the first
/// connection fails with `TlsFailure::BadSignature`, not retryable, and a
/// message that says so.
#[tokio::test]
async fn fake_cacert_is_refused() {
    let broker = Mosquitto::builder()
        .tls(TlsListener {
            require_client_cert: true,
            ..TlsListener::default()
        })
        .start()
        .unwrap();
    let fake = generate_tls(ServerCert::Valid).unwrap();
    assert_ne!(fake.ca_pem, broker.tls_material().unwrap().ca_pem);
    let options = TlsOptions::new()
        .ca_pem(fake.ca_pem)
        .client_cert(fake.client_cert_pem, fake.client_key_pem);
    let result = guard(
        "connect",
        Client::builder(&broker.tls_url().unwrap())
            .no_reconnect()
            .tls(options)
            .connect(),
    )
    .await;
    let error = match result {
        Err(Error::Connect(
            e @ ConnectError::Tls {
                failure: TlsFailure::BadSignature,
                ..
            },
        )) => {
            assert!(!e.is_retryable(), "{e}");
            e.to_string()
        }
        Err(other) => panic!("expected a BadSignature TLS failure, got {other:?}"),
        Ok(_) => panic!("a fake CA must not verify the broker"),
    };
    assert!(
        error.contains("names a trusted CA as its issuer but that CA's key did not sign it"),
        "{error}"
    );
}
