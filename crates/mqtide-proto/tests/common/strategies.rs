//! Proptest strategies for arbitrary *valid* MQTT packets: every one of the
//! fifteen packet types, for each protocol version.
//!
//! "Valid" means a packet a conforming peer may send, as far as a single
//! packet can tell:
//!
//! - strings are well-formed UTF-8 without U+0000 (other control characters
//!   and non-characters are allowed: the spec only says SHOULD NOT);
//! - topic names are non-empty and free of wildcards, except that a 5.0
//!   PUBLISH may have an empty topic when it carries a topic alias; topic
//!   filters pass [`check_topic_filter`];
//! - 5.0 packets get arbitrary properties (all of them, user properties and
//!   subscription identifiers included) and reason codes from the spec's
//!   table for their packet ([`spec_reason_codes`]); 3.1 / 3.1.1 packets get
//!   empty properties and `Success`, since those versions cannot carry
//!   anything else (CONNACK and SUBACK return codes excepted: they exist in
//!   3.x and are generated from the codes 3.1.1 defines; 3.1 gets the same,
//!   SUBACK failure 0x80 and CONNACK session present included, as the codec
//!   reads 3.1 like 3.1.1 there);
//! - cross-field rules are kept: DUP only with QoS > 0, a packet identifier
//!   exactly when QoS > 0, authentication data only with a method, no
//!   password without a user name before 5.0, session present only on a
//!   successful CONNACK, no No Local on a shared subscription, a 3.1 client
//!   identifier of 1 to 23 characters, an empty 3.1.1 client identifier only
//!   with clean session.
//!
//! Sizes stay small so hundreds of cases run in well under a second, with
//! rare large fields (65,535-byte strings, 16 KiB payloads) so that two- and
//! three-byte remaining lengths and maximal field lengths are exercised too.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use bytestring::ByteString;
use mqtide_proto::{
    Ack, AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect,
    ConnectProperties, Disconnect, DisconnectProperties, LastWill, Packet, PacketType,
    PayloadFormat, ProtocolVersion, Publish, PublishProperties, QoS, ReasonCode, RetainHandling,
    SHARE_PREFIX, Secret, SubAck, Subscribe, SubscribeProperties, SubscriptionId,
    SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeProperties, UserProperty,
    WillProperties, check_topic_filter, check_topic_name,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;

/// The protocol versions mqtide speaks.
pub(crate) const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

/// All fifteen packet types.
pub(crate) const PACKET_TYPES: [PacketType; 15] = [
    PacketType::Connect,
    PacketType::ConnAck,
    PacketType::Publish,
    PacketType::PubAck,
    PacketType::PubRec,
    PacketType::PubRel,
    PacketType::PubComp,
    PacketType::Subscribe,
    PacketType::SubAck,
    PacketType::Unsubscribe,
    PacketType::UnsubAck,
    PacketType::PingReq,
    PacketType::PingResp,
    PacketType::Disconnect,
    PacketType::Auth,
];

/// The largest string or binary field: its length is a two-byte integer.
pub(crate) const FIELD_MAX: usize = u16::MAX as usize;

/// The packet types that exist in `version` (AUTH is 5.0 only).
pub(crate) fn packet_types(version: ProtocolVersion) -> Vec<PacketType> {
    PACKET_TYPES
        .into_iter()
        .filter(|&t| version.is_v5() || t != PacketType::Auth)
        .collect()
}

/// The versions in which packets of type `packet` exist.
pub(crate) fn versions_with(packet: PacketType) -> Vec<ProtocolVersion> {
    VERSIONS
        .into_iter()
        .filter(|&v| v.is_v5() || packet != PacketType::Auth)
        .collect()
}

/// The reason codes the MQTT 5.0 specification allows in each packet, copied
/// from its tables (§3.2.2.2, §3.4.2.1, §3.5.2.1, §3.6.2.1, §3.7.2.1,
/// §3.9.3, §3.11.3, §3.14.2.1, §3.15.2.1) rather than from the codec, so the
/// tests can check [`ReasonCode::is_valid_for`] against them.
pub(crate) fn spec_reason_codes(packet: PacketType) -> &'static [u8] {
    match packet {
        PacketType::ConnAck => &[
            0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90,
            0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
        ],
        PacketType::PubAck | PacketType::PubRec => {
            &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
        }
        PacketType::PubRel | PacketType::PubComp => &[0x00, 0x92],
        PacketType::SubAck => &[
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
        ],
        PacketType::UnsubAck => &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
        PacketType::Disconnect => &[
            0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93,
            0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1,
            0xA2,
        ],
        PacketType::Auth => &[0x00, 0x18, 0x19],
        PacketType::Connect
        | PacketType::Publish
        | PacketType::Subscribe
        | PacketType::Unsubscribe
        | PacketType::PingReq
        | PacketType::PingResp => &[],
    }
}

