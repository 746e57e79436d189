//! Running `mqtide` and Mosquitto's own clients against a testkit broker.
//!
//! Every subscriber runs with `-W` as a hang guard: if what a test waits
//! for never comes, the subscriber exits 27 and the test fails on that
//! status instead of hanging.

#![allow(dead_code, reason = "each test file uses some of the helpers")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use mqtide_testkit::Mosquitto;

pub(crate) const MQTIDE: &str = env!("CARGO_BIN_EXE_mqtide");
/// How long a test waits for the broker to see a subscription.
pub(crate) const GUARD: Duration = Duration::from_secs(30);
/// `-W` for subscribers: exit (27) rather than hang.
pub(crate) const GUARD_SECS: &str = "30";

/// `mqtide` with `args`.
pub(crate) fn mqtide(args: &[&str]) -> Command {
    let mut command = Command::new(MQTIDE);
    command.args(args);
    command
}

/// `mqtide` with `args`, aimed at the broker's plain listener.
pub(crate) fn mqtide_at(broker: &Mosquitto, args: &[&str]) -> Command {
    let mut command = mqtide(args);
    command.args(["-h", "127.0.0.1", "-p", &broker.port().to_string()]);
    command
}

/// Where Mosquitto's command-line clients are, if they are installed.
fn mosquitto_client(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists())
}

/// mosquitto_pub and mosquitto_sub, or `None` after saying why the test
/// is skipped.
pub(crate) fn mosquitto_clients(test: &str) -> Option<(PathBuf, PathBuf)> {
    match (
        mosquitto_client("mosquitto_pub"),
        mosquitto_client("mosquitto_sub"),
    ) {
        (Some(publisher), Some(subscriber)) => Some((publisher, subscriber)),
        _ => {
            eprintln!(
                "skipping {test}: mosquitto_pub / mosquitto_sub are not installed (Debian: apt-get install mosquitto-clients)"
            );
            None
        }
    }
}

/// Starts a subscriber (`program` with `args`, client id `id`, piped
/// output) and waits until the broker has its subscription.
pub(crate) fn subscribed(broker: &Mosquitto, mut command: Command, id: &str) -> Child {
    let child = command
        .args(["-i", id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the subscriber");
    assert!(
        broker.wait_for_log(&format!("Received SUBSCRIBE from {id}"), GUARD),
        "the broker never saw {id} subscribe"
    );
    child
}

/// `mosquitto_sub` at the broker's plain listener.
pub(crate) fn mosquitto_sub(program: &Path, broker: &Mosquitto, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(["-W", GUARD_SECS])
        .args(args);
    command
}

/// Runs `mosquitto_pub` at the broker's plain listener; it must succeed.
pub(crate) fn mosquitto_pub(program: &Path, broker: &Mosquitto, args: &[&str]) {
    let status = Command::new(program)
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(args)
        .status()
        .expect("run mosquitto_pub");
    assert!(status.success(), "mosquitto_pub {args:?}: {status}");
}

/// Runs a command that must succeed, and returns its output.
pub(crate) fn succeeds(command: &mut Command) -> Output {
    let output = command.output().expect("run the command");
    assert!(
        output.status.success(),
        "{command:?}: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Waits for a subscriber and returns what it printed; it must exit 0.
pub(crate) fn finished(child: Child) -> String {
    let output = child.wait_with_output().expect("wait for the subscriber");
    assert!(
        output.status.success(),
        "subscriber: {} (27: the hang guard ran out)\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The lines of `text`, sorted (messages from separate connections may
/// interleave).
pub(crate) fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// Writes the broker's CA certificate (of its TLS or WSS listener) to a
/// file in its directory.
pub(crate) fn ca_file(broker: &Mosquitto) -> PathBuf {
    let material = broker.tls_material().expect("a TLS listener");
    let path = broker.dir().join("client-ca.pem");
    std::fs::write(&path, &material.ca_pem).expect("write the CA file");
    path
}
