//! What `mqtide sub` prints (-F, -v, -N, -T, -C, -W) and what `mqtide pub
//! -l` sends, as documented in the README.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::*;
use mqtide_testkit::Mosquitto;

#[test]
fn format_fields() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("format_fields") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    let sub = subscribed(
        &broker,
        mqtide_at(
            &broker,
            &[
                "sub",
                "-t",
                "fmt/#",
                "-q",
                "2",
                "-C",
                "2",
                "-W",
                GUARD_SECS,
                "-F",
                r"%t|%p|%q|%r|%l|%x|%X|%P|%C|%R|%D|%F|[%-6t]|[%6.3t]|[%04l]|%%|@@\t%m",
            ],
        ),
        "fmt-fields",
    );
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &[
            "-V",
            "mqttv5",
            "-t",
            "fmt/a",
            "-m",
            "hi!",
            "-q",
            "2",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
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
            "c1",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
        ],
    );
    mosquitto_pub(&mosquitto_pub_bin, &broker, &["-t", "fmt/b", "-m", "plain"]);
    let out = finished(sub);
    let lines: Vec<&str> = out.lines().collect();
    // QoS 2 gets a packet identifier (%m); its value is the broker's.
    let (first, mid) = lines[0].rsplit_once('\t').unwrap();
    assert_eq!(
        first,
        "fmt/a|hi!|2|0|3|686921|686921|k:v|text/plain|re/ply|c1|1|[fmt/a ]|[   fmt]|[0003]|%|@"
    );
    assert!(mid.parse::<u16>().unwrap() > 0, "{out}");
    assert_eq!(
        lines[1],
        "fmt/b|plain|0|0|5|706c61696e|706C61696E||||||[fmt/b ]|[   fmt]|[0005]|%|@\t0"
    );
}

#[test]
fn json_and_time_fields() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("json_and_time_fields") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    let sub = subscribed(
        &broker,
        mqtide_at(
            &broker,
            &[
                "sub",
                "-t",
                "json/#",
                "-q",
                "1",
                "-C",
                "3",
                "-W",
                GUARD_SECS,
                "-F",
                r"%j\t%I\t%U\t@F@T",
            ],
        ),
        "fmt-json",
    );
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &[
            "-V",
            "mqttv5",
            "-t",
            "json/a",
            "-m",
            "say \"hi\"",
            "-q",
            "1",
            "-r",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
        ],
    );
    mosquitto_pub(&mosquitto_pub_bin, &broker, &["-t", "json/b", "-n"]);
    let binary = broker.dir().join("binary");
    std::fs::write(&binary, b"\xff\x00").unwrap();
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["-t", "json/c", "-f", binary.to_str().unwrap()],
    );
    let out = finished(sub);
    let mut records = Vec::new();
    for line in out.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [json, iso, unix, strftime] = fields[..] else {
            panic!("{line}");
        };
        // %I: 2026-01-02T03:04:05+0000; @F@T the same moment, or the next second.
        assert_eq!(iso.len(), 24, "{iso}");
        assert!(iso.ends_with("+0000") && &iso[10..11] == "T", "{iso}");
        assert_eq!(strftime.len(), 18, "{strftime}");
        let (secs, nanos) = unix.split_once('.').unwrap();
        assert!(
            secs.parse::<u64>().unwrap() > 1_600_000_000 && nanos.len() == 9,
            "{unix}"
        );
        let record: serde_json::Value = serde_json::from_str(json).unwrap();
        let tst = record["tst"].as_str().unwrap();
        assert!(tst.starts_with(&iso[..10]) && tst.ends_with('Z'), "{tst}");
        records.push(record);
    }
    records.sort_by_key(|r| r["topic"].as_str().unwrap().to_owned());
    let a = &records[0];
    assert_eq!(
        (&a["topic"], &a["qos"], &a["payloadlen"], &a["payload"]),
        (&"json/a".into(), &1.into(), &8.into(), &"say \"hi\"".into())
    );
    assert!(a["mid"].as_u64().unwrap() > 0);
    assert_eq!(a["properties"]["user-properties"]["k"], "v");
    // Published with -r to a subscriber already there: a live message.
    assert_eq!(a["retain"], 0);
    assert_eq!(records[1]["payload"], serde_json::Value::Null);
    assert_eq!(records[1]["payloadlen"], 0);
    assert_eq!(records[2]["payload_hex"], "ff00");
}

#[test]
fn raw_json_payloads() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("raw_json_payloads") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    let sub = subscribed(
        &broker,
        mqtide_at(
            &broker,
            &["sub", "-t", "raw", "-C", "2", "-W", GUARD_SECS, "-F", "%J"],
        ),
        "fmt-raw",
    );
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["-t", "raw", "-m", "not json"],
    );
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["-t", "raw", "-m", r#"{"t":21.5}"#],
    );
    let output = sub.wait_with_output().unwrap();
    assert!(output.status.success());
    // The first is refused on standard error (and counted), the second
    // embedded as JSON.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not valid JSON"), "{stderr}");
    let out = String::from_utf8_lossy(&output.stdout);
    let record: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(record["payload"]["t"], 21.5);
}

