//! DISCONNECT (spec §3.14) and AUTH (spec §3.15): a reason code and
//! properties, both of which 5.0 lets the sender leave out.

use bytes::{BufMut, BytesMut};

use super::ack::v5_only;
use super::header::{Body, Sizes};
use super::properties::{AuthProperties, DisconnectProperties, check_auth, check_auth_to_send};
use super::wire::{Reader, var_int_len};
use super::{DecodeError, EncodeError, PacketType, ProtocolVersion, ReasonCode};

/// DISCONNECT: the last packet of a connection, from either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// Why (5.0); `Success` is a normal disconnection.
    pub reason_code: ReasonCode,
    /// 5.0 properties (session expiry, reason string, server reference).
    pub properties: DisconnectProperties,
}

impl Default for Disconnect {
    fn default() -> Self {
        Self::new(ReasonCode::Success)
    }
}

impl Disconnect {
    /// The number of bytes this DISCONNECT takes on the wire under `version`,
    /// or why it cannot be encoded.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        super::header::total_len(self.measure(version)?.body)
    }

    /// A DISCONNECT with this reason and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            reason_code,
            properties: DisconnectProperties::default(),
        }
    }

    pub(super) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut packet = Self::default();
        // Under 3.1.1 the body is empty; `finish` rejects anything else.
        if version.is_v5() && !r.is_empty() {
            packet.reason_code = ReasonCode::decode(PacketType::Disconnect, r.u8()?)?;
            if !r.is_empty() {
                packet.properties = DisconnectProperties::decode(r)?;
            }
        }
        Ok(packet)
    }
}

impl Body for Disconnect {
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError> {
        if !version.is_v5() {
            v5_only(
                version,
                self.reason_code == ReasonCode::Success,
                "a DISCONNECT reason code",
            )?;
        }
        if version.is_v5() {
            self.reason_code.check_for(PacketType::Disconnect)?;
        }
        let props = self.properties.len_for(version)?;
        Ok(short_form(version, self.reason_code, props))
    }

    fn write(&self, _: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        write_short_form(self.reason_code, sizes, buf, |len, buf| {
            self.properties.write(len, buf);
        });
    }
}

/// AUTH: a step of enhanced authentication (5.0 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// `ContinueAuthentication`, `ReAuthenticate` or `Success`.
    pub reason_code: ReasonCode,
    /// The authentication method and data.
    pub properties: AuthProperties,
}

impl Auth {
    /// The number of bytes this AUTH takes on the wire under `version`,
    /// or why it cannot be encoded.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        super::header::total_len(self.measure(version)?.body)
    }

    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut packet = Self {
            reason_code: ReasonCode::Success,
            properties: AuthProperties::default(),
        };
        if !r.is_empty() {
            packet.reason_code = ReasonCode::decode(PacketType::Auth, r.u8()?)?;
            if !r.is_empty() {
                packet.properties = AuthProperties::decode(r)?;
            }
        }
        check_auth(
            packet.properties.authentication_method.as_ref(),
            packet.properties.authentication_data.as_ref(),
        )?;
        Ok(packet)
    }
}

impl Body for Auth {
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError> {
        v5_only(version, version.is_v5(), "AUTH")?;
        self.reason_code.check_for(PacketType::Auth)?;
        let props = self.properties.encoded_len()?;
        check_auth_to_send(
            self.properties.authentication_method.as_ref(),
            self.properties.authentication_data.as_ref(),
        )?;
        Ok(short_form(version, self.reason_code, props))
    }

    fn write(&self, _: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        write_short_form(self.reason_code, sizes, buf, |len, buf| {
            self.properties.write(len, buf);
        });
    }
}

/// The size of a reason-code-and-properties body, using the shortest form
/// 5.0 allows: nothing for Success without properties, the code alone when
/// there are no properties.
fn short_form(version: ProtocolVersion, code: ReasonCode, props: usize) -> Sizes {
    let body = match (version.is_v5(), code, props) {
        (false, _, _) | (true, ReasonCode::Success, 0) => 0,
        (true, _, 0) => 1,
        (true, _, props) => 1 + var_int_len(props) + props,
    };
    Sizes {
        body,
        props,
        extra: 0,
    }
}

fn write_short_form(
    code: ReasonCode,
    sizes: &Sizes,
    buf: &mut BytesMut,
    write_props: impl FnOnce(usize, &mut BytesMut),
) {
    if sizes.body > 0 {
        buf.put_u8(code.as_u8());
    }
    if sizes.body > 1 {
        write_props(sizes.props, buf);
    }
}
