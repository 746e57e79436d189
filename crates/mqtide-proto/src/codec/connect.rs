//! CONNECT (spec §3.1) and CONNACK (spec §3.2).

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::ack::{props_block, v5_only};
use super::header::{Body, Sizes};
use super::properties::{
    ConnAckProperties, ConnectProperties, WillProperties, check_auth, check_auth_to_send,
};
use super::wire::{Reader, field_len, put_binary, string_len};
use super::{DecodeError, EncodeError, PacketType, ProtocolVersion, QoS, ReasonCode, Secret};

/// The message the broker publishes on the client's behalf when the
/// connection ends without a DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Where the will is published.
    pub topic: ByteString,
    /// What is published.
    pub payload: Bytes,
    /// Its QoS.
    pub qos: QoS,
    /// Whether it is retained.
    pub retain: bool,
    /// 5.0 will properties (delay, expiry, content type, …).
    pub properties: WillProperties,
}

/// CONNECT: the first packet of every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version being asked for.
    pub protocol: ProtocolVersion,
    /// Clean session (3.1.1) or clean start (5.0).
    pub clean_start: bool,
    /// Keep-alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// The client identifier; may be empty (the server assigns one).
    pub client_id: ByteString,
    /// The will message.
    pub will: Option<LastWill>,
    /// The user name.
    pub username: Option<ByteString>,
    /// The password; its `Debug` output is redacted.
    pub password: Option<Secret>,
    /// 5.0 properties.
    pub properties: ConnectProperties,
}

