//! One connection through the front: the upgrade, then bytes both ways
//! between WebSocket binary frames and the broker's TCP stream.

use std::net::SocketAddr;
use std::sync::PoisonError;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{Requests, UpgradeRequest};

/// How long the front waits for the client to answer its close frame
/// before dropping the connection. Waiting lets the client read what was
/// sent before the close instead of losing it to a reset; the bound only
/// keeps a silent client from holding the task.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// The size of one read from the broker, and so the largest binary frame
/// the front sends. Smaller than many MQTT packets on purpose: clients
/// must reassemble packets across frames.
const READ_SIZE: usize = 8 * 1024;

/// What every connection of one front shares.
#[derive(Debug, Clone)]
pub(super) struct Connection {
    /// The broker's TCP listener.
    pub(super) target: SocketAddr,
    /// Refuse every upgrade with this status.
    pub(super) refuse: Option<StatusCode>,
    pub(super) requests: Requests,
}

/// Why the bridging stopped.
enum End {
    /// The client sent a text frame ([MQTT-6.0.0-1]).
    Text,
    /// The client closed the WebSocket (or its stream ended).
    ClientClosed,
    /// The broker closed its side (or its socket failed).
    BrokerClosed,
    /// The WebSocket failed: nothing more can be sent on it.
    Failed,
}

impl Connection {
    /// Serves one client connection (TCP or TLS) until either side ends.
    #[allow(
        clippy::result_large_err,
        reason = "tungstenite's handshake callback returns its HTTP response as the error"
    )]
    pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(self, stream: S) {
        // Connect first, so that a broker that is down shows as a refused
        // upgrade (502) rather than as an upgrade closed at once.
        let upstream = match self.refuse {
            Some(status) => Err(status),
            None => TcpStream::connect(self.target)
                .await
                .map_err(|_| StatusCode::BAD_GATEWAY),
        };
        let refusal = upstream.as_ref().err().copied();
        let requests = self.requests;
        let check = move |request: &Request, mut response: Response| {
            requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(record(request));
            if let Some(status) = refusal {
                return Err(refuse(status, "refused by the test's WebSocket front"));
            }
            if !offers_mqtt(request) {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "MQTT over WebSocket needs the `mqtt` subprotocol",
                ));
            }
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static("mqtt"),
            );
            Ok(response)
        };
        let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
            return;
        };
        if let Ok(upstream) = upstream {
            let _ = upstream.set_nodelay(true);
            bridge(ws, upstream).await;
        }
    }
}

/// The path and headers of an upgrade request.
fn record(request: &Request) -> UpgradeRequest {
    UpgradeRequest {
        path: request.uri().path().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
    }
}

/// Whether the request lists `mqtt` among its subprotocols (the header
/// may be repeated, and each holds a comma-separated list).
fn offers_mqtt(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .any(|protocol| protocol.trim() == "mqtt")
}

/// An HTTP error answer to an upgrade.
fn refuse(status: StatusCode, why: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(why.to_owned()));
    *response.status_mut() = status;
    response
}

/// Moves bytes both ways until one side ends, then closes the other.
async fn bridge<S: AsyncRead + AsyncWrite + Unpin>(ws: WebSocketStream<S>, upstream: TcpStream) {
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut up_rx, mut up_tx) = upstream.into_split();
    // Each direction on its own: a full socket one way never stops the
    // other way.
    let to_broker = async {
        loop {
            match ws_rx.next().await {
                Some(Ok(Message::Binary(data))) => {
                    if up_tx.write_all(&data).await.is_err() {
                        return End::BrokerClosed;
                    }
                }
                Some(Ok(Message::Text(_))) => return End::Text,
                Some(Ok(Message::Close(_))) | None => return End::ClientClosed,
                // Pings are answered by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Err(_)) => return End::Failed,
            }
        }
    };
    let to_client = async {
        let mut buf = vec![0; READ_SIZE];
        loop {
            match up_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return End::BrokerClosed,
                Ok(n) => {
                    let frame = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
                    if ws_tx.send(frame).await.is_err() {
                        return End::Failed;
                    }
                }
            }
        }
    };
    let end = tokio::select! {
        end = to_broker => end,
        end = to_client => end,
    };
    // The broker's connection ends here in every case; for a text frame
    // it sees the connection drop without a DISCONNECT.
    drop((up_rx, up_tx));
    let close = match end {
        End::Text => Some(CloseFrame {
            code: CloseCode::Unsupported,
            reason: "MQTT travels in binary frames".into(),
        }),
        End::BrokerClosed => Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "the broker closed the connection".into(),
        }),
        // The client's close frame is answered by tungstenite; the answer
        // goes out with the flush below.
        End::ClientClosed => None,
        End::Failed => return,
    };
    let sent = match close {
        Some(frame) => ws_tx.send(Message::Close(Some(frame))).await,
        None => ws_tx.flush().await,
    };
    if sent.is_ok() {
        // Until the client answers the close (or goes away).
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(Ok(_)) = ws_rx.next().await {}
        })
        .await;
    }
}
