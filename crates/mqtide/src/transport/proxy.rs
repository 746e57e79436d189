//! Reaching the broker through a SOCKS5 or HTTP CONNECT proxy (feature
//! `proxy`): the proxy opens the TCP connection, and TLS or WebSocket run
//! on top of it as they would directly.

use std::fmt;
use std::io;

use tokio::net::TcpStream;

/// A proxy to connect through.
#[derive(Clone)]
pub struct Proxy {
    kind: Kind,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Socks5,
    HttpConnect,
}

impl fmt::Debug for Proxy {
    /// The password never appears.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish()
    }
}

impl Proxy {
    /// A SOCKS5 proxy at `host:port`.
    pub fn socks5(host: impl Into<String>, port: u16) -> Self {
        Self {
            kind: Kind::Socks5,
            host: host.into(),
            port,
            credentials: None,
        }
    }

    /// An HTTP proxy at `host:port`, used with CONNECT.
    pub fn http(host: impl Into<String>, port: u16) -> Self {
        Self {
            kind: Kind::HttpConnect,
            ..Self::socks5(host, port)
        }
    }

    /// User name and password for the proxy (SOCKS5 user/password, HTTP
    /// basic authentication).
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// A TCP connection to `host:port` through the proxy.
    pub(crate) async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let mut socket = super::tcp::connect(&self.host, self.port)
            .await
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot reach the proxy {}:{}: {e}", self.host, self.port),
                )
            })?;
        let refused = |what: String| io::Error::new(io::ErrorKind::ConnectionRefused, what);
        match (self.kind, &self.credentials) {
            (Kind::Socks5, None) => {
                tokio_socks::tcp::Socks5Stream::connect_with_socket(socket, (host, port))
                    .await
                    .map(tokio_socks::tcp::Socks5Stream::into_inner)
                    .map_err(|e| refused(format!("the SOCKS5 proxy refused: {e}")))
            }
            (Kind::Socks5, Some((user, password))) => {
                tokio_socks::tcp::Socks5Stream::connect_with_password_and_socket(
                    socket,
                    (host, port),
                    user,
                    password,
                )
                .await
                .map(tokio_socks::tcp::Socks5Stream::into_inner)
                .map_err(|e| refused(format!("the SOCKS5 proxy refused: {e}")))
            }
            (Kind::HttpConnect, None) => {
                async_http_proxy::http_connect_tokio(&mut socket, host, port)
                    .await
                    .map_err(|e| refused(format!("the HTTP proxy refused CONNECT: {e}")))?;
                Ok(socket)
            }
            (Kind::HttpConnect, Some((user, password))) => {
                async_http_proxy::http_connect_tokio_with_basic_auth(
                    &mut socket,
                    host,
                    port,
                    user,
                    password,
                )
                .await
                .map_err(|e| refused(format!("the HTTP proxy refused CONNECT: {e}")))?;
                Ok(socket)
            }
        }
    }
}
