//! Real Mosquitto brokers for mqtide's tests, each on a free loopback port
//! with the configuration the test needs.
//!
//! Tests never talk to a public broker or a fixed port: [`Mosquitto::start`]
//! writes a private configuration into a temporary directory, starts the
//! `mosquitto` binary on a port the operating system just handed out, and
//! waits until it accepts connections. Dropping the handle stops the broker
//! and removes the directory.
//!
//! ```no_run
//! let broker = mqtide_testkit::Mosquitto::start()?;
//! let stream = std::net::TcpStream::connect(broker.addr())?;
//! # Ok::<(), mqtide_testkit::StartError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fs::{self, File};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts a broker with a plain MQTT listener that allows anonymous
    /// clients and keeps nothing on disk.
    pub fn start() -> Result<Self, StartError> {
        Self::start_with("")
    }

    /// Starts a broker with `extra` appended to the configuration (after
    /// the listener line, so listener options apply to it).
    pub fn start_with(extra: &str) -> Result<Self, StartError> {
        let binary = find_binary().ok_or(StartError::NotInstalled)?;
        let mut attempt = 1;
        loop {
            match Self::try_start(&binary, extra) {
                Err(StartError::NotListening { log, .. })
                    if log.contains("in use") && attempt < PORT_ATTEMPTS =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn try_start(binary: &Path, extra: &str) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("mqtide-mosquitto-")
            .tempdir()
            .map_err(io_err("creating a temporary directory"))?;
        let port = free_port().map_err(io_err("finding a free port"))?;
        let config = dir.path().join("mosquitto.conf");
        fs::write(
            &config,
            format!(
                "per_listener_settings false\nallow_anonymous true\npersistence false\n\
                 log_dest stderr\nlog_type all\nlistener {port} 127.0.0.1\n{extra}\n"
            ),
        )
        .map_err(io_err("writing mosquitto.conf"))?;
        let log = File::create(dir.path().join("mosquitto.log"))
            .map_err(io_err("creating mosquitto.log"))?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io_err("spawning mosquitto"))?;
        let mut broker = Self { child, port, dir };
        broker.wait_listening()?;
        Ok(broker)
    }

    /// Polls until the listener accepts a connection, the process exits, or
    /// [`START_TIMEOUT`] passes.
    fn wait_listening(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(io_err("waiting for mosquitto"))?
            {
                return Err(StartError::NotListening {
                    reason: format!("it exited with {status}"),
                    log: self.log(),
                });
            }
            if TcpStream::connect(self.addr()).is_ok() {
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

    /// The broker's private directory (configuration and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the broker has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        // The broker may already have exited; either way reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("mosquitto"))
        .find(|candidate| candidate.is_file())
}
