//! The MQTT data representations (spec 5.0 §1.5, 3.1.1 §1.5): integers,
//! variable byte integers, UTF-8 strings, binary data and string pairs.
//!
//! Reading works on a [`Reader`] over the frozen bytes of one packet body, so
//! strings and binary data are zero-copy slices of the read buffer. Every
//! read checks what is left first: a short body is a typed error, never a
//! panic. Writing appends to a `BytesMut` that the caller sized beforehand.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::error::{DecodeError, EncodeError};
use crate::topic::TopicError;

/// The largest value a variable byte integer can carry (four bytes).
pub const VAR_INT_MAX: u32 = 268_435_455;

/// The largest string or binary field: its length is a two-byte integer.
pub(crate) const FIELD_MAX: usize = u16::MAX as usize;

/// A cursor over the body of one packet.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
    /// What the packet is, for error messages.
    what: &'static str,
}

impl Reader {
    #[inline]
    pub(crate) fn new(buf: Bytes, what: &'static str) -> Self {
        Self { buf, what }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    #[inline]
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            Err(DecodeError::Truncated { packet: self.what })
        } else {
            Ok(())
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    /// A variable byte integer (§1.5.5): at most four bytes.
    #[inline]
    pub(crate) fn var_int(&mut self) -> Result<u32, DecodeError> {
        match read_var_int(&self.buf)? {
            Some((value, len)) => {
                self.buf.advance(len);
                Ok(value)
            }
            None => Err(DecodeError::Truncated { packet: self.what }),
        }
    }

    /// `n` bytes, as a zero-copy slice.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    /// Everything that is left, as a zero-copy slice.
    #[inline]
    pub(crate) fn rest(&mut self) -> Bytes {
        core::mem::take(&mut self.buf)
    }

    /// Binary data: a two-byte length and that many bytes (§1.5.6).
    #[inline]
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// A UTF-8 encoded string (§1.5.4): well-formed UTF-8 (which rules out
    /// surrogates) and no U+0000.
    #[inline]
    pub(crate) fn string(&mut self) -> Result<ByteString, DecodeError> {
        let raw = self.binary()?;
        utf8(raw)
    }

    /// A topic name: a UTF-8 string (as [`string`](Self::string)) without
    /// the wildcards `+` and `#`. One pass over the bytes finds U+0000 and
    /// the wildcards (all ASCII, so never part of a multi-byte sequence);
    /// the errors come in the same order as a `string` read followed by a
    /// wildcard check.
    #[inline]
    pub(crate) fn topic_name(&mut self) -> Result<ByteString, DecodeError> {
        let raw = self.binary()?;
        if !has_null_or_wildcard(&raw) {
            return ByteString::try_from(raw).map_err(|_| DecodeError::InvalidUtf8);
        }
        utf8(raw)?;
        Err(TopicError::WildcardInTopicName.into())
    }

    /// A UTF-8 string pair (§1.5.7).
    pub(crate) fn string_pair(&mut self) -> Result<(ByteString, ByteString), DecodeError> {
        Ok((self.string()?, self.string()?))
    }

    /// Fails if anything is left: the remaining length promised more than
    /// the packet holds.
    #[inline]
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                packet: self.what,
                extra: self.buf.len(),
            })
        }
    }

    /// Splits off the next `len` bytes as a reader of their own (a property
    /// block), checking they are there.
    #[inline]
    pub(crate) fn sub_reader(&mut self, len: usize) -> Result<Self, DecodeError> {
        let buf = self.take(len)?;
        Ok(Self {
            buf,
            what: self.what,
        })
    }
}

