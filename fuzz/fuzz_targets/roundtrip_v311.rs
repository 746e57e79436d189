//! Decode → encode → decode oracle (MQTT 3.1.1, and 3.1 on the same bytes:
//! the two differ only in the DUP bit of PUBREL, SUBSCRIBE and UNSUBSCRIBE).
//! See `mqtide_proto_fuzz::check_roundtrip`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtide_proto::ProtocolVersion;

fuzz_target!(|data: &[u8]| {
    mqtide_proto_fuzz::check_roundtrip(data, ProtocolVersion::V3_1_1);
    mqtide_proto_fuzz::check_roundtrip(data, ProtocolVersion::V3_1);
});
