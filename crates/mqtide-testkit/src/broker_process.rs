//! What the brokers other than Mosquitto share: finding the program,
//! running it in a process group of its own, waiting for its MQTT port,
//! and killing the whole group when the handle goes.
//!
//! A group, not just the child: `rabbitmq-server` is a shell script that
//! starts the Erlang VM (which starts helpers of its own), so killing the
//! script alone would leave a broker running. Every process of the group
//! gets SIGKILL; the broker's directory is thrown away with it, so there is
//! nothing a graceful stop would save.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Why a broker other than Mosquitto could not be started.
///
/// [`is_not_installed`](Self::is_not_installed) tells a test to skip
/// rather than fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerStartError {
    /// The broker's program was not found.
    #[error("{broker} not installed (looked at {looked})")]
    NotInstalled {
        /// Which broker.
        broker: &'static str,
        /// Where we looked.
        looked: String,
    },
    /// Setting up the directory, configuration or process failed.
    #[error("starting {broker}: {context}: {source}")]
    Io {
        /// Which broker.
        broker: &'static str,
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The broker exited or never listened.
    #[error("{broker} did not come up: {reason}\n--- {broker} log ---\n{log}")]
    NotListening {
        /// Which broker.
        broker: &'static str,
        /// What happened.
        reason: String,
        /// The broker's log.
        log: String,
    },
}

impl BrokerStartError {
    /// True when the broker is simply not installed: a test should say so
    /// and skip, not fail.
    pub fn is_not_installed(&self) -> bool {
        matches!(self, Self::NotInstalled { .. })
    }

    /// True when the broker's port was taken between our probe and its
    /// bind, which is worth another try on another port.
    pub(crate) fn is_port_race(&self) -> bool {
        match self {
            Self::NotListening { log, .. } => {
                let log = log.to_ascii_lowercase();
                log.contains("address already in use") || log.contains("eaddrinuse")
            }
            _ => false,
        }
    }
}

/// A closure mapping an `io::Error` to [`BrokerStartError::Io`].
pub(crate) fn io_err(
    broker: &'static str,
    context: &'static str,
) -> impl FnOnce(io::Error) -> BrokerStartError {
    move |source| BrokerStartError::Io {
        broker,
        context,
        source,
    }
}

/// `$env_var` if it is set (and names a file), else the first `name` in
/// `dirs` or on `$PATH` that is a file; or `NotInstalled` saying where we
/// looked.
pub(crate) fn find_program(
    broker: &'static str,
    env_var: &str,
    name: &str,
    dirs: &[&str],
) -> Result<PathBuf, BrokerStartError> {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(BrokerStartError::NotInstalled {
                broker,
                looked: format!("${env_var} = {}", path.display()),
            })
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates: Vec<PathBuf> = dirs
        .iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .collect();
    candidates
        .iter()
        .find(|candidate| candidate.is_file())
        .cloned()
        .ok_or_else(|| BrokerStartError::NotInstalled {
            broker,
            looked: format!("${env_var}, {dirs:?} and $PATH"),
        })
}

/// A broker process (and whatever it started) in a process group of its
/// own, killed as a group when dropped.
#[derive(Debug)]
pub(crate) struct BrokerProcess {
    broker: &'static str,
    child: Option<Child>,
    log_file: PathBuf,
}

impl BrokerProcess {
    /// Starts `command` in a new process group with stdin closed and
    /// stdout and stderr appended to `output`. `log_file` is the file the
    /// broker logs to (which may be `output`), read when it fails to start.
    pub(crate) fn spawn(
        broker: &'static str,
        mut command: Command,
        output: &Path,
        log_file: PathBuf,
    ) -> Result<Self, BrokerStartError> {
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(output)
            .map_err(io_err(broker, "opening the output file"))?;
        let err = out
            .try_clone()
            .map_err(io_err(broker, "opening the output file"))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(io_err(broker, "spawning the broker"))?;
        Ok(Self {
            broker,
            child: Some(child),
            log_file,
        })
    }

    /// Polls until `port` on 127.0.0.1 accepts a connection, the process
    /// exits, or `timeout` passes (then the process is killed).
    pub(crate) fn wait_listening(
        &mut self,
        port: u16,
        timeout: Duration,
    ) -> Result<(), BrokerStartError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + timeout;
        loop {
            let exited = match &mut self.child {
                Some(child) => child
                    .try_wait()
                    .map_err(io_err(self.broker, "waiting for the broker"))?,
                None => None,
            };
            if let Some(status) = exited {
                self.kill();
                return Err(BrokerStartError::NotListening {
                    broker: self.broker,
                    reason: format!("it exited with {status}"),
                    log: self.log(),
                });
            }
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(BrokerStartError::NotListening {
                    broker: self.broker,
                    reason: format!("nothing listened on port {port} within {timeout:?}"),
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the broker has logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// Kills every process of the group at once and reaps the child.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The group's id is the child's pid (`process_group(0)`).
            let killed = i32::try_from(child.id())
                .map_err(|_| ())
                .and_then(|pid| killpg(Pid::from_raw(pid), Signal::SIGKILL).map_err(|_| ()));
            if killed.is_err() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
