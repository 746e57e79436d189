//! `mqtide pub` and `mqtide sub` as a user runs them, against a real
//! Mosquitto started by the testkit.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use mqtide_testkit::Mosquitto;

const MQTIDE: &str = env!("CARGO_BIN_EXE_mqtide");
const GUARD: Duration = Duration::from_secs(30);

fn mqtide(broker: &Mosquitto, args: &[&str]) -> Command {
    let mut command = Command::new(MQTIDE);
    command
        .args(args)
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()]);
    command
}

/// Starts `mqtide sub` and waits (hang guard) until the broker has its
/// subscription.
fn subscriber(broker: &Mosquitto, id: &str, args: &[&str]) -> std::process::Child {
    let child = mqtide(broker, args)
        .args(["-i", id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(broker.wait_for_log(&format!("Received SUBSCRIBE from {id}"), GUARD));
    child
}

#[test]
fn pub_and_sub_like_mosquitto() {
    let broker = Mosquitto::start().unwrap();
    for version in ["mqttv311", "mqttv5"] {
        let id = format!("cli-sub-{version}");
        let sub = subscriber(
            &broker,
            &id,
            &[
                "sub", "-t", "cli/#", "-v", "-C", "3", "-q", "1", "-V", version,
            ],
        );
        let status = mqtide(
            &broker,
            &["pub", "-t", "cli/a", "-m", "one", "-q", "1", "-V", version],
        )
        .status()
        .unwrap();
        assert!(status.success());
        // One message per line of standard input.
        let mut lines = mqtide(
            &broker,
            &["pub", "-t", "cli/b", "-l", "-q", "2", "-V", version],
        )
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
        lines
            .stdin
            .take()
            .unwrap()
            .write_all(b"two\nthree\n")
            .unwrap();
        assert!(lines.wait().unwrap().success());
        let output = sub.wait_with_output().unwrap();
        assert!(output.status.success());
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "cli/a one\ncli/b two\ncli/b three\n"
        );
    }
}

#[test]
fn sub_timeout_exits_with_27() {
    let broker = Mosquitto::start().unwrap();
    let status = mqtide(&broker, &["sub", "-t", "quiet", "-W", "1"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(27));
}

#[test]
fn unreachable_broker_and_bad_flags_say_what_to_do() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = Command::new(MQTIDE)
        .args([
            "pub",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "x",
            "-m",
            "y",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect") && stderr.contains("check the host"),
        "{stderr}"
    );

    let output = Command::new(MQTIDE)
        .args(["pub", "-t", "x", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--bogus"));

    let output = Command::new(MQTIDE)
        .args(["pub", "-t", "x", "-m", "y", "-q", "3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("QoS must be 0, 1 or 2"));
}
