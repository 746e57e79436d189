//! `mqtide bench` as a user runs it, against a real Mosquitto started by
//! the testkit: short runs bounded by a message count, whose counts must
//! add up.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use mqtide_testkit::{Mosquitto, ServerCert, TlsListener};
use serde_json::Value;

const MQTIDE: &str = env!("CARGO_BIN_EXE_mqtide");
const GUARD: Duration = Duration::from_secs(30);

/// A broker for runs whose counts must add up. Mosquitto holds at most
/// `max_queued_messages` (1000 by default) QoS 1 and 2 messages for a
/// subscriber beyond its in-flight window, and drops the rest ("Outgoing
/// messages are being dropped for client ..." in its log): a subscriber
/// starved of CPU on a loaded machine then loses messages that every
/// publisher had acknowledged (seen in CI: 13 631 of 13 765). Unbounded
/// here, so loss can only be ours.
fn broker() -> Mosquitto {
    Mosquitto::start_with("max_queued_messages 0").unwrap()
}

fn bench(broker: &Mosquitto, args: &[&str]) -> Command {
    let mut command = Command::new(MQTIDE);
    command
        .arg("bench")
        .args(args)
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()]);
    command
}

/// Runs to the end and parses the `--json` summary.
fn summary(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    // Standard error is not a terminal here: no progress line.
    assert!(!stderr.contains("connected "), "{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn u64_at(json: &Value, pointer: &str) -> u64 {
    json.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} missing in {json}"))
}

#[test]
fn pub_with_subscriber_counts_add_up_at_every_qos() {
    let broker = broker();
    for (qos, version) in [
        ("0", "mqttv311"),
        ("1", "mqttv5"),
        ("2", "mqttv311"),
        ("2", "mqttv5"),
    ] {
        let topic = format!("bench/q{qos}/{version}/%i");
        let output = bench(
            &broker,
            &[
                "pub", "-c", "2", "-C", "250", "-q", qos, "-V", version, "-t", &topic, "--sub",
                "--json",
            ],
        )
        .output()
        .unwrap();
        let json = summary(&output);
        assert_eq!(json["mode"], "pub");
        assert_eq!(u64_at(&json, "/connections/ok"), 3, "{json}");
        assert_eq!(u64_at(&json, "/publish/sent"), 500, "{json}");
        assert_eq!(u64_at(&json, "/publish/failed"), 0, "{json}");
        assert_eq!(u64_at(&json, "/receive/expected"), 500, "{json}");
        let received = u64_at(&json, "/receive/received");
        let lost = u64_at(&json, "/receive/lost");
        if qos == "0" {
            // At most once: what did not arrive is counted as lost.
            assert_eq!(received + lost, 500, "{json}");
            assert!(json["publish"]["acked"].is_null(), "{json}");
        } else {
            assert_eq!(received, 500, "{json}");
            assert_eq!(lost, 0, "{json}");
            assert_eq!(u64_at(&json, "/publish/acked"), 500, "{json}");
            assert_eq!(u64_at(&json, "/publish/ack_latency_us/samples"), 500);
        }
        assert_eq!(u64_at(&json, "/receive/out_of_order"), 0, "{json}");
        assert_eq!(u64_at(&json, "/receive/latency_us/samples"), received);
    }
}

#[test]
fn duration_and_paced_runs_deliver_what_they_sent() {
    let broker = broker();
    let output = bench(
        &broker,
        &[
            "pub",
            "-c",
            "2",
            "--duration",
            "300ms",
            "-q",
            "1",
            "-t",
            "timed/%i",
            "--sub",
            "--json",
        ],
    )
    .output()
    .unwrap();
    let json = summary(&output);
    let sent = u64_at(&json, "/publish/sent");
    assert!(sent > 0, "{json}");
    assert_eq!(u64_at(&json, "/receive/received"), sent, "{json}");

    let output = bench(
        &broker,
        &[
            "pub", "-c", "3", "--rate", "200", "-C", "20", "-q", "2", "-t", "paced/%i", "--sub",
            "--json",
        ],
    )
    .output()
    .unwrap();
    let json = summary(&output);
    assert_eq!(u64_at(&json, "/publish/sent"), 60, "{json}");
    assert_eq!(u64_at(&json, "/receive/received"), 60, "{json}");
}

