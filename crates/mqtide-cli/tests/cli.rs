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

/// `-d` prints every packet on standard error, as `mosquitto_pub -d` and
/// `mosquitto_sub -d` do, and never the payload or the password.
#[test]
fn debug_prints_the_packet_log() {
    let broker = Mosquitto::builder()
        .user("alice", "pw-never-printed")
        .start()
        .unwrap();
    let credentials = ["-u", "alice", "-P", "pw-never-printed"];
    let sub = mqtide(&broker, &["sub", "-d", "-t", "dbg/#", "-C", "1", "-q", "2"])
        .args(["-i", "cli-debug-sub"])
        .args(credentials)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(broker.wait_for_log("Received SUBSCRIBE from cli-debug-sub", GUARD));
    let published = mqtide(
        &broker,
        &[
            "pub",
            "-d",
            "-t",
            "dbg/x",
            "-m",
            "payload-never-printed",
            "-q",
            "2",
        ],
    )
    .args(credentials)
    .output()
    .unwrap();
    assert!(published.status.success());
    let received = sub.wait_with_output().unwrap();
    assert!(received.status.success());
    let pub_log = String::from_utf8_lossy(&published.stderr);
    let sub_log = String::from_utf8_lossy(&received.stderr);
    for (log, lines) in [
        (
            &pub_log,
            &[
                "mqtide: sent CONNECT (",
                "mqtide: received CONNACK (",
                "mqtide: sent PUBLISH (id 1, q2, d0, r0, 'dbg/x', payload 21 B",
                "mqtide: received PUBREC (id 1",
                "mqtide: sent PUBREL (id 1",
                "mqtide: received PUBCOMP (id 1",
                "mqtide: sent DISCONNECT",
            ][..],
        ),
        (
            &sub_log,
            &[
                "mqtide: sent SUBSCRIBE (id 1, 'dbg/#' q2",
                "mqtide: received SUBACK (id 1",
                "mqtide: received PUBLISH (id ",
                "mqtide: sent PUBREC (id ",
            ][..],
        ),
    ] {
        for line in lines {
            assert!(log.contains(line), "no {line:?} in:\n{log}");
        }
        assert!(!log.contains("payload-never-printed"), "{log}");
        assert!(!log.contains("pw-never-printed"), "{log}");
    }
}

/// `sub` across a broker restart says that the connection was lost, that
/// each attempt while the broker is down failed (as a failed attempt, not a
/// lost connection), and that it reconnected; then it still receives.
#[test]
fn sub_reports_a_lost_connection_failed_attempts_and_the_reconnect() {
    let mut broker = Mosquitto::start().unwrap();
    let mut sub = mqtide(&broker, &["sub", "-t", "restart/#", "-C", "1", "-q", "1"])
        .args(["-i", "cli-restart-sub"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(broker.wait_for_log("Received SUBSCRIBE from cli-restart-sub", GUARD));
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = sub.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |needle: &str| {
        while !seen.iter().any(|l: &String| l.contains(needle)) {
            match lines.recv_timeout(GUARD) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("no {needle:?} on standard error: {seen:#?}"),
            }
        }
    };
    broker.stop();
    wait_for("mqtide: connection lost");
    wait_for("mqtide: reconnecting to 127.0.0.1:");
    broker.restart().unwrap();
    wait_for("mqtide: reconnected");
    assert!(
        seen.iter()
            .filter(|l| l.contains("connection lost"))
            .count()
            == 1,
        "a failed attempt is no lost connection: {seen:#?}"
    );
    // Subscribed again (the log may hold the first broker's lines too).
    let started = std::time::Instant::now();
    while broker
        .log()
        .matches("Received SUBSCRIBE from cli-restart-sub")
        .count()
        < 2
    {
        assert!(
            started.elapsed() < GUARD,
            "not subscribed again: {}",
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = mqtide(
        &broker,
        &["pub", "-t", "restart/a", "-m", "back", "-q", "1"],
    )
    .status()
    .unwrap();
    assert!(status.success());
    let output = sub.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "back\n");
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
