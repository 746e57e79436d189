//! Transports: how bytes reach the broker. The event loop sees only a
//! byte stream ([`Transport`]); each kind of URL picks how it is opened.
//! TCP is here; TLS, WebSocket, Unix sockets and proxies slot in beside it
//! without touching the event loop. Which broker the next connection goes
//! to (failover over a list, 5.0 redirection) is [`Servers`]'s part.

#[cfg(feature = "proxy")]
pub(crate) mod proxy;
mod servers;
mod tcp;
#[cfg(feature = "tls")]
pub(crate) mod tls;
#[cfg(feature = "websocket")]
mod ws;

use std::fmt;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};

pub(crate) use servers::{MakeConnector, Servers};

use crate::error::Error;

/// A connected byte stream to the broker.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// Where the broker is, parsed from a URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ServerAddr {
    pub(crate) scheme: Scheme,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    /// The HTTP path (and query) of a WebSocket URL.
    pub(crate) path: String,
}

/// The transport a URL asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `mqtt://` (also `tcp://`): plain TCP, port 1883 by default.
    Tcp,
    /// `mqtts://` (also `ssl://`): TLS over TCP, port 8883 by default.
    Tls,
    /// `unix:///path/to/socket`: a Unix domain socket; `host` is the path.
    Unix,
    /// `ws://host[:port]/path`: MQTT over WebSocket, port 80 by default.
    Ws,
    /// `wss://host[:port]/path`: MQTT over WebSocket over TLS, port 443.
    Wss,
}

impl fmt::Debug for ServerAddr {
    /// The password never appears.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAddr")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scheme == Scheme::Unix {
            write!(f, "unix://{}", self.host)
        } else if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl ServerAddr {
    /// Parses `mqtt://[user[:password]@]host[:port]`.
    pub(crate) fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: redact(input),
            reason: reason.to_owned(),
        };
        // `host:port` alone is no URL (`127.0.0.1:1883` does not parse;
        // `localhost:1883` parses with "localhost" as its scheme): say
        // what to write instead.
        let no_scheme = || {
            invalid(&format!(
                "no scheme; write mqtt://{} (or mqtts://, ws://, wss://, unix://)",
                redact(input)
            ))
        };
        let url = url::Url::parse(input).map_err(|e| match e {
            url::ParseError::RelativeUrlWithoutBase => no_scheme(),
            e => invalid(&e.to_string()),
        })?;
        let (scheme, default_port) = match url.scheme() {
            "mqtt" | "tcp" => (Scheme::Tcp, 1883),
            "mqtts" | "ssl" if cfg!(feature = "tls") => (Scheme::Tls, 8883),
            "mqtts" | "ssl" => return Err(invalid("mqtide was built without the `tls` feature")),
            "unix" if cfg!(unix) => {
                if url.host_str().is_some_and(|h| !h.is_empty()) || url.path().len() <= 1 {
                    return Err(invalid(
                        "a Unix socket URL is unix:///absolute/path/to/socket",
                    ));
                }
                return Ok(Self {
                    scheme: Scheme::Unix,
                    host: url.path().to_owned(),
                    port: 0,
                    username: None,
                    password: None,
                    path: String::new(),
                });
            }
            "unix" => return Err(invalid("Unix sockets exist only on Unix")),
            "ws" if cfg!(feature = "websocket") => (Scheme::Ws, 80),
            "wss" if cfg!(all(feature = "websocket", feature = "tls")) => (Scheme::Wss, 443),
            "ws" | "wss" => {
                return Err(invalid(
                    "mqtide was built without the `websocket` (and, for wss, `tls`) feature",
                ));
            }
            _ if !input.contains("://") => return Err(no_scheme()),
            other => {
                return Err(invalid(&format!(
                    "unknown scheme {other:?}; use mqtt://host:port"
                )));
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let websocket = matches!(scheme, Scheme::Ws | Scheme::Wss);
        if !websocket && (!matches!(url.path(), "" | "/") || url.query().is_some())
            || url.fragment().is_some()
        {
            return Err(invalid("an mqtt:// URL has no path, query or fragment"));
        }
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let decode = |s: &str| {
            url::form_urlencoded::parse(s.as_bytes())
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.into_owned()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect::<String>()
        };
        let username = (!url.username().is_empty()).then(|| decode(url.username()));
        let password = url.password().map(decode);
        Ok(Self {
            scheme,
            host,
            port: url.port().unwrap_or(default_port),
            username,
            password,
            path,
        })
    }
}

/// Everything needed to open a connection: where, and how.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    pub(crate) addr: ServerAddr,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tls::TlsSetup>,
    /// Extra HTTP headers for the WebSocket upgrade.
    #[cfg(feature = "websocket")]
    pub(crate) ws_headers: WsHeaders,
    /// A proxy to connect through.
    #[cfg(feature = "proxy")]
    pub(crate) proxy: Option<proxy::Proxy>,
}

