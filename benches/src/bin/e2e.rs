//! The end-to-end benchmark: `cargo run --release -p benches --bin e2e
//! [-- --quick]`. See `benches/README.md`.

fn main() -> std::process::ExitCode {
    benches::e2e::main()
}
