//! mqtide-proto's packet codec against rumqttc's (`mqttbytes::v4` for
//! 3.1.1, `v5::mqttbytes::v5` for 5.0), side by side in one run.
//!
//! Every group holds the same packet in both libraries (checked at start-up:
//! both encode it to the same bytes and decode those bytes back to what was
//! encoded) and reads as `<packet>_<version>_<encode|decode>/<library>`.
//!
//! Both sides go through each library's top-level packet API, the one its
//! client drives: `Packet::encode` / `Packet::decode` for mqtide,
//! `Packet::write` / `Packet::read` for rumqttc, with the same maximum
//! packet size.
//!
//! - Encode writes into one `BytesMut`, reused and cleared each iteration,
//!   so the loop allocates nothing on the harness's side.
//! - Decode refills one reused `BytesMut` with the wire bytes each iteration
//!   (`clear` + `extend_from_slice`) and decodes from it, as a client does
//!   with its read buffer. The decoded packet is dropped inside the timed
//!   loop, so the cost of freeing what the decoder allocated counts.
//! - Each group has a third row, `floor`: the harness's own work with no
//!   codec at all (encode: copying the finished bytes into the buffer;
//!   decode: the refill, the split and freeze of the packet and one slice
//!   of it). It is what no codec can undercut here, so it bounds the ratio
//!   any codec could reach against rumqttc.
//! - The PUBLISH groups have a fourth row, `minimal`: a hand-written
//!   encoder and decoder for that one packet that does only what the spec
//!   demands (`codec/minimal.rs` for 3.1.1, `codec/minimal_v5.rs` for
//!   5.0), the best a conforming codec could do.
//!
//! Run with `cargo bench -p benches --bench codec`.

use std::hint::black_box;
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use mqtide_proto as mq;
use rumqttc::mqttbytes::{self as r4q, v4 as r4};
use rumqttc::v5::mqttbytes as r5q;
use rumqttc::v5::mqttbytes::v5 as r5;

#[path = "codec/minimal.rs"]
mod minimal;
#[path = "codec/minimal_v5.rs"]
mod minimal_v5;

const TOPIC: &str = "sensors/building-7/floor-3/temperature";
const PAYLOAD_LEN: usize = 256;
const PUBLISH_ID: u16 = 4242;
const SUBSCRIBE_ID: u16 = 17;
/// The 5.0 PUBLISH properties, identical on both sides.
const MESSAGE_EXPIRY: u32 = 3600;
const CONTENT_TYPE: &str = "application/json";
/// The 5.0 SUBSCRIBE subscription identifier.
const SUBSCRIPTION_ID: u32 = 42;
const FILTERS: [(&str, u8); 3] = [
    ("sensors/building-7/+/temperature", 1),
    ("alerts/#", 0),
    ("devices/device-42/commands", 2),
];
/// The maximum packet size both decoders are given (and rumqttc's encoder).
const MAX_SIZE: u32 = 1 << 20;

fn payload() -> Bytes {
    (0..PAYLOAD_LEN).map(|i| (i % 251) as u8).collect()
}

fn mq_qos(qos: u8) -> mq::QoS {
    mq::QoS::from_u8(qos).expect("valid QoS")
}

fn r4_qos(qos: u8) -> r4q::QoS {
    r4q::qos(qos).expect("valid QoS")
}

fn r5_qos(qos: u8) -> r5q::QoS {
    r5q::qos(qos).expect("valid QoS")
}

fn mq_publish(version: mq::ProtocolVersion) -> mq::Packet {
    let mut p = mq::Publish::new(TOPIC, payload());
    p.qos = mq::QoS::AtLeastOnce;
    p.packet_id = NonZeroU16::new(PUBLISH_ID);
    if version.is_v5() {
        p.properties.payload_format_indicator = Some(mq::PayloadFormat::Utf8);
        p.properties.message_expiry_interval = Some(MESSAGE_EXPIRY);
        p.properties.content_type = Some(CONTENT_TYPE.into());
    }
    mq::Packet::Publish(p)
}

fn r4_publish() -> r4::Packet {
    let mut p = r4::Publish::from_bytes(TOPIC, r4q::QoS::AtLeastOnce, payload());
    p.pkid = PUBLISH_ID;
    r4::Packet::Publish(p)
}

