//! TLS against a real Mosquitto TLS listener with certificates generated
//! at test time: QoS 0/1/2 over 3.1.1 and 5.0, mutual TLS, and each way
//! verification fails, with a message that says what went wrong.

mod support;

use mqtide::{Client, ConnectError, Error, QoS, TlsOptions};
use mqtide_testkit::{Mosquitto, ServerCert, TlsListener};
use support::{VERSIONS, client, guard, next};

fn tls_broker(listener: TlsListener) -> Mosquitto {
    Mosquitto::builder().tls(listener).start().unwrap()
}

fn trust(broker: &Mosquitto) -> TlsOptions {
    TlsOptions::new().ca_pem(broker.tls_material().unwrap().ca_pem.clone())
}

/// The error text of a failed connection.
async fn connect_error(builder: mqtide::ClientBuilder) -> String {
    match guard("connect", builder.connect()).await {
        Ok(_) => panic!("the connection should have failed"),
        Err(Error::Connect(e @ (ConnectError::Io { .. } | ConnectError::Lost { .. }))) => {
            e.to_string()
        }
        Err(other) => panic!("expected an I/O or handshake failure, got {other}"),
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
    let refused = connect_error(Client::builder(&url).no_reconnect().tls(trust(&broker))).await;
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
    let error = connect_error(Client::builder(&broker.tls_url().unwrap())).await;
    assert!(error.contains("unknown CA"), "{error}");
}

#[tokio::test]
async fn wrong_host_name_is_refused() {
    let broker = tls_broker(TlsListener {
        server_cert: ServerCert::WrongHost,
        ..TlsListener::default()
    });
    let error =
        connect_error(Client::builder(&broker.tls_url().unwrap()).tls(trust(&broker))).await;
    assert!(error.contains("not valid for this host name"), "{error}");
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let broker = tls_broker(TlsListener {
        server_cert: ServerCert::Expired,
        ..TlsListener::default()
    });
    let error =
        connect_error(Client::builder(&broker.tls_url().unwrap()).tls(trust(&broker))).await;
    assert!(error.contains("expired"), "{error}");
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
            if let mqtide::ConnectionEvent::Connected { .. } =
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
