//! Mosquitto's client-library connect scenarios (test/lib/01-*), ported as
//! byte-exact tests: a scripted broker reads our CONNECT, PINGREQ and
//! DISCONNECT and compares them byte for byte with hand-written packets.
//!
//! Every CONNECT under 5.0 carries Maximum Packet Size 16 MiB
//! (`27 01 00 00 00`), the client's default incoming limit.

mod support;

#[path = "support/exact_broker.rs"]
mod exact;

use exact::{ExactBroker, builder, disconnects, start, wire};
use mqtide::{ProtocolVersion, QoS, Will};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn connack(version: ProtocolVersion) -> Vec<u8> {
    if version == V5 {
        wire(&["20 03 00 00 00"])
    } else {
        wire(&["20 02 00 00"])
    }
}

/// 01-con-discon-success: CONNECT, CONNACK, DISCONNECT.
async fn con_discon_success(version: ProtocolVersion, connect: Vec<u8>) {
    let broker = ExactBroker::bind().await;
    let (client, task) = start(builder(&broker.url(), version, "01-con-discon-success", 60));
    let mut conn = broker.accept().await;
    conn.expect_send("CONNECT", &connect, &connack(version))
        .await;
    disconnects(client, conn, task).await;
}

#[tokio::test]
async fn con_discon_success_v311() {
    let connect = wire(&[
        "10 21 00 04",
        "'MQTT'",
        "04 02 00 3c 00 15",
        "'01-con-discon-success'",
    ]);
    con_discon_success(V311, connect).await;
}

#[tokio::test]
async fn con_discon_success_v5() {
    let connect = wire(&[
        "10 27 00 04",
        "'MQTT'",
        "05 02 00 3c 05 27 01 00 00 00 00 15",
        "'01-con-discon-success'",
    ]);
    con_discon_success(V5, connect).await;
}

/// 01-keepalive-pingreq (keep-alive 1 s instead of 5): after a quiet
/// keep-alive interval the client sends PINGREQ, and after PINGRESP it
/// pings again.
async fn keepalive_pingreq(version: ProtocolVersion, connect: Vec<u8>) {
    let broker = ExactBroker::bind().await;
    let (client, task) = start(builder(&broker.url(), version, "01-keepalive-pingreq", 1));
    let mut conn = broker.accept().await;
    conn.expect_send("CONNECT", &connect, &connack(version))
        .await;
    conn.expect_send("PINGREQ", &wire(&["c0 00"]), &wire(&["d0 00"]))
        .await;
    conn.expect_send("second PINGREQ", &wire(&["c0 00"]), &wire(&["d0 00"]))
        .await;
    disconnects(client, conn, task).await;
}

#[tokio::test]
async fn keepalive_pingreq_v311() {
    let connect = wire(&[
        "10 20 00 04",
        "'MQTT'",
        "04 02 00 01 00 14",
        "'01-keepalive-pingreq'",
    ]);
    keepalive_pingreq(V311, connect).await;
}

#[tokio::test]
async fn keepalive_pingreq_v5() {
    let connect = wire(&[
        "10 26 00 04",
        "'MQTT'",
        "05 02 00 01 05 27 01 00 00 00 00 14",
        "'01-keepalive-pingreq'",
    ]);
    keepalive_pingreq(V5, connect).await;
}

/// 01-server-keepalive-pingreq (5.0): the client asks for 60 s, the
/// CONNACK's Server Keep Alive says 1 s, and the client pings on the
/// server's interval.
#[tokio::test]
async fn server_keepalive_pingreq_v5() {
    let broker = ExactBroker::bind().await;
    let (client, task) = start(builder(
        &broker.url(),
        V5,
        "01-server-keepalive-pingreq",
        60,
    ));
    let mut conn = broker.accept().await;
    let connect = wire(&[
        "10 2d 00 04",
        "'MQTT'",
        "05 02 00 3c 05 27 01 00 00 00 00 1b",
        "'01-server-keepalive-pingreq'",
    ]);
    // CONNACK with Server Keep Alive (0x13) = 1.
    conn.expect_send("CONNECT", &connect, &wire(&["20 06 00 00 03 13 00 01"]))
        .await;
    conn.expect_send("PINGREQ", &wire(&["c0 00"]), &wire(&["d0 00"]))
        .await;
    conn.expect_send("second PINGREQ", &wire(&["c0 00"]), &wire(&["d0 00"]))
        .await;
    disconnects(client, conn, task).await;
}