fn r5_publish() -> r5::Packet {
    let props = r5::PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(MESSAGE_EXPIRY),
        content_type: Some(CONTENT_TYPE.into()),
        ..Default::default()
    };
    let mut p = r5::Publish::new(TOPIC, r5q::QoS::AtLeastOnce, payload(), Some(props));
    p.pkid = PUBLISH_ID;
    r5::Packet::Publish(p)
}

fn mq_subscribe(version: mq::ProtocolVersion) -> mq::Packet {
    let mut properties = mq::SubscribeProperties::default();
    if version.is_v5() {
        properties.subscription_identifier = mq::SubscriptionId::new(SUBSCRIPTION_ID);
    }
    mq::Packet::Subscribe(mq::Subscribe {
        packet_id: NonZeroU16::new(SUBSCRIBE_ID).expect("non-zero"),
        properties,
        filters: FILTERS
            .iter()
            .map(|&(f, q)| (f.into(), mq::SubscriptionOptions::new(mq_qos(q))))
            .collect(),
    })
}

fn r4_subscribe() -> r4::Packet {
    let mut s = r4::Subscribe::new_many(
        FILTERS
            .iter()
            .map(|&(f, q)| r4::SubscribeFilter::new(f.to_owned(), r4_qos(q))),
    );
    s.pkid = SUBSCRIBE_ID;
    r4::Packet::Subscribe(s)
}

fn r5_subscribe() -> r5::Packet {
    let props = r5::SubscribeProperties {
        id: Some(SUBSCRIPTION_ID as usize),
        user_properties: Vec::new(),
    };
    let mut s = r5::Subscribe::new_many(
        FILTERS.iter().map(|&(f, q)| r5::Filter::new(f, r5_qos(q))),
        Some(props),
    );
    s.pkid = SUBSCRIBE_ID;
    r5::Packet::Subscribe(s)
}

/// One packet in both libraries, for one protocol version.
trait Codec {
    type Packet: PartialEq + std::fmt::Debug;
    fn encode(p: &Self::Packet, buf: &mut BytesMut);
    fn decode(buf: &mut BytesMut) -> Self::Packet;
}

struct Mqtide<const V5: bool>;
struct Rumqttc4;
struct Rumqttc5;
/// The hand-written 3.1.1 PUBLISH codec of `codec/minimal.rs`.
struct Minimal;
/// The hand-written 5.0 PUBLISH codec of `codec/minimal_v5.rs`.
struct Minimal5;

impl<const V5: bool> Codec for Mqtide<V5> {
    type Packet = mq::Packet;
    #[inline(always)]
    fn encode(p: &mq::Packet, buf: &mut BytesMut) {
        let version = if V5 {
            mq::ProtocolVersion::V5
        } else {
            mq::ProtocolVersion::V3_1_1
        };
        p.encode(version, buf).expect("encodes");
    }
    #[inline(always)]
    fn decode(buf: &mut BytesMut) -> mq::Packet {
        let version = if V5 {
            mq::ProtocolVersion::V5
        } else {
            mq::ProtocolVersion::V3_1_1
        };
        mq::Packet::decode(buf, version, MAX_SIZE)
            .expect("decodes")
            .expect("complete")
    }
}

impl Codec for Rumqttc4 {
    type Packet = r4::Packet;
    #[inline(always)]
    fn encode(p: &r4::Packet, buf: &mut BytesMut) {
        p.write(buf, MAX_SIZE as usize).expect("encodes");
    }
    #[inline(always)]
    fn decode(buf: &mut BytesMut) -> r4::Packet {
        r4::Packet::read(buf, MAX_SIZE as usize).expect("decodes")
    }
}

impl Codec for Rumqttc5 {
    type Packet = r5::Packet;
    #[inline(always)]
    fn encode(p: &r5::Packet, buf: &mut BytesMut) {
        p.write(buf, Some(MAX_SIZE)).expect("encodes");
    }
    #[inline(always)]
    fn decode(buf: &mut BytesMut) -> r5::Packet {
        r5::Packet::read(buf, Some(MAX_SIZE)).expect("decodes")
    }
}

