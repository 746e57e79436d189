//! Plain TCP, with Nagle's algorithm off: without TCP_NODELAY a QoS 1
//! request/response on one connection stalls 40–90 ms on delayed ACKs.

use std::io;

use tokio::net::TcpStream;

pub(crate) async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
