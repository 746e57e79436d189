//! TLS against a real Mosquitto TLS listener with certificates generated
//! at test time: QoS 0/1/2 over 3.1.1 and 5.0, mutual TLS, and each way
//! verification fails, as a typed `ConnectError::Tls` that is not retried,
//! with a message that says what went wrong.

mod support;

use mqtide::{
    Client, ConnectError, ConnectionEvent, ConnectionState, Error, QoS, TlsFailure, TlsOptions,
};
use mqtide_testkit::{Mosquitto, ServerCert, TlsListener};
use support::{VERSIONS, client, guard, next};

fn tls_broker(listener: TlsListener) -> Mosquitto {
    Mosquitto::builder().tls(listener).start().unwrap()
}

fn trust(broker: &Mosquitto) -> TlsOptions {
    TlsOptions::new().ca_pem(broker.tls_material().unwrap().ca_pem.clone())
}

/// The TLS failure a first connection ends with, and the error's text.
/// Such a failure is never worth retrying as it is.
async fn tls_failure(builder: mqtide::ClientBuilder) -> (TlsFailure, String) {
    let Err(error) = guard("connect", builder.connect()).await else {
        panic!("the connection should have failed");
    };
    let text = error.to_string();
    assert!(!error.is_retryable(), "{text}");
    match error {
        Error::Connect(e @ ConnectError::Tls { .. }) => {
            assert!(!e.is_retryable(), "{e}");
            let ConnectError::Tls { failure, .. } = e else {
                unreachable!()
            };
            assert!(!failure.is_retryable(), "{failure}");
            (failure, text)
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

/// QoS 0/1/2 over a verified TLS connection without a client certificate,
/// to a listener that does not ask for one (also Mosquitto's lib scenario
/// 08-ssl-connect-no-auth).
#[tokio::test]
async fn each_qos_over_tls() {
    let broker = tls_broker(TlsListener::default());
    let url = broker.tls_url().unwrap();
    for version in VERSIONS {
        support::each_qos_round_trip(
            client(&url, version, "tls").tls(trust(&broker)),
            "tls",
            3000,
        )
        .await;
    }
}

/// A listener that requires a client certificate refuses a client without
/// one and accepts one with a certificate its CA signed (the latter is
/// Mosquitto's lib scenario 08-ssl-connect-cert-auth).
#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let broker = tls_broker(TlsListener {
        require_client_cert: true,
        ..TlsListener::default()
    });
    let url = broker.tls_url().unwrap();
    let material = broker.tls_material().unwrap().clone();
    let (failure, refused) =
        tls_failure(Client::builder(&url).no_reconnect().tls(trust(&broker))).await;
    assert_eq!(
        failure,
        TlsFailure::HandshakeRejected {
            alert: "CertificateRequired".into()
        }
    );
    assert!(
        refused.contains("rejected the TLS handshake (CertificateRequired)"),
        "{refused}"
    );

    let with_cert = trust(&broker).client_cert(material.client_cert_pem, material.client_key_pem);
    let c = guard("connect", Client::builder(&url).tls(with_cert).connect())
        .await
        .unwrap();
    guard("publish", c.publish("mtls", "ok").qos(QoS::AtLeastOnce))
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_ca_is_refused() {
    let broker = tls_broker(TlsListener::default());
    // The system roots do not know the test CA.
    let (failure, error) = tls_failure(Client::builder(&broker.tls_url().unwrap())).await;
    assert_eq!(failure, TlsFailure::UnknownIssuer);
    assert!(error.contains("unknown CA"), "{error}");
}

#[tokio::test]
async fn wrong_host_name_is_refused() {
    let broker = tls_broker(TlsListener {
        server_cert: ServerCert::WrongHost,
        ..TlsListener::default()
    });
    let (failure, error) =
        tls_failure(Client::builder(&broker.tls_url().unwrap()).tls(trust(&broker))).await;
    assert_eq!(
        failure,
        TlsFailure::NotValidForName {
            names: vec!["wrong-host.invalid".into()]
        }
    );
    assert!(error.contains("not valid for this host name"), "{error}");
    assert!(
        error.contains("it was issued for wrong-host.invalid"),
        "{error}"
    );
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let broker = tls_broker(TlsListener {
        server_cert: ServerCert::Expired,
        ..TlsListener::default()
    });
    let (failure, error) =
        tls_failure(Client::builder(&broker.tls_url().unwrap()).tls(trust(&broker))).await;
    assert_eq!(failure, TlsFailure::Expired);
    assert!(error.contains("has expired"), "{error}");
}

/// `wss://` reports certificate failures as `mqtts://` does: an unknown CA
/// without the CA, a wrong host name with it.
#[tokio::test]
async fn certificate_failures_over_secure_websocket_are_typed() {
    let broker = Mosquitto::builder()
        .tls(TlsListener {
            server_cert: ServerCert::WrongHost,
            ..TlsListener::default()
        })
        .secure_websocket(true)
        .start()
        .unwrap();
    let url = broker.wss_url().unwrap();
    let (failure, error) = tls_failure(Client::builder(&url)).await;
    assert_eq!(failure, TlsFailure::UnknownIssuer, "{error}");
    let (failure, error) = tls_failure(Client::builder(&url).tls(trust(&broker))).await;
    assert!(
        matches!(failure, TlsFailure::NotValidForName { .. }),
        "{error}"
    );
}

/// A client whose first connection fails verification ends with the
/// typed error (through `wait_connected`, for one built and run by hand,
/// with reconnecting on) instead of trying again: no reconnect attempt,
/// and the client is closed.
#[tokio::test]
async fn a_certificate_failure_ends_the_client_without_retrying() {
    let broker = tls_broker(TlsListener::default());
    let (c, connection) = Client::builder(&broker.tls_url().unwrap()).build().unwrap();
    let mut events = c.events();
    tokio::spawn(connection.run());
    let error = guard("wait_connected", c.wait_connected())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Connect(ConnectError::Tls {
                failure: TlsFailure::UnknownIssuer,
                ..
            })
        ),
        "{error:?}"
    );
    assert!(!error.is_retryable(), "{error}");
    assert!(matches!(c.state(), ConnectionState::Closed));
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, ConnectionEvent::Reconnecting { .. }),
            "{event:?}"
        );
    }
    // Later calls see why the client closed.
    let again = guard("wait_connected", c.wait_connected())
        .await
        .unwrap_err();
    assert!(
        matches!(again, Error::Connect(ConnectError::Tls { .. })),
        "{again:?}"
    );
}

