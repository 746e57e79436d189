//! The mosquitto_pub / mosquitto_sub flags that `mqtide pub` and `mqtide
//! sub` took on last (issue 31): each does what mosquitto's does, shown
//! against mosquitto's own clients doing the same through a real broker.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use mqtide_testkit::{Mosquitto, ServerCert, TlsListener};

#[test]
fn repeat_publishes_the_message_count_times_as_mosquitto_pub() {
    let Some((mosquitto_pub_bin, mosquitto_sub_bin)) = mosquitto_clients("repeat") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    let sub = subscribed(
        &broker,
        mosquitto_sub(&mosquitto_sub_bin, &broker, &["-t", "rep", "-C", "7"]),
        "repeat-watcher",
    );
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["-t", "rep", "-m", "a", "--repeat", "3"],
    );
    succeeds(&mut mqtide_at(
        &broker,
        &[
            "pub",
            "-t",
            "rep",
            "-m",
            "b",
            "-q",
            "1",
            "--repeat",
            "3",
            "--repeat-delay",
            "0.01",
        ],
    ));
    // A last message shows that no fourth b came before it.
    mosquitto_pub(&mosquitto_pub_bin, &broker, &["-t", "rep", "-m", "end"]);
    assert_eq!(finished(sub), "a\na\na\nb\nb\nb\nend\n");

    // --repeat repeats one message; -l sends one per line.
    let output = mqtide_at(&broker, &["pub", "-t", "rep", "-l", "--repeat", "2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn unix_socket_both_ways() {
    let Some((mosquitto_pub_bin, mosquitto_sub_bin)) = mosquitto_clients("unix") else {
        return;
    };
    let broker = Mosquitto::builder().unix_socket(true).start().unwrap();
    let url = broker.unix_url().unwrap();
    let socket = url.strip_prefix("unix://").unwrap();
    let sub = subscribed(
        &broker,
        mqtide(&[
            "sub", "--unix", socket, "-t", "u/#", "-C", "2", "-v", "-W", GUARD_SECS,
        ]),
        "unix-mqtide",
    );
    let status = std::process::Command::new(&mosquitto_pub_bin)
        .args(["--unix", socket, "-t", "u/mosquitto", "-m", "1"])
        .status()
        .unwrap();
    assert!(status.success());
    let watcher = subscribed(
        &broker,
        {
            let mut command = std::process::Command::new(&mosquitto_sub_bin);
            command.args([
                "--unix", socket, "-t", "u/#", "-C", "1", "-v", "-W", GUARD_SECS,
            ]);
            command
        },
        "unix-mosquitto",
    );
    succeeds(&mut mqtide(&[
        "pub", "--unix", socket, "-t", "u/mqtide", "-m", "2",
    ]));
    assert_eq!(finished(sub), "u/mosquitto 1\nu/mqtide 2\n");
    assert_eq!(finished(watcher), "u/mqtide 2\n");
}

#[test]
fn retained_only_and_remove_retained_as_mosquitto_sub() {
    let Some((mosquitto_pub_bin, mosquitto_sub_bin)) = mosquitto_clients("retained_only") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    for (topic, text) in [("r/a", "one"), ("r/b", "two"), ("r/keep", "three")] {
        mosquitto_pub(
            &mosquitto_pub_bin,
            &broker,
            &["-t", topic, "-m", text, "-r"],
        );
    }
    // Both print the retained messages and exit at the first fresh one.
    let mosquitto = subscribed(
        &broker,
        mosquitto_sub(
            &mosquitto_sub_bin,
            &broker,
            &["-t", "r/#", "--retained-only", "-v"],
        ),
        "ro-mosquitto",
    );
    let ours = subscribed(
        &broker,
        mqtide_at(
            &broker,
            &[
                "sub",
                "-t",
                "r/#",
                "--retained-only",
                "-v",
                "-W",
                GUARD_SECS,
                "--remove-retained",
                "-T",
                "r/keep",
            ],
        ),
        "ro-mqtide",
    );
    mosquitto_pub(&mosquitto_pub_bin, &broker, &["-t", "r/fresh", "-m", "now"]);
    let expected = ["r/a one", "r/b two", "r/keep three"];
    assert_eq!(sorted_lines(&finished(mosquitto)), expected);
    // -T hides r/keep and spares it from --remove-retained.
    assert_eq!(sorted_lines(&finished(ours)), ["r/a one", "r/b two"]);
    // Only r/keep is still retained.
    let check = subscribed(
        &broker,
        mosquitto_sub(
            &mosquitto_sub_bin,
            &broker,
            &["-t", "r/#", "--retained-only", "-v"],
        ),
        "ro-check",
    );
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["-t", "r/fresh", "-m", "again"],
    );
    assert_eq!(finished(check), "r/keep three\n");

    // As mosquitto_sub, -R and --retained-only do not go together.
    let output = mqtide_at(&broker, &["sub", "-t", "r/#", "-R", "--retained-only"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn pretty_json_as_mosquitto_sub() {
    let Some((mosquitto_pub_bin, mosquitto_sub_bin)) = mosquitto_clients("pretty") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    let args = ["-V", "mqttv5", "-t", "j", "-C", "1", "-F", "%J", "--pretty"];
    let mosquitto = subscribed(
        &broker,
        mosquitto_sub(&mosquitto_sub_bin, &broker, &args),
        "pretty-mosquitto",
    );
    let mut ours = mqtide_at(&broker, &["sub"]);
    ours.args(args).args(["-W", GUARD_SECS]);
    let ours = subscribed(&broker, ours, "pretty-mqtide");
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &[
            "-V",
            "mqttv5",
            "-t",
            "j",
            "-m",
            r#"{"x":[1,2],"y":{},"z":"s"}"#,
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
        ],
    );
    // The time differs, and mosquitto writes it with a stray "+0000".
    let without_time = |text: String| -> Vec<String> {
        text.lines()
            .filter(|line| !line.starts_with("\t\"tst\""))
            .map(str::to_owned)
            .collect()
    };
    let theirs = without_time(finished(mosquitto));
    assert!(theirs.len() > 5, "{theirs:?}");
    assert_eq!(without_time(finished(ours)), theirs);
}

#[test]
fn max_inflight_one_waits_for_each_acknowledgement() {
    let broker = Mosquitto::start().unwrap();
    let mut command = mqtide_at(
        &broker,
        &["pub", "-t", "m", "-l", "-q", "1", "-M", "1", "-d"],
    );
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a\nb\nc\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    let order: Vec<&str> = log
        .lines()
        .filter_map(|line| {
            if line.contains("sent PUBLISH") {
                Some("PUBLISH")
            } else if line.contains("received PUBACK") {
                Some("PUBACK")
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        order,
        [
            "PUBLISH", "PUBACK", "PUBLISH", "PUBACK", "PUBLISH", "PUBACK"
        ],
        "{log}"
    );
}

#[test]
fn quiet_hides_runtime_errors_not_usage_errors() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("quiet") else {
        return;
    };
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let at = ["-h", "127.0.0.1", "-p", port.as_str(), "-t", "t", "-m", "x"];
    let theirs = std::process::Command::new(&mosquitto_pub_bin)
        .args(at)
        .arg("--quiet")
        .output()
        .unwrap();
    let ours = mqtide(&["pub", "--quiet"]).args(at).output().unwrap();
    assert!(!theirs.status.success() && !ours.status.success());
    assert_eq!(String::from_utf8_lossy(&theirs.stderr), "");
    assert_eq!(String::from_utf8_lossy(&ours.stderr), "");
    // A bad value is still reported.
    let ours = mqtide(&["pub", "--quiet", "-q", "3"])
        .args(at)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&ours.stderr).contains("-q 3"));
}

#[test]
fn nodelay_is_accepted_and_bind_address_refused_with_why() {
    let broker = Mosquitto::start().unwrap();
    succeeds(&mut mqtide_at(
        &broker,
        &["pub", "--nodelay", "-t", "n", "-m", "x"],
    ));
    let output = mqtide_at(&broker, &["pub", "-A", "127.0.0.1", "-t", "n", "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("-A 127.0.0.1") && stderr.contains("not supported"),
        "{stderr}"
    );
}

#[test]
fn unsubscribe_properties_go_into_unsubscribe() {
    let broker = Mosquitto::start().unwrap();
    let output = succeeds(&mut mqtide_at(
        &broker,
        &[
            "sub",
            "-t",
            "a",
            "-U",
            "a",
            "-E",
            "-d",
            "-D",
            "unsubscribe",
            "user-property",
            "k",
            "v",
        ],
    ));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.lines()
            .any(|l| l.contains("sent UNSUBSCRIBE") && l.contains("user property")),
        "{log}"
    );
    // Without -U there is no UNSUBSCRIBE to carry them.
    let output = mqtide_at(
        &broker,
        &[
            "sub",
            "-t",
            "a",
            "-D",
            "unsubscribe",
            "user-property",
            "k",
            "v",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

/// A SOCKS5 proxy without authentication, on a free loopback port, that
/// counts the connections it relays.
fn socks5_proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let relayed = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&relayed);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                let _ = relay(client, &count);
            });
        }
    });
    (port, relayed)
}

