//! [`Payload`]: what a message carries, taken owned (without a copy) or
//! borrowed (copied once).

use bytes::{Bytes, BytesMut};

/// A message's payload, as every publishing method takes it: owned bytes
/// are taken as they are (`Bytes`, `Vec<u8>`, `String`, `BytesMut`,
/// `Box<[u8]>`: no copy), borrowed ones are copied once (`&str`, `&[u8]`,
/// `&[u8; N]`, `&String`, `&Vec<u8>`; `&Bytes` is a reference count, not a
/// copy).
///
/// ```no_run
/// # async fn demo(client: mqtide::Client) -> Result<(), mqtide::Error> {
/// let reading = format!("{:.1}", 21.5);
/// client.publish("sensors/1", reading.as_str()).await?; // borrowed: copied
/// client.publish("sensors/1", reading).await?;          // owned: moved
/// client.publish("sensors/1", b"raw").await?;           // &[u8; 3]
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payload(pub(crate) Bytes);

impl Payload {
    /// The bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl From<Payload> for Bytes {
    fn from(payload: Payload) -> Self {
        payload.0
    }
}

/// Owned: taken without a copy.
macro_rules! owned {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Payload {
            fn from(value: $ty) -> Self {
                Self(Bytes::from(value))
            }
        }
    )*};
}

owned!(Bytes, Vec<u8>, String, Box<[u8]>);

impl From<BytesMut> for Payload {
    fn from(value: BytesMut) -> Self {
        Self(value.freeze())
    }
}

impl From<&Bytes> for Payload {
    fn from(value: &Bytes) -> Self {
        Self(value.clone())
    }
}

/// Borrowed: copied once.
macro_rules! borrowed {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Payload {
            fn from(value: $ty) -> Self {
                Self(Bytes::copy_from_slice(value.as_ref()))
            }
        }
    )*};
}

borrowed!(&str, &[u8], &String, &Vec<u8>);

impl<const N: usize> From<&[u8; N]> for Payload {
    fn from(value: &[u8; N]) -> Self {
        Self(Bytes::copy_from_slice(value))
    }
}

impl<const N: usize> From<[u8; N]> for Payload {
    fn from(value: [u8; N]) -> Self {
        Self(Bytes::copy_from_slice(&value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_payloads_are_not_copied_and_borrowed_ones_are_equal() {
        let owned = Bytes::from(vec![1, 2, 3]);
        let taken = Payload::from(owned.clone()).into_bytes();
        assert_eq!(taken.as_ptr(), owned.as_ptr(), "no copy");
        let text = String::from("21.5");
        assert_eq!(Payload::from(text.as_str()), Payload::from(text.clone()));
        assert_eq!(Payload::from(&text).0, "21.5");
        assert_eq!(Payload::from(b"ab").0, Payload::from(&b"ab"[..]).0);
        assert_eq!(Payload::from(&owned).0.as_ptr(), owned.as_ptr());
    }
}
