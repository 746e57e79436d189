//! Reading a Mosquitto log (`log_type all`) for what the broker did to a
//! client: the evidence that explains a QoS 2 duplicate as the broker's
//! doing. Included with `#[path]` by the tests that need it (`chaos.rs`,
//! `durable_session.rs`), not by every user of `support`.
//!
//! Mosquitto (2.0.11, and its development branch as of this writing)
//! resends a QoS 2 PUBLISH after it has sent PUBREL for it when a client
//! reconnects twice in a row before the resent PUBREL is written: in
//! `src/database.c`, `db__message_reconnect_reset_outgoing` turns a
//! message waiting for PUBCOMP into `mosq_ms_resend_pubrel`, and any
//! other QoS 2 state, `mosq_ms_resend_pubrel` included, into
//! `mosq_ms_publish_qos2`. A client that completed that packet identifier
//! must take the PUBLISH for a new message (MQTT 3.1.1 and 5.0 §4.3.3).

#![allow(dead_code, reason = "each test file uses part of it")]

/// The QoS 2 PUBLISH packets the broker sent `client` again after it had
/// sent PUBREL for them (and before their PUBCOMP), as (topic, packet
/// identifier), from a Mosquitto log with `log_type all`: lines such as
/// `Sending PUBREL to c (m503)`, `Received PUBCOMP from c (Mid: 503, RC:0)`
/// and `Sending PUBLISH to c (d1, q2, r0, m503, 'a/b', ... (3 bytes))`.
/// Such a PUBLISH starts the flow again: the broker's later resends of it
/// are ordinary ones, and count only after another PUBREL.
pub(crate) fn publish_resent_after_pubrel(log: &str, client: &str) -> Vec<(String, u16)> {
    let publish = format!("Sending PUBLISH to {client} (");
    let pubrel = format!("Sending PUBREL to {client} (m");
    let pubcomp = format!("Received PUBCOMP from {client} (Mid: ");
    let after = |line: &'_ str, needle: &str| -> Option<String> {
        line.find(needle)
            .map(|at| line[at + needle.len()..].to_owned())
    };
    let id = |text: &str, end: char| text.split(end).next()?.parse::<u16>().ok();
    let mut released = std::collections::HashSet::new();
    let mut resent = Vec::new();
    for line in log.lines() {
        if let Some(rest) = after(line, &pubrel) {
            released.extend(id(&rest, ')'));
        } else if let Some(rest) = after(line, &pubcomp) {
            if let Some(mid) = id(&rest, ',') {
                released.remove(&mid);
            }
        } else if let Some(rest) = after(line, &publish) {
            let fields: Vec<&str> = rest.splitn(5, ", ").collect();
            if let [_, "q2", _, mid, topic] = fields[..]
                && let Some(mid) = mid.strip_prefix('m').and_then(|m| m.parse().ok())
                && released.contains(&mid)
                && let Some(topic) = topic.strip_prefix('\'').and_then(|t| t.split('\'').next())
            {
                released.remove(&mid);
                resent.push((topic.to_owned(), mid));
            }
        }
    }
    resent
}

/// The log lines about `client`'s packet identifier `mid` (PUBLISH,
/// PUBACK, PUBREC, PUBREL, PUBCOMP either way) and, between the first and
/// the last of them, about its connections, in log order: the story of
/// one message, for a failure message.
pub(crate) fn lines_about<'a>(log: &'a str, client: &str, mid: u16) -> Vec<&'a str> {
    let to_or_from = [format!(" to {client} ("), format!(" from {client} (")];
    let connection = [
        format!(" as {client} ("),
        format!("Client {client} "),
        format!("Sending CONNACK to {client} ("),
    ];
    let mid_tokens = [
        format!("(m{mid})"),
        format!(" m{mid},"),
        format!("(Mid: {mid})"),
        format!("(Mid: {mid},"),
    ];
    let about_mid = |line: &str| {
        to_or_from.iter().any(|c| line.contains(c.as_str()))
            && mid_tokens.iter().any(|m| line.contains(m.as_str()))
    };
    let lines: Vec<&str> = log.lines().collect();
    let (Some(first), Some(last)) = (
        lines.iter().position(|l| about_mid(l)),
        lines.iter().rposition(|l| about_mid(l)),
    ) else {
        return Vec::new();
    };
    lines[first..=last]
        .iter()
        .copied()
        .filter(|line| about_mid(line) || connection.iter().any(|c| line.contains(c.as_str())))
        .collect()
}

#[test]
fn the_log_check_finds_only_publishes_resent_after_pubrel() {
    let log = "\
1: Sending PUBLISH to c (d0, q2, r0, m7, 'a/0', ... (1 bytes))
1: Sending PUBLISH to c (d1, q2, r0, m7, 'a/0', ... (1 bytes))
1: Sending PUBREL to c (m7)
1: Sending PUBREL to other (m8)
1: Sending PUBLISH to other (d1, q2, r0, m8, 'a/1', ... (1 bytes))
1: Sending PUBLISH to c (d1, q2, r0, m7, 'a/0', ... (1 bytes))
1: Sending PUBREL to c (m9)
1: Received PUBCOMP from c (Mid: 9, RC:0)
1: Sending PUBLISH to c (d0, q2, r0, m9, 'a/2', ... (1 bytes))
1: Sending PUBLISH to c-2 (d1, q2, r0, m7, 'a/0', ... (1 bytes))
1: Sending PUBLISH to c (d1, q2, r0, m7, 'a/0', ... (1 bytes))
1: Sending PUBREL to c (m7)
1: Sending PUBLISH to c (d1, q2, r0, m7, 'a/0', ... (1 bytes))
";
    assert_eq!(
        publish_resent_after_pubrel(log, "c"),
        vec![("a/0".to_owned(), 7), ("a/0".to_owned(), 7)]
    );
    assert_eq!(
        publish_resent_after_pubrel(log, "other"),
        vec![("a/1".to_owned(), 8)]
    );
}

#[test]
fn the_story_of_one_packet_identifier() {
    let log = "\
1: New client connected from 127.0.0.1:4000 as c (p5, c0, k60).
1: Sending PUBLISH to c (d0, q2, r0, m7, 'a/0', ... (1 bytes))
1: Sending PUBLISH to c (d0, q2, r0, m70, 'a/1', ... (1 bytes))
1: Received PUBREC from c (Mid: 7)
1: Sending PUBREL to c (m7)
1: Sending PUBREL to c-2 (m7)
1: Client c closed its connection.
1: Client c-2 disconnected: Connection reset by peer.
1: New client connected from 127.0.0.1:4001 as c (p5, c0, k60).
1: Sending CONNACK to c (1, 0)
1: Received PUBCOMP from c (Mid: 7, RC:0)
1: Received PUBCOMP from c (Mid: 70, RC:0)
1: Client c closed its connection.
";
    assert_eq!(
        lines_about(log, "c", 7),
        vec![
            "1: Sending PUBLISH to c (d0, q2, r0, m7, 'a/0', ... (1 bytes))",
            "1: Received PUBREC from c (Mid: 7)",
            "1: Sending PUBREL to c (m7)",
            "1: Client c closed its connection.",
            "1: New client connected from 127.0.0.1:4001 as c (p5, c0, k60).",
            "1: Sending CONNACK to c (1, 0)",
            "1: Received PUBCOMP from c (Mid: 7, RC:0)",
        ]
    );
}