impl Connect {
    /// A clean-start CONNECT for `client_id` with a 60 s keep-alive.
    pub fn new(protocol: ProtocolVersion, client_id: impl Into<ByteString>) -> Self {
        Self {
            protocol,
            clean_start: true,
            keep_alive: 60,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }

    pub(super) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let name = r.string()?;
        let level = r.u8()?;
        let protocol = ProtocolVersion::from_level(level)
            .ok_or(DecodeError::UnsupportedProtocolLevel(level))?;
        if name != protocol.protocol_name() {
            return Err(DecodeError::InvalidProtocolName);
        }
        let flags = r.u8()?;
        if flags & 0x01 != 0 {
            return Err(DecodeError::ConnectReservedFlag);
        }
        let has_will = flags & 0x04 != 0;
        let will_qos = QoS::from_u8((flags >> 3) & 0b11).ok_or(DecodeError::InvalidQoS)?;
        let will_retain = flags & 0x20 != 0;
        let has_password = flags & 0x40 != 0;
        let has_username = flags & 0x80 != 0;
        if !has_will && (will_qos != QoS::AtMostOnce || will_retain) {
            return Err(DecodeError::WillFlagsWithoutWill);
        }
        if has_password && !has_username && !protocol.is_v5() {
            return Err(DecodeError::PasswordWithoutUsername);
        }
        let keep_alive = r.u16()?;
        let properties = ConnectProperties::decode_for(r, protocol)?;
        check_auth(
            properties.authentication_method.as_ref(),
            properties.authentication_data.as_ref(),
        )?;
        let client_id = r.string()?;
        let will = if has_will {
            let properties = WillProperties::decode_for(r, protocol)?;
            let topic = r.string()?;
            crate::topic::check_topic_name(&topic)?;
            Some(LastWill {
                topic,
                payload: r.binary()?,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if has_username {
            Some(r.string()?)
        } else {
            None
        };
        let password = if has_password {
            Some(Secret::new(r.binary()?))
        } else {
            None
        };
        Ok(Self {
            protocol,
            clean_start: flags & 0x02 != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    fn flags(&self) -> u8 {
        let mut flags = u8::from(self.clean_start) << 1;
        if let Some(will) = &self.will {
            flags |= 0x04 | ((will.qos as u8) << 3) | (u8::from(will.retain) << 5);
        }
        flags | (u8::from(self.password.is_some()) << 6) | (u8::from(self.username.is_some()) << 7)
    }
}

impl Body for Connect {
    /// The CONNECT's own `protocol` decides its layout; the connection's
    /// version is not consulted.
    fn measure(&self, _: ProtocolVersion) -> Result<Sizes, EncodeError> {
        let v = self.protocol;
        v5_only(
            v,
            v.is_v5() || self.password.is_none() || self.username.is_some(),
            "a password without a user name",
        )?;
        let props = self.properties.len_for(v)?;
        check_auth_to_send(
            self.properties.authentication_method.as_ref(),
            self.properties.authentication_data.as_ref(),
        )?;
        let mut body = field_len(v.protocol_name().as_bytes(), "protocol name")?
            + 1 // level
            + 1 // flags
            + 2 // keep-alive
            + props_block(v, props)
            + string_len(&self.client_id, "client identifier")?;
        let mut extra = 0;
        if let Some(will) = &self.will {
            crate::topic::check_topic_name(&will.topic)?;
            extra = will.properties.len_for(v)?;
            body += props_block(v, extra)
                + field_len(will.topic.as_bytes(), "will topic")?
                + field_len(&will.payload, "will payload")?;
        }
        if let Some(username) = &self.username {
            body += string_len(username, "user name")?;
        }
        if let Some(password) = &self.password {
            body += field_len(password.expose(), "password")?;
        }
        Ok(Sizes { body, props, extra })
    }

    fn write(&self, _: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        let v = self.protocol;
        put_binary(buf, v.protocol_name().as_bytes());
        buf.put_u8(v.level());
        buf.put_u8(self.flags());
        buf.put_u16(self.keep_alive);
        if v.is_v5() {
            self.properties.write(sizes.props, buf);
        }
        put_binary(buf, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v.is_v5() {
                will.properties.write(sizes.extra, buf);
            }
            put_binary(buf, will.topic.as_bytes());
            put_binary(buf, &will.payload);
        }
        if let Some(username) = &self.username {
            put_binary(buf, username.as_bytes());
        }
        if let Some(password) = &self.password {
            put_binary(buf, password.expose());
        }
    }
}

/// CONNACK: the server's answer to CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Whether the server resumed an existing session.
    pub session_present: bool,
    /// The outcome. 3.1.1 return codes map onto their 5.0 equivalents
    /// (see [`ReasonCode::from_v3_connack`]).
    pub reason_code: ReasonCode,
    /// 5.0 properties: the server's limits and capabilities.
    pub properties: ConnAckProperties,
}

impl ConnAck {
    /// A successful CONNACK.
    pub fn new(session_present: bool) -> Self {
        Self {
            session_present,
            reason_code: ReasonCode::Success,
            properties: ConnAckProperties::default(),
        }
    }

    pub(super) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        if flags & 0xfe != 0 {
            return Err(DecodeError::InvalidConnAckFlags(flags));
        }
        let code = r.u8()?;
        let reason_code = if version.is_v5() && r.is_empty() && (0x01..=0x05).contains(&code) {
            // A broker that speaks only 3.1.1 answers a 5.0 CONNECT with a
            // 3.1.1 CONNACK (no properties), most often 0x01 "unacceptable
            // protocol version" (NATS does): a refusal, not a malformed packet.
            ReasonCode::from_v3_connack(code).ok_or(DecodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code,
            })?
        } else if version.is_v5() {
            ReasonCode::decode(PacketType::ConnAck, code)?
        } else {
            ReasonCode::from_v3_connack(code).ok_or(DecodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code,
            })?
        };
        let properties = if r.is_empty() && reason_code.is_error() {
            ConnAckProperties::default()
        } else {
            ConnAckProperties::decode_for(r, version)?
        };
        check_auth(
            properties.authentication_method.as_ref(),
            properties.authentication_data.as_ref(),
        )?;
        Ok(Self {
            session_present: flags & 0x01 != 0,
            reason_code,
            properties,
        })
    }

    fn code_for(&self, version: ProtocolVersion) -> Result<u8, EncodeError> {
        if version.is_v5() {
            self.reason_code.check_for(PacketType::ConnAck)?;
            return Ok(self.reason_code.as_u8());
        }
        self.reason_code
            .to_v3_connack()
            .ok_or(EncodeError::NotInVersion {
                what: "this CONNACK reason code",
                version,
            })
    }
}

impl Body for ConnAck {
    fn measure(&self, version: ProtocolVersion) -> Result<Sizes, EncodeError> {
        self.code_for(version)?;
        let props = self.properties.len_for(version)?;
        check_auth_to_send(
            self.properties.authentication_method.as_ref(),
            self.properties.authentication_data.as_ref(),
        )?;
        Ok(Sizes {
            body: 2 + props_block(version, props),
            props,
            extra: 0,
        })
    }

    fn write(&self, version: ProtocolVersion, sizes: &Sizes, buf: &mut BytesMut) {
        buf.put_u8(u8::from(self.session_present));
        // `measure` has checked the code exists in this version.
        buf.put_u8(self.code_for(version).unwrap_or(0x80));
        if version.is_v5() {
            self.properties.write(sizes.props, buf);
        }
    }
}
