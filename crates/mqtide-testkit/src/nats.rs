//! A private NATS server with its MQTT listener, for interop tests.
//!
//! NATS speaks MQTT 3.1.1 on a listener of its own and keeps MQTT state
//! (sessions, retained messages, QoS 1 messages) in JetStream, so the
//! server needs JetStream, a store directory and a `server_name`. Each
//! server gets all three in a temporary directory, its MQTT listener on a
//! free loopback port and its NATS client listener on a port the server
//! picks itself: it never touches a NATS server already running on the
//! machine.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::broker_process::{BrokerProcess, BrokerStartError, find_program, io_err};

const BROKER: &str = "nats-server";

/// NATS starts in well under a second; this bounds a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Tries when another process takes the MQTT port before the server does.
const PORT_ATTEMPTS: usize = 5;

/// Tells the servers of one test process apart.
static SERVERS: AtomicU32 = AtomicU32::new(0);

/// A running `nats-server` with an MQTT listener, killed when dropped.
///
/// ```no_run
/// use mqtide_testkit::NatsServer;
///
/// let nats = match NatsServer::start() {
///     Ok(nats) => nats,
///     Err(e) if e.is_not_installed() => {
///         eprintln!("skipping: {e}");
///         return Ok(());
///     }
///     Err(e) => return Err(e),
/// };
/// let url = nats.url(); // mqtt://127.0.0.1:<free port>, MQTT 3.1.1
/// # let _ = url;
/// # Ok::<(), mqtide_testkit::BrokerStartError>(())
/// ```
#[derive(Debug)]
pub struct NatsServer {
    process: BrokerProcess,
    port: u16,
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server (`$NATS_SERVER_BIN`, or `nats-server` in
    /// `/usr/sbin`, `/usr/local/bin` or on `$PATH`) and waits until its
    /// MQTT listener accepts connections.
    pub fn start() -> Result<Self, BrokerStartError> {
        let binary = find_program(
            BROKER,
            "NATS_SERVER_BIN",
            "nats-server",
            &["/usr/sbin", "/usr/local/bin", "/usr/bin"],
        )?;
        let mut attempt = 1;
        loop {
            match Self::try_start(&binary) {
                Err(e) if e.is_port_race() && attempt < PORT_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    fn try_start(binary: &Path) -> Result<Self, BrokerStartError> {
        let dir = tempfile::Builder::new()
            .prefix("mqtide-nats-")
            .tempdir()
            .map_err(io_err(BROKER, "creating a temporary directory"))?;
        let port = crate::free_port().map_err(io_err(BROKER, "finding a free port"))?;
        let name = format!(
            "mqtide_{}_{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        );
        // `listen: 127.0.0.1:-1`: the NATS client port is the server's
        // choice; only the MQTT port must be known in advance. JetStream's
        // limits keep a test server small (the defaults are fractions of
        // the machine's memory and disk).
        let config = format!(
            "server_name: {name}\n\
             listen: \"127.0.0.1:-1\"\n\
             jetstream {{\n  store_dir: {store:?}\n  max_mem: 64MB\n  max_file: 256MB\n}}\n\
             mqtt {{\n  listen: \"127.0.0.1:{port}\"\n}}\n",
            store = dir.path().join("jetstream").display().to_string(),
        );
        let config_file = dir.path().join("nats.conf");
        std::fs::write(&config_file, config).map_err(io_err(BROKER, "writing nats.conf"))?;
        let log = dir.path().join("nats.log");
        let mut command = Command::new(binary);
        command.arg("-c").arg(&config_file);
        let mut process = BrokerProcess::spawn(BROKER, command, &log, log.clone())?;
        process.wait_listening(port, START_TIMEOUT)?;
        Ok(Self { process, port, dir })
    }

    /// The MQTT port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The MQTT listener's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// An `mqtt://` URL for the MQTT listener.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The server's version as it logs it at start (`2.9.10`).
    pub fn version(&self) -> Option<String> {
        version_from_log(&self.log())
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The server's private directory (configuration, log, JetStream).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The version from the `Version:  2.9.10` line of the start banner.
fn version_from_log(log: &str) -> Option<String> {
    log.lines()
        .find_map(|line| line.split_once("Version:"))
        .map(|(_, version)| version.trim().to_owned())
        .filter(|version| !version.is_empty())
}

#[cfg(test)]
mod tests {
    use super::version_from_log;

    #[test]
    fn version_is_read_from_the_banner() {
        let log = "[7571] 2026/11/25 02:56:19.671446 [INF] Starting nats-server\n\
                   [7571] 2026/11/25 02:56:19.671518 [INF]   Version:  2.9.10\n\
                   [7571] 2026/11/25 02:56:19.671521 [INF]   Git:      [not set]\n";
        assert_eq!(version_from_log(log).as_deref(), Some("2.9.10"));
        assert_eq!(version_from_log("[INF] Starting nats-server\n"), None);
    }
}
