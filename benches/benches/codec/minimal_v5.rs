//! The least a conforming codec must do for the one packet of the
//! `publish_v5` groups: a QoS 1 PUBLISH of MQTT 5.0 with properties,
//! written and read by hand with nothing general about it. Like
//! `minimal.rs` it is not a codec anyone could use; it is the `minimal`
//! row of those groups, what bounds the ratio any conforming codec could
//! reach against rumqttc.
//!
//! Encode writes from fields checked when the packet was made, the
//! single-valued properties only (this row's packet has no others).
//! Decode checks what a receiver must of any PUBLISH it could be sent:
//! the flags and the remaining length as in `minimal.rs`, the topic, and
//! every property: only those a PUBLISH may carry [MQTT-3.3.2.3], none but
//! User Property and Subscription Identifier twice, a payload format of 0
//! or 1, a topic alias above 0, UTF-8 strings without U+0000
//! [MQTT-1.5.4-1] [MQTT-1.5.4-2], a response topic without wildcards
//! [MQTT-3.3.2-14], subscription identifiers from 1 to 268,435,455, and a
//! topic present unless an alias stands in [MQTT-3.3.2-8]. User properties
//! and subscription identifiers are checked and counted but left in the
//! buffer, where a reader of them would find them: keeping them costs a
//! minimal codec nothing until someone asks.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::minimal::{frame, put_var_int};

/// The single-valued PUBLISH properties.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Properties {
    pub(crate) utf8_payload: Option<bool>,
    pub(crate) message_expiry: Option<u32>,
    pub(crate) topic_alias: Option<u16>,
    pub(crate) response_topic: Option<Bytes>,
    pub(crate) correlation_data: Option<Bytes>,
    pub(crate) content_type: Option<Bytes>,
    /// How many user properties and subscription identifiers were read.
    pub(crate) repeated: usize,
}

/// A 5.0 QoS 1 PUBLISH whose topic and properties were checked when it
/// was made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Publish {
    pub(crate) topic: Bytes,
    pub(crate) packet_id: u16,
    pub(crate) properties: Properties,
    pub(crate) payload: Bytes,
}

fn valid_string(s: &[u8]) -> bool {
    std::str::from_utf8(s).is_ok() && !s.contains(&0)
}

fn valid_topic(s: &[u8]) -> bool {
    valid_string(s) && !s.iter().any(|&b| b == b'+' || b == b'#')
}

