//! MQTT over WebSocket (`ws://`, `wss://`): binary frames through
//! tungstenite, offered with the `mqtt` subprotocol. MQTT packets are not
//! aligned to frames, so [`WsStream`] turns the frames back into a byte
//! stream both ways, and the event loop never knows the difference. A text
//! frame is not MQTT: it ends the connection ([MQTT-6.0.0-1]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_core::Stream;
use futures_util::Sink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

use super::Transport;

/// Performs the WebSocket upgrade over `stream` for `url`, asking for the
/// `mqtt` subprotocol and adding `headers`.
pub(crate) async fn upgrade(
    url: &str,
    headers: &[(String, String)],
    stream: Box<dyn Transport>,
) -> io::Result<Box<dyn Transport>> {
    let mut request = url.into_client_request().map_err(explain)?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("header name {name:?}: {e}"),
            )
        })?;
        let value = HeaderValue::from_str(value).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("header value: {e}"))
        })?;
        request.headers_mut().append(name, value);
    }
    let (ws, _response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(explain)?;
    Ok(Box::new(WsStream {
        inner: ws,
        read: Bytes::new(),
        unflushed: None,
    }))
}

/// Says what a failed upgrade means, with the HTTP status when the server
/// refused it. An I/O error of the TLS stream under `wss://` (a broker
/// that refuses the client certificate shows it on the first read, under
/// TLS 1.3) is explained as for `mqtts://`.
fn explain(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Http(response) => io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("WebSocket upgrade refused: HTTP {}", response.status()),
        ),
        #[cfg(feature = "tls")]
        tungstenite::Error::Io(e) => super::tls::explain(e),
        #[cfg(not(feature = "tls"))]
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(format!("WebSocket: {other}")),
    }
}

/// The error a text frame ends the connection with.
fn text_frame() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the server sent a WebSocket text frame; MQTT travels only in binary frames [MQTT-6.0.0-1]",
    )
}

/// A WebSocket seen as a byte stream.
struct WsStream<S> {
    inner: WebSocketStream<S>,
    /// What is left of the last binary frame.
    read: Bytes,
    /// A frame handed to the sink whose flush has not completed; its
    /// length is reported once it has.
    unflushed: Option<usize>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.read.is_empty() {
                let n = self.read.len().min(buf.remaining());
                buf.put_slice(&self.read[..n]);
                self.read.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                // End of stream: an empty read.
                None | Some(Ok(Message::Close(_))) => return Poll::Ready(Ok(())),
                Some(Ok(Message::Binary(data))) => self.read = data,
                // [MQTT-6.0.0-1]: MQTT travels in binary frames only; a
                // receiver of any other data frame closes the connection.
                // The error ends it; the event loop then closes the socket.
                Some(Ok(Message::Text(_))) => return Poll::Ready(Err(text_frame())),
                // Pings are answered by tungstenite; pongs and raw frames
                // carry nothing.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(explain(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // One frame per write; the caller presents the same bytes again
        // while we return Pending, so a frame already handed over is only
        // flushed, never sent twice.
        if self.unflushed.is_none() {
            ready!(Pin::new(&mut self.inner).poll_ready(cx)).map_err(explain)?;
            Pin::new(&mut self.inner)
                .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
                .map_err(explain)?;
            self.unflushed = Some(buf.len());
        }
        ready!(Pin::new(&mut self.inner).poll_flush(cx)).map_err(explain)?;
        Poll::Ready(Ok(self.unflushed.take().unwrap_or(0)))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx).map_err(explain)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx).map_err(explain)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::SinkExt;
    use tokio::io::{AsyncReadExt, DuplexStream};
    use tokio_tungstenite::tungstenite::protocol::Role;

    use super::*;

    /// Our side of an in-memory WebSocket, and the server's.
    async fn pair() -> (WsStream<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (ours, theirs) = tokio::io::duplex(4096);
        let ours = WebSocketStream::from_raw_socket(ours, Role::Client, None).await;
        let theirs = WebSocketStream::from_raw_socket(theirs, Role::Server, None).await;
        let stream = WsStream {
            inner: ours,
            read: Bytes::new(),
            unflushed: None,
        };
        (stream, theirs)
    }

    /// `wss://`: a TLS alert read through the WebSocket (under TLS 1.3 a
    /// refused client certificate arrives after the handshake, during the
    /// upgrade or later) is typed as for `mqtts://`.
    #[cfg(feature = "tls")]
    #[test]
    fn a_tls_failure_under_the_websocket_is_typed() {
        use tokio_rustls::rustls;

        use crate::error::TlsFailure;

        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        let error = explain(tungstenite::Error::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            alert,
        )));
        assert_eq!(
            error.get_ref().and_then(|e| e.downcast_ref::<TlsFailure>()),
            Some(&TlsFailure::HandshakeRejected {
                alert: "CertificateRequired".into()
            })
        );
    }

    /// [MQTT-6.0.0-1]: binary frames (and pings between them) are read as
    /// the byte stream; a text frame ends the connection with an error that
    /// says why, rather than being skipped.
    #[tokio::test]
    async fn a_text_frame_ends_the_connection() {
        let (mut ours, mut theirs) = pair().await;
        let pingresp = Bytes::from_static(&[0xd0, 0x00]);
        theirs.send(Message::Ping(Bytes::new())).await.unwrap();
        theirs
            .send(Message::Binary(pingresp.clone()))
            .await
            .unwrap();
        theirs
            .send(Message::Text("{\"not\": \"mqtt\"}".into()))
            .await
            .unwrap();
        theirs
            .send(Message::Binary(pingresp.clone()))
            .await
            .unwrap();

        let mut buf = [0u8; 16];
        let n = ours.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &pingresp[..]);
        let error = ours.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("[MQTT-6.0.0-1]"), "{error}");
    }
}
