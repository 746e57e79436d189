//! `mqtide pub` and `mqtide sub` against Mosquitto's own clients through a
//! real broker: each side must understand what the other sends, under
//! MQTT 3.1.1 and 5.0, at every QoS, over TCP, TLS and WebSocket.

mod common;

use common::*;
use mqtide_testkit::{Mosquitto, TlsListener};

const VERSIONS: [&str; 2] = ["mqttv311", "mqttv5"];

#[test]
fn mqtide_pub_reaches_mosquitto_sub() {
    let Some((_, mosquitto_sub_bin)) = mosquitto_clients("mqtide_pub_reaches_mosquitto_sub") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let id = format!("msub-{version}");
        let sub = subscribed(
            &broker,
            mosquitto_sub(
                &mosquitto_sub_bin,
                &broker,
                &[
                    "-V", version, "-t", "up/#", "-q", "2", "-C", "3", "-F", "%t %q %p",
                ],
            ),
            &id,
        );
        for (qos, text) in [("0", "zero"), ("1", "one"), ("2", "two")] {
            let topic = format!("up/q{qos}");
            succeeds(&mut mqtide_at(
                &broker,
                &["pub", "-V", version, "-q", qos, "-t", &topic, "-m", text],
            ));
        }
        assert_eq!(
            sorted_lines(&finished(sub)),
            ["up/q0 0 zero", "up/q1 1 one", "up/q2 2 two"],
            "{version}"
        );
    }
}

#[test]
fn mosquitto_pub_reaches_mqtide_sub() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("mosquitto_pub_reaches_mqtide_sub") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let id = format!("qsub-{version}");
        let sub = subscribed(
            &broker,
            mqtide_at(
                &broker,
                &[
                    "sub", "-V", version, "-t", "down/#", "-q", "2", "-C", "3", "-W", GUARD_SECS,
                    "-F", "%t %q %p",
                ],
            ),
            &id,
        );
        for (qos, text) in [("0", "zero"), ("1", "one"), ("2", "two")] {
            let topic = format!("down/q{qos}");
            mosquitto_pub(
                &mosquitto_pub_bin,
                &broker,
                &["-V", version, "-q", qos, "-t", &topic, "-m", text],
            );
        }
        assert_eq!(
            sorted_lines(&finished(sub)),
            ["down/q0 0 zero", "down/q1 1 one", "down/q2 2 two"],
            "{version}"
        );
    }
}

#[test]
fn retained_messages_and_no_retained() {
    let Some((mosquitto_pub_bin, mosquitto_sub_bin)) =
        mosquitto_clients("retained_messages_and_no_retained")
    else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    succeeds(&mut mqtide_at(
        &broker,
        &["pub", "-t", "ret/old", "-m", "stale", "-r", "-q", "1"],
    ));
    // mosquitto_sub gets it at once, flagged retained.
    let output = succeeds(&mut mosquitto_sub(
        &mosquitto_sub_bin,
        &broker,
        &["-t", "ret/#", "-C", "1", "-F", "%r %t %p"],
    ));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "1 ret/old stale\n");
    // mqtide sub shows it too, and -R hides it: the first message -R
    // prints is the fresh one published after subscribing.
    let output = succeeds(&mut mqtide_at(
        &broker,
        &[
            "sub", "-t", "ret/#", "-C", "1", "-W", GUARD_SECS, "-F", "%r %t %p",
        ],
    ));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "1 ret/old stale\n");
    let sub = subscribed(
        &broker,
        mqtide_at(
            &broker,
            &[
                "sub", "-t", "ret/#", "-R", "-C", "1", "-W", GUARD_SECS, "-v",
            ],
        ),
        "no-retained",
    );
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["-t", "ret/new", "-m", "fresh"],
    );
    assert_eq!(finished(sub), "ret/new fresh\n");
}

#[test]
fn will_is_published_when_mqtide_is_killed() {
    let Some((_, mosquitto_sub_bin)) = mosquitto_clients("will_is_published_when_mqtide_is_killed")
    else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    let watcher = subscribed(
        &broker,
        mosquitto_sub(
            &mosquitto_sub_bin,
            &broker,
            &["-V", "mqttv5", "-t", "will/#", "-C", "1", "-F", "%t %p %P"],
        ),
        "will-watcher",
    );
    let mut doomed = subscribed(
        &broker,
        mqtide_at(
            &broker,
            &[
                "sub",
                "-t",
                "quiet",
                "--will-topic",
                "will/cli",
                "--will-payload",
                "gone",
                "--will-qos",
                "1",
                "-D",
                "will",
                "user-property",
                "why",
                "killed",
            ],
        ),
        "doomed",
    );
    // SIGKILL: no DISCONNECT, so the broker publishes the will.
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    assert_eq!(finished(watcher), "will/cli gone why:killed\n");
}

