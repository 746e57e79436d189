//! Real Mosquitto brokers for mqtide's tests, each on a free loopback port
//! with the configuration the test needs.
//!
//! [`FaultProxy`] sits between a client and a broker and breaks the
//! network on command (cut, reset, delay, throttle, blackhole,
//! half-close), for chaos tests.
//!
//! WebSocket: [`Builder::native_websocket`] and
//! [`Builder::native_secure_websocket`] open Mosquitto's own websockets
//! listeners (libwebsockets; see `listeners.rs` for the two settings
//! Debian's 2.0.11 needs). [`WsFront`] is the testkit's own WebSocket
//! listener, a front that carries MQTT over WebSocket to the broker's TCP
//! listener ([`Builder::websocket`], [`Builder::secure_websocket`]), for
//! what the broker cannot do: capture the upgrade request, refuse it with
//! an HTTP status, send text frames.
//!
//! Tests never talk to a public broker or a fixed port: [`Mosquitto::start`]
//! writes a private configuration into a temporary directory, starts the
//! `mosquitto` binary on a port the operating system just handed out, and
//! waits until it accepts connections. Dropping the handle stops the broker
//! and removes the directory.
//!
//! ```no_run
//! use std::time::Duration;
//! use mqtide_testkit::Mosquitto;
//!
//! // A broker with persistence, for a test that restarts it.
//! let mut broker = Mosquitto::builder().persistence(true).start()?;
//! let url = broker.url(); // mqtt://127.0.0.1:<free port>, for the client under test
//! # let _ = url;
//! broker.restart()?;      // same port, state kept
//! broker.pause()?;        // SIGSTOP: connections stay open, nothing answers
//! broker.resume()?;
//! assert!(broker.wait_for_log("mosquitto version", Duration::from_secs(5)));
//! # Ok::<(), mqtide_testkit::StartError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod broker_process;
mod fault_proxy;
mod listeners;
#[cfg(test)]
mod mosquitto_tests;
mod nats;
mod rabbitmq;
mod tls;
mod ws_front;

pub use broker_process::BrokerStartError;
pub use fault_proxy::{Direction, Fault, FaultProxy, ProxyStats, Scope};
pub use nats::NatsServer;
pub use rabbitmq::RabbitMq;
pub use tls::{ServerCert, TlsListener, TlsMaterial, generate as generate_tls};
pub use ws_front::{UpgradeRequest, WsFront, WsFrontBuilder};

use std::fs::{self, File};
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// How long a broker may take to start listening before we give up.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a start is retried when another process took the port
/// between our probe and Mosquitto's bind.
const PORT_ATTEMPTS: usize = 5;

/// Why a broker could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The `mosquitto` binary was not found.
    #[error(
        "mosquitto not found (looked at $MOSQUITTO_BIN, $PATH and /usr/sbin); \
         install it with `apt-get install mosquitto` or run `.ci/run`"
    )]
    NotInstalled,
    /// Setting up the directory, configuration or process failed.
    #[error("starting mosquitto: {context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Generating test certificates failed.
    #[error("generating test certificates: {0}")]
    Certificates(#[from] rcgen::Error),
    /// The broker exited or never listened.
    #[error("mosquitto did not come up: {reason}\n--- mosquitto log ---\n{log}")]
    NotListening {
        /// What happened.
        reason: String,
        /// The broker's log.
        log: String,
    },
}

fn io_err(context: &'static str) -> impl FnOnce(io::Error) -> StartError {
    move |source| StartError::Io { context, source }
}

/// A running Mosquitto, stopped when dropped.
#[derive(Debug)]
pub struct Mosquitto {
    child: Option<Child>,
    binary: PathBuf,
    port: u16,
    tls: Option<(u16, TlsMaterial)>,
    ws: Option<WsFront>,
    wss: Option<WsFront>,
    /// Mosquitto's own websockets listeners: `ws://`, and `wss://` with
    /// the certificates it presents.
    native_ws: Option<u16>,
    native_wss: Option<(u16, TlsMaterial)>,
    dir: tempfile::TempDir,
}

