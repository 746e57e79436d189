//! Compiles the Rust in README.md and docs/MIGRATION.md (issue 31, item 3):
//! every ```rust block becomes the body of an async function in
//! `$OUT_DIR/snippets.rs`, which `tests/snippets.rs` includes, so that a
//! snippet that no longer compiles fails `cargo test` (and clippy) with
//! the file and line it came from. A block is wrapped whole: its `use`
//! lines, items (a `#[tokio::main] async fn main` too) and statements are
//! all allowed in a function body, and `?` returns a boxed error.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = String::new();
    for doc in ["README.md", "docs/MIGRATION.md"] {
        let path = root.join(doc);
        println!("cargo::rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("the document");
        let mut block: Option<(usize, String)> = None;
        for (number, line) in text.lines().enumerate() {
            match &mut block {
                None if line.trim_end() == "```rust" => block = Some((number + 2, String::new())),
                None => {}
                Some((first, body)) if line.trim_end() == "```" => {
                    let name = format!(
                        "{}_line_{first}",
                        doc.replace(['/', '.', '-'], "_").to_lowercase()
                    );
                    let _ = writeln!(
                        out,
                        "/// {doc}, the block at line {first}.\n\
                         #[allow(unused, unreachable_code, clippy::all, clippy::pedantic)]\n\
                         pub(crate) async fn {name}() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {{\n\
                         {body}\n\
                         Ok(())\n}}\n"
                    );
                    block = None;
                }
                Some((_, body)) => {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("snippets.rs");
    std::fs::write(dest, out).expect("write the snippets");
}