/// A 5.0 reason code allowed in `packet`.
pub(crate) fn reason_code(packet: PacketType) -> BoxedStrategy<ReasonCode> {
    let codes: Vec<ReasonCode> = spec_reason_codes(packet)
        .iter()
        .map(|&c| ReasonCode::from_u8(c).expect("every spec reason code is known to the codec"))
        .collect();
    select(codes).boxed()
}

// ---------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------

/// Any protocol version.
pub(crate) fn version() -> impl Strategy<Value = ProtocolVersion> + Clone {
    select(&VERSIONS[..])
}

/// Any QoS.
pub(crate) fn qos() -> impl Strategy<Value = QoS> + Clone {
    select(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][..])
}

fn any_u16() -> impl Strategy<Value = u16> + Clone {
    prop_oneof![Just(0), Just(u16::MAX), any::<u16>()]
}

fn any_u32() -> impl Strategy<Value = u32> + Clone {
    prop_oneof![Just(0), Just(u32::MAX), any::<u32>()]
}

fn nonzero_u16() -> impl Strategy<Value = NonZeroU16> + Clone {
    prop_oneof![Just(1), Just(u16::MAX), 1..=u16::MAX]
        .prop_map(|n| NonZeroU16::new(n).expect("range excludes 0"))
}

fn nonzero_u32() -> impl Strategy<Value = NonZeroU32> + Clone {
    prop_oneof![Just(1), Just(u32::MAX), 1..=u32::MAX]
        .prop_map(|n| NonZeroU32::new(n).expect("range excludes 0"))
}

/// A packet identifier (never 0).
pub(crate) fn packet_id() -> impl Strategy<Value = NonZeroU16> + Clone {
    nonzero_u16()
}

/// A subscription identifier, often at the edges of the variable byte
/// integer lengths.
pub(crate) fn subscription_id() -> impl Strategy<Value = SubscriptionId> + Clone {
    prop_oneof![
        select(
            &[
                1,
                127,
                128,
                16_383,
                16_384,
                2_097_151,
                2_097_152,
                SubscriptionId::MAX
            ][..]
        ),
        1..=SubscriptionId::MAX,
    ]
    .prop_map(|n| SubscriptionId::new(n).expect("range is 1..=268,435,455"))
}

// ---------------------------------------------------------------------------
// Strings and binary data
// ---------------------------------------------------------------------------

/// Characters that stress UTF-8 handling: every encoded length, the
/// boundaries between them, controls, a BOM and the last code point.
const EDGE_CHARS: &[char] = &[
    '\u{1}',
    '\u{1f}',
    '\u{7f}',
    '\u{80}',
    '\u{9f}',
    '\u{7ff}',
    '\u{800}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{feff}',
    '\u{fffd}',
    '\u{ffff}',
    '\u{10000}',
    '\u{10ffff}',
    '/',
    '$',
    ' ',
];

/// A character an MQTT UTF-8 string may hold: anything but U+0000.
fn text_char() -> impl Strategy<Value = char> + Clone {
    prop_oneof![
        8 => prop::char::range(' ', '~'),
        2 => any::<char>(),
        1 => select(EDGE_CHARS),
    ]
    .prop_filter("U+0000 is not allowed in MQTT strings", |&c| c != '\0')
}