/// Configures a broker before starting it; see [`Mosquitto::builder`].
#[derive(Debug, Clone, Default)]
pub struct Builder {
    persistence: bool,
    extra: String,
    tls: Option<TlsListener>,
    unix_socket: bool,
    users: Vec<(String, String)>,
    acl: Option<String>,
    websocket: bool,
    secure_websocket: bool,
    native_websocket: bool,
    native_secure_websocket: bool,
}

impl Builder {
    /// Keep sessions and queued messages on disk across
    /// [`restart`](Mosquitto::restart)s (off by default).
    pub fn persistence(mut self, on: bool) -> Self {
        self.persistence = on;
        self
    }

    /// Lines appended to the configuration, after the listener line (so
    /// listener options apply to it). May be called repeatedly.
    pub fn config(mut self, lines: &str) -> Self {
        self.extra.push_str(lines);
        self.extra.push('\n');
        self
    }

    /// Adds a TLS listener on a second free port, with certificates
    /// generated for this broker (see [`Mosquitto::tls_url`] and
    /// [`Mosquitto::tls_material`]).
    pub fn tls(mut self, listener: TlsListener) -> Self {
        self.tls = Some(listener);
        self
    }

    /// Adds a listener on a Unix domain socket in the broker's directory
    /// (see [`Mosquitto::unix_url`]).
    pub fn unix_socket(mut self, on: bool) -> Self {
        self.unix_socket = on;
        self
    }

