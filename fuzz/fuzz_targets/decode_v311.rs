//! Arbitrary bytes into `Packet::decode` (MQTT 3.1.1, compared with 3.1 on
//! the same bytes): must never panic, must honour the framing contract. See
//! `mqtide_proto_fuzz::check_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtide_proto::ProtocolVersion;

fuzz_target!(|data: &[u8]| {
    mqtide_proto_fuzz::check_decode(data, ProtocolVersion::V3_1_1);
});