#[test]
fn verbose_no_newline_and_filter_out() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("verbose_no_newline_and_filter_out")
    else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    let sub = subscribed(
        &broker,
        mqtide_at(
            &broker,
            &[
                "sub", "-t", "v/#", "-q", "1", "-T", "v/skip/#", "-C", "2", "-W", GUARD_SECS, "-v",
                "-N",
            ],
        ),
        "fmt-verbose",
    );
    // -T-filtered messages are not printed and not counted; each publish
    // waits for its PUBACK, so the order is the broker's.
    for (topic, text) in [
        ("v/skip/x", "no"),
        ("v/a", "1"),
        ("v/skip", "no"),
        ("v/b", "2"),
    ] {
        mosquitto_pub(
            &mosquitto_pub_bin,
            &broker,
            &["-t", topic, "-m", text, "-q", "1"],
        );
    }
    assert_eq!(finished(sub), "v/a 1v/b 2");
}

#[test]
fn lines_from_standard_input() {
    let broker = Mosquitto::start().unwrap();
    const MANY: usize = 300;
    let sub = subscribed(
        &broker,
        mqtide_at(
            &broker,
            &[
                "sub",
                "-t",
                "lines",
                "-q",
                "1",
                "-C",
                &(MANY + 3).to_string(),
                "-W",
                GUARD_SECS,
                "-F",
                "[%p]",
            ],
        ),
        "fmt-lines",
    );
    let mut publisher = mqtide_at(&broker, &["pub", "-t", "lines", "-l", "-q", "1"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for i in 0..MANY {
        input.push_str(&format!("line {i}\n"));
    }
    // An empty line is an empty message; the last line needs no newline.
    input.push_str("one\n\nthree");
    let mut stdin = publisher.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    assert!(publisher.wait().unwrap().success());
    let out = finished(sub);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), MANY + 3);
    for (i, line) in lines[..MANY].iter().enumerate() {
        assert_eq!(*line, format!("[line {i}]"));
    }
    assert_eq!(&lines[MANY..], ["[one]", "[]", "[three]"]);
}

#[test]
fn timeout_after_some_messages() {
    let Some((mosquitto_pub_bin, _)) = mosquitto_clients("timeout_after_some_messages") else {
        return;
    };
    let broker = Mosquitto::start().unwrap();
    // Retained, so that it arrives with the subscription, well inside -W.
    mosquitto_pub(
        &mosquitto_pub_bin,
        &broker,
        &["-t", "slow", "-m", "only one", "-r"],
    );
    let output = mqtide_at(&broker, &["sub", "-t", "slow", "-C", "5", "-W", "2"])
        .output()
        .unwrap();
    // What came is printed; then -W ends it with mosquitto's code.
    assert_eq!(output.status.code(), Some(27));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "only one\n");
    assert!(String::from_utf8_lossy(&output.stderr).contains("timed out"));
}

#[test]
fn bad_formats_and_properties_are_refused_before_connecting() {
    // No broker: these fail on the command line alone.
    for (args, says) in [
        (&["sub", "-t", "x", "-F", "%k"][..], "%k is not a field"),
        (
            &["sub", "-t", "x", "-F", "@q"][..],
            "@q is not a time field",
        ),
        (&["sub", "-t", "x", "-F", r"\q"][..], r"\q is not an escape"),
        (
            &[
                "pub",
                "-t",
                "x",
                "-m",
                "y",
                "-D",
                "publish",
                "topic-alias",
                "1",
            ][..],
            "topic aliases",
        ),
        (
            &["pub", "-t", "x", "-m", "y", "-D", "publish", "nope", "1"][..],
            "content-type",
        ),
        (
            &[
                "pub",
                "-t",
                "x",
                "-m",
                "y",
                "-D",
                "subscribe",
                "user-property",
                "a",
                "b",
            ][..],
            "connect, publish, disconnect and will",
        ),
        (
            &[
                "pub",
                "-t",
                "x",
                "-m",
                "y",
                "-V",
                "mqttv311",
                "-D",
                "publish",
                "content-type",
                "a",
            ][..],
            "-V mqttv5",
        ),
        (&["sub", "-t", "x", "-c"][..], "client id (-i)"),
        (
            &["sub", "-t", "x", "-D", "will", "content-type", "a"][..],
            "--will-topic",
        ),
        (&["sub"][..], "-t"),
        (&["pub", "-t", "x"][..], "-m TEXT"),
    ] {
        let output = mqtide(args).args(["-p", "1"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