/// A character a topic level may hold: no separator, no wildcard.
fn level_char() -> impl Strategy<Value = char> + Clone {
    text_char().prop_filter("not a separator or wildcard", |c| !"/+#".contains(*c))
}

/// `len` bytes of lowercase ASCII starting at letter `seed`: long fields
/// without generating every byte through proptest.
fn long_ascii(len: usize, seed: u8) -> String {
    (0..len)
        .map(|i| char::from(b'a' + ((usize::from(seed) + i) % 26) as u8))
        .collect()
}

/// A length for a rare long field: often the very largest allowed.
fn long_len() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![Just(FIELD_MAX), 256..=FIELD_MAX]
}

/// `len` arbitrary-looking bytes derived from `seed`.
fn filled(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| seed.wrapping_add((i.wrapping_mul(31) % 256) as u8))
        .collect::<Vec<u8>>()
        .into()
}

fn collect(chars: Vec<char>) -> ByteString {
    ByteString::from(chars.into_iter().collect::<String>())
}

/// A valid MQTT UTF-8 string, possibly empty, rarely up to 65,535 bytes.
pub(crate) fn mqtt_string() -> BoxedStrategy<ByteString> {
    prop_oneof![
        255 => vec(text_char(), 0..12).prop_map(collect),
        1 => (long_len(), any::<u8>()).prop_map(|(len, seed)| long_ascii(len, seed).into()),
    ]
    .boxed()
}

/// A valid MQTT UTF-8 string of `min..=max` characters.
fn mqtt_string_chars(min: usize, max: usize) -> impl Strategy<Value = ByteString> + Clone {
    vec(text_char(), min..=max).prop_map(collect)
}

/// Binary data, rarely up to 65,535 bytes.
pub(crate) fn binary() -> BoxedStrategy<Bytes> {
    prop_oneof![
        255 => vec(any::<u8>(), 0..24).prop_map(Bytes::from),
        1 => (long_len(), any::<u8>()).prop_map(|(len, seed)| filled(len, seed)),
    ]
    .boxed()
}

