//! The front against plain sockets (the test holds the broker's end of
//! each connection) and, at the end, against a real Mosquitto.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{ServerName, pem::PemObject};
use tokio_rustls::rustls::{self, RootCertStore, pki_types::CertificateDer};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};

use super::WsFront;
use crate::{Mosquitto, ServerCert, generate_tls};

/// Waits are bounded by this; it is a hang guard, never a delay.
const GUARD: Duration = Duration::from_secs(10);

async fn guard<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("hang guard: {what}"))
}

/// A broker stand-in, and a front in front of it.
async fn setup() -> (TcpListener, WsFront) {
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = WsFront::start(target.local_addr().unwrap()).unwrap();
    (target, front)
}

/// The WebSocket upgrade of `stream` for `url`, offering `protocols` (if
/// any) and an `x-token` header.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    url: &str,
    protocols: Option<&str>,
    stream: S,
) -> Result<(WebSocketStream<S>, Option<String>), tungstenite::Error> {
    let mut request = url.into_client_request().unwrap();
    if let Some(protocols) = protocols {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocols.parse().unwrap());
    }
    request
        .headers_mut()
        .insert("x-token", "abc".parse().unwrap());
    let (ws, response) = guard("upgrade", tokio_tungstenite::client_async(request, stream)).await?;
    let protocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((ws, protocol))
}

/// A connection through the front: (the client's WebSocket, the broker's
/// end).
async fn pair(target: &TcpListener, front: &WsFront) -> (WebSocketStream<TcpStream>, TcpStream) {
    let tcp = TcpStream::connect(front.addr()).await.unwrap();
    let (ws, protocol) = upgrade(&front.url(), Some("mqtt"), tcp).await.unwrap();
    assert_eq!(protocol.as_deref(), Some("mqtt"));
    let (broker, _) = guard("accept", target.accept()).await.unwrap();
    (ws, broker)
}

/// The HTTP status of a refused upgrade.
fn refused_status(result: Result<impl Sized, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, the upgrade succeeded"),
    }
}

/// Reads from `stream` until end-of-file: what arrived.
async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    guard("read to the end", stream.read_to_end(&mut data))
        .await
        .unwrap();
    data
}

/// The next close frame's code, skipping data frames.
async fn close_code<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> CloseCode {
    loop {
        match guard("close frame", ws.next()).await {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code,
            Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("WebSocket error before the close frame: {e}"),
        }
    }
}

