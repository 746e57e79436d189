//! The testkit's WebSocket listeners: see [`WsFront`].

mod bridge;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{
    self,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::TlsMaterial;

/// One upgrade request the front received, refused or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The request path, e.g. `/mqtt`.
    pub path: String,
    /// The headers, names in lower case, in the order they came (values
    /// that are not UTF-8 are converted lossily).
    pub headers: Vec<(String, String)>,
}

impl UpgradeRequest {
    /// The first value of header `name` (any case), if it was sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the handle and the connection tasks share.
type Requests = Arc<Mutex<Vec<UpgradeRequest>>>;

/// Configures a [`WsFront`]; see [`WsFront::builder`].
#[derive(Debug, Clone)]
pub struct WsFrontBuilder {
    target: SocketAddr,
    tls: Option<TlsMaterial>,
    refuse: Option<u16>,
}

impl WsFrontBuilder {
    /// Makes it a `wss://` front: TLS first, presenting `material`'s
    /// server certificate (see [`generate_tls`](crate::generate_tls)).
    /// No client certificate is asked for.
    pub fn tls(mut self, material: TlsMaterial) -> Self {
        self.tls = Some(material);
        self
    }

    /// Refuses every upgrade with this HTTP status (recording the request
    /// first), for tests of a refused upgrade. [`start`](Self::start)
    /// fails if it is not a status code (100 to 999).
    pub fn refuse(mut self, status: u16) -> Self {
        self.refuse = Some(status);
        self
    }

    /// Listens on a free loopback port.
    pub fn start(self) -> io::Result<WsFront> {
        let refuse = self
            .refuse
            .map(|code| {
                StatusCode::from_u16(code).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("HTTP status {code}: {e}"),
                    )
                })
            })
            .transpose()?;
        let acceptor = self.tls.as_ref().map(acceptor).transpose()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let requests = Requests::default();
        let accept = Accept {
            listener,
            connection: bridge::Connection {
                target: self.target,
                refuse,
                requests: Arc::clone(&requests),
            },
            acceptor,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("ws-front-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        () = accept.run() => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime drops every connection task, and
                // with them the sockets.
            })?;
        Ok(WsFront {
            addr,
            tls: self.tls,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// A WebSocket front for a broker: `ws://` and `wss://` listeners that
/// carry MQTT to a plain TCP listener, as a load balancer terminating
/// WebSocket would.
///
/// Mosquitto's own websockets listeners are there too
/// ([`Builder::native_websocket`](crate::Builder::native_websocket)); this
/// front is for what the broker cannot be made to do: record the upgrade
/// requests, refuse an upgrade with an HTTP status, and frames that do not
/// line up with packets. The broker behind it is real; the front only
/// moves bytes. It behaves as MQTT over WebSocket requires
/// (MQTT 5.0 section 6, 3.1.1 section 6):
///
/// - the upgrade must offer the `mqtt` subprotocol, and the answer names
///   it; an upgrade without it is refused with HTTP 400;
/// - binary frames are forwarded to the broker as a byte stream, and the
///   broker's bytes go back in binary frames: packets and frames need not
///   line up, either way;
/// - a text frame closes the connection (close code 1003), as
///   [MQTT-6.0.0-1] asks, and the broker sees the connection drop;
/// - when the broker does not accept the connection (it is down, or
///   restarting) the upgrade is refused with HTTP 502, as a proxy would.
///
/// Any request path is accepted. Each upgrade request is recorded (path
/// and headers, see [`WsFront::requests`]) so tests can check what a
/// client sent.
///
/// ```no_run
/// use mqtide_testkit::{Mosquitto, WsFront};
///
/// // Through the broker builder: the fronts follow the broker's restarts.
/// let broker = Mosquitto::builder().websocket(true).secure_websocket(true).start()?;
/// let ws = broker.ws_url();   // Some("ws://127.0.0.1:<port>/mqtt")
/// let wss = broker.wss_url(); // Some("wss://localhost:<port>/mqtt"); trust broker.tls_material()
/// # let _ = (ws, wss);
///
/// // On its own, in front of any TCP address, here refusing every upgrade.
/// let front = WsFront::builder(broker.addr()).refuse(403).start()?;
/// # let _ = front;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Like the [`FaultProxy`](crate::FaultProxy), a front runs on a thread of
/// its own with its own tokio runtime, so its handle works in synchronous
/// and asynchronous tests alike. Dropping the handle closes the listener
/// and every connection.
#[derive(Debug)]
pub struct WsFront {
    addr: SocketAddr,
    tls: Option<TlsMaterial>,
    requests: Requests,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WsFront {
    /// A front for the TCP listener at `target` (a broker's
    /// [`addr`](crate::Mosquitto::addr)), to configure before starting.
    pub fn builder(target: SocketAddr) -> WsFrontBuilder {
        WsFrontBuilder {
            target,
            tls: None,
            refuse: None,
        }
    }

    /// Starts a plain `ws://` front for `target`.
    pub fn start(target: SocketAddr) -> io::Result<Self> {
        Self::builder(target).start()
    }

    /// The front's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A URL for the front, with the conventional `/mqtt` path:
    /// `ws://127.0.0.1:<port>/mqtt`, or `wss://localhost:<port>/mqtt` (the
    /// name the test certificate is issued for) for a TLS front.
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("wss://localhost:{}/mqtt", self.addr.port()),
            None => format!("ws://{}/mqtt", self.addr),
        }
    }

    /// The certificates a `wss://` front presents; `None` for `ws://`.
    pub fn tls_material(&self) -> Option<&TlsMaterial> {
        self.tls.as_ref()
    }

    /// Every upgrade request received so far, in order.
    pub fn requests(&self) -> Vec<UpgradeRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for WsFront {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A TLS acceptor presenting `material`'s server certificate.
fn acceptor(material: &TlsMaterial) -> io::Result<TlsAcceptor> {
    let invalid = |e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("WebSocket front TLS: {e}"),
        )
    };
    let certs = CertificateDer::pem_slice_iter(material.server_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&e))?;
    let key = PrivateKeyDer::from_pem_slice(material.server_key_pem.as_bytes())
        .map_err(|e| invalid(&e))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid(&e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| invalid(&e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The accept loop: one task per connection.
struct Accept {
    listener: TcpListener,
    connection: bridge::Connection,
    acceptor: Option<TlsAcceptor>,
}

impl Accept {
    async fn run(self) {
        loop {
            let Ok((tcp, _)) = self.listener.accept().await else {
                // Out of descriptors and the like: wait a moment rather
                // than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let connection = self.connection.clone();
            match &self.acceptor {
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        // A failed TLS handshake is the client's to
                        // report; the front just drops the connection.
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            connection.serve(tls).await;
                        }
                    });
                }
                None => {
                    tokio::spawn(connection.serve(tcp));
                }
            }
        }
    }
}