/// A PUBLISH or will payload: usually small, sometimes a few hundred bytes
/// (a two-byte remaining length), rarely over 16 KiB (three bytes).
pub(crate) fn payload() -> BoxedStrategy<Bytes> {
    prop_oneof![
        12 => vec(any::<u8>(), 0..64).prop_map(Bytes::from),
        4 => vec(any::<u8>(), 64..400).prop_map(Bytes::from),
        1 => (16_300..16_500usize, any::<u8>()).prop_map(|(len, seed)| filled(len, seed)),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Topics
// ---------------------------------------------------------------------------

/// One topic level: possibly empty, never a separator or wildcard.
fn topic_level() -> impl Strategy<Value = String> + Clone {
    vec(level_char(), 0..8).prop_map(|chars| chars.into_iter().collect())
}

/// A valid topic name: non-empty, no wildcards; rarely 65,535 bytes.
pub(crate) fn topic_name() -> BoxedStrategy<ByteString> {
    prop_oneof![
        63 => vec(topic_level(), 1..5).prop_map(|levels| levels.join("/")),
        1 => (long_len(), any::<u8>()).prop_map(|(len, seed)| long_ascii(len, seed)),
    ]
    .prop_filter("topic names are non-empty", |t| !t.is_empty())
    .prop_map(ByteString::from)
    .prop_filter("generated topic name must be valid", |t| {
        check_topic_name(t).is_ok()
    })
    .boxed()
}

/// A valid topic filter: whole-level `+`, a trailing `#`, and sometimes a
/// `$share/{group}/` prefix.
pub(crate) fn topic_filter() -> BoxedStrategy<ByteString> {
    let level = prop_oneof![4 => topic_level(), 1 => Just("+".to_owned())];
    let filter = (vec(level, 0..5), any::<bool>()).prop_map(|(mut levels, multi)| {
        if multi || levels.is_empty() {
            levels.push("#".to_owned());
        }
        levels.join("/")
    });
    let group = vec(level_char(), 1..6).prop_map(|chars| chars.into_iter().collect::<String>());
    (option::weighted(0.2, group), filter)
        .prop_map(|(group, filter)| match group {
            Some(group) => format!("{SHARE_PREFIX}{group}/{filter}"),
            None => filter,
        })
        .prop_filter("generated topic filter must be valid", |f| {
            check_topic_filter(f).is_ok()
        })
        .prop_map(ByteString::from)
        .boxed()
}

// ---------------------------------------------------------------------------
// 5.0 properties
// ---------------------------------------------------------------------------

/// User properties: often none, sometimes a few, rarely enough to need a
/// multi-byte property length. Names may repeat.
pub(crate) fn user_properties() -> BoxedStrategy<Vec<UserProperty>> {
    let pair = (mqtt_string(), mqtt_string());
    prop_oneof![
        4 => Just(Vec::new()),
        4 => vec(pair.clone(), 1..4),
        1 => vec(pair, 10..40),
    ]
    .boxed()
}

/// Authentication method and data: data only ever comes with a method.
fn authentication() -> impl Strategy<Value = (Option<ByteString>, Option<Secret>)> + Clone {
    prop_oneof![
        Just((None, None)),
        (mqtt_string(), option::of(binary()))
            .prop_map(|(method, data)| (Some(method), data.map(Secret::new))),
    ]
}

fn payload_format() -> impl Strategy<Value = PayloadFormat> + Clone {
    select(&[PayloadFormat::Unspecified, PayloadFormat::Utf8][..])
}

/// Empty properties often, otherwise `full`.
fn props<T: Default + Clone + std::fmt::Debug + 'static>(
    full: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![1 => Just(T::default()), 7 => full].boxed()
}

/// CONNECT properties.
pub(crate) fn connect_properties() -> BoxedStrategy<ConnectProperties> {
    props(
        (
            option::of(any_u32()),
            option::of(nonzero_u16()),
            option::of(nonzero_u32()),
            option::of(any_u16()),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            authentication(),
            user_properties(),
        )
            .prop_map(
                |(
                    session_expiry_interval,
                    receive_maximum,
                    maximum_packet_size,
                    topic_alias_maximum,
                    request_response_information,
                    request_problem_information,
                    (authentication_method, authentication_data),
                    user_properties,
                )| ConnectProperties {
                    session_expiry_interval,
                    receive_maximum,
                    maximum_packet_size,
                    topic_alias_maximum,
                    request_response_information,
                    request_problem_information,
                    authentication_method,
                    authentication_data,
                    user_properties,
                },
            ),
    )
}

/// Will properties (CONNECT payload).
pub(crate) fn will_properties() -> BoxedStrategy<WillProperties> {
    props(
        (
            option::of(any_u32()),
            option::of(payload_format()),
            option::of(any_u32()),
            option::of(mqtt_string()),
            option::of(topic_name()),
            option::of(binary()),
            user_properties(),
        )
            .prop_map(
                |(
                    will_delay_interval,
                    payload_format_indicator,
                    message_expiry_interval,
                    content_type,
                    response_topic,
                    correlation_data,
                    user_properties,
                )| WillProperties {
                    will_delay_interval,
                    payload_format_indicator,
                    message_expiry_interval,
                    content_type,
                    response_topic,
                    correlation_data,
                    user_properties,
                },
            ),
    )
}

/// CONNACK properties.
pub(crate) fn connack_properties() -> BoxedStrategy<ConnAckProperties> {
    let limits = (
        option::of(any_u32()),
        option::of(nonzero_u16()),
        option::of(select(&[QoS::AtMostOnce, QoS::AtLeastOnce][..])),
        option::of(any::<bool>()),
        option::of(nonzero_u32()),
        option::of(any_u16()),
        option::of(any_u16()),
    );
    let flags = (
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
    );
    let strings = (
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        option::of(mqtt_string()),
        authentication(),
        user_properties(),
    );
    props((limits, flags, strings).prop_map(
        |(
            (
                session_expiry_interval,
                receive_maximum,
                maximum_qos,
                retain_available,
                maximum_packet_size,
                topic_alias_maximum,
                server_keep_alive,
            ),
            (
                wildcard_subscription_available,
                subscription_identifier_available,
                shared_subscription_available,
            ),
            (
                assigned_client_identifier,
                reason_string,
                response_information,
                server_reference,
                (authentication_method, authentication_data),
                user_properties,
            ),
        )| ConnAckProperties {
            session_expiry_interval,
            receive_maximum,
            maximum_qos,
            retain_available,
            maximum_packet_size,
            assigned_client_identifier,
            topic_alias_maximum,
            reason_string,
            wildcard_subscription_available,
            subscription_identifier_available,
            shared_subscription_available,
            server_keep_alive,
            response_information,
            server_reference,
            authentication_method,
            authentication_data,
            user_properties,
        },
    ))
}

/// PUBLISH properties (the topic alias is left to [`publish`]).
fn publish_properties_without_alias() -> impl Strategy<Value = PublishProperties> + Clone {
    (
        option::of(payload_format()),
        option::of(any_u32()),
        option::of(topic_name()),
        option::of(binary()),
        option::of(mqtt_string()),
        user_properties(),
        prop_oneof![
            2 => Just(Vec::new()),
            // Past four, the list no longer fits inline.
            1 => vec(subscription_id(), 1..7),
        ],
    )
        .prop_map(
            |(
                payload_format_indicator,
                message_expiry_interval,
                response_topic,
                correlation_data,
                content_type,
                user_properties,
                subscription_identifiers,
            )| PublishProperties {
                payload_format_indicator,
                message_expiry_interval,
                topic_alias: None,
                response_topic,
                correlation_data,
                content_type,
                user_properties,
                subscription_identifiers: subscription_identifiers.into(),
            },
        )
}

/// PUBLISH properties, topic alias included.
pub(crate) fn publish_properties() -> BoxedStrategy<PublishProperties> {
    props(
        (
            publish_properties_without_alias(),
            option::of(nonzero_u16()),
        )
            .prop_map(|(mut properties, topic_alias)| {
                properties.topic_alias = topic_alias;
                properties
            }),
    )
}

/// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
pub(crate) fn ack_properties() -> BoxedStrategy<AckProperties> {
    props((option::of(mqtt_string()), user_properties()).prop_map(
        |(reason_string, user_properties)| AckProperties {
            reason_string,
            user_properties,
        },
    ))
}

/// SUBSCRIBE properties.
pub(crate) fn subscribe_properties() -> BoxedStrategy<SubscribeProperties> {
    props((option::of(subscription_id()), user_properties()).prop_map(
        |(subscription_identifier, user_properties)| SubscribeProperties {
            subscription_identifier,
            user_properties,
        },
    ))
}

/// UNSUBSCRIBE properties.
pub(crate) fn unsubscribe_properties() -> BoxedStrategy<UnsubscribeProperties> {
    props(user_properties().prop_map(|user_properties| UnsubscribeProperties { user_properties }))
}

/// DISCONNECT properties.
pub(crate) fn disconnect_properties() -> BoxedStrategy<DisconnectProperties> {
    props(
        (
            option::of(any_u32()),
            option::of(mqtt_string()),
            option::of(mqtt_string()),
            user_properties(),
        )
            .prop_map(
                |(session_expiry_interval, reason_string, server_reference, user_properties)| {
                    DisconnectProperties {
                        session_expiry_interval,
                        reason_string,
                        server_reference,
                        user_properties,
                    }
                },
            ),
    )
}

/// AUTH properties with an authentication method, which every AUTH but
/// the bare `Success` form must carry (spec §3.15.2.2.2).
fn auth_properties_with_method() -> impl Strategy<Value = AuthProperties> + Clone {
    (
        mqtt_string(),
        option::of(binary()),
        option::of(mqtt_string()),
        user_properties(),
    )
        .prop_map(
            |(method, data, reason_string, user_properties)| AuthProperties {
                authentication_method: Some(method),
                authentication_data: data.map(Secret::new),
                reason_string,
                user_properties,
            },
        )
}

// ---------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------

/// `strategy` under 5.0, the default (nothing) before it.
fn v5_or_default<T: Default + Clone + std::fmt::Debug + 'static>(
    version: ProtocolVersion,
    strategy: BoxedStrategy<T>,
) -> BoxedStrategy<T> {
    if version.is_v5() {
        strategy
    } else {
        Just(T::default()).boxed()
    }
}

