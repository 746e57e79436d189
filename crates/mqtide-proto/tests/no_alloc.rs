//! Decoding the hot-path packet, a QoS 1 PUBLISH, allocates nothing per
//! packet: topic and payload are slices of the read buffer and empty
//! property lists are empty `Vec`s.
//!
//! The counting global allocator is the `allocation-counter` crate's: the
//! workspace forbids `unsafe_code` (a `forbid` that `#![allow]` cannot lift),
//! and implementing `GlobalAlloc` takes an `unsafe impl`. It counts per
//! thread, so tests running in parallel do not disturb each other. Run with
//! `--nocapture` to see the counts.

use std::hint::black_box;
use std::num::NonZeroU16;

use allocation_counter::{AllocationInfo, measure};
use bytes::{Bytes, BytesMut};
use mqtide_proto::{
    MAX_PACKET_SIZE, Packet, PayloadFormat, ProtocolVersion, Publish, QoS, SubscriptionId,
};

const PAYLOAD_LEN: usize = 256;

/// The packet counts compared: allocations must not grow with them.
const FEW: usize = 10;
const MANY: usize = 1000;

/// The `i`th QoS 1 PUBLISH with a 256-byte payload; under 5.0 with a topic
/// alias, a message expiry and a payload format indicator (no user
/// properties, no subscription identifiers).
fn publish(version: ProtocolVersion, i: usize) -> Publish {
    let payload: Vec<u8> = (0..PAYLOAD_LEN)
        .map(|j| b'a' + ((i + j) % 26) as u8)
        .collect();
    let mut publish = Publish::new("plant/7/line/3/temperature", Bytes::from(payload));
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = NonZeroU16::new(u16::try_from(i % 65_535 + 1).expect("at most 65535"));
    if version.is_v5() {
        publish.properties.topic_alias = NonZeroU16::new(7);
        publish.properties.message_expiry_interval = Some(3600);
        publish.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    }
    publish
}

/// `n` packets made by `make`, and their encodings back to back in one
/// read buffer, as a socket read would leave them.
fn stream(
    version: ProtocolVersion,
    n: usize,
    make: impl Fn(usize) -> Publish,
) -> (Vec<Packet>, BytesMut) {
    let packets: Vec<Packet> = (0..n).map(|i| Packet::Publish(make(i))).collect();
    let mut read = BytesMut::new();
    for packet in &packets {
        packet.encode(version, &mut read).expect("valid PUBLISH");
    }
    (packets, read)
}

/// Decodes the `n` packets `make` produces from one buffer, counting only
/// the allocations of the decode calls, and checks what came out.
fn count_decode(
    version: ProtocolVersion,
    n: usize,
    make: impl Fn(usize) -> Publish,
) -> AllocationInfo {
    let (expected, mut read) = stream(version, n, make);
    // Decoded packets are kept (not dropped) so nothing can hide behind a
    // free; the vector is sized beforehand so pushing does not allocate.
    let mut decoded = Vec::with_capacity(n);
    let info = measure(|| {
        for _ in 0..n {
            let packet = Packet::decode(&mut read, version, MAX_PACKET_SIZE);
            decoded.push(black_box(packet));
        }
    });
    assert!(read.is_empty(), "every byte decoded");
    assert_eq!(decoded.len(), n);
    for (got, want) in decoded.into_iter().zip(&expected) {
        assert_eq!(got.as_ref().ok().and_then(Option::as_ref), Some(want));
    }
    info
}

/// Decoding `MANY` packets allocates no more than decoding `FEW`, and at
/// most once in all: the first `split_to` moves the read buffer's `Vec`
/// storage into shared storage, after which every packet is a reference
/// count.
fn assert_no_per_packet_allocation(version: ProtocolVersion) {
    let few = count_decode(version, FEW, |i| publish(version, i));
    let many = count_decode(version, MANY, |i| publish(version, i));
    eprintln!(
        "{version}: decoding {FEW} QoS 1 PUBLISH packets made {} allocations ({} bytes), {MANY} made {} ({} bytes)",
        few.count_total, few.bytes_total, many.count_total, many.bytes_total
    );
    assert!(
        many.count_total <= 1,
        "{version}: {MANY} decodes made {} allocations: {many:?}",
        many.count_total
    );
    assert_eq!(
        many.count_total, few.count_total,
        "{version}: allocations grow with the number of packets"
    );
}

#[test]
fn decoding_v3_1_1_publish_does_not_allocate_per_packet() {
    assert_no_per_packet_allocation(ProtocolVersion::V3_1_1);
}

#[test]
fn decoding_v5_publish_with_properties_does_not_allocate_per_packet() {
    assert_no_per_packet_allocation(ProtocolVersion::V5);
}

/// A PUBLISH from the server carries the identifiers of the subscriptions
/// it matched, and mqtide's client gives every 5.0 subscription one (to
/// route messages without matching filters), so this is the PUBLISH a 5.0
/// client receives: one or two identifiers must not cost an allocation.
#[test]
fn decoding_v5_publish_with_subscription_identifiers_does_not_allocate_per_packet() {
    let version = ProtocolVersion::V5;
    for ids in [&[3][..], &[3, 268_435_455]] {
        let with_ids = |i| {
            let mut publish = publish(version, i);
            for &id in ids {
                let id = SubscriptionId::new(id).expect("in range");
                publish.properties.subscription_identifiers.push(id);
            }
            publish
        };
        let few = count_decode(version, FEW, with_ids);
        let many = count_decode(version, MANY, with_ids);
        eprintln!(
            "{version}, {} subscription identifiers: {FEW} decodes made {} allocations, {MANY} made {}",
            ids.len(),
            few.count_total,
            many.count_total
        );
        assert!(many.count_total <= 1, "{} ids: {many:?}", ids.len());
        assert_eq!(many.count_total, few.count_total, "{} ids", ids.len());
    }
}

/// The counter is really installed and sees the codec's allocations: a
/// user property does allocate its list, once per packet. Without this
/// control, a missing allocator would pass the tests above vacuously.
#[test]
fn counter_sees_per_packet_allocations() {
    let version = ProtocolVersion::V5;
    let with_user_property = |i| {
        let mut publish = publish(version, i);
        publish
            .properties
            .user_properties
            .push(("trace".into(), "abc".into()));
        publish
    };
    let info = count_decode(version, MANY, with_user_property);
    eprintln!(
        "{version}: decoding {MANY} QoS 1 PUBLISH packets with one user property made {} allocations ({} bytes)",
        info.count_total, info.bytes_total
    );
    assert!(
        info.count_total >= MANY as u64,
        "user property lists must show up: {info:?}"
    );
}
