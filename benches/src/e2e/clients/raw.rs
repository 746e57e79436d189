//! The ceiling: no client library, just sockets. A writer sends a
//! hand-written CONNECT, then QoS 0 PUBLISH packets encoded straight into
//! 256 KiB batches, each written with one `write_all`; a reader that
//! subscribed the same way reads 1 MiB at a time and counts the PUBLISH
//! packets in it. Plain threads and blocking I/O: no runtime, no channel,
//! no per-message allocation. No client can deliver faster through this
//! broker on this machine.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::e2e::flow::{FlowOutcome, FlowSpec, IDLE, Target, Tracker, payload};

/// Bytes collected before each write.
const BATCH_BYTES: usize = 256 * 1024;

/// The reader's buffer.
const READ_BYTES: usize = 1024 * 1024;

/// MQTT's variable-length "remaining length".
fn put_remaining_length(mut len: usize, out: &mut Vec<u8>) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return;
        }
    }
}

/// A length-prefixed string (our strings are far below 64 KiB).
fn put_string(s: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

fn packet(header: u8, body: &[u8]) -> Vec<u8> {
    let mut packet = vec![header];
    put_remaining_length(body.len(), &mut packet);
    packet.extend_from_slice(body);
    packet
}

/// CONNECT, MQTT 3.1.1, clean session, keep-alive 60 s.
fn connect_packet(id: &str) -> Vec<u8> {
    let mut body = Vec::new();
    put_string(b"MQTT", &mut body);
    body.extend_from_slice(&[4, 0x02]);
    body.extend_from_slice(&60u16.to_be_bytes());
    put_string(id.as_bytes(), &mut body);
    packet(0x10, &body)
}

/// SUBSCRIBE, packet id 1, one filter at QoS 0.
fn subscribe_packet(topic: &str) -> Vec<u8> {
    let mut body = vec![0, 1];
    put_string(topic.as_bytes(), &mut body);
    body.push(0);
    packet(0x82, &body)
}

/// Appends a QoS 0 PUBLISH.
fn put_publish(topic: &[u8], payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x30);
    put_remaining_length(2 + topic.len() + payload.len(), out);
    put_string(topic, out);
    out.extend_from_slice(payload);
}

fn expect(stream: &mut TcpStream, what: &str, answer: &[u8]) -> Result<(), String> {
    let mut got = vec![0; answer.len()];
    stream
        .read_exact(&mut got)
        .map_err(|e| format!("raw: reading {what}: {e}"))?;
    if got == answer {
        Ok(())
    } else {
        Err(format!("raw: unexpected {what}: {got:02x?}"))
    }
}

/// Connects and waits for a successful CONNACK.
fn open(target: &Target, id: &str) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(target.addr()).map_err(|e| format!("raw connect: {e}"))?;
    stream
        .set_nodelay(true)
        .and_then(|()| stream.write_all(&connect_packet(id)))
        .map_err(|e| format!("raw connect: {e}"))?;
    expect(&mut stream, "CONNACK", &[0x20, 0x02, 0x00, 0x00])?;
    Ok(stream)
}

pub(crate) fn flow(target: &Target, spec: &FlowSpec) -> Result<FlowOutcome, String> {
    if spec.qos != 0 {
        return Err("the raw client publishes at QoS 0 only".to_owned());
    }
    let mut reader = open(target, &format!("{}-sub", spec.id))?;
    reader
        .write_all(&subscribe_packet(&spec.topic))
        .map_err(|e| format!("raw subscribe: {e}"))?;
    expect(&mut reader, "SUBACK", &[0x90, 0x03, 0x00, 0x01, 0x00])?;
    reader
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| format!("raw: {e}"))?;
    let mut writer = open(target, &format!("{}-pub", spec.id))?;
    let published = Arc::new(AtomicBool::new(false));
    let counting = thread::spawn({
        let published = Arc::clone(&published);
        let count = spec.count;
        move || count_publishes(reader, count, &published)
    });
    let topic = spec.topic.as_bytes();
    let mut body = payload(0, spec.payload);
    let mut batch = Vec::with_capacity(BATCH_BYTES + body.len() + topic.len() + 8);
    let start = Instant::now();
    for seq in 0..spec.count {
        body[..8].copy_from_slice(&seq.to_be_bytes());
        put_publish(topic, &body, &mut batch);
        if batch.len() >= BATCH_BYTES {
            writer
                .write_all(&batch)
                .map_err(|e| format!("raw write: {e}"))?;
            batch.clear();
        }
    }
    writer
        .write_all(&batch)
        .map_err(|e| format!("raw write: {e}"))?;
    published.store(true, Ordering::Release);
    let tracker = counting
        .join()
        .map_err(|_| "raw: the reader thread panicked".to_owned())??;
    // DISCONNECT, then both sockets close.
    let _ = writer.write_all(&[0xe0, 0x00]);
    Ok(tracker.outcome(0, start))
}