/// User name and password: before 5.0 a password needs a user name.
fn credentials(version: ProtocolVersion) -> BoxedStrategy<(Option<ByteString>, Option<Secret>)> {
    let password = binary().prop_map(Secret::new);
    let mut arms = vec![
        Just((None, None)).boxed(),
        mqtt_string().prop_map(|u| (Some(u), None)).boxed(),
        (mqtt_string(), password.clone())
            .prop_map(|(u, p)| (Some(u), Some(p)))
            .boxed(),
    ];
    if version.is_v5() {
        arms.push(password.prop_map(|p| (None, Some(p))).boxed());
    }
    Union::new(arms).boxed()
}

/// A will message.
pub(crate) fn will(version: ProtocolVersion) -> BoxedStrategy<LastWill> {
    (
        topic_name(),
        payload(),
        qos(),
        any::<bool>(),
        v5_or_default(version, will_properties()),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| LastWill {
            topic,
            payload,
            qos,
            retain,
            properties,
        })
        .boxed()
}

/// A CONNECT asking for `version`.
pub(crate) fn connect(version: ProtocolVersion) -> BoxedStrategy<Connect> {
    let client_id = match version {
        // 3.1: "between 1 and 23 characters long".
        ProtocolVersion::V3_1 => mqtt_string_chars(1, 23).boxed(),
        ProtocolVersion::V3_1_1 | ProtocolVersion::V5 => mqtt_string(),
    };
    (
        any::<bool>(),
        any_u16(),
        client_id,
        option::of(will(version)),
        credentials(version),
        v5_or_default(version, connect_properties()),
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, (username, password), properties)| {
                Connect {
                    protocol: version,
                    // [MQTT-3.1.3-7] (3.1.1): an empty client identifier
                    // needs clean session.
                    clean_start: clean_start
                        || (version == ProtocolVersion::V3_1_1 && client_id.is_empty()),
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                }
            },
        )
        .boxed()
}