fn relay(mut client: TcpStream, count: &AtomicUsize) -> std::io::Result<()> {
    // Greeting: version 5, methods; we choose "no authentication".
    let mut head = [0u8; 2];
    client.read_exact(&mut head)?;
    let mut methods = vec![0u8; head[1].into()];
    client.read_exact(&mut methods)?;
    client.write_all(&[5, 0])?;
    // CONNECT: version, command, reserved, address type.
    let mut request = [0u8; 4];
    client.read_exact(&mut request)?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip)?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; len[0].into()];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    let server = TcpStream::connect((host.as_str(), u16::from_be_bytes(port)))?;
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    count.fetch_add(1, Ordering::SeqCst);
    let (mut up_from, mut up_to) = (client.try_clone()?, server.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_from, &mut up_to);
        let _ = up_to.shutdown(std::net::Shutdown::Write);
    });
    let (mut down_from, mut down_to) = (server, client);
    let _ = std::io::copy(&mut down_from, &mut down_to);
    let _ = down_to.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
    Ok(())
}

#[test]
fn proxy_connects_through_socks5_as_mosquitto_pub() {
    let Some((mosquitto_pub_bin, mosquitto_sub_bin)) = mosquitto_clients("proxy") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    let (proxy_port, relayed) = socks5_proxy();
    let proxy = format!("socks5h://127.0.0.1:{proxy_port}");
    let sub = subscribed(
        &broker,
        mosquitto_sub(&mosquitto_sub_bin, &broker, &["-t", "p/#", "-C", "2", "-v"]),
        "proxy-watcher",
    );
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["--proxy", &proxy, "-t", "p/mosquitto", "-m", "1"],
    );
    succeeds(&mut mqtide_at(
        &broker,
        &[
            "pub", "--proxy", &proxy, "-t", "p/mqtide", "-m", "2", "-q", "1",
        ],
    ));
    assert_eq!(finished(sub), "p/mosquitto 1\np/mqtide 2\n");
    assert_eq!(relayed.load(Ordering::SeqCst), 2);

    // Another kind of proxy is refused, saying what to write.
    let output = mqtide_at(
        &broker,
        &["pub", "--proxy", "http://127.0.0.1:1", "-t", "p", "-m", "x"],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("socks5h://"));
}

