//! Arbitrary bytes into `Packet::decode` (MQTT 5.0): must never panic, must honour
//! the framing contract. See `mqtide_proto_fuzz::check_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtide_proto::ProtocolVersion;

fuzz_target!(|data: &[u8]| {
    mqtide_proto_fuzz::check_decode(data, ProtocolVersion::V5);
});
