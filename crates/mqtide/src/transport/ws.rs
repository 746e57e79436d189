//! MQTT over WebSocket (`ws://`, `wss://`): binary frames through
//! tungstenite, offered with the `mqtt` subprotocol. MQTT packets are not
//! aligned to frames, so [`WsStream`] turns the frames back into a byte
//! stream both ways, and the event loop never knows the difference.

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
/// refused it.
fn explain(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Http(response) => io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("WebSocket upgrade refused: HTTP {}", response.status()),
        ),
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(format!("WebSocket: {other}")),
    }
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
                // Pings are answered by tungstenite; nothing else carries MQTT.
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