    /// Adds a user to a password file (made with `mosquitto_passwd`); with
    /// any user added, anonymous clients are refused.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_owned(), password.to_owned()));
        self
    }

    /// An ACL file with these lines (Mosquitto's `acl_file` format, e.g.
    /// `user alice` then `topic readwrite allowed/#`).
    pub fn acl(mut self, lines: &str) -> Self {
        self.acl = Some(lines.to_owned());
        self
    }

    /// Adds a `ws://` listener: a [`WsFront`] on a free port in front of
    /// the broker's TCP listener (see [`Mosquitto::ws_url`]).
    pub fn websocket(mut self, on: bool) -> Self {
        self.websocket = on;
        self
    }

    /// Adds a `wss://` listener: a [`WsFront`] with TLS on a free port in
    /// front of the broker's TCP listener (see [`Mosquitto::wss_url`]). It
    /// presents the [`tls`](Self::tls) listener's certificates if there is
    /// one, else certificates generated for it; either way
    /// [`Mosquitto::tls_material`] has the CA to trust.
    pub fn secure_websocket(mut self, on: bool) -> Self {
        self.secure_websocket = on;
        self
    }

    /// Adds Mosquitto's own `ws://` listener (libwebsockets) on a free
    /// port: see [`Mosquitto::native_ws_url`]. Unlike
    /// [`websocket`](Self::websocket), the client's peer is the broker
    /// itself, not the testkit's front.
    pub fn native_websocket(mut self, on: bool) -> Self {
        self.native_websocket = on;
        self
    }

    /// Adds Mosquitto's own `wss://` listener: see
    /// [`Mosquitto::native_wss_url`]. It presents the
    /// [`tls`](Self::tls) listener's certificates if there is one, else
    /// certificates generated for it; [`Mosquitto::tls_material`] has the
    /// CA to trust.
    pub fn native_secure_websocket(mut self, on: bool) -> Self {
        self.native_secure_websocket = on;
        self
    }

    /// Starts the broker and waits until it accepts connections.
    pub fn start(self) -> Result<Mosquitto, StartError> {
        let binary = find_binary().ok_or(StartError::NotInstalled)?;
        let mut attempt = 1;
        loop {
            match Mosquitto::try_start(&binary, &self) {
                Err(StartError::NotListening { log, .. })
                    if log.contains("in use") && attempt < PORT_ATTEMPTS =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl Mosquitto {
    /// Starts a broker with a plain MQTT listener that allows anonymous
    /// clients and keeps nothing on disk.
    pub fn start() -> Result<Self, StartError> {
        Self::builder().start()
    }

    /// Starts a broker with `extra` appended to the configuration.
    pub fn start_with(extra: &str) -> Result<Self, StartError> {
        Self::builder().config(extra).start()
    }

    /// A broker to configure before starting it.
    pub fn builder() -> Builder {
        Builder::default()
    }

    fn try_start(binary: &Path, options: &Builder) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("mqtide-mosquitto-")
            .tempdir()
            .map_err(io_err("creating a temporary directory"))?;
        let port = free_port().map_err(io_err("finding a free port"))?;
        let persistence = if options.persistence {
            format!(
                "persistence true\npersistence_location {}/\n",
                dir.path().display()
            )
        } else {
            "persistence false\n".to_owned()
        };
        // `user root` keeps a broker started by root from switching to
        // the `mosquitto` user, who could not write our directory; it is
        // ignored when not running as root.
        fs::write(
            dir.path().join("mosquitto.conf"),
            format!(
                "user root\nper_listener_settings false\nallow_anonymous true\n{persistence}\
                 log_dest stderr\nlog_type all\nlistener {port} 127.0.0.1\n{}\n",
                options.extra
            ),
        )
        .map_err(io_err("writing mosquitto.conf"))?;
        let tls = match options.tls {
            Some(listener) => {
                let material = tls::generate(listener.server_cert)?;
                let tls_port = free_port().map_err(io_err("finding a free port"))?;
                listeners::write_certificates(dir.path(), "", &material)?;
                let listener_config = format!(
                    "\nlistener {tls_port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\n\
                     keyfile {d}/server.key\nrequire_certificate {}\n",
                    listener.require_client_cert,
                    d = dir.path().display()
                );
                let mut file = File::options()
                    .append(true)
                    .open(dir.path().join("mosquitto.conf"))
                    .map_err(io_err("writing mosquitto.conf"))?;
                file.write_all(listener_config.as_bytes())
                    .map_err(io_err("writing mosquitto.conf"))?;
                Some((tls_port, material))
            }
            None => None,
        };
        let mut security = String::new();
        if !options.users.is_empty() {
            let file = dir.path().join("passwd");
            let tool = find_tool("mosquitto_passwd").ok_or(StartError::NotInstalled)?;
            for (i, (name, password)) in options.users.iter().enumerate() {
                let mut command = Command::new(&tool);
                if i == 0 {
                    command.arg("-c");
                }
                let status = command
                    .arg("-b")
                    .arg(&file)
                    .arg(name)
                    .arg(password)
                    .stdout(Stdio::null())
                    .status()
                    .map_err(io_err("running mosquitto_passwd"))?;
                if !status.success() {
                    return Err(StartError::Io {
                        context: "mosquitto_passwd failed",
                        source: io::Error::other(status.to_string()),
                    });
                }
            }
            security.push_str(&format!(
                "allow_anonymous false\npassword_file {}\n",
                file.display()
            ));
        }
        if let Some(acl) = &options.acl {
            let file = dir.path().join("acl");
            fs::write(&file, acl).map_err(io_err("writing the ACL file"))?;
            security.push_str(&format!("acl_file {}\n", file.display()));
        }
        if !security.is_empty() {
            let mut file = File::options()
                .append(true)
                .open(dir.path().join("mosquitto.conf"))
                .map_err(io_err("writing mosquitto.conf"))?;
            file.write_all(security.as_bytes())
                .map_err(io_err("writing mosquitto.conf"))?;
        }
        if options.unix_socket {
            let line = format!(
                "\nlistener 0 {}\n",
                dir.path().join("mosquitto.sock").display()
            );
            let mut file = File::options()
                .append(true)
                .open(dir.path().join("mosquitto.conf"))
                .map_err(io_err("writing mosquitto.conf"))?;
            file.write_all(line.as_bytes())
                .map_err(io_err("writing mosquitto.conf"))?;
        }
        let native = listeners::native_websockets(
            dir.path(),
            options.native_websocket,
            options.native_secure_websocket,
            tls.as_ref().map(|(_, material)| material),
        )?;
        let mut broker = Self {
            child: None,
            binary: binary.to_owned(),
            port,
            tls,
            ws: None,
            wss: None,
            native_ws: native.ws,
            native_wss: native.wss,
            dir,
        };
        broker.spawn()?;
        // The fronts outlive restarts: they connect to the broker's port
        // anew for each client.
        if options.websocket {
            let front = WsFront::start(broker.addr());
            broker.ws = Some(front.map_err(io_err("starting the WebSocket front"))?);
        }
        if options.secure_websocket {
            let material = match broker.tls_material() {
                Some(material) => material.clone(),
                None => tls::generate(ServerCert::Valid)?,
            };
            let front = WsFront::builder(broker.addr()).tls(material).start();
            broker.wss = Some(front.map_err(io_err("starting the WebSocket front"))?);
        }
        Ok(broker)
    }

    fn spawn(&mut self) -> Result<(), StartError> {
        // The log is appended to across restarts: only what this process
        // writes after `logged` tells whether it is the one listening.
        let logged = self.log().len();
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mosquitto.log"))
            .map_err(io_err("opening mosquitto.log"))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io_err("spawning mosquitto"))?;
        self.child = Some(child);
        self.wait_listening(logged)
    }

    /// Stops the broker gracefully (SIGTERM: a persistent broker saves its
    /// state) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if signal(&child, Signal::SIGTERM).is_err() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Kills the broker at once (SIGKILL): nothing is saved.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker gracefully and starts it again on the same port,
    /// with the same configuration and (if persistent) state.
    ///
    /// While it is down, another process may take the port (a client's
    /// ephemeral port, or another test's broker): the start is retried a
    /// few times before that is an error.
    pub fn restart(&mut self) -> Result<(), StartError> {
        self.stop();
        let mut attempt = 1;
        loop {
            match self.spawn() {
                Err(StartError::NotListening { log, .. })
                    if log.contains("in use") && attempt < PORT_ATTEMPTS =>
                {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    /// Freezes the broker (SIGSTOP): connections stay open but nothing
    /// answers, as with a half-open connection.
    pub fn pause(&self) -> Result<(), StartError> {
        self.child
            .as_ref()
            .map_or(Ok(()), |c| signal(c, Signal::SIGSTOP))
            .map_err(io_err("pausing mosquitto"))
    }

    /// Thaws a paused broker (SIGCONT).
    pub fn resume(&self) -> Result<(), StartError> {
        self.child
            .as_ref()
            .map_or(Ok(()), |c| signal(c, Signal::SIGCONT))
            .map_err(io_err("resuming mosquitto"))
    }

    /// Polls until this process says it is running and its listener accepts
    /// a connection, the process exits, or [`START_TIMEOUT`] passes.
    ///
    /// A connection alone proves nothing: when the port was taken by
    /// another test's broker in the moment after [`free_port`] let it go,
    /// that broker accepts while ours is exiting with "Address already in
    /// use", and a test would run against a broker that vanishes when the
    /// other test ends. Mosquitto logs "running" only once every listener
    /// is bound, so the log written after `logged` settles it.
    fn wait_listening(&mut self, logged: usize) -> Result<(), StartError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let exited = match &mut self.child {
                Some(child) => child.try_wait().map_err(io_err("waiting for mosquitto"))?,
                None => None,
            };
            if let Some(status) = exited {
                return Err(StartError::NotListening {
                    reason: format!("it exited with {status}"),
                    log: self.log(),
                });
            }
            let running = self
                .log()
                .get(logged..)
                .is_some_and(|log| log.contains(" running"));
            if running && TcpStream::connect(self.addr()).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StartError::NotListening {
                    reason: format!(
                        "nothing listened on port {} within {START_TIMEOUT:?}",
                        self.port
                    ),
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The broker's process id, while it runs (for reading its CPU time
    /// from `/proc`, say).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The broker's TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// An `mqtt://` URL for the broker.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// An `mqtts://localhost:<port>` URL for the TLS listener, if there is one.
    pub fn tls_url(&self) -> Option<String> {
        self.tls
            .as_ref()
            .map(|(port, _)| format!("mqtts://localhost:{port}"))
    }

    /// A `unix://` URL for the Unix socket listener, if there is one.
    pub fn unix_url(&self) -> Option<String> {
        let path = self.dir.path().join("mosquitto.sock");
        path.exists().then(|| format!("unix://{}", path.display()))
    }

    /// A `ws://127.0.0.1:<port>/mqtt` URL for the WebSocket listener, if
    /// there is one.
    pub fn ws_url(&self) -> Option<String> {
        self.ws.as_ref().map(WsFront::url)
    }

    /// A `wss://localhost:<port>/mqtt` URL for the secure WebSocket
    /// listener, if there is one.
    pub fn wss_url(&self) -> Option<String> {
        self.wss.as_ref().map(WsFront::url)
    }

    /// A `ws://127.0.0.1:<port>/mqtt` URL for Mosquitto's own websockets
    /// listener, if there is one ([`Builder::native_websocket`]).
    pub fn native_ws_url(&self) -> Option<String> {
        self.native_ws
            .map(|port| format!("ws://127.0.0.1:{port}/mqtt"))
    }

    /// A `wss://localhost:<port>/mqtt` URL for Mosquitto's own secure
    /// websockets listener, if there is one
    /// ([`Builder::native_secure_websocket`]).
    pub fn native_wss_url(&self) -> Option<String> {
        self.native_wss
            .as_ref()
            .map(|(port, _)| format!("wss://localhost:{port}/mqtt"))
    }

    /// The front of the WebSocket listener (what upgrades it received),
    /// if there is one.
    pub fn ws_front(&self) -> Option<&WsFront> {
        self.ws.as_ref()
    }

    /// The front of the secure WebSocket listener, if there is one.
    pub fn wss_front(&self) -> Option<&WsFront> {
        self.wss.as_ref()
    }

    /// The certificates of the TLS listener, or else of the secure
    /// WebSocket listener, if there is one.
    pub fn tls_material(&self) -> Option<&TlsMaterial> {
        self.tls
            .as_ref()
            .map(|(_, material)| material)
            .or_else(|| self.native_wss.as_ref().map(|(_, material)| material))
            .or_else(|| self.wss.as_ref().and_then(WsFront::tls_material))
    }

    /// The broker's private directory (configuration and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until the broker's log contains `needle` (a hang guard, not
    /// a delay: it returns as soon as the line is there). False on timeout.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// What the broker has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        // Resume first: a stopped process cannot act on SIGTERM.
        let _ = self.resume();
        self.kill();
    }
}

/// Sends `signal` to the broker process.
fn signal(child: &Child, signal: Signal) -> io::Result<()> {
    let pid = i32::try_from(child.id()).map_err(|_| io::Error::other("pid out of range"))?;
    nix::sys::signal::kill(Pid::from_raw(pid), signal).map_err(io::Error::from)
}

/// A port that was free a moment ago. Mosquitto binds it next; the rare
/// loser of a race is retried by [`Mosquitto::start_with`].
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MOSQUITTO_BIN") {
        return Some(PathBuf::from(path));
    }
    find_tool("mosquitto")
}

/// A program of the mosquitto package, on `$PATH` or where Debian puts it.
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
