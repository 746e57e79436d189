//! Deliberate bugs for the simulator (`mqtide-sim --mutant`) to prove it
//! can fail. Compiled only with `RUSTFLAGS='--cfg mqtide_mutants'`: no
//! normal build has this module or the checks that consult it.

use core::sync::atomic::{AtomicU8, Ordering};

/// A deliberate bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// Incoming QoS 2 resends are delivered again (no exactly-once).
    Qos2DedupeOff = 1,
    /// PUBRELs are resent on resume in reverse order, not in the order
    /// their PUBRECs arrived.
    PubrelOrder = 2,
}

static ARMED: AtomicU8 = AtomicU8::new(0);

/// Switches `mutant` on for the whole process (`None`: off).
pub fn arm(mutant: Option<Mutant>) {
    ARMED.store(mutant.map_or(0, |m| m as u8), Ordering::Relaxed);
}

/// Whether `mutant` is on.
pub(crate) fn armed(mutant: Mutant) -> bool {
    ARMED.load(Ordering::Relaxed) == mutant as u8
}