impl Connector {
    /// Opens the transport.
    pub(crate) async fn connect(&self) -> io::Result<Box<dyn Transport>> {
        #[cfg(unix)]
        if self.addr.scheme == Scheme::Unix {
            return Ok(Box::new(
                tokio::net::UnixStream::connect(&self.addr.host).await?,
            ));
        }
        let stream = self.tcp().await?;
        match self.addr.scheme {
            Scheme::Tcp | Scheme::Unix => Ok(Box::new(stream)),
            Scheme::Tls => self.tls(stream).await,
            #[cfg(feature = "websocket")]
            Scheme::Ws => {
                ws::upgrade(&self.ws_url("ws"), &self.ws_headers.0, Box::new(stream)).await
            }
            #[cfg(feature = "websocket")]
            Scheme::Wss => {
                let tls = self.tls(stream).await?;
                ws::upgrade(&self.ws_url("wss"), &self.ws_headers.0, tls).await
            }
            #[cfg(not(feature = "websocket"))]
            Scheme::Ws | Scheme::Wss => Err(io::Error::other(
                "mqtide was built without the `websocket` feature",
            )),
        }
    }

    /// The WebSocket request URL (never with credentials: those go in
    /// CONNECT).
    #[cfg(feature = "websocket")]
    fn ws_url(&self, scheme: &str) -> String {
        format!("{scheme}://{}{}", self.addr, self.addr.path)
    }

    /// The TCP connection to the broker: direct, or through the proxy.
    async fn tcp(&self) -> io::Result<tokio::net::TcpStream> {
        #[cfg(feature = "proxy")]
        if let Some(proxy) = &self.proxy {
            return proxy.connect(&self.addr.host, self.addr.port).await;
        }
        tcp::connect(&self.addr.host, self.addr.port).await
    }

    async fn tls(&self, stream: tokio::net::TcpStream) -> io::Result<Box<dyn Transport>> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.connect(stream).await;
        }
        let _ = stream;
        Err(io::Error::other(
            "TLS requested without a TLS configuration (or the `tls` feature)",
        ))
    }
}

/// The URL with any password replaced, for error messages.
fn redact(input: &str) -> String {
    match url::Url::parse(input) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("REDACTED"));
            url.to_string()
        }
        Ok(url) if url.has_host() => input.to_owned(),
        // Unparseable, or parsed without a host (`user:pass@host` reads as
        // scheme `user`): whatever sits between the scheme and the last
        // `@` before the host may be credentials; none of it is shown.
        _ => {
            let (scheme, rest) = input.split_once("://").unwrap_or(("", input));
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => {
                    let separator = if scheme.is_empty() { "" } else { "://" };
                    format!("{scheme}{separator}REDACTED@{}", &rest[at + 1..])
                }
                None => input.to_owned(),
            }
        }
    }
}

/// WebSocket handshake headers. Debug output shows their names only: a
/// header may carry a token (`Authorization: Bearer …`).
#[cfg(feature = "websocket")]
#[derive(Clone, Default)]
pub(crate) struct WsHeaders(pub(crate) Vec<(String, String)>);

#[cfg(feature = "websocket")]
impl fmt::Debug for WsHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| format!("{name}: <redacted>")))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_even_in_a_url_that_does_not_parse() {
        for url in [
            "mqtt://bob:pa55@localhost:99999",
            "mqtt://bob:pa55@host/with@at:99999",
            "bob:pa55@host:99999",
        ] {
            let shown = redact(url);
            assert!(!shown.contains("pa55"), "{url} shown as {shown}");
        }
        assert_eq!(redact("mqtt://localhost:99999"), "mqtt://localhost:99999");
    }

    #[test]
    fn parses_host_port_and_credentials() {
        let a = ServerAddr::parse("mqtt://alice:s%40cret@broker.example:1884").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("broker.example", 1884));
        assert_eq!(a.username.as_deref(), Some("alice"));
        assert_eq!(a.password.as_deref(), Some("s@cret"));
        assert!(!format!("{a:?}").contains("s@cret"));
        let b = ServerAddr::parse("mqtt://localhost").unwrap();
        assert_eq!((b.port, b.username), (1883, None));
        if cfg!(unix) {
            let u = ServerAddr::parse("unix:///run/mosquitto/mqtt.sock").unwrap();
            assert_eq!(
                (u.scheme, u.to_string()),
                (Scheme::Unix, "unix:///run/mosquitto/mqtt.sock".into())
            );
        }
        if cfg!(feature = "websocket") {
            let ws = ServerAddr::parse("ws://gateway.example/mqtt?token=1").unwrap();
            assert_eq!(
                (ws.scheme, ws.port, ws.path.as_str()),
                (Scheme::Ws, 80, "/mqtt?token=1")
            );
        }
        if cfg!(feature = "tls") {
            let tls = ServerAddr::parse("mqtts://broker.example").unwrap();
            assert_eq!((tls.scheme, tls.port), (Scheme::Tls, 8883));
        } else {
            assert!(ServerAddr::parse("mqtts://broker.example").is_err());
        }
        let c = ServerAddr::parse("tcp://[::1]:1999/").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.to_string()),
            ("::1", 1999, "[::1]:1999".into())
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, needle) in [
            ("localhost:1883", "scheme"),
            ("localhost:1883", "write mqtt://localhost:1883"),
            ("127.0.0.1:1883", "write mqtt://127.0.0.1:1883"),
            ("broker.example", "write mqtt://broker.example"),
            ("http://x", "unknown scheme"),
            ("mqtt://", "host"),
            ("mqtt://h:99999", "port"),
            ("mqtt://h/topic", "path"),
            ("nats://h", "unknown scheme"),
            ("unix://relative", "unix:///absolute"),
        ] {
            let err = ServerAddr::parse(url).unwrap_err().to_string();
            assert!(err.contains(needle), "{url}: {err}");
        }
        for url in ["mqtt://u:hunter2@h/x", "u:hunter2@h:1883"] {
            let err = ServerAddr::parse(url).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
