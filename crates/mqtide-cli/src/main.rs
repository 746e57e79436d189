//! The `mqtide` binary: `mqtide pub` and `mqtide sub`, with flags that
//! follow mosquitto_pub and mosquitto_sub so scripts and habits carry over,
//! and `mqtide bench`, a load generator (see the `bench` module).
//!
//! Exit codes: 0 done; 1 an error (a bad value, an unreachable broker, a
//! lost connection); 2 a flag clap could not parse; 3 `bench` lost
//! messages; 27 `sub -W` ran out; a refused connection exits with the
//! broker's CONNACK code, as mosquitto does (the 3.1.1 return code, or the
//! 5.0 reason code).

mod args;
mod bench;
mod clock;
mod conn;
mod format;
mod packet_log;
mod properties;
mod publish;
mod subscribe;

use std::fmt::Display;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use mqtide::{Client, ConnectError, Error, ProtocolVersion, QoS, ReasonCode, TlsFailure};

use args::{Cli, Command};
use properties::Properties;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some((_, matches)) = matches.subcommand() {
        match &mut cli.command {
            Command::Pub(args) => args.conn.group_properties(matches),
            Command::Sub(args) => args.conn.group_properties(matches),
            Command::Bench(_) => {}
        }
    }
    let v5 = match &cli.command {
        Command::Pub(args) => args.conn.version().ok(),
        Command::Sub(args) => args.conn.version().ok(),
        Command::Bench(_) => None,
    } == Some(ProtocolVersion::V5);
    let debug = match &cli.command {
        Command::Pub(args) => args.conn.debug,
        Command::Sub(args) => args.conn.debug,
        Command::Bench(_) => false,
    };
    let quiet = match &cli.command {
        Command::Pub(args) => args.conn.quiet,
        Command::Sub(args) => args.conn.quiet,
        Command::Bench(_) => false,
    };
    QUIET.store(quiet, Ordering::Relaxed);
    if debug {
        packet_log::install();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mqtide: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Pub(args) => publish::run(args).await,
            Command::Sub(args) => subscribe::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
    // Do not wait for tasks still blocked on standard input.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(e) => {
            // --quiet keeps quiet about what went wrong at run time, not
            // about a command line that cannot work (mosquitto's rule).
            let usage = matches!(e, Error::InvalidOption(_) | Error::InvalidUrl { .. });
            if usage || !quiet {
                eprintln!("mqtide: {e}");
                if let Some(hint) = hint(&e) {
                    eprintln!("mqtide: {hint}");
                }
            }
            match &e {
                Error::Connect(ConnectError::Refused { reason_code, .. }) => {
                    let code = if v5 {
                        Some(reason_code.as_u8())
                    } else {
                        reason_code.to_v3_connack()
                    };
                    code.filter(|c| *c != 0)
                        .map_or(ExitCode::FAILURE, ExitCode::from)
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// `--quiet`: runtime errors and warnings are not printed.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Prints a runtime error or warning on standard error, unless `--quiet`.
pub(crate) fn warn(message: impl Display) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("mqtide: {message}");
    }
}

/// What to do about an error, when there is something to say.
fn hint(error: &Error) -> Option<&'static str> {
    let connect = match error {
        Error::Connect(e) => e,
        Error::InvalidUrl { .. } => {
            return Some(
                "a broker URL looks like mqtt://host:1883, mqtts://host:8883, ws://host:8080/mqtt or wss://host:443/mqtt, with user:password@ before the host if needed",
            );
        }
        _ => return None,
    };
    Some(match connect {
        ConnectError::Tls { failure, .. } => match failure {
            TlsFailure::UnknownIssuer | TlsFailure::BadSignature => {
                "trust the broker's CA with --cafile or --capath"
            }
            TlsFailure::NotValidForName { .. } => {
                "connect by the host name the certificate was issued for (-h or -L), or, for a test broker only, --insecure"
            }
            TlsFailure::HandshakeRejected { .. } => {
                "the broker may want a client certificate: give --cert and --key"
            }
            _ => return None,
        },
        ConnectError::Io { .. } => {
            "check the host and port (-h, -p or -L), and that the broker runs"
        }
        ConnectError::Timeout { .. } => {
            "check the host and port (-h, -p or -L); speaking TLS to a plain port (or the reverse) also hangs"
        }
        ConnectError::Refused { reason_code, .. } => match reason_code {
            ReasonCode::BadUserNameOrPassword => "check the user name and password (-u, -P)",
            ReasonCode::NotAuthorized => {
                "the broker does not let this client connect: check -u, -P and its access rules"
            }
            ReasonCode::ClientIdentifierNotValid => "choose another client id with -i",
            ReasonCode::UnsupportedProtocolVersion => {
                "the broker does not speak this MQTT version: try -V mqttv311"
            }
            ReasonCode::ServerUnavailable | ReasonCode::ServerBusy => "try again later",
            _ => return None,
        },
        ConnectError::Lost { .. } => {
            "the broker closed the connection before accepting it: try -V mqttv311 for an older broker, and check the scheme and port (TLS, WebSocket path)"
        }
        _ => return None,
    })
}

/// Resolves on Ctrl-C or SIGTERM; never if the signals cannot be watched.
pub(crate) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            result = tokio::signal::ctrl_c() => {
                if result.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Disconnects with the `-D disconnect` properties, after waiting (up to
/// 10 s) for publishes in flight.
pub(crate) async fn disconnect(client: &Client, properties: &Properties) -> Result<(), Error> {
    client
        .disconnect_with(
            ReasonCode::Success,
            properties.disconnect.clone(),
            Duration::from_secs(10),
        )
        .await
}

/// A broker URL without its user name and password, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// QoS from the `-q` number.
pub(crate) fn qos_from(value: u8) -> Result<QoS, Error> {
    QoS::from_u8(value)
        .ok_or_else(|| Error::InvalidOption(format!("-q {value}: QoS must be 0, 1 or 2")))
}
