//! mqtide: an async, tokio-native MQTT client.
//!
//! The tokio client (event loop, `Client`, message streams, awaitable
//! acknowledgements, reconnect) is not built yet. What exists today is the
//! protocol core underneath it, re-exported here as [`proto`]: the MQTT 3.1,
//! 3.1.1 and 5.0 packet codec and topic matching.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use mqtide_proto as proto;
pub use mqtide_proto::{QoS, TopicFilter, TopicName, topic_matches_sub};