/// A CONNACK under `version`.
pub(crate) fn connack(version: ProtocolVersion) -> BoxedStrategy<ConnAck> {
    let code = if version.is_v5() {
        reason_code(PacketType::ConnAck)
    } else {
        let codes: Vec<ReasonCode> = (0..=5)
            .map(|c| ReasonCode::from_v3_connack(c).expect("3.x return codes 0 to 5"))
            .collect();
        select(codes).boxed()
    };
    (
        any::<bool>(),
        code,
        v5_or_default(version, connack_properties()),
    )
        .prop_map(|(session_present, reason_code, properties)| ConnAck {
            // [MQTT-3.2.2-4] (3.1.1), [MQTT-3.2.2-6]: session present only
            // on success.
            session_present: session_present && reason_code == ReasonCode::Success,
            reason_code,
            properties,
        })
        .boxed()
}

/// A PUBLISH under `version`.
pub(crate) fn publish(version: ProtocolVersion) -> BoxedStrategy<Publish> {
    let topic = if version.is_v5() {
        // 5.0: an empty topic name with a topic alias stands for the topic
        // the alias was set to.
        prop_oneof![5 => topic_name(), 1 => Just(ByteString::new())].boxed()
    } else {
        topic_name()
    };
    (
        (any::<bool>(), qos(), any::<bool>(), packet_id()),
        topic,
        v5_or_default(version, publish_properties()),
        nonzero_u16(),
        payload(),
    )
        .prop_map(
            |((dup, qos, retain, id), topic, mut properties, alias, payload)| {
                if topic.is_empty() {
                    properties.topic_alias.get_or_insert(alias);
                }
                let has_id = qos != QoS::AtMostOnce;
                Publish {
                    // [MQTT-3.3.1-2]: DUP is 0 for QoS 0.
                    dup: dup && has_id,
                    qos,
                    retain,
                    topic,
                    packet_id: has_id.then_some(id),
                    properties,
                    payload,
                }
            },
        )
        .boxed()
}