/// A complete packet at the front of `buf`: (first byte, header length,
/// body length), or None if more bytes are needed.
fn frame(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, String> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut len = 0usize;
    for (i, &byte) in buf.iter().skip(1).take(4).enumerate() {
        len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let header = 2 + i;
            return Ok((buf.len() >= header + len).then_some((first, header, len)));
        }
    }
    if buf.len() >= 5 {
        Err("raw: malformed remaining length".to_owned())
    } else {
        Ok(None)
    }
}

/// Reads until every message arrived, or none did for [`IDLE`] after the
/// writer finished.
fn count_publishes(
    mut stream: TcpStream,
    count: u64,
    published: &AtomicBool,
) -> Result<Tracker, String> {
    let mut tracker = Tracker::new(count);
    let mut buf = vec![0u8; READ_BYTES];
    let mut filled = 0;
    let mut last_read = Instant::now();
    loop {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Err("raw: the broker closed the subscriber".to_owned()),
            Ok(n) => {
                filled += n;
                last_read = Instant::now();
                let mut at = 0;
                while let Some((first, header, len)) = frame(&buf[at..filled])? {
                    let body = &buf[at + header..at + header + len];
                    if first >> 4 == 3 && body.len() >= 2 {
                        let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
                        if let Some(payload) = body.get(2 + topic_len..)
                            && tracker.record(payload, last_read)
                        {
                            return Ok(tracker);
                        }
                    }
                    at += header + len;
                }
                buf.copy_within(at..filled, 0);
                filled -= at;
                if filled == buf.len() {
                    return Err("raw: a packet larger than the read buffer".to_owned());
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if published.load(Ordering::Acquire) && last_read.elapsed() >= IDLE {
                    return Ok(tracker);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("raw read: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere() {
        let mut bytes = Vec::new();
        put_publish(b"a/b", &payload(5, 200), &mut bytes);
        assert_eq!(frame(&bytes), Ok(Some((0x30, 3, 205))));
        assert_eq!(frame(&bytes[..100]), Ok(None));
        assert_eq!(frame(&bytes[..2]), Ok(None));
        assert_eq!(frame(&[]), Ok(None));
        assert!(frame(&[0x30, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn packets_decode_with_mqtide_proto() -> Result<(), Box<dyn std::error::Error>> {
        // The hand-written packets, read back by mqtide-proto's decoder.
        use bytes::BytesMut;
        use mqtide_proto::{Packet, ProtocolVersion};
        let v = ProtocolVersion::V3_1_1;
        let connect = connect_packet("raw-1");
        let decoded = Packet::decode(&mut BytesMut::from(&connect[..]), v, 1 << 20)?;
        assert!(matches!(decoded, Some(Packet::Connect(_))));
        let subscribe = subscribe_packet("x/y");
        let decoded = Packet::decode(&mut BytesMut::from(&subscribe[..]), v, 1 << 20)?;
        assert!(matches!(decoded, Some(Packet::Subscribe(_))));
        let mut publish = Vec::new();
        put_publish(b"x/y", &payload(9, 4096), &mut publish);
        let decoded = Packet::decode(&mut BytesMut::from(&publish[..]), v, 1 << 20)?;
        let Some(Packet::Publish(p)) = decoded else {
            panic!("not a PUBLISH: {decoded:?}");
        };
        assert_eq!(crate::e2e::flow::sequence(&p.payload), Some(9));
        Ok(())
    }
}
