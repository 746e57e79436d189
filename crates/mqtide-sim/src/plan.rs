//! What a schedule's applications do, drawn from its seed: the messages
//! the publisher sends (number, topic, QoS, retain).

use mqtide_proto::QoS;

/// One message of the publisher's plan. Its payload is its number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Planned {
    pub(crate) n: u64,
    /// Which of the two topics (`t/0`, `t/1`).
    pub(crate) topic: u8,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
}

impl Planned {
    pub(crate) fn topic(&self) -> String {
        format!("t/{}", self.topic)
    }
}

/// `count` messages: mostly QoS 1 and 2, some QoS 0, a few retained.
pub(crate) fn messages(rng: &mut fastrand::Rng, count: u64) -> Vec<Planned> {
    (0..count)
        .map(|n| Planned {
            n,
            topic: rng.u8(0..2),
            qos: match rng.u8(0..10) {
                0 => QoS::AtMostOnce,
                1..=4 => QoS::AtLeastOnce,
                _ => QoS::ExactlyOnce,
            },
            retain: rng.u8(0..8) == 0,
        })
        .collect()
}