/// The loudly named option connects where verification would fail.
#[tokio::test]
async fn accepting_any_certificate_connects_to_an_untrusted_broker() {
    let broker = tls_broker(TlsListener {
        server_cert: ServerCert::WrongHost,
        ..TlsListener::default()
    });
    let options = TlsOptions::new().dangerous_accept_any_certificate();
    let c = guard(
        "connect",
        Client::builder(&broker.tls_url().unwrap())
            .tls(options)
            .connect(),
    )
    .await
    .unwrap();
    guard("publish", c.publish("insecure", "ok").qos(QoS::AtLeastOnce))
        .await
        .unwrap();
}

/// Skipping only the host-name check (mosquitto's --insecure) connects to
/// a broker whose certificate names another host, and still refuses one
/// from an unknown CA or an expired one.
#[tokio::test]
async fn skipping_the_host_name_check_keeps_the_other_checks() {
    let wrong_host = tls_broker(TlsListener {
        server_cert: ServerCert::WrongHost,
        ..TlsListener::default()
    });
    let tls = trust(&wrong_host).dangerous_skip_hostname_verification();
    let c = guard(
        "connect",
        Client::builder(&wrong_host.tls_url().unwrap())
            .tls(tls)
            .connect(),
    )
    .await
    .unwrap();
    guard("publish", c.publish("any-name", "ok").qos(QoS::AtLeastOnce))
        .await
        .unwrap();
    guard("disconnect", c.disconnect()).await.unwrap();

    // The system roots do not know the test CA: still refused.
    let tls = TlsOptions::new().dangerous_skip_hostname_verification();
    let (failure, _) = tls_failure(Client::builder(&wrong_host.tls_url().unwrap()).tls(tls)).await;
    assert_eq!(failure, TlsFailure::UnknownIssuer);

    let expired = tls_broker(TlsListener {
        server_cert: ServerCert::Expired,
        ..TlsListener::default()
    });
    let tls = trust(&expired).dangerous_skip_hostname_verification();
    let (failure, _) = tls_failure(Client::builder(&expired.tls_url().unwrap()).tls(tls)).await;
    assert_eq!(failure, TlsFailure::Expired);
}

#[tokio::test]
async fn tls_options_on_a_plain_url_are_an_error() {
    let err = guard(
        "connect",
        Client::builder("mqtt://localhost:1")
            .tls(TlsOptions::new())
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
}

/// A broker restart: the client reconnects over TLS (a new handshake) and
/// carries on.
#[tokio::test]
async fn reconnects_over_tls_after_a_broker_restart() {
    let mut broker = tls_broker(TlsListener::default());
    let url = broker.tls_url().unwrap();
    for version in VERSIONS {
        let c = guard(
            "connect",
            client(&url, version, "tls-restart")
                .tls(trust(&broker))
                .connect(),
        )
        .await
        .unwrap();
        let mut sub = guard("subscribe", c.subscribe("tls/restart", QoS::AtLeastOnce))
            .await
            .unwrap();
        let mut events = c.events();
        broker.restart().unwrap();
        loop {
            if let ConnectionEvent::Connected { .. } =
                guard("reconnect", events.recv()).await.unwrap()
            {
                break;
            }
        }
        // The subscription was restored (the broker kept nothing).
        guard(
            "publish",
            c.publish("tls/restart", "again").qos(QoS::AtLeastOnce),
        )
        .await
        .unwrap();
        assert_eq!(next(&mut sub).await.payload().as_ref(), b"again");
    }
}