/// Validates an MQTT UTF-8 string without copying it.
#[inline]
pub(crate) fn utf8(raw: Bytes) -> Result<ByteString, DecodeError> {
    if has_null(&raw) {
        return Err(DecodeError::NullCharacter);
    }
    ByteString::try_from(raw).map_err(|_| DecodeError::InvalidUtf8)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;
/// Eight bytes that are none of the bytes we look for.
const FILL: u64 = u64::from_le_bytes([b'a'; 8]);

/// Non-zero exactly when some byte of `word` is 0 (the classic SWAR test:
/// it may flag extra bytes above a zero one, never a word without one).
#[inline(always)]
fn zero_byte(word: u64) -> u64 {
    word.wrapping_sub(LO) & !word & HI
}

/// Non-zero exactly when some byte of `word` is `byte`.
#[inline(always)]
fn has_byte(word: u64, byte: u8) -> u64 {
    zero_byte(word ^ (LO * u64::from(byte)))
}

/// Non-zero exactly when some byte of `word` is 0, `+` or `#`. The two
/// wildcards (0x2B and 0x23) differ only in bit 3, and no other byte turns
/// into `+` when that bit is set, so one comparison finds both.
#[inline(always)]
fn null_or_wildcard(word: u64) -> u64 {
    zero_byte(word) | has_byte(word | (LO * 0x08), b'+')
}

/// Whether `test` flags any eight-byte word of `bytes`. Branch-free over
/// whole words, which for the short strings of MQTT beats `memchr` (built
/// for long haystacks) and a byte loop. A length that is not a multiple
/// of eight ends with a word overlapping the one before, harmless for an
/// "any" test.
#[inline(always)]
fn any_word(bytes: &[u8], test: impl Fn(u64) -> u64) -> bool {
    let word = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().unwrap_or([b'a'; 8]));
    if bytes.len() < 8 {
        let mut w = FILL;
        for (i, &b) in bytes.iter().enumerate() {
            w = (w & !(0xff << (8 * i))) | (u64::from(b) << (8 * i));
        }
        return test(w) != 0;
    }
    // Whole words as arrays: no slice-to-array conversion (and its length
    // check) per word.
    let (words, tail) = bytes.as_chunks::<8>();
    let mut found = 0;
    for w in words {
        found |= test(u64::from_le_bytes(*w));
    }
    if !tail.is_empty() {
        found |= test(word(&bytes[bytes.len() - 8..]));
    }
    found != 0
}

/// Reads a variable byte integer from the front of `buf`. `Ok(None)` means
/// the integer is not complete yet; more than four bytes is an error.
///
/// A non-minimal encoding (`0x80 0x00` for 0) is accepted: [MQTT-1.5.5-1]
/// binds the sender, and refusing it would only make us stricter than the
/// brokers we talk to. Our encoder always writes the minimal form.
#[inline]
pub(crate) fn read_var_int(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, &byte) in buf.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 4 {
        Err(DecodeError::MalformedVarInt)
    } else {
        Ok(None)
    }
}

