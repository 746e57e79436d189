//! Decode → encode → decode oracle (MQTT 5.0). See
//! `mqtide_proto_fuzz::check_roundtrip`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtide_proto::ProtocolVersion;

fuzz_target!(|data: &[u8]| {
    mqtide_proto_fuzz::check_roundtrip(data, ProtocolVersion::V5);
});
