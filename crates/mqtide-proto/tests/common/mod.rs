//! Support shared by the integration tests: `mod common;` in a test file.

#![allow(dead_code, reason = "every test binary uses a different subset")]

pub(crate) mod strategies;

/// Concatenates hand-written groups of bytes.
pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Bytes as spaced upper-case hex, for failure messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

use proptest::test_runner::Config;

/// Cases per property: enough to see every packet type under every version
/// many times, few enough that `cargo test` stays fast in debug builds.
pub(crate) const CASES: u32 = 256;

/// The proptest configuration of these tests: [`CASES`] cases, unless
/// `PROPTEST_CASES` is set for a longer hunt.
pub(crate) fn config() -> Config {
    let config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_some() {
        config
    } else {
        Config {
            cases: CASES,
            ..config
        }
    }
}