#[tokio::test]
async fn forwards_binary_frames_both_ways_as_a_byte_stream() {
    let (target, front) = setup().await;
    let (mut ws, mut broker) = pair(&target, &front).await;
    // Two frames in, one byte stream out.
    ws.send(Message::Binary(Bytes::from_static(b"hel")))
        .await
        .unwrap();
    ws.send(Message::Binary(Bytes::from_static(b"lo")))
        .await
        .unwrap();
    let mut buf = [0; 5];
    guard("read", broker.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"hello");
    // One write out, as many frames as the front's reads took.
    let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    broker.write_all(&data).await.unwrap();
    let (mut got, mut frames) = (Vec::new(), 0);
    while got.len() < data.len() {
        match guard("a binary frame", ws.next()).await {
            Some(Ok(Message::Binary(chunk))) => {
                got.extend_from_slice(&chunk);
                frames += 1;
            }
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
    assert_eq!(got, data);
    assert!(frames > 1, "20 000 bytes fit no single read of the front");
    let requests = front.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/mqtt");
    assert_eq!(requests[0].header("X-Token"), Some("abc"));
    assert_eq!(requests[0].header("sec-websocket-protocol"), Some("mqtt"));
}

#[tokio::test]
async fn a_text_frame_closes_both_sides() {
    let (target, front) = setup().await;
    let (mut ws, mut broker) = pair(&target, &front).await;
    ws.send(Message::Text("CONNECT".into())).await.unwrap();
    assert_eq!(close_code(&mut ws).await, CloseCode::Unsupported);
    assert_eq!(read_to_end(&mut broker).await, b"");
}

#[tokio::test]
async fn the_mqtt_subprotocol_is_required() {
    let (target, front) = setup().await;
    for offered in [None, Some("mqttv3.1"), Some("MQTT")] {
        let tcp = TcpStream::connect(front.addr()).await.unwrap();
        let status = refused_status(upgrade(&front.url(), offered, tcp).await);
        assert_eq!(status, 400, "offering {offered:?}");
    }
    // One of a list is enough; the answer names it alone.
    let tcp = TcpStream::connect(front.addr()).await.unwrap();
    let (_ws, protocol) = upgrade(&front.url(), Some("mqttv3.1, mqtt"), tcp)
        .await
        .unwrap();
    assert_eq!(protocol.as_deref(), Some("mqtt"));
    drop(target);
}

#[tokio::test]
async fn refuse_answers_every_upgrade_with_the_status_and_records_it() {
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = WsFront::builder(target.local_addr().unwrap())
        .refuse(403)
        .start()
        .unwrap();
    let tcp = TcpStream::connect(front.addr()).await.unwrap();
    let url = format!("ws://{}/custom/path", front.addr());
    assert_eq!(refused_status(upgrade(&url, Some("mqtt"), tcp).await), 403);
    let requests = front.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/custom/path");
}

#[test]
fn refuse_needs_a_status_code() {
    let err = WsFront::builder("127.0.0.1:1".parse().unwrap())
        .refuse(42)
        .start()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_broker_that_is_down_is_a_bad_gateway() {
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = target.local_addr().unwrap();
    drop(target);
    let front = WsFront::start(addr).unwrap();
    let tcp = TcpStream::connect(front.addr()).await.unwrap();
    assert_eq!(
        refused_status(upgrade(&front.url(), Some("mqtt"), tcp).await),
        502
    );
}

#[tokio::test]
async fn the_broker_closing_closes_the_websocket_after_its_data() {
    let (target, front) = setup().await;
    let (mut ws, mut broker) = pair(&target, &front).await;
    broker.write_all(b"last words").await.unwrap();
    drop(broker);
    match guard("data", ws.next()).await {
        Some(Ok(Message::Binary(data))) => assert_eq!(data.as_ref(), b"last words"),
        other => panic!("expected the broker's data, got {other:?}"),
    }
    assert_eq!(close_code(&mut ws).await, CloseCode::Normal);
}

#[tokio::test]
async fn the_client_closing_closes_the_broker_side() {
    let (target, front) = setup().await;
    let (mut ws, mut broker) = pair(&target, &front).await;
    ws.send(Message::Binary(Bytes::from_static(b"bye")))
        .await
        .unwrap();
    guard("close", ws.close(None)).await.unwrap();
    assert_eq!(read_to_end(&mut broker).await, b"bye");
    // The front answered the close.
    assert!(matches!(
        guard("close answer", ws.next()).await,
        Some(Ok(Message::Close(_)))
    ));
}

/// A TLS connection to `localhost:port` trusting `ca_pem`.
async fn tls_connect(port: u16, ca_pem: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    guard(
        "TLS handshake",
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_tls_front_speaks_wss_with_the_given_certificate() {
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let material = generate_tls(ServerCert::Valid).unwrap();
    let front = WsFront::builder(target.local_addr().unwrap())
        .tls(material.clone())
        .start()
        .unwrap();
    let url = front.url();
    assert!(url.starts_with("wss://localhost:"), "{url}");
    let tls = tls_connect(front.addr().port(), &material.ca_pem).await;
    let (mut ws, protocol) = upgrade(&url, Some("mqtt"), tls).await.unwrap();
    assert_eq!(protocol.as_deref(), Some("mqtt"));
    let (mut broker, _) = guard("accept", target.accept()).await.unwrap();
    ws.send(Message::Binary(Bytes::from_static(b"ping")))
        .await
        .unwrap();
    let mut buf = [0; 4];
    guard("read", broker.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"ping");
}

/// An MQTT 3.1.1 CONNECT (clean session, empty client id), and the
/// CONNACK that accepts it.
const CONNECT: [u8; 14] = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 0];
const CONNACK: [u8; 4] = [0x20, 2, 0, 0];

/// Sends CONNECT in two frames (split mid-header) and reads the CONNACK.
async fn connect<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) {
    for part in [&CONNECT[..5], &CONNECT[5..]] {
        ws.send(Message::Binary(Bytes::copy_from_slice(part)))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    while got.len() < CONNACK.len() {
        match guard("CONNACK", ws.next()).await {
            Some(Ok(Message::Binary(data))) => got.extend_from_slice(&data),
            other => panic!("expected the CONNACK, got {other:?}"),
        }
    }
    assert_eq!(got, CONNACK);
}

#[tokio::test]
async fn mosquitto_with_ws_and_wss_listeners_answers_through_both() {
    let mut broker = Mosquitto::builder()
        .websocket(true)
        .secure_websocket(true)
        .start()
        .unwrap();
    let ws_url = broker.ws_url().unwrap();
    let wss_url = broker.wss_url().unwrap();
    let ca_pem = broker.tls_material().unwrap().ca_pem.clone();

    let tcp = TcpStream::connect(broker.ws_front().unwrap().addr())
        .await
        .unwrap();
    let (mut ws, _) = upgrade(&ws_url, Some("mqtt"), tcp).await.unwrap();
    connect(&mut ws).await;

    let port = broker.wss_front().unwrap().addr().port();
    let (mut wss, _) = upgrade(&wss_url, Some("mqtt"), tls_connect(port, &ca_pem).await)
        .await
        .unwrap();
    connect(&mut wss).await;

    // The fronts follow the broker through a restart.
    broker.restart().unwrap();
    let tcp = TcpStream::connect(broker.ws_front().unwrap().addr())
        .await
        .unwrap();
    let (mut ws, _) = upgrade(&ws_url, Some("mqtt"), tcp).await.unwrap();
    connect(&mut ws).await;
}
