//! The `mqtide` binary. Its subcommands (`pub`, `sub`, `bench`) need the
//! tokio client, which does not exist yet; until then the binary says so
//! rather than pretending.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "mqtide {}: the `pub`, `sub` and `bench` commands are not built yet \
         (they arrive with the tokio client). Use mosquitto_pub / mosquitto_sub meanwhile.",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
