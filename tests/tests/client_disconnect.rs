//! What `disconnect` promises: once it returns, the DISCONNECT and every
//! packet before it are written, so a program may exit at once without
//! losing a QoS 0 message (which is complete once it is encoded).
#![cfg(unix)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use mqtide::QoS;
use mqtide_testkit::Mosquitto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener};
use tokio::sync::watch;

use support::{VERSIONS, client, guard, next, still_pending};

/// Larger than what a Unix socket buffers (about 200 KiB), smaller than
/// what the client keeps in its write buffer before it stops taking
/// commands: the writes stall with the DISCONNECT command still taken.
const PAYLOAD: usize = 300 * 1024;

/// Relays one connection from a Unix socket to the broker. Bytes from the
/// client are forwarded only while `open` is true; the broker's flow back.
async fn relay(listener: UnixListener, broker: SocketAddr, mut open: watch::Receiver<bool>) {
    let (client, _) = listener.accept().await.expect("accept the client");
    let server = TcpStream::connect(broker)
        .await
        .expect("connect to the broker");
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    tokio::spawn(async move { tokio::io::copy(&mut from_server, &mut to_client).await });
    let mut buf = vec![0; 16 * 1024];
    loop {
        if open.wait_for(|open| *open).await.is_err() {
            return;
        }
        match from_client.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to_server.shutdown().await;
                return;
            }
            Ok(n) => {
                if to_server.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// While the connection cannot take the last bytes, `disconnect` waits;
/// it returns once they are written, and the QoS 0 message published
/// before it reaches the subscriber.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_returns_once_its_bytes_are_written() {
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for version in VERSIONS {
        let subscriber = guard(
            "connect",
            client(&broker.url(), version, "dc-sub").connect(),
        )
        .await
        .unwrap();
        let mut stream = guard("subscribe", subscriber.subscribe("dc/#", QoS::AtMostOnce))
            .await
            .unwrap();

        let path = dir.path().join(format!("relay-{version}"));
        let listener = UnixListener::bind(&path).unwrap();
        let (gate, open) = watch::channel(true);
        tokio::spawn(relay(listener, broker.addr(), open));
        let url = format!("unix://{}", path.display());
        let publisher = guard("connect", client(&url, version, "dc-pub").connect())
            .await
            .unwrap();

        // The relay stops reading: the publish is encoded (and so, at
        // QoS 0, complete) but cannot all be written.
        gate.send_replace(false);
        guard(
            "publish",
            publisher
                .publish("dc/t", vec![7u8; PAYLOAD])
                .qos(QoS::AtMostOnce),
        )
        .await
        .unwrap();
        let disconnect = publisher.disconnect();
        tokio::pin!(disconnect);
        // The DISCONNECT is queued behind the publish, neither written.
        assert!(
            still_pending(&mut disconnect).await,
            "{version}: disconnect returned before its bytes were written"
        );
        gate.send_replace(true);
        guard("disconnect", disconnect).await.unwrap();
        let message = next(&mut stream).await;
        assert_eq!(message.payload().len(), PAYLOAD, "{version}");
        assert_eq!(message.topic(), "dc/t");
        guard("disconnect", subscriber.disconnect()).await.unwrap();
        assert!(stream.next().await.is_none());
    }
}

/// A disconnect waiting for an acknowledgement fails, rather than claim a
/// clean end, when the connection is lost before its DISCONNECT is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_fails_when_the_connection_is_lost_before_it_is_sent() {
    for version in VERSIONS {
        let mut broker = Mosquitto::start().unwrap();
        let publisher = guard(
            "connect",
            client(&broker.url(), version, "dc-lost").connect(),
        )
        .await
        .unwrap();
        // Paused, the broker never acknowledges: the disconnect waits.
        broker.pause().unwrap();
        let pending = guard(
            "send",
            publisher.publish("dc/t", "x").qos(QoS::AtLeastOnce).send(),
        )
        .await
        .unwrap();
        let disconnect = publisher.disconnect_with(
            mqtide::ReasonCode::Success,
            Default::default(),
            Duration::from_secs(60),
        );
        tokio::pin!(disconnect);
        assert!(
            still_pending(&mut disconnect).await,
            "{version}: disconnect returned with a publish in flight"
        );
        broker.kill();
        let result = guard("disconnect", disconnect).await;
        assert!(
            matches!(result, Err(mqtide::Error::ConnectionLost(_))),
            "{version}: {result:?}"
        );
        assert!(guard("the publish", pending).await.is_err());
    }
}