#[test]
fn json_summary_has_every_field() {
    let broker = broker();
    let output = bench(
        &broker,
        &[
            "pub",
            "-C",
            "20",
            "-q",
            "1",
            "-s",
            "64",
            "-t",
            "fields/%i",
            "--sub",
            "--json",
        ],
    )
    .output()
    .unwrap();
    let json = summary(&output);
    for pointer in [
        "/url",
        "/protocol",
        "/qos",
        "/payload_bytes",
        "/seconds",
        "/connections/attempted",
        "/connections/failed",
        "/connections/dropped",
        "/connections/reconnects",
        "/connections/resends",
        "/connections/connect_us/p50",
        "/connections/connect_us/p99",
        "/connections/connect_us/max",
        "/publish/clients",
        "/publish/per_second",
        "/publish/seconds",
        "/receive/clients",
        "/receive/per_second",
        "/receive/loss_percent",
        "/receive/latency_us/p50",
        "/receive/latency_us/p90",
        "/receive/latency_us/p99",
        "/receive/latency_us/max",
        "/receive/latency_us/mean",
    ] {
        assert!(
            json.pointer(pointer).is_some(),
            "{pointer} missing in {json}"
        );
    }
    assert_eq!(json["protocol"], "5.0");
    assert_eq!(u64_at(&json, "/payload_bytes"), 64);
    let latency = &json["receive"]["latency_us"];
    assert!(latency["p50"].as_u64() <= latency["p99"].as_u64());
    assert!(latency["p99"].as_u64() <= latency["max"].as_u64());
}

