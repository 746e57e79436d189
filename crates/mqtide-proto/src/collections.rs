//! The hash maps of the crate: hashbrown's (what std's `HashMap` is made
//! of, usable with `alloc` alone) with FxHash.
//!
//! FxHash because the keys are our own small ids (packet identifiers,
//! topic aliases, filter levels) that no attacker grows past a limit we
//! set, so SipHash's flooding resistance buys nothing and cost 9% of the
//! instructions per message. No behaviour depends on these maps' iteration
//! order: where the session drains one, it sorts what it drained.

use rustc_hash::FxBuildHasher;

/// A `HashMap` with FxHash.
pub(crate) type FxHashMap<K, V> = hashbrown::HashMap<K, V, FxBuildHasher>;
/// A `HashSet` with FxHash.
pub(crate) type FxHashSet<T> = hashbrown::HashSet<T, FxBuildHasher>;