fn var_int_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// A variable byte integer off the front of `b` (at most 4 bytes).
fn var_int(b: &mut Bytes) -> Option<usize> {
    let mut n = 0;
    for i in 0..4 {
        let byte = *b.first()?;
        b.advance(1);
        n |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// A two-byte length and that many bytes off the front of `b`.
fn prefixed(b: &mut Bytes) -> Option<Bytes> {
    if b.len() < 2 {
        return None;
    }
    let len = usize::from(b.get_u16());
    (b.len() >= len).then(|| b.split_to(len))
}

/// Sets a single-valued property: `None` if it was already set.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.replace(value).is_none().then_some(())
}

impl Properties {
    fn encoded_len(&self) -> usize {
        let string = |s: &Option<Bytes>| s.as_ref().map_or(0, |s| 3 + s.len());
        usize::from(self.utf8_payload.is_some()) * 2
            + usize::from(self.message_expiry.is_some()) * 5
            + usize::from(self.topic_alias.is_some()) * 3
            + string(&self.response_topic)
            + string(&self.correlation_data)
            + string(&self.content_type)
    }

    fn write(&self, buf: &mut BytesMut) {
        let string = |buf: &mut BytesMut, id: u8, s: &Option<Bytes>| {
            if let Some(s) = s {
                buf.put_u8(id);
                buf.put_u16(s.len() as u16);
                buf.put_slice(s);
            }
        };
        if let Some(utf8) = self.utf8_payload {
            buf.put_u8(0x01);
            buf.put_u8(u8::from(utf8));
        }
        if let Some(expiry) = self.message_expiry {
            buf.put_u8(0x02);
            buf.put_u32(expiry);
        }
        string(buf, 0x03, &self.content_type);
        string(buf, 0x08, &self.response_topic);
        string(buf, 0x09, &self.correlation_data);
        if let Some(alias) = self.topic_alias {
            buf.put_u8(0x23);
            buf.put_u16(alias);
        }
    }

    fn read(mut b: Bytes) -> Option<Self> {
        let mut p = Self::default();
        while let Some(&id) = b.first() {
            b.advance(1);
            match id {
                0x01 => match *b.first()? {
                    v @ (0 | 1) => {
                        b.advance(1);
                        once(&mut p.utf8_payload, v == 1)?;
                    }
                    _ => return None,
                },
                0x02 if b.len() >= 4 => once(&mut p.message_expiry, b.get_u32())?,
                0x23 if b.len() >= 2 => match b.get_u16() {
                    0 => return None,
                    alias => once(&mut p.topic_alias, alias)?,
                },
                0x03 => once(
                    &mut p.content_type,
                    prefixed(&mut b).filter(|s| valid_string(s))?,
                )?,
                0x08 => once(
                    &mut p.response_topic,
                    prefixed(&mut b).filter(|s| valid_topic(s))?,
                )?,
                0x09 => once(&mut p.correlation_data, prefixed(&mut b)?)?,
                0x26 => {
                    for _ in 0..2 {
                        prefixed(&mut b).filter(|s| valid_string(s))?;
                    }
                    p.repeated += 1;
                }
                0x0B => match var_int(&mut b)? {
                    0 => return None,
                    _ => p.repeated += 1,
                },
                _ => return None,
            }
        }
        Some(p)
    }
}

impl Publish {
    /// `None` when `topic` or a property could not be sent in a PUBLISH.
    pub(crate) fn new(
        topic: &str,
        packet_id: u16,
        properties: Properties,
        payload: Bytes,
    ) -> Option<Self> {
        let strings = [
            &properties.content_type,
            &properties.response_topic,
            &properties.correlation_data,
        ];
        let ok = valid_topic(topic.as_bytes())
            && (!topic.is_empty() || properties.topic_alias.is_some())
            && topic.len() <= usize::from(u16::MAX)
            && strings
                .iter()
                .all(|s| s.as_ref().is_none_or(|s| s.len() <= 0xFFFF))
            && properties.content_type.as_deref().is_none_or(valid_string)
            && properties.response_topic.as_deref().is_none_or(valid_topic)
            && properties.topic_alias != Some(0)
            && properties.repeated == 0
            && packet_id != 0;
        ok.then(|| Self {
            topic: Bytes::copy_from_slice(topic.as_bytes()),
            packet_id,
            properties,
            payload,
        })
    }

    /// Writes the packet, or `None` if it is larger than `max`.
    #[inline(always)]
    pub(crate) fn encode(&self, buf: &mut BytesMut, max: u32) -> Option<()> {
        let props = self.properties.encoded_len();
        let remaining = 2 + self.topic.len() + 2 + var_int_len(props) + props + self.payload.len();
        if remaining > max as usize || remaining >= 1 << 28 {
            return None;
        }
        buf.reserve(5 + remaining);
        buf.put_u8(0x32);
        put_var_int(buf, remaining);
        buf.put_u16(self.topic.len() as u16);
        buf.put_slice(&self.topic);
        buf.put_u16(self.packet_id);
        put_var_int(buf, props);
        self.properties.write(buf);
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
        let topic = prefixed(&mut body).filter(|t| valid_topic(t)).ok_or(())?;
        if body.len() < 2 {
            return Err(());
        }
        let packet_id = body.get_u16();
        if packet_id == 0 {
            return Err(());
        }
        let len = var_int(&mut body).ok_or(())?;
        if body.len() < len {
            return Err(());
        }
        let properties = Properties::read(body.split_to(len)).ok_or(())?;
        if topic.is_empty() && properties.topic_alias.is_none() {
            return Err(());
        }
        Ok(Some(Self {
            topic,
            packet_id,
            properties,
            payload: body,
        }))
    }
}
