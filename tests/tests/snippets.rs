//! The Rust of README.md and docs/MIGRATION.md, compiled (see
//! `tests/build.rs`): a snippet that no longer compiles fails the build of
//! this test binary, under `cargo test` and clippy, and the error names
//! the function `<document>_line_<n>` it was wrapped in. Compiling is the
//! check, so there is no `#[test]` here: none of them runs (they talk to
//! brokers at their readers' addresses).

#![allow(missing_docs)]

mod snippets {
    include!(concat!(env!("OUT_DIR"), "/snippets.rs"));
}
