//! MQTT over WebSocket (`ws://`). Debian's Mosquitto 2.0.11 cannot open a
//! websockets listener on this machine ("Unable to start any listening
//! sockets"), so these tests put a WebSocket front in front of a real
//! Mosquitto, as a load balancer terminating WebSocket would: binary
//! frames in, TCP bytes out, unchanged. The broker answering is real.

#![allow(
    clippy::result_large_err,
    reason = "tungstenite's handshake callback returns its HTTP response as the error"
)]

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use mqtide::Client;
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, guard};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{
    self,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

/// What the front saw of each upgrade request: path, subprotocol, and the
/// `x-token` header.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>)>>>;

/// Starts a WebSocket front for `broker`; `refuse` answers every upgrade
/// with 403; with `tls`, it is a `wss://` front.
async fn websocket_front(
    broker: SocketAddr,
    refuse: bool,
    tls: Option<TlsAcceptor>,
) -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (record, tls) = (record.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            serve(stream, broker, refuse, record).await;
                        }
                    }
                    None => serve(tcp, broker, refuse, record).await,
                }
            });
        }
    });
    (addr, seen)
}

/// One WebSocket connection, passed through to the broker.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    broker: SocketAddr,
    refuse: bool,
    record: Seen,
) {
    let check = |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        record.lock().unwrap().push((
            request.uri().path().to_owned(),
            header("sec-websocket-protocol"),
            header("x-token"),
        ));
        if refuse {
            let mut denied = ErrorResponse::new(None);
            *denied.status_mut() = StatusCode::FORBIDDEN;
            return Err(denied);
        }
        response
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
        Ok(response)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
        return;
    };
    let Ok(upstream) = TcpStream::connect(broker).await else {
        return;
    };
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut up_rx, mut up_tx) = upstream.into_split();
    let to_broker = async {
        while let Some(Ok(message)) = ws_rx.next().await {
            match message {
                Message::Binary(data) if up_tx.write_all(&data).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
    };
    let to_client = async {
        let mut buf = vec![0u8; 8192];
        while let Ok(n) = up_rx.read(&mut buf).await {
            if n == 0
                || ws_tx
                    .send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
            {
                break;
            }
        }
    };
    tokio::select! {
        () = to_broker => {}
        () = to_client => {}
    }
}

/// A TLS acceptor presenting a certificate for `localhost` from a fresh
/// test CA, and that CA's PEM.
fn tls_acceptor() -> (TlsAcceptor, String) {
    let material = mqtide_testkit::generate_tls(mqtide_testkit::ServerCert::Valid).unwrap();
    let certs = CertificateDer::pem_slice_iter(material.server_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(material.server_key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    (TlsAcceptor::from(Arc::new(config)), material.ca_pem)
}

#[tokio::test]
async fn each_qos_over_websocket() {
    let broker = Mosquitto::start().unwrap();
    let (front, seen) = websocket_front(broker.addr(), false, None).await;
    let url = format!("ws://{front}/mqtt");
    for version in VERSIONS {
        // Larger than one frame of the front's reads: packets and frames
        // do not line up.
        let builder = client(&url, version, "ws").ws_header("x-token", "abc");
        support::each_qos_round_trip(builder, "ws", 20_000).await;
    }
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    for (path, protocol, token) in seen.iter() {
        assert_eq!(path, "/mqtt");
        assert_eq!(protocol.as_deref(), Some("mqtt"));
        assert_eq!(token.as_deref(), Some("abc"));
    }
}

#[tokio::test]
async fn refused_upgrade_reports_the_http_status() {
    let broker = Mosquitto::start().unwrap();
    let (front, _) = websocket_front(broker.addr(), true, None).await;
    let err = guard(
        "connect",
        Client::builder(&format!("ws://{front}/mqtt")).connect(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("WebSocket upgrade refused: HTTP 403"),
        "{err}"
    );
}

/// `wss://`: the WebSocket upgrade over a verified TLS connection.
#[tokio::test]
async fn each_qos_over_secure_websocket() {
    let broker = Mosquitto::start().unwrap();
    let (acceptor, ca_pem) = tls_acceptor();
    let (front, _) = websocket_front(broker.addr(), false, Some(acceptor)).await;
    let url = format!("wss://localhost:{}/mqtt", front.port());
    for version in VERSIONS {
        let builder =
            client(&url, version, "wss").tls(mqtide::TlsOptions::new().ca_pem(ca_pem.clone()));
        support::each_qos_round_trip(builder, "wss", 5000).await;
    }
}