/// 01-no-clean-session: clean session / clean start 0 in the CONNECT
/// flags.
async fn no_clean_session(version: ProtocolVersion, connect: Vec<u8>) {
    let broker = ExactBroker::bind().await;
    let (client, task) =
        start(builder(&broker.url(), version, "01-no-clean-session", 60).clean_start(false));
    let mut conn = broker.accept().await;
    conn.expect_send("CONNECT", &connect, &connack(version))
        .await;
    disconnects(client, conn, task).await;
}

#[tokio::test]
async fn no_clean_session_v311() {
    let connect = wire(&[
        "10 1f 00 04",
        "'MQTT'",
        "04 00 00 3c 00 13",
        "'01-no-clean-session'",
    ]);
    no_clean_session(V311, connect).await;
}

/// Under 5.0 mqtide also asks for a session that never expires (Session
/// Expiry Interval 0xFFFFFFFF, property 0x11), as `mosquitto_sub -c` does:
/// without it the broker would end the session with the connection
/// (issue 27, item 2). libmosquitto's test client sends none.
#[tokio::test]
async fn no_clean_session_v5() {
    let connect = wire(&[
        "10 2a 00 04",
        "'MQTT'",
        "05 00 00 3c 0a 11 ff ff ff ff 27 01 00 00 00 00 13",
        "'01-no-clean-session'",
    ]);
    no_clean_session(V5, connect).await;
}

/// 01-will-set: a retained QoS 1 will (flags 0x2e: will, will QoS 1, will
/// retain, clean).
async fn will_set(version: ProtocolVersion, connect: Vec<u8>) {
    let broker = ExactBroker::bind().await;
    let will = Will::new("topic/on/unexpected/disconnect", "will message")
        .qos(QoS::AtLeastOnce)
        .retain(true);
    let (client, task) = start(builder(&broker.url(), version, "01-will-set", 60).will(will));
    let mut conn = broker.accept().await;
    conn.expect_send("CONNECT", &connect, &connack(version))
        .await;
    disconnects(client, conn, task).await;
}

#[tokio::test]
async fn will_set_v311() {
    let connect = wire(&[
        "10 45 00 04",
        "'MQTT'",
        "04 2e 00 3c 00 0b",
        "'01-will-set'",
        "00 1e",
        "'topic/on/unexpected/disconnect'",
        "00 0c",
        "'will message'",
    ]);
    will_set(V311, connect).await;
}

#[tokio::test]
async fn will_set_v5() {
    let connect = wire(&[
        "10 4c 00 04",
        "'MQTT'",
        "05 2e 00 3c 05 27 01 00 00 00 00 0b",
        "'01-will-set'",
        // No will properties.
        "00 00 1e",
        "'topic/on/unexpected/disconnect'",
        "00 0c",
        "'will message'",
    ]);
    will_set(V5, connect).await;
}

/// 01-unpwd-set: user name and password (flags 0xc2).
async fn unpwd_set(version: ProtocolVersion, connect: Vec<u8>) {
    let broker = ExactBroker::bind().await;
    let (client, task) = start(
        builder(&broker.url(), version, "01-unpwd-set", 60).credentials("uname", ";'[08gn=#"),
    );
    let mut conn = broker.accept().await;
    conn.expect_send("CONNECT", &connect, &connack(version))
        .await;
    disconnects(client, conn, task).await;
}

#[tokio::test]
async fn unpwd_set_v311() {
    let connect = wire(&[
        "10 2a 00 04",
        "'MQTT'",
        "04 c2 00 3c 00 0c",
        "'01-unpwd-set'",
        "00 05",
        "'uname'",
        "00 09",
        "';'[08gn=#'",
    ]);
    unpwd_set(V311, connect).await;
}

#[tokio::test]
async fn unpwd_set_v5() {
    let connect = wire(&[
        "10 30 00 04",
        "'MQTT'",
        "05 c2 00 3c 05 27 01 00 00 00 00 0c",
        "'01-unpwd-set'",
        "00 05",
        "'uname'",
        "00 09",
        "';'[08gn=#'",
    ]);
    unpwd_set(V5, connect).await;
}