impl Codec for Minimal {
    type Packet = minimal::Publish;
    #[inline(always)]
    fn encode(p: &minimal::Publish, buf: &mut BytesMut) {
        p.encode(buf, MAX_SIZE).expect("encodes");
    }
    #[inline(always)]
    fn decode(buf: &mut BytesMut) -> minimal::Publish {
        minimal::Publish::decode(buf, MAX_SIZE)
            .expect("decodes")
            .expect("complete")
    }
}

impl Codec for Minimal5 {
    type Packet = minimal_v5::Publish;
    #[inline(always)]
    fn encode(p: &minimal_v5::Publish, buf: &mut BytesMut) {
        p.encode(buf, MAX_SIZE).expect("encodes");
    }
    #[inline(always)]
    fn decode(buf: &mut BytesMut) -> minimal_v5::Publish {
        minimal_v5::Publish::decode(buf, MAX_SIZE)
            .expect("decodes")
            .expect("complete")
    }
}

fn wire<C: Codec>(p: &C::Packet) -> Vec<u8> {
    let mut buf = BytesMut::new();
    C::encode(p, &mut buf);
    buf.to_vec()
}

/// Checks both libraries agree on the packet, then benches encode and
/// decode of it in `<name>_encode` and `<name>_decode`.
/// With `minimal`, each group also gets that packet's `minimal` row, codec
/// `M` (checked like the others against the same bytes).
fn compare<A: Codec, B: Codec, M: Codec>(
    c: &mut Criterion,
    name: &str,
    a: &A::Packet,
    b: &B::Packet,
    minimal: Option<&M::Packet>,
) {
    let bytes = wire::<A>(a);
    if let Some(m) = minimal {
        assert_eq!(wire::<M>(m), bytes, "{name}: minimal encodes differently");
        assert_eq!(
            &M::decode(&mut BytesMut::from(&bytes[..])),
            m,
            "{name}: minimal"
        );
    }
    assert_eq!(
        bytes,
        wire::<B>(b),
        "{name}: the libraries encode differently"
    );
    assert_eq!(&A::decode(&mut BytesMut::from(&bytes[..])), a, "{name}");
    assert_eq!(&B::decode(&mut BytesMut::from(&bytes[..])), b, "{name}");

    let mut group = c.benchmark_group(format!("{name}_encode"));
    group.bench_function("mqtide", |bench| encode_loop::<A>(bench, a));
    group.bench_function("rumqttc", |bench| encode_loop::<B>(bench, b));
    group.bench_function("floor", |bench| encode_floor(bench, &bytes));
    if let Some(m) = minimal {
        group.bench_function("minimal", |bench| encode_loop::<M>(bench, m));
    }
    group.finish();

    let mut group = c.benchmark_group(format!("{name}_decode"));
    group.bench_function("mqtide", |bench| decode_loop::<A>(bench, &bytes));
    group.bench_function("rumqttc", |bench| decode_loop::<B>(bench, &bytes));
    group.bench_function("floor", |bench| decode_floor(bench, &bytes));
    if minimal.is_some() {
        group.bench_function("minimal", |bench| decode_loop::<M>(bench, &bytes));
    }
    group.finish();
}

fn encode_loop<C: Codec>(bench: &mut criterion::Bencher<'_>, packet: &C::Packet) {
    let mut buf = BytesMut::with_capacity(4096);
    bench.iter(|| {
        buf.clear();
        C::encode(black_box(packet), &mut buf);
        black_box(&buf);
    });
}

fn decode_loop<C: Codec>(bench: &mut criterion::Bencher<'_>, wire: &[u8]) {
    let mut buf = BytesMut::with_capacity(4096);
    bench.iter(|| {
        buf.clear();
        buf.extend_from_slice(black_box(wire));
        // Dropped here, before the next refill, so the buffer's storage is
        // unique again and `extend_from_slice` reuses it.
        black_box(C::decode(&mut buf));
    });
}

/// What no encoder can undercut in this harness: copying the finished wire
/// bytes into the cleared buffer, with nothing to compute.
fn encode_floor(bench: &mut criterion::Bencher<'_>, wire: &[u8]) {
    let mut buf = BytesMut::with_capacity(4096);
    bench.iter(|| {
        buf.clear();
        buf.extend_from_slice(black_box(wire));
        black_box(&buf);
    });
}