#[test]
fn insecure_skips_the_host_name_check_only_as_mosquitto() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("insecure") else {
        return;
    };
    let broker = Mosquitto::builder()
        .tls(TlsListener {
            server_cert: ServerCert::WrongHost,
            ..TlsListener::default()
        })
        .start()
        .unwrap();
    let ca = ca_file(&broker);
    let ca = ca.to_str().unwrap();
    let url = broker.tls_url().unwrap();
    let port = url.rsplit_once(':').unwrap().1;
    let to = ["-h", "127.0.0.1", "-p", port, "-t", "i", "-m", "x"];
    let theirs = |extra: &[&str]| {
        std::process::Command::new(&mosquitto_pub_bin)
            .args(to)
            .args(extra)
            .output()
            .unwrap()
            .status
            .success()
    };
    let ours = |extra: &[&str]| mqtide(&["pub"]).args(to).args(extra).output().unwrap();
    // The certificate names another host: both refuse it...
    assert!(!theirs(&["--cafile", ca]));
    assert!(!ours(&["--cafile", ca]).status.success());
    // ...both accept it with --insecure, the CA being trusted...
    assert!(theirs(&["--cafile", ca, "--insecure"]));
    succeeds(
        mqtide(&["pub"])
            .args(to)
            .args(["--cafile", ca, "--insecure"]),
    );
    // ...and --insecure does not make an unknown CA trusted.
    let output = ours(&["--insecure"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--cafile"), "{stderr}");
}
