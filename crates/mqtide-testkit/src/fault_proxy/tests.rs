//! The proxy against plain sockets: the test holds both ends of each
//! proxied connection and checks what each fault does to them.

use std::io::ErrorKind;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Direction, Fault, FaultProxy, Scope};

/// Waits are bounded by this; it is a hang guard, never a delay.
const GUARD: Duration = Duration::from_secs(10);

async fn guard<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("hang guard: {what}"))
}

/// A target to proxy to, and a proxy in front of it.
async fn setup() -> (TcpListener, FaultProxy) {
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = FaultProxy::start(target.local_addr().unwrap(), 7).unwrap();
    (target, proxy)
}

/// A connection through the proxy: (the client's end, the target's end).
async fn pair(target: &TcpListener, proxy: &FaultProxy) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(proxy.addr()).await.unwrap();
    let (server, _) = guard("accept", target.accept()).await.unwrap();
    (client, server)
}

async fn read_exact(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    guard("read", stream.read_exact(&mut buf)).await.unwrap();
    buf
}

/// Reads until end-of-file or an error: what arrived, and how it ended.
async fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, Option<ErrorKind>) {
    let mut data = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match guard("read to the end", stream.read(&mut buf)).await {
            Ok(0) => return (data, None),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) => return (data, Some(e.kind())),
        }
    }
}

#[tokio::test]
async fn forwards_both_ways_and_passes_end_of_file_on() {
    let (target, proxy) = setup().await;
    let (mut client, mut server) = pair(&target, &proxy).await;
    client.write_all(b"hello").await.unwrap();
    assert_eq!(read_exact(&mut server, 5).await, b"hello");
    server.write_all(b"world").await.unwrap();
    assert_eq!(read_exact(&mut client, 5).await, b"world");
    client.shutdown().await.unwrap();
    assert_eq!(read_to_end(&mut server).await, (Vec::new(), None));
    server.write_all(b"late").await.unwrap();
    server.shutdown().await.unwrap();
    assert_eq!(read_to_end(&mut client).await, (b"late".to_vec(), None));
    assert_eq!(proxy.stats().bytes, 14);
    assert_eq!(proxy.stats().accepted, 1);
}

#[tokio::test]
async fn cut_closes_both_sides_cleanly() {
    let (target, proxy) = setup().await;
    let (mut client, mut server) = pair(&target, &proxy).await;
    client.write_all(b"x").await.unwrap();
    assert_eq!(read_exact(&mut server, 1).await, b"x");
    proxy.inject(Fault::Cut, Scope::Current);
    assert_eq!(read_to_end(&mut client).await, (Vec::new(), None));
    assert_eq!(read_to_end(&mut server).await, (Vec::new(), None));
    assert_eq!(proxy.stats().cut, 1);
}

#[tokio::test]
async fn reset_forwards_a_strict_prefix_then_resets_both_sides() {
    let (target, proxy) = setup().await;
    let (mut client, mut server) = pair(&target, &proxy).await;
    proxy.inject(Fault::Reset, Scope::Current);
    let sent: Vec<u8> = (0..200u8).collect();
    client.write_all(&sent).await.unwrap();
    let (got, end) = read_to_end(&mut server).await;
    assert!(got.len() < sent.len(), "the whole chunk went through");
    assert_eq!(got, sent[..got.len()]);
    assert_eq!(end, Some(ErrorKind::ConnectionReset));
    assert_eq!(
        read_to_end(&mut client).await,
        (Vec::new(), Some(ErrorKind::ConnectionReset))
    );
    assert_eq!(proxy.stats().reset, 1);
}

#[tokio::test]
async fn blackhole_holds_data_until_healed() {
    let (target, proxy) = setup().await;
    let (mut client, mut server) = pair(&target, &proxy).await;
    proxy.inject(Fault::Blackhole, Scope::Current);
    client.write_all(b"held").await.unwrap();
    server.write_all(b"back").await.unwrap();
    // Nothing may cross while the hole is open, however long we look.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut buf = [0; 8];
    assert_eq!(
        server.try_read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(
        client.try_read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(proxy.stats().bytes, 0);
    proxy.heal();
    assert_eq!(read_exact(&mut server, 4).await, b"held");
    assert_eq!(read_exact(&mut client, 4).await, b"back");
}

#[tokio::test]
async fn half_close_ends_one_direction_only() {
    for direction in [Direction::ToClient, Direction::ToServer] {
        let (target, proxy) = setup().await;
        let (mut client, mut server) = pair(&target, &proxy).await;
        proxy.inject(Fault::HalfClose(direction), Scope::Current);
        let (closed, open) = match direction {
            Direction::ToClient => (&mut client, &mut server),
            Direction::ToServer => (&mut server, &mut client),
        };
        assert_eq!(read_to_end(closed).await, (Vec::new(), None));
        closed.write_all(b"still").await.unwrap();
        assert_eq!(read_exact(open, 5).await, b"still");
        assert_eq!(proxy.stats().half_closed, 1);
    }
}

#[tokio::test]
async fn delay_and_throttle_keep_every_byte_in_order() {
    let (target, proxy) = setup().await;
    let (mut client, mut server) = pair(&target, &proxy).await;
    proxy.inject(Fault::Delay(Duration::from_millis(20)), Scope::Current);
    proxy.inject(
        Fault::Throttle {
            bytes_per_second: 20_000,
        },
        Scope::Current,
    );
    let up: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let down: Vec<u8> = up.iter().rev().copied().collect();
    for chunk in up.chunks(100) {
        client.write_all(chunk).await.unwrap();
    }
    server.write_all(&down).await.unwrap();
    assert_eq!(read_exact(&mut server, up.len()).await, up);
    assert_eq!(read_exact(&mut client, down.len()).await, down);
    proxy.heal();
    client.write_all(b"fast").await.unwrap();
    assert_eq!(read_exact(&mut server, 4).await, b"fast");
}

#[tokio::test]
async fn faults_for_new_connections_last_until_healed() {
    let (target, proxy) = setup().await;
    proxy.inject(Fault::Cut, Scope::CurrentAndNew);
    let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(read_to_end(&mut refused).await, (Vec::new(), None));

    proxy.heal();
    proxy.inject(Fault::Reset, Scope::CurrentAndNew);
    let (mut client, mut server) = pair(&target, &proxy).await;
    client.write_all(b"CONNECT").await.unwrap();
    let (got, end) = read_to_end(&mut server).await;
    assert!(got.len() < 7 && end == Some(ErrorKind::ConnectionReset));

    proxy.heal();
    let (mut client, mut server) = pair(&target, &proxy).await;
    client.write_all(b"ok").await.unwrap();
    assert_eq!(read_exact(&mut server, 2).await, b"ok");
    assert_eq!(proxy.stats().cut, 1);
    assert_eq!(proxy.stats().reset, 1);
}

#[tokio::test]
async fn an_unreachable_target_closes_the_client() {
    let (target, proxy) = setup().await;
    drop(target);
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(read_to_end(&mut client).await, (Vec::new(), None));
    assert_eq!(proxy.stats().refused, 1);
}