/// A PUBACK, PUBREC, PUBREL or PUBCOMP body for `packet` under `version`.
pub(crate) fn ack(version: ProtocolVersion, packet: PacketType) -> BoxedStrategy<Ack> {
    if !version.is_v5() {
        return packet_id().prop_map(Ack::new).boxed();
    }
    (packet_id(), reason_code(packet), ack_properties())
        .prop_map(|(packet_id, reason_code, properties)| Ack {
            packet_id,
            reason_code,
            properties,
        })
        .boxed()
}

/// Subscription options valid in `version`.
fn subscription_options(version: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    if !version.is_v5() {
        return qos().prop_map(SubscriptionOptions::new).boxed();
    }
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        select(
            &[
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendIfNew,
                RetainHandling::DoNotSend,
            ][..],
        ),
    )
        .prop_map(
            |(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
                qos,
                no_local,
                retain_as_published,
                retain_handling,
            },
        )
        .boxed()
}

/// A count of list entries: usually a few, rarely enough for a multi-byte
/// remaining length.
fn list_len() -> impl Strategy<Value = std::ops::Range<usize>> + Clone {
    prop_oneof![15 => Just(1..6), 1 => Just(20..60)]
}

/// A SUBSCRIBE under `version`.
pub(crate) fn subscribe(version: ProtocolVersion) -> BoxedStrategy<Subscribe> {
    let entry =
        (topic_filter(), subscription_options(version)).prop_map(|(filter, mut options)| {
            // [MQTT-3.8.3-4]: No Local on a shared subscription is a protocol
            // error.
            if filter.starts_with(SHARE_PREFIX) {
                options.no_local = false;
            }
            (filter, options)
        });
    let filters = list_len().prop_flat_map(move |len| vec(entry.clone(), len));
    (
        packet_id(),
        v5_or_default(version, subscribe_properties()),
        filters,
    )
        .prop_map(|(packet_id, properties, filters)| Subscribe {
            packet_id,
            properties,
            filters,
        })
        .boxed()
}

/// A SUBACK under `version`.
pub(crate) fn suback(version: ProtocolVersion) -> BoxedStrategy<SubAck> {
    let code = if version.is_v5() {
        reason_code(PacketType::SubAck)
    } else {
        // 3.x return codes: granted QoS 0, 1, 2 or failure (0x80).
        select(
            &[
                ReasonCode::Success,
                ReasonCode::GrantedQoS1,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError,
            ][..],
        )
        .boxed()
    };
    (
        packet_id(),
        v5_or_default(version, ack_properties()),
        list_len().prop_flat_map(move |len| vec(code.clone(), len)),
    )
        .prop_map(|(packet_id, properties, reason_codes)| SubAck {
            packet_id,
            properties,
            reason_codes,
        })
        .boxed()
}

/// An UNSUBSCRIBE under `version`.
pub(crate) fn unsubscribe(version: ProtocolVersion) -> BoxedStrategy<Unsubscribe> {
    (
        packet_id(),
        v5_or_default(version, unsubscribe_properties()),
        list_len().prop_flat_map(|len| vec(topic_filter(), len)),
    )
        .prop_map(|(packet_id, properties, filters)| Unsubscribe {
            packet_id,
            properties,
            filters,
        })
        .boxed()
}

