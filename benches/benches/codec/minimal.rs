//! The least a conforming codec must do for the one packet of the
//! `publish_v311` groups: a QoS 1 PUBLISH of MQTT 3.1.1, written and read
//! by hand with nothing general about it (no packet enum, no other types,
//! no options). It is not a codec anyone could use; it is the `minimal` row
//! of those groups, the best any codec that keeps the spec's rules could
//! reach in this harness, and so what bounds the ratio to rumqttc.
//!
//! Encode writes from a topic checked when the packet was made (so there is
//! nothing left to check but the size). Decode checks what a receiver must:
//! the fixed header's flags (QoS 3 [MQTT-3.3.1-4]), the remaining length
//! against the maximum, the topic's UTF-8 [MQTT-1.5.3-1] and its lack of
//! wildcards [MQTT-3.3.2-2], and a non-zero packet identifier
//! [MQTT-2.3.1-1].

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// A 3.1.1 QoS 1 PUBLISH whose topic was checked when it was made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Publish {
    pub(crate) topic: Bytes,
    pub(crate) packet_id: u16,
    pub(crate) payload: Bytes,
}

impl Publish {
    /// `None` when `topic` could not be sent in a PUBLISH.
    pub(crate) fn new(topic: &str, packet_id: u16, payload: Bytes) -> Option<Self> {
        let ok = !topic.is_empty()
            && topic.len() <= usize::from(u16::MAX)
            && !topic.bytes().any(|b| matches!(b, 0 | b'+' | b'#'))
            && packet_id != 0;
        ok.then(|| Self {
            topic: Bytes::copy_from_slice(topic.as_bytes()),
            packet_id,
            payload,
        })
    }

    /// Writes the packet, or `None` if it is larger than `max`.
    #[inline(always)]
    pub(crate) fn encode(&self, buf: &mut BytesMut, max: u32) -> Option<()> {
        let remaining = 2 + self.topic.len() + 2 + self.payload.len();
        if remaining > max as usize || remaining >= 1 << 28 {
            return None;
        }
        buf.reserve(5 + remaining);
        buf.put_u8(0x32);
        put_var_int(buf, remaining);
        buf.put_u16(self.topic.len() as u16);
        buf.put_slice(&self.topic);
        buf.put_u16(self.packet_id);
        buf.put_slice(&self.payload);
        Some(())
    }

    /// Reads one packet off the front of `buf`: `Ok(None)` while it is
    /// incomplete, `Err(())` when it is not a valid QoS 1 PUBLISH.
    #[inline(always)]
    pub(crate) fn decode(buf: &mut BytesMut, max: u32) -> Result<Option<Self>, ()> {
        let Some(mut body) = frame(buf, max)? else {
            return Ok(None);
        };
        if body.len() < 2 {
            return Err(());
        }
        let topic_len = usize::from(body.get_u16());
        if topic_len == 0 || body.len() < topic_len + 2 {
            return Err(());
        }
        let topic = body.split_to(topic_len);
        let text = std::str::from_utf8(&topic).map_err(|_| ())?;
        if text.bytes().any(|b| matches!(b, 0 | b'+' | b'#')) {
            return Err(());
        }
        let packet_id = body.get_u16();
        if packet_id == 0 {
            return Err(());
        }
        Ok(Some(Self {
            topic,
            packet_id,
            payload: body,
        }))
    }
}

/// Writes `n` as a variable byte integer.
#[inline(always)]
pub(crate) fn put_var_int(buf: &mut BytesMut, mut n: usize) {
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        if n == 0 {
            buf.put_u8(byte);
            return;
        }
        buf.put_u8(byte | 0x80);
    }
}

/// Splits the next QoS 1 PUBLISH off the front of `buf` and returns its
/// body (after the fixed header): `Ok(None)` while it is incomplete,
/// `Err(())` for other flags, a malformed remaining length, or one above
/// `max`. Shared with `minimal_v5.rs`: the fixed header is the same.
#[inline(always)]
pub(crate) fn frame(buf: &mut BytesMut, max: u32) -> Result<Option<Bytes>, ()> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first & 0xF0 != 0x30 || (first >> 1) & 0b11 != 1 {
        return Err(());
    }
    let mut remaining = 0usize;
    let mut header = 1;
    loop {
        let Some(&byte) = buf.get(header) else {
            return Ok(None);
        };
        remaining |= usize::from(byte & 0x7F) << (7 * (header - 1));
        header += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if header == 5 {
            return Err(());
        }
    }
    if remaining > max as usize {
        return Err(());
    }
    if buf.len() < header + remaining {
        return Ok(None);
    }
    let mut body = buf.split_to(header + remaining).freeze();
    body.advance(header);
    Ok(Some(body))
}