/// What no zero-copy decoder can undercut in this harness: the same refill,
/// then the packet split off the buffer and frozen, and its body sliced out
/// of it (the `Bytes` a payload would share), with nothing parsed or
/// checked.
fn decode_floor(bench: &mut criterion::Bencher<'_>, wire: &[u8]) {
    let mut buf = BytesMut::with_capacity(4096);
    bench.iter(|| {
        buf.clear();
        buf.extend_from_slice(black_box(wire));
        let frame = buf.split_to(black_box(wire.len())).freeze();
        black_box(frame.slice(black_box(2)..));
    });
}

/// The minimal 5.0 decoder and mqtide's agree on what a PUBLISH may carry:
/// each case is refused (or taken) by both, so the `minimal` row does at
/// least the checks mqtide does.
fn check_minimal_v5_rules() {
    fn wire(topic: &[u8], props: &[u8]) -> BytesMut {
        let remaining = 2 + topic.len() + 2 + 1 + props.len() + 1;
        let mut b = BytesMut::new();
        b.extend_from_slice(&[0x32, remaining as u8, 0, topic.len() as u8]);
        b.extend_from_slice(topic);
        b.extend_from_slice(&[0x10, 0x92, props.len() as u8]);
        b.extend_from_slice(props);
        b.extend_from_slice(b"x");
        b
    }
    let user = [0x26, 0, 1, b'k', 0, 1, b'v'];
    let cases: [(&[u8], Vec<u8>, bool); 10] = [
        (b"a/b", vec![0x01, 1, 0x02, 0, 0, 0, 9], true),
        (b"a/b", [&user[..], &user[..], &[0x0B, 5]].concat(), true),
        (b"", vec![0x23, 0, 1], true),
        (b"", vec![], false),
        (b"a/+", vec![], false),
        (b"a/b", vec![0x01, 2], false),
        (b"a/b", vec![0x03, 0, 1, b'a', 0x03, 0, 1, b'b'], false),
        (b"a/b", vec![0x03, 0, 1, 0], false),
        (b"a/b", vec![0x23, 0, 0], false),
        (b"a/b", vec![0x11, 0, 0, 0, 1], false),
    ];
    for (topic, props, valid) in cases {
        let minimal = minimal_v5::Publish::decode(&mut wire(topic, &props), MAX_SIZE);
        let ours = mq::Packet::decode(&mut wire(topic, &props), mq::ProtocolVersion::V5, MAX_SIZE);
        assert_eq!(minimal.is_ok(), valid, "minimal: {topic:?} {props:?}");
        assert_eq!(ours.is_ok(), valid, "mqtide: {topic:?} {props:?}");
    }
}

fn benches(c: &mut Criterion) {
    check_minimal_v5_rules();
    use mq::ProtocolVersion::{V3_1_1, V5};
    let minimal = minimal::Publish::new(TOPIC, PUBLISH_ID, payload()).expect("a valid topic");
    compare::<Mqtide<false>, Rumqttc4, Minimal>(
        c,
        "publish_v311",
        &mq_publish(V3_1_1),
        &r4_publish(),
        Some(&minimal),
    );
    let properties = minimal_v5::Properties {
        utf8_payload: Some(true),
        message_expiry: Some(MESSAGE_EXPIRY),
        content_type: Some(Bytes::from_static(CONTENT_TYPE.as_bytes())),
        ..Default::default()
    };
    let minimal = minimal_v5::Publish::new(TOPIC, PUBLISH_ID, properties, payload())
        .expect("a valid topic and properties");
    compare::<Mqtide<true>, Rumqttc5, Minimal5>(
        c,
        "publish_v5",
        &mq_publish(V5),
        &r5_publish(),
        Some(&minimal),
    );
    compare::<Mqtide<false>, Rumqttc4, Minimal>(
        c,
        "subscribe_v311",
        &mq_subscribe(V3_1_1),
        &r4_subscribe(),
        None,
    );
    compare::<Mqtide<true>, Rumqttc5, Minimal>(
        c,
        "subscribe_v5",
        &mq_subscribe(V5),
        &r5_subscribe(),
        None,
    );
}

criterion_group! {
    name = codec;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(codec);