/// An UNSUBACK under `version`: reason codes only in 5.0.
pub(crate) fn unsuback(version: ProtocolVersion) -> BoxedStrategy<UnsubAck> {
    let codes = if version.is_v5() {
        list_len()
            .prop_flat_map(|len| vec(reason_code(PacketType::UnsubAck), len))
            .boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (packet_id(), v5_or_default(version, ack_properties()), codes)
        .prop_map(|(packet_id, properties, reason_codes)| UnsubAck {
            packet_id,
            properties,
            reason_codes,
        })
        .boxed()
}

/// A DISCONNECT under `version`.
pub(crate) fn disconnect(version: ProtocolVersion) -> BoxedStrategy<Disconnect> {
    if !version.is_v5() {
        return Just(Disconnect::default()).boxed();
    }
    (reason_code(PacketType::Disconnect), disconnect_properties())
        .prop_map(|(reason_code, properties)| Disconnect {
            reason_code,
            properties,
        })
        .boxed()
}

/// An AUTH (5.0 only): the bare `Success` form, or a reason code with an
/// authentication method and optional data.
pub(crate) fn auth() -> BoxedStrategy<Auth> {
    prop_oneof![
        1 => Just(Auth {
            reason_code: ReasonCode::Success,
            properties: AuthProperties::default(),
        }),
        7 => (reason_code(PacketType::Auth), auth_properties_with_method()).prop_map(
            |(reason_code, properties)| Auth {
                reason_code,
                properties,
            }
        ),
    ]
    .boxed()
}

/// A valid packet of type `packet` under `version`.
///
/// # Panics
///
/// For AUTH before 5.0, which does not exist.
pub(crate) fn packet_of_type(
    version: ProtocolVersion,
    packet: PacketType,
) -> BoxedStrategy<Packet> {
    match packet {
        PacketType::Connect => connect(version).prop_map(Packet::from).boxed(),
        PacketType::ConnAck => connack(version).prop_map(Packet::from).boxed(),
        PacketType::Publish => publish(version).prop_map(Packet::Publish).boxed(),
        PacketType::PubAck => ack(version, packet).prop_map(Packet::PubAck).boxed(),
        PacketType::PubRec => ack(version, packet).prop_map(Packet::PubRec).boxed(),
        PacketType::PubRel => ack(version, packet).prop_map(Packet::PubRel).boxed(),
        PacketType::PubComp => ack(version, packet).prop_map(Packet::PubComp).boxed(),
        PacketType::Subscribe => subscribe(version).prop_map(Packet::Subscribe).boxed(),
        PacketType::SubAck => suback(version).prop_map(Packet::SubAck).boxed(),
        PacketType::Unsubscribe => unsubscribe(version).prop_map(Packet::Unsubscribe).boxed(),
        PacketType::UnsubAck => unsuback(version).prop_map(Packet::UnsubAck).boxed(),
        PacketType::PingReq => Just(Packet::PingReq).boxed(),
        PacketType::PingResp => Just(Packet::PingResp).boxed(),
        PacketType::Disconnect => disconnect(version).prop_map(Packet::Disconnect).boxed(),
        PacketType::Auth => {
            assert!(version.is_v5(), "AUTH exists only in MQTT 5.0");
            auth().prop_map(Packet::Auth).boxed()
        }
    }
}

/// A valid packet of any type that exists under `version`.
pub(crate) fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    Union::new(
        packet_types(version)
            .into_iter()
            .map(|t| packet_of_type(version, t)),
    )
    .boxed()
}

/// A version and a valid packet of type `packet` under it.
pub(crate) fn versioned_packet_of_type(
    packet: PacketType,
) -> BoxedStrategy<(ProtocolVersion, Packet)> {
    Union::new(
        versions_with(packet)
            .into_iter()
            .map(move |v| packet_of_type(v, packet).prop_map(move |p| (v, p))),
    )
    .boxed()
}

/// A version and a valid packet of any type under it.
pub(crate) fn versioned_packet() -> BoxedStrategy<(ProtocolVersion, Packet)> {
    Union::new(
        VERSIONS
            .into_iter()
            .map(|v| packet(v).prop_map(move |p| (v, p))),
    )
    .boxed()
}

/// A version and a sequence of `len` valid packets under it, as a
/// connection would carry them.
pub(crate) fn packet_stream(
    len: std::ops::Range<usize>,
) -> BoxedStrategy<(ProtocolVersion, Vec<Packet>)> {
    Union::new(
        VERSIONS
            .into_iter()
            .map(move |v| vec(packet(v), len.clone()).prop_map(move |packets| (v, packets))),
    )
    .boxed()
}