#[test]
fn text_summary_without_json() {
    let broker = broker();
    let output = bench(&broker, &["pub", "-C", "10", "-q", "2", "--sub"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("mqtide bench pub: mqtt://127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains("sent         10 by 1 clients"), "{stdout}");
    assert!(stdout.contains("10 acknowledged"), "{stdout}");
    assert!(stdout.contains("received     10 by 1 clients"), "{stdout}");
    assert!(stdout.contains("lost 0 (0.00 %)"), "{stdout}");
    assert!(stdout.contains("latency      p50 "), "{stdout}");
}

#[test]
fn sub_measures_publishers_in_another_process() {
    let broker = broker();
    let sub = bench(
        &broker,
        &[
            "sub", "-c", "2", "-q", "1", "-t", "apart/#", "-C", "300", "--prefix", "apart",
            "--json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    for index in [1, 2] {
        let needle = format!("Received SUBSCRIBE from apart-sub{index}-");
        assert!(broker.wait_for_log(&needle, GUARD));
    }
    let publisher = bench(
        &broker,
        &["pub", "-c", "3", "-C", "100", "-q", "1", "-t", "apart/%i"],
    )
    .output()
    .unwrap();
    assert!(publisher.status.success());
    let json = summary(&sub.wait_with_output().unwrap());
    assert_eq!(json["mode"], "sub");
    assert_eq!(u64_at(&json, "/receive/received"), 600, "{json}");
    assert_eq!(u64_at(&json, "/receive/lost"), 0, "{json}");
    assert!(json["receive"]["expected"].is_null());
    assert_eq!(u64_at(&json, "/receive/latency_us/samples"), 600);
    assert!(json["publish"].is_null());
}

#[test]
fn conn_connects_every_client() {
    let broker = broker();
    let output = bench(&broker, &["conn", "-c", "25", "--json"])
        .output()
        .unwrap();
    let json = summary(&output);
    assert_eq!(json["mode"], "conn");
    assert_eq!(u64_at(&json, "/connections/attempted"), 25);
    assert_eq!(u64_at(&json, "/connections/ok"), 25);
    assert_eq!(u64_at(&json, "/connections/failed"), 0);
    assert_eq!(u64_at(&json, "/connections/connect_us/samples"), 25);

    let output = bench(&broker, &["conn", "-c", "3", "-V", "mqttv311"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("(MQTT 3.1.1)"), "{stdout}");
    assert!(stdout.contains("3 ok, 0 failed"), "{stdout}");
}

#[test]
fn pub_over_tls() {
    let broker = Mosquitto::builder()
        .config("max_queued_messages 0")
        .tls(TlsListener::default())
        .start()
        .unwrap();
    let ca = broker.dir().join("bench-ca.pem");
    std::fs::write(&ca, &broker.tls_material().unwrap().ca_pem).unwrap();
    let url = broker.tls_url().unwrap();
    let ca = ca.to_str().unwrap();
    let output = Command::new(MQTIDE)
        .args(["bench", "pub", "--url", &url, "--cafile", ca])
        .args(["-c", "2", "-C", "50", "-q", "1", "--sub", "--json"])
        .output()
        .unwrap();
    let json = summary(&output);
    assert!(json["url"].as_str().unwrap().starts_with("mqtts://"));
    assert_eq!(u64_at(&json, "/receive/received"), 100, "{json}");
    assert_eq!(u64_at(&json, "/receive/lost"), 0, "{json}");
}

/// Runs a bench that is to lose messages: exit code 3 (no failure, only
/// loss), and the JSON summary.
fn lossy(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(3),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn loss_the_broker_drops_is_explained_and_exits_3() {
    // Mosquitto queues one QoS 1 message for a subscriber beyond the 20
    // in flight: four publishers at full speed overrun it, and Mosquitto
    // discards the rest and counts them in
    // $SYS/broker/publish/messages/dropped (updated every second here).
    // (Not max_inflight_messages 1 as well: the watcher of $SYS could then
    // lose its own messages.)
    let broker = Mosquitto::start_with("max_queued_messages 1\nsys_interval 1").unwrap();
    let output = bench(
        &broker,
        &[
            "pub", "-c", "4", "-C", "2000", "-q", "1", "-t", "drop/%i", "--sub", "--json",
        ],
    )
    .output()
    .unwrap();
    let json = lossy(&output);
    let lost = u64_at(&json, "/receive/lost");
    assert!(lost > 0, "{json}");
    assert_eq!(u64_at(&json, "/publish/failed"), 0, "{json}");
    // Nothing else runs on this broker: what it dropped is what we lost.
    assert_eq!(u64_at(&json, "/receive/broker_dropped"), lost, "{json}");
    let note = json["receive"]["loss_note"].as_str().unwrap();
    assert!(note.contains("max_queued_messages"), "{note}");
}

#[test]
fn loss_the_broker_did_not_cause_is_told_apart() {
    // The subscriber listens to client 1's topic only: client 2's
    // messages are "lost" without the broker dropping anything.
    let args = [
        "pub",
        "-c",
        "2",
        "-C",
        "20",
        "-q",
        "1",
        "-t",
        "apart/%i",
        "--sub",
        "--sub-topic",
        "apart/1",
        "--wait",
        "200ms",
        "--json",
    ];
    let broker = Mosquitto::start_with("sys_interval 1").unwrap();
    let json = lossy(&bench(&broker, &args).output().unwrap());
    assert_eq!(u64_at(&json, "/receive/lost"), 20, "{json}");
    assert_eq!(u64_at(&json, "/receive/broker_dropped"), 0, "{json}");
    let note = json["receive"]["loss_note"].as_str().unwrap();
    assert!(note.contains("dropped none"), "{note}");

    // Without $SYS, the summary says it cannot tell.
    let broker = Mosquitto::start_with("sys_interval 0").unwrap();
    let output = bench(&broker, &args).output().unwrap();
    let json = lossy(&output);
    assert_eq!(u64_at(&json, "/receive/lost"), 20, "{json}");
    assert!(json["receive"]["broker_dropped"].is_null(), "{json}");
    let note = json["receive"]["loss_note"].as_str().unwrap();
    assert!(note.contains("cannot be told"), "{note}");
}

#[test]
fn insecure_skips_only_the_host_name_check() {
    let broker = Mosquitto::builder()
        .tls(TlsListener {
            server_cert: ServerCert::WrongHost,
            ..TlsListener::default()
        })
        .start()
        .unwrap();
    let ca = broker.dir().join("bench-ca.pem");
    std::fs::write(&ca, &broker.tls_material().unwrap().ca_pem).unwrap();
    let url = broker.tls_url().unwrap();
    let run = |extra: &[&str]| {
        Command::new(MQTIDE)
            .args(["bench", "conn", "-L", &url, "-c", "2", "--json"])
            .args(extra)
            .output()
            .unwrap()
    };
    // The certificate is for another name: refused without --insecure...
    let output = run(&["--cafile", ca.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    // ...accepted with it, the CA being trusted...
    let json = summary(&run(&["--cafile", ca.to_str().unwrap(), "--insecure"]));
    assert_eq!(u64_at(&json, "/connections/ok"), 2, "{json}");
    // ...but --insecure does not make an unknown CA trusted.
    let output = run(&["--insecure"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cafile") || stderr.contains("issuer"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_and_unreachable_brokers_say_what_to_do() {
    let run = |args: &[&str]| {
        let output = Command::new(MQTIDE)
            .arg("bench")
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["pub", "-s", "10"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("-s 10") && stderr.contains("-s 28 or more"),
        "{stderr}"
    );

    let (code, stderr) = run(&["pub", "-q", "3"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("QoS must be 0, 1 or 2"), "{stderr}");

    let (code, stderr) = run(&["pub", "-t", "a/%x"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("unknown variable %x"), "{stderr}");

    let (code, stderr) = run(&["pub", "-t", "a/+/%i"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("-t a/+/%i"), "{stderr}");

    let (code, stderr) = run(&["pub", "-c", "0"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("at least one client"), "{stderr}");

    let (code, stderr) = run(&["pub", "--pending", "0"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("1 to 65536"), "{stderr}");

    // clap's own errors exit with 2 and name the flag.
    let (code, stderr) = run(&["pub", "--rate", "10", "--interval", "5"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("--rate") && stderr.contains("--interval"),
        "{stderr}"
    );

    // -L is the broker URL, as in `mqtide pub` and `sub`; the old limit
    // spelling gets a pointer to -C.
    let (code, stderr) = run(&["pub", "-L", "100"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("-C"), "{stderr}");

    let (code, stderr) = run(&["conn", "--duration", "10x"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown unit"), "{stderr}");

    let (code, stderr) = run(&["sub", "--bogus"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--bogus"), "{stderr}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, stderr) = run(&[
        "conn",
        "-c",
        "2",
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("cannot connect") && stderr.contains("check the host"),
        "{stderr}"
    );
}
