//! Workspace member holding mqtide's benches: the criterion codec bench in
//! `benches/codec.rs`, and the end-to-end benchmark against rumqttc and
//! mqtt5 ([`e2e`], run as `cargo run --release -p benches --bin e2e`).

pub mod e2e;
