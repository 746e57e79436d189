//! The three ways to run a client:
//!
//! 1. **spawned**: `connect()` spawns the event loop as a task (the usual way);
//! 2. **in place**: `build()` hands you the loop as a future to drive
//!    yourself, beside your own work, with no task spawned;
//! 3. **by hand**: the sans-IO `Session` of mqtide-proto, driven over a
//!    socket you own — what the event loop does, spelled out.
//!
//! ```text
//! cargo run -p examples --example loop_styles
//! ```

#[path = "support/mod.rs"]
mod support;

use std::error::Error;
use std::time::Instant;

use bytes::BytesMut;
use mqtide::Client;
use mqtide::proto::{Event, ProtocolVersion, Publish, QoS, Session, SessionConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (url, _broker) = support::broker_url().await?;

    // 1. Spawned.
    let client = Client::builder(&url).connect().await?;
    client
        .publish("mqtide/example/loops", "spawned")
        .qos(QoS::AtLeastOnce)
        .await?;
    client.disconnect().await?;
    println!("1. spawned: published and disconnected");

    // 2. In place: the loop runs inside this task, joined with our work.
    let (client, connection) = Client::builder(&url).build()?;
    let work = async {
        client.wait_connected().await?;
        client
            .publish("mqtide/example/loops", "in place")
            .qos(QoS::AtLeastOnce)
            .await?;
        client.disconnect().await
    };
    let ((), result) = tokio::join!(connection.run(), work);
    result?;
    println!("2. in place: published and disconnected");

    // 3. By hand: connect a socket, then feed the session and drain it.
    let addr = url.trim_start_matches("mqtt://").trim_end_matches('/');
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    let mut session = Session::new(SessionConfig::new(ProtocolVersion::V5, "mqtide-by-hand"));
    let (mut read_buf, mut write_buf) = (BytesMut::with_capacity(4096), BytesMut::new());
    session.handle_connected(Instant::now());
    let mut request = None;
    loop {
        while session.poll_transmit(&mut write_buf) > 0 {}
        socket.write_all(&write_buf).await?;
        write_buf.clear();
        while let Some(event) = session.poll_event() {
            match event {
                Event::Connected(_) => {
                    let mut publish = Publish::new("mqtide/example/loops", "by hand");
                    publish.qos = QoS::AtLeastOnce;
                    request = Some(session.publish(publish, Instant::now())?);
                }
                Event::Completed { id, outcome } if Some(id) == request => {
                    println!("3. by hand: publish completed: {outcome:?}");
                    return Ok(());
                }
                other => println!("   event: {other:?}"),
            }
        }
        // The session has more to send now (the PUBLISH after CONNACK).
        if session.poll_transmit(&mut write_buf) > 0 {
            continue;
        }
        if socket.read_buf(&mut read_buf).await? == 0 {
            return Err("the broker closed the connection".into());
        }
        session.handle_bytes(&mut read_buf, Instant::now());
    }
}
