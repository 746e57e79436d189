//! Connecting through real proxy servers from the distribution's packages:
//! microsocks (SOCKS5) and tinyproxy (HTTP CONNECT), with and without
//! credentials, to a real Mosquitto.

mod support;

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mqtide::{Client, Proxy};
use mqtide_testkit::Mosquitto;
use support::{VERSIONS, client, each_qos_round_trip, guard};

/// A proxy process, killed when dropped.
struct ProxyServer {
    child: Child,
    port: u16,
    config: Option<PathBuf>,
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(config) = &self.config {
            let _ = std::fs::remove_file(config);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `program` and waits (hang guard) until `port` accepts.
fn start(program: &str, args: &[String], port: u16, config: Option<PathBuf>) -> ProxyServer {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{program} is needed for this test (apt-get install {program}; .ci/run does): {e}"
            )
        });
    let server = ProxyServer {
        child,
        port,
        config,
    };
    let deadline = Instant::now() + support::GUARD;
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{program} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server
}

fn microsocks(credentials: Option<(&str, &str)>) -> ProxyServer {
    let port = free_port();
    let mut args = vec![
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
    ];
    if let Some((user, password)) = credentials {
        args.extend(["-u".into(), user.into(), "-P".into(), password.into()]);
    }
    start("microsocks", &args, port, None)
}

fn tinyproxy(broker_port: u16, credentials: Option<(&str, &str)>) -> ProxyServer {
    let port = free_port();
    let config = std::env::temp_dir().join(format!("mqtide-tinyproxy-{port}.conf"));
    let mut text = format!(
        "User nobody\nGroup nogroup\nPort {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 20\n\
         Allow 127.0.0.1\nConnectPort {broker_port}\n"
    );
    if let Some((user, password)) = credentials {
        text.push_str(&format!("BasicAuth {user} {password}\n"));
    }
    std::fs::write(&config, text).unwrap();
    start(
        "tinyproxy",
        &["-d".into(), "-c".into(), config.display().to_string()],
        port,
        Some(config),
    )
}

/// QoS 0/1/2 through the proxy, for 3.1.1 and 5.0.
async fn round_trip(broker: &Mosquitto, proxy: Proxy, name: &str) {
    for version in VERSIONS {
        let builder = client(&broker.url(), version, name).proxy(proxy.clone());
        each_qos_round_trip(builder, "proxied", 1000).await;
    }
}

#[tokio::test]
async fn through_socks5() {
    let broker = Mosquitto::start().unwrap();
    let open = microsocks(None);
    round_trip(&broker, Proxy::socks5("127.0.0.1", open.port), "socks").await;
    let guarded = microsocks(Some(("alice", "secret")));
    round_trip(
        &broker,
        Proxy::socks5("127.0.0.1", guarded.port).credentials("alice", "secret"),
        "socks-auth",
    )
    .await;
    // Wrong credentials: refused by the proxy, said so.
    let err = guard(
        "connect",
        Client::builder(&broker.url())
            .proxy(Proxy::socks5("127.0.0.1", guarded.port).credentials("alice", "wrong"))
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("SOCKS5 proxy refused"), "{err}");
}

#[tokio::test]
async fn through_http_connect() {
    let broker = Mosquitto::start().unwrap();
    let open = tinyproxy(broker.port(), None);
    round_trip(&broker, Proxy::http("127.0.0.1", open.port), "http").await;
    let guarded = tinyproxy(broker.port(), Some(("alice", "secret")));
    round_trip(
        &broker,
        Proxy::http("127.0.0.1", guarded.port).credentials("alice", "secret"),
        "http-auth",
    )
    .await;
    let err = guard(
        "connect",
        Client::builder(&broker.url())
            .proxy(Proxy::http("127.0.0.1", guarded.port))
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("HTTP proxy refused CONNECT"),
        "{err}"
    );
}
