//! A private RabbitMQ node with its MQTT plugin, for interop tests.
//!
//! Each node is a node of its own: its own name (`mqtide-<pid>-<n>@localhost`),
//! its own database, log, Erlang cookie, configuration and enabled-plugins
//! file in a temporary directory, the MQTT listener on a free loopback
//! port, the Erlang distribution on another, and no AMQP listener. The
//! environment the node starts with is ours alone: `RABBITMQ_*` and `ERL_*`
//! variables of the calling process are dropped, and the machine's
//! `rabbitmq-env.conf` is replaced by an empty one, so a node already
//! running on the machine (`rabbit@localhost` on port 5672) is never
//! touched. The node registers with the machine's `epmd`, as every Erlang
//! node does (and starts one if none runs, which then stays, as it would
//! for any Erlang program).
//!
//! RabbitMQ takes seconds to start (about 13 s on a busy 2-core machine),
//! so a test binary should start one node and run all its cases on it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::broker_process::{BrokerProcess, BrokerStartError, find_program, io_err};

const BROKER: &str = "rabbitmq-server";

/// Starting the Erlang VM, the database, Ra and the plugin is slow, and
/// slower still on a machine busy building.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// Tries when another process takes one of our ports before the node does.
const PORT_ATTEMPTS: usize = 3;

/// Tells the nodes of one test process apart.
static NODES: AtomicU32 = AtomicU32::new(0);

/// A running RabbitMQ node with the MQTT plugin, killed (with every process
/// it started) when dropped.
///
/// ```no_run
/// use mqtide_testkit::RabbitMq;
///
/// let rabbit = match RabbitMq::start() {
///     Ok(rabbit) => rabbit,
///     Err(e) if e.is_not_installed() => {
///         eprintln!("skipping: {e}");
///         return Ok(());
///     }
///     Err(e) => return Err(e),
/// };
/// let url = rabbit.url(); // mqtt://127.0.0.1:<free port>
/// # let _ = url;
/// # Ok::<(), mqtide_testkit::BrokerStartError>(())
/// ```
#[derive(Debug)]
pub struct RabbitMq {
    process: BrokerProcess,
    port: u16,
    node: String,
    dir: tempfile::TempDir,
}

impl RabbitMq {
    /// Starts a node (`$RABBITMQ_SERVER_BIN`, or the `rabbitmq-server`
    /// script in `/usr/lib/rabbitmq/bin` or on `$PATH`) and waits until its
    /// MQTT listener accepts connections.
    ///
    /// Debian's `/usr/sbin/rabbitmq-server` is a wrapper that switches to
    /// the `rabbitmq` user and logs to `/var/log`; the script it wraps, in
    /// `/usr/lib/rabbitmq/bin`, is looked at first.
    pub fn start() -> Result<Self, BrokerStartError> {
        let script = find_program(
            BROKER,
            "RABBITMQ_SERVER_BIN",
            "rabbitmq-server",
            &["/usr/lib/rabbitmq/bin", "/usr/local/sbin", "/usr/sbin"],
        )?;
        let mut attempt = 1;
        loop {
            match Self::try_start(&script) {
                Err(e) if e.is_port_race() && attempt < PORT_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    fn try_start(script: &Path) -> Result<Self, BrokerStartError> {
        let dir = tempfile::Builder::new()
            .prefix("mqtide-rabbitmq-")
            .tempdir()
            .map_err(io_err(BROKER, "creating a temporary directory"))?;
        let port = crate::free_port().map_err(io_err(BROKER, "finding a free port"))?;
        let dist_port = crate::free_port().map_err(io_err(BROKER, "finding a free port"))?;
        let node = format!(
            "mqtide-{}-{}@localhost",
            std::process::id(),
            NODES.fetch_add(1, Ordering::Relaxed)
        );
        let path = |name: &str| -> PathBuf { dir.path().join(name) };
        // Everything goes to the console, which is our log file: one file
        // holds the early boot errors and the broker's own log alike.
        let config = format!(
            "listeners.tcp = none\n\
             mqtt.listeners.tcp.default = 127.0.0.1:{port}\n\
             mqtt.allow_anonymous = true\n\
             log.console = true\n\
             log.console.level = info\n\
             log.file = false\n"
        );
        let files = [
            ("rabbitmq.conf", config.as_str()),
            ("enabled_plugins", "[rabbitmq_mqtt].\n"),
            ("rabbitmq-env.conf", ""),
        ];
        for (name, content) in files {
            std::fs::write(path(name), content)
                .map_err(io_err(BROKER, "writing the node's configuration"))?;
        }

        let mut command = Command::new(script);
        for (key, _) in std::env::vars_os() {
            let key_str = key.to_string_lossy();
            if key_str.starts_with("RABBITMQ_") || key_str.starts_with("ERL_") {
                command.env_remove(&key);
            }
        }
        command
            // The Erlang cookie is created in $HOME: keep it in our directory.
            .env("HOME", dir.path())
            .env("RABBITMQ_CONF_ENV_FILE", path("rabbitmq-env.conf"))
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", path("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", path("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", path("mnesia"))
            .env("RABBITMQ_LOG_BASE", path("log"))
            .env("RABBITMQ_PLUGINS_EXPAND_DIR", path("plugins-expand"))
            .env("RABBITMQ_PID_FILE", path("rabbitmq.pid"))
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .env("ERL_EPMD_ADDRESS", "127.0.0.1");
        let log = path("rabbitmq.log");
        let mut process = BrokerProcess::spawn(BROKER, command, &log, log.clone())?;
        process.wait_listening(port, START_TIMEOUT)?;
        Ok(Self {
            process,
            port,
            node,
            dir,
        })
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

    /// The node's name (`mqtide-<pid>-<n>@localhost`).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// RabbitMQ's version as the node logs it at start (`3.10.8`).
    pub fn version(&self) -> Option<String> {
        version_from_log(&self.log())
    }

    /// What the node has logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The node's private directory (configuration, database, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The version from the `Starting RabbitMQ 3.10.8 on Erlang …` log line
/// (or the banner's `RabbitMQ 3.10.8`).
fn version_from_log(log: &str) -> Option<String> {
    log.lines().find_map(|line| {
        let (_, rest) = line.split_once("RabbitMQ ")?;
        let version = rest.split_whitespace().next()?;
        version
            .starts_with(|c: char| c.is_ascii_digit())
            .then(|| version.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::version_from_log;

    #[test]
    fn version_is_read_from_the_log() {
        let log = "2026-11-25 02:57:10.170373+00:00 [info] <0.223.0> Feature flags: list\n\
                   2026-11-25 02:57:10.880588+00:00 [info] <0.223.0>  Starting RabbitMQ 3.10.8 on Erlang 25.2.3 [jit]\n";
        assert_eq!(version_from_log(log).as_deref(), Some("3.10.8"));
        assert_eq!(
            version_from_log("  ##  ##      RabbitMQ 3.12.1\n").as_deref(),
            Some("3.12.1")
        );
        assert_eq!(version_from_log("Licensed by RabbitMQ authors\n"), None);
    }
}
