//! The broker's start-up checks, against real Mosquitto processes.

use std::fs;

use super::{Mosquitto, StartError};

/// A broker whose port is taken by another broker must not pass for
/// started because the other one accepts: its start fails with the
/// broker's own "Address already in use", so the caller retries.
#[test]
fn a_broker_that_lost_its_port_is_not_taken_for_running() {
    let winner = Mosquitto::start().unwrap();
    let mut loser = Mosquitto::start().unwrap();
    loser.stop();
    let conf = loser.dir.path().join("mosquitto.conf");
    let config = fs::read_to_string(&conf).unwrap().replace(
        &format!("listener {} ", loser.port),
        &format!("listener {} ", winner.port),
    );
    fs::write(&conf, config).unwrap();
    loser.port = winner.port;
    match loser.spawn() {
        Err(StartError::NotListening { log, .. }) => assert!(log.contains("in use"), "{log}"),
        other => panic!("expected NotListening, got {other:?}"),
    }
}

/// A restart finds the broker's own "running" in the log, not the one
/// the previous process wrote.
#[test]
fn a_restart_waits_for_the_new_process() {
    let mut broker = Mosquitto::start().unwrap();
    broker.restart().unwrap();
    assert_eq!(broker.log().matches(" running").count(), 2);
    std::net::TcpStream::connect(broker.addr()).unwrap();
}
