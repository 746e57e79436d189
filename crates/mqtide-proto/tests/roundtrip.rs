//! Round trip: every valid packet, of every type and protocol version,
//! encodes to exactly `encoded_len` bytes and decodes back to itself,
//! consuming exactly those bytes and nothing behind them.

mod common;

use std::num::NonZeroU16;

use bytes::{Bytes, BytesMut};
use common::config;
use common::strategies::{
    PACKET_TYPES, VERSIONS, spec_reason_codes, version, versioned_packet_of_type,
};
use mqtide_proto::{
    Auth, AuthProperties, DecodeError, MAX_PACKET_SIZE, Packet, PacketType, ProtocolVersion,
    Publish, QoS, ReasonCode,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Bytes already in the buffer before `encode`, which must append to them.
const PREFIX: &[u8] = b"\x00\xff\x30";

/// Encodes `packet` and returns its bytes, checking that `encode` appends
/// and writes exactly `encoded_len` bytes.
fn encode_checked(version: ProtocolVersion, packet: &Packet) -> Result<Bytes, TestCaseError> {
    let len = packet
        .encoded_len(version)
        .map_err(|e| TestCaseError::fail(format!("encoded_len failed: {e}")))?;
    let mut buf = BytesMut::from(PREFIX);
    packet
        .encode(version, &mut buf)
        .map_err(|e| TestCaseError::fail(format!("encode failed: {e}")))?;
    prop_assert_eq!(&buf[..PREFIX.len()], PREFIX, "encode must append");
    prop_assert_eq!(
        buf.len() - PREFIX.len(),
        len,
        "encoded_len must equal the bytes written"
    );
    Ok(buf.split_off(PREFIX.len()).freeze())
}

/// The round-trip property for one packet.
fn check_roundtrip(
    version: ProtocolVersion,
    packet: &Packet,
    trailer: &[u8],
) -> Result<(), TestCaseError> {
    let encoded = encode_checked(version, packet)?;
    let len = encoded.len();

    // With unrelated bytes behind it, decoding takes exactly the packet.
    let mut read = BytesMut::from(&encoded[..]);
    read.extend_from_slice(trailer);
    let decoded = Packet::decode(&mut read, version, MAX_PACKET_SIZE);
    prop_assert_eq!(decoded, Ok(Some(packet.clone())));
    prop_assert_eq!(
        &read[..],
        trailer,
        "decode must consume exactly encoded_len bytes"
    );

    // A maximum packet size of exactly its size lets it through; one byte
    // less refuses it.
    let max = u32::try_from(len).expect("test packets are far below 4 GiB");
    let mut read = BytesMut::from(&encoded[..]);
    prop_assert_eq!(
        Packet::decode(&mut read, version, max),
        Ok(Some(packet.clone()))
    );
    prop_assert!(read.is_empty());
    let mut read = BytesMut::from(&encoded[..]);
    prop_assert_eq!(
        Packet::decode(&mut read, version, max - 1),
        Err(DecodeError::PacketTooLarge {
            size: len,
            max: max - 1
        })
    );
    Ok(())
}

/// One property per packet type, each across every version that has it.
macro_rules! roundtrip_each_type {
    ($($name:ident: $packet:ident,)*) => {
        proptest! {
            #![proptest_config(config())]
            $(
                #[test]
                fn $name(
                    (version, packet) in versioned_packet_of_type(PacketType::$packet),
                    trailer in vec(any::<u8>(), 0..8),
                ) {
                    prop_assert_eq!(packet.packet_type(), PacketType::$packet);
                    check_roundtrip(version, &packet, &trailer)?;
                }
            )*
        }
    };
}

roundtrip_each_type! {
    connect_roundtrips: Connect,
    connack_roundtrips: ConnAck,
    publish_roundtrips: Publish,
    puback_roundtrips: PubAck,
    pubrec_roundtrips: PubRec,
    pubrel_roundtrips: PubRel,
    pubcomp_roundtrips: PubComp,
    subscribe_roundtrips: Subscribe,
    suback_roundtrips: SubAck,
    unsubscribe_roundtrips: Unsubscribe,
    unsuback_roundtrips: UnsubAck,
    pingreq_roundtrips: PingReq,
    pingresp_roundtrips: PingResp,
    disconnect_roundtrips: Disconnect,
    auth_roundtrips: Auth,
}

proptest! {
    #![proptest_config(config())]

    /// CONNECT is read at the protocol level it names, whatever version the
    /// caller assumed (before CONNECT, the server cannot know it).
    #[test]
    fn connect_decodes_at_its_own_level(
        (version, packet) in versioned_packet_of_type(PacketType::Connect),
        assumed in version(),
    ) {
        let encoded = encode_checked(version, &packet)?;
        let mut read = BytesMut::from(&encoded[..]);
        prop_assert_eq!(
            Packet::decode(&mut read, assumed, MAX_PACKET_SIZE),
            Ok(Some(packet))
        );
        prop_assert!(read.is_empty());
    }
}

/// The strategies draw reason codes from the spec's tables; the codec's
/// own table must agree with them for every byte value and packet type.
#[test]
fn is_valid_for_matches_the_spec_tables() {
    for packet in PACKET_TYPES {
        for code in spec_reason_codes(packet) {
            assert!(
                ReasonCode::from_u8(*code).is_some(),
                "{code:#04x} is a spec reason code for {packet:?}"
            );
        }
        for value in 0..=u8::MAX {
            let spec = spec_reason_codes(packet).contains(&value);
            let codec = ReasonCode::from_u8(value).is_some_and(|c| c.is_valid_for(packet));
            assert_eq!(spec, codec, "reason code {value:#04x} in {packet:?}");
        }
    }
}

/// PUBLISH bodies whose remaining length sits on each side of every
/// variable-byte-integer length boundary, up to four bytes, in every
/// version. The strategies keep packets small; these pin the large ones.
#[test]
fn remaining_length_boundaries_roundtrip() {
    for version in VERSIONS {
        for remaining in [127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let mut publish = Publish::new("t", Bytes::new());
            publish.qos = QoS::AtLeastOnce;
            publish.packet_id = NonZeroU16::new(1);
            // Topic (2 + 1), packet id (2), 5.0 property length (1).
            let overhead = 5 + usize::from(version.is_v5());
            publish.payload = Bytes::from(vec![0xa5; remaining - overhead]);
            let packet = Packet::Publish(publish);
            let len_len = match remaining {
                0..=127 => 1,
                128..=16_383 => 2,
                16_384..=2_097_151 => 3,
                _ => 4,
            };
            assert_eq!(
                packet.encoded_len(version),
                Ok(1 + len_len + remaining),
                "{version} remaining length {remaining}"
            );
            check_roundtrip(version, &packet, b"\xe0")
                .unwrap_or_else(|e| panic!("{version} remaining length {remaining}: {e}"));
        }
    }
}

/// Well-formed forms the strategies do not produce because a session must
/// reject them, but which the codec still has to carry faithfully: an AUTH
/// with a reason code and no properties (it lacks the authentication
/// method, a protocol error the session layer reports, not the codec).
#[test]
fn auth_reason_code_without_properties_roundtrips() {
    for reason_code in [
        ReasonCode::ContinueAuthentication,
        ReasonCode::ReAuthenticate,
    ] {
        let packet = Packet::Auth(Auth {
            reason_code,
            properties: AuthProperties::default(),
        });
        assert_eq!(packet.encoded_len(ProtocolVersion::V5), Ok(3));
        check_roundtrip(ProtocolVersion::V5, &packet, b"")
            .unwrap_or_else(|e| panic!("{reason_code}: {e}"));
    }
}