/// How many bytes `value` takes as a variable byte integer.
pub(crate) const fn var_int_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Appends a variable byte integer. The caller has checked `value <=
/// VAR_INT_MAX`.
#[inline]
pub(crate) fn put_var_int(buf: &mut BytesMut, value: usize) {
    let mut value = value;
    loop {
        let mut byte = (value & 0x7f) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

/// Appends binary data or a string with its two-byte length. The caller has
/// checked the length fits (see [`field_len`]).
#[inline]
pub(crate) fn put_binary(buf: &mut BytesMut, data: &[u8]) {
    buf.put_u16(data.len() as u16);
    buf.put_slice(data);
}

/// The encoded size of a binary field (its bytes and the two-byte length),
/// or an error naming `what` when it is longer than 65,535 bytes.
#[inline]
pub(crate) fn field_len(data: &[u8], what: &'static str) -> Result<usize, EncodeError> {
    if data.len() > FIELD_MAX {
        Err(EncodeError::FieldTooLong {
            what,
            len: data.len(),
        })
    } else {
        Ok(2 + data.len())
    }
}

/// The encoded size of a UTF-8 string field, or why it cannot be sent: it
/// is longer than 65,535 bytes, or it holds U+0000, which the receiver must
/// refuse (3.1.1 [MQTT-1.5.3-2], 5.0 [MQTT-1.5.4-2]) just as
/// [`Reader::string`] does. Well-formed UTF-8 needs no check: a `&str` is.
/// The scan is the decoder's word-at-a-time one, a few instructions for
/// the short strings of MQTT.
#[inline]
pub(crate) fn string_len(s: &str, what: &'static str) -> Result<usize, EncodeError> {
    let len = field_len(s.as_bytes(), what)?;
    if has_null(s.as_bytes()) {
        return Err(EncodeError::NullCharacter { what });
    }
    Ok(len)
}

/// The encoded size of a PUBLISH topic name: [`string_len`]'s rules and no
/// wildcard ([MQTT-3.3.2-2]), found in the same single pass as
/// [`Reader::topic_name`] does on the way in. An empty name is the
/// caller's to judge (it is valid with a topic alias).
#[inline]
pub(crate) fn topic_name_len(topic: &str) -> Result<usize, EncodeError> {
    let bytes = topic.as_bytes();
    let len = field_len(bytes, "topic name")?;
    if has_null_or_wildcard(bytes) {
        return Err(if bytes.contains(&0) {
            TopicError::NullCharacter
        } else {
            TopicError::WildcardInTopicName
        }
        .into());
    }
    Ok(len)
}

/// Whether `bytes` hold U+0000, which no MQTT string may.
#[inline]
pub(crate) fn has_null(bytes: &[u8]) -> bool {
    any_word(bytes, zero_byte)
}

/// Whether `bytes` hold U+0000, `+` or `#`: what a topic name may not.
#[inline]
pub(crate) fn has_null_or_wildcard(bytes: &[u8]) -> bool {
    any_word(bytes, null_or_wildcard)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The word-at-a-time scans agree with a plain byte search, for
        /// every length around the word size and any byte values.
        #[test]
        fn word_scans_agree_with_byte_search(bytes in prop::collection::vec(
            prop_oneof![Just(0u8), Just(b'+'), Just(b'#'), Just(0x08), Just(0x2a), Just(0x22), any::<u8>()], 0..40)) {
            prop_assert_eq!(any_word(&bytes, zero_byte), bytes.contains(&0));
            prop_assert_eq!(any_word(&bytes, |w| has_byte(w, b'+')), bytes.contains(&b'+'));
            prop_assert_eq!(any_word(&bytes, |w| has_byte(w, b'#')), bytes.contains(&b'#'));
            prop_assert_eq!(
                any_word(&bytes, null_or_wildcard),
                bytes.iter().any(|b| matches!(b, 0 | b'+' | b'#'))
            );
        }

        /// The encoder's string and topic-name checks refuse exactly the
        /// strings holding U+0000 (and, for topic names, a wildcard).
        #[test]
        fn encode_checks_agree_with_char_search(chars in prop::collection::vec(
            prop_oneof![Just('\0'), Just('+'), Just('#'), Just('é'), any::<char>()], 0..40)) {
            let s: String = chars.into_iter().collect();
            let expected = (!s.contains('\0')).then_some(2 + s.len());
            prop_assert_eq!(string_len(&s, "s").ok(), expected);
            let topic = topic_name_len(&s);
            let error = if s.contains('\0') {
                Some(TopicError::NullCharacter)
            } else if s.contains(['+', '#']) {
                Some(TopicError::WildcardInTopicName)
            } else {
                None
            };
            prop_assert_eq!(topic.err(), error.map(EncodeError::InvalidTopic));
        }
    }

    #[test]
    fn var_int_boundaries() {
        for (value, len) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (2_097_151, 3),
            (2_097_152, 4),
            (VAR_INT_MAX as usize, 4),
        ] {
            let mut buf = BytesMut::new();
            put_var_int(&mut buf, value);
            assert_eq!((buf.len(), var_int_len(value)), (len, len));
            assert_eq!(read_var_int(&buf), Ok(Some((value as u32, len))));
            assert_eq!(read_var_int(&buf[..len - 1]), Ok(None));
        }
        assert_eq!(
            read_var_int(&[0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::MalformedVarInt)
        );
    }
}