#[test]
fn v5_properties_reach_mosquitto_sub() {
    let Some((_, mosquitto_sub_bin)) = mosquitto_clients("v5_properties_reach_mosquitto_sub")
    else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    let sub = subscribed(
        &broker,
        mosquitto_sub(
            &mosquitto_sub_bin,
            &broker,
            &[
                "-V",
                "mqttv5",
                "-t",
                "props",
                "-C",
                "1",
                "-F",
                "%P|%C|%R|%D|%F|%E",
            ],
        ),
        "props-watcher",
    );
    succeeds(&mut mqtide_at(
        &broker,
        &[
            "pub",
            "-t",
            "props",
            "-m",
            "x",
            "-q",
            "1",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "publish",
            "user-property",
            "k",
            "w",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "response-topic",
            "re/ply",
            "-D",
            "publish",
            "correlation-data",
            "id-7",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
            "-D",
            "publish",
            "message-expiry-interval",
            "300",
        ],
    ));
    let out = finished(sub);
    let (fixed, expiry) = out.trim_end().rsplit_once('|').unwrap();
    assert_eq!(fixed, "k:v k:w|text/plain|re/ply|id-7|1");
    // The broker lowers the expiry by the whole seconds it held the message.
    let expiry: u32 = expiry.parse().unwrap();
    assert!((1..=300).contains(&expiry), "{out}");
}

#[test]
fn subscription_identifier_and_session_expiry_from_d() {
    let Some((mosquitto_pub_bin, _)) =
        mosquitto_clients("subscription_identifier_and_session_expiry_from_d")
    else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    // A clean start whose session outlives the connection by 60 s (-D
    // connect), subscribed with identifier 42 (-D subscribe); -E exits
    // once subscribed.
    succeeds(&mut mqtide_at(
        &broker,
        &[
            "sub",
            "-i",
            "kept",
            "-t",
            "sid/#",
            "-q",
            "1",
            "-E",
            "-D",
            "connect",
            "session-expiry-interval",
            "60",
            "-D",
            "subscribe",
            "subscription-identifier",
            "42",
        ],
    ));
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["-t", "sid/a", "-m", "queued", "-q", "1"],
    );
    // The session was kept: the message waited for us, and names the
    // subscription it matched.
    let output = succeeds(&mut mqtide_at(
        &broker,
        &[
            "sub",
            "-i",
            "kept",
            "-c",
            "-x",
            "0",
            "-t",
            "sid/#",
            "-q",
            "1",
            "-C",
            "1",
            "-W",
            GUARD_SECS,
            "-F",
            "%S %t %p",
            "-D",
            "subscribe",
            "subscription-identifier",
            "42",
        ],
    ));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "42 sid/a queued\n");
}

#[test]
fn kept_session_and_unsubscribe() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("kept_session_and_unsubscribe") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    for version in VERSIONS {
        let id = format!("keeper-{version}");
        let run = |args: &[&str]| {
            let mut all = vec!["sub", "-V", version, "-i", &id, "-c", "-q", "1"];
            all.extend_from_slice(args);
            String::from_utf8_lossy(&succeeds(&mut mqtide_at(&broker, &all)).stdout).into_owned()
        };
        run(&["-t", "keep/a", "-t", "keep/b", "-E"]);
        mosquitto_pub(
            &mosquitto_pub_bin,
            &broker,
            &["-t", "keep/a", "-m", "while-away", "-q", "1"],
        );
        // Queued while away, and printed on return.
        assert_eq!(
            run(&["-t", "keep/b", "-C", "1", "-W", GUARD_SECS, "-v"]),
            "keep/a while-away\n",
            "{version}"
        );
        // -U alone: remove keep/a from the kept session, then exit.
        run(&["-U", "keep/a"]);
        mosquitto_pub(
            &mosquitto_pub_bin,
            &broker,
            &["-t", "keep/a", "-m", "dropped", "-q", "1"],
        );
        mosquitto_pub(
            &mosquitto_pub_bin,
            &broker,
            &["-t", "keep/b", "-m", "kept", "-q", "1"],
        );
        // Only keep/b is still subscribed: its message is the first.
        assert_eq!(
            run(&["-t", "keep/b", "-C", "1", "-W", GUARD_SECS, "-v"]),
            "keep/b kept\n",
            "{version}"
        );
    }
}

#[test]
fn tls_with_cafile_and_capath() {
    let Some((mosquitto_pub_bin, mosquitto_sub_bin)) =
        mosquitto_clients("tls_with_cafile_and_capath")
    else {
        return;
    };
    let broker = Mosquitto::builder()
        .tls(TlsListener::default())
        .start()
        .unwrap();
    let ca = ca_file(&broker);
    let ca = ca.to_str().unwrap();
    let capath = broker.dir().join("cas");
    std::fs::create_dir_all(&capath).unwrap();
    std::fs::copy(ca, capath.join("test-ca.crt")).unwrap();
    let url = broker.tls_url().unwrap();

    // mqtide pub over TLS (-h/-p and --cafile) -> mosquitto_sub over TCP.
    let port = url.rsplit_once(':').unwrap().1;
    let sub = subscribed(
        &broker,
        mosquitto_sub(
            &mosquitto_sub_bin,
            &broker,
            &["-t", "tls/#", "-C", "1", "-v"],
        ),
        "tls-watcher",
    );
    succeeds(&mut mqtide(&[
        "pub",
        "-h",
        "localhost",
        "-p",
        port,
        "--cafile",
        ca,
        "-t",
        "tls/a",
        "-m",
        "secret",
    ]));
    assert_eq!(finished(sub), "tls/a secret\n");

    // mosquitto_pub over TCP -> mqtide sub over TLS (-L with the topic in
    // the path, and --capath).
    let sub_url = format!("{url}/tls/#");
    let sub = subscribed(
        &broker,
        mqtide(&[
            "sub",
            "-L",
            &sub_url,
            "--capath",
            capath.to_str().unwrap(),
            "-C",
            "1",
            "-W",
            GUARD_SECS,
            "-v",
        ]),
        "tls-sub",
    );
    mosquitto_pub(&mosquitto_pub_bin, &broker, &["-t", "tls/b", "-m", "hello"]);
    assert_eq!(finished(sub), "tls/b hello\n");

    // Without the CA: refused, and told what to do.
    let output = mqtide(&["pub", "-L", &format!("{url}/tls/c"), "-m", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--cafile"), "{stderr}");
}

#[test]
fn websocket_ws_and_wss() {
    let Some((mosquitto_pub_bin, mosquitto_sub_bin)) = mosquitto_clients("websocket_ws_and_wss")
    else {
        return;
    };
    let broker = Mosquitto::builder()
        .websocket(true)
        .secure_websocket(true)
        .start()
        .unwrap();
    let ca = ca_file(&broker);
    let ws = broker.ws_url().unwrap();
    let wss = broker.wss_url().unwrap();

    let sub = subscribed(
        &broker,
        mosquitto_sub(
            &mosquitto_sub_bin,
            &broker,
            &["-t", "ws/#", "-C", "2", "-v"],
        ),
        "ws-watcher",
    );
    succeeds(&mut mqtide(&[
        "pub", "--url", &ws, "-t", "ws/plain", "-m", "over-ws", "-q", "1",
    ]));
    succeeds(&mut mqtide(&[
        "pub",
        "--url",
        &wss,
        "--cafile",
        ca.to_str().unwrap(),
        "-t",
        "ws/secure",
        "-m",
        "over-wss",
        "-q",
        "2",
    ]));
    assert_eq!(
        sorted_lines(&finished(sub)),
        ["ws/plain over-ws", "ws/secure over-wss"]
    );

    let sub = subscribed(
        &broker,
        mqtide(&[
            "sub",
            "-L",
            &wss,
            "--cafile",
            ca.to_str().unwrap(),
            "-t",
            "ws/#",
            "-q",
            "1",
            "-C",
            "1",
            "-W",
            GUARD_SECS,
            "-v",
        ]),
        "wss-sub",
    );
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["-t", "ws/back", "-m", "to-wss", "-q", "1"],
    );
    assert_eq!(finished(sub), "ws/back to-wss\n");
    // The connections went through the WebSocket fronts.
    assert!(!broker.ws_front().unwrap().requests().is_empty());
    assert!(broker.wss_front().unwrap().requests().len() >= 2);
}

#[test]
fn refused_connection_exits_like_mosquitto() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("refused_connection_exits_like_mosquitto")
    else {
        return;
    };
    let broker = Mosquitto::builder()
        .user("alice", "secret")
        .start()
        .unwrap();
    for version in VERSIONS {
        let credentials = ["-V", version, "-u", "alice", "-P", "wrong", "-t", "x"];
        let theirs = std::process::Command::new(&mosquitto_pub_bin)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &broker.port().to_string(),
                "-m",
                "y",
            ])
            .args(credentials)
            .output()
            .unwrap();
        // The CONNACK code: 5 under 3.1.1, 0x87 under 5.0.
        let expected = if version == "mqttv5" { 135 } else { 5 };
        assert_eq!(theirs.status.code(), Some(expected), "{version}");
        for command in [&["pub", "-m", "y"][..], &["sub"][..]] {
            let output = mqtide_at(&broker, command)
                .args(credentials)
                .output()
                .unwrap();
            assert_eq!(
                output.status.code(),
                Some(expected),
                "{version} {command:?}"
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("refused") && stderr.contains("-u, -P"),
                "{stderr}"
            );
        }
    }
    succeeds(&mut mqtide_at(
        &broker,
        &["pub", "-u", "alice", "-P", "secret", "-t", "x", "-m", "y"],
    ));
}
