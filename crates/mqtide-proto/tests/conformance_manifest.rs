//! Checks `docs/conformance/manifest.toml`, the list of every normative
//! statement of MQTT 3.1.1 and 5.0 with how mqtide meets the ones that bind
//! a client, and prints the coverage figure:
//!
//! ```sh
//! cargo test -p mqtide-proto --test conformance_manifest -- --nocapture
//! ```
//!
//! What is checked: the spec id lists are complete (Appendix B of each
//! standard) and well-formed; every statement names a listed id once and
//! every listed id has a statement; the fields take their allowed values and
//! agree with each other (a covered statement lists tests, a server-only one
//! is not applicable, the others say why); every test named exists as a test
//! function in its file; and the figures in README.md and
//! docs/conformance/README.md are the ones the manifest gives.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// How many numbered statements Appendix B of each standard holds.
const APPENDIX_B: [(&str, usize); 2] = [("3.1.1", 141), ("5.0", 251)];
const LEVELS: [&str; 4] = ["MUST", "MUST NOT", "SHOULD", "MAY"];
const BINDS: [&str; 3] = ["client", "server", "both"];
const STATUSES: [&str; 3] = ["covered", "not-applicable", "not-yet"];
const KEYS: [&str; 9] = [
    "id", "version", "level", "binds", "status", "summary", "tests", "note", "why",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

fn manifest() -> Table {
    let path = repo_root().join("docs/conformance/manifest.toml");
    let text = fs::read_to_string(&path).expect("docs/conformance/manifest.toml");
    text.parse::<Table>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `MQTT-x.y.z-n`: four decimal numbers without leading zeros; the chapter
/// and the statement number start at 1, the section numbers at 0.
fn is_well_formed(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("MQTT-") else {
        return false;
    };
    let Some((section, number)) = rest.split_once('-') else {
        return false;
    };
    let parts: Vec<&str> = section.split('.').chain([number]).collect();
    let decimal = |p: &&str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (*p == "0" || !p.starts_with('0'))
    };
    parts.len() == 4 && parts.iter().all(decimal) && parts[0] != "0" && parts[3] != "0"
}

fn string<'a>(table: &'a Table, key: &str, at: &str) -> &'a str {
    match table.get(key) {
        Some(Value::String(s)) => s,
        other => panic!("{at}: `{key}` must be a string, found {other:?}"),
    }
}

fn strings<'a>(table: &'a Table, key: &str, at: &str) -> Vec<&'a str> {
    let Some(Value::Array(items)) = table.get(key) else {
        panic!("{at}: `{key}` must be an array of strings");
    };
    items
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{at}: `{key}` holds {v:?}, not a string"))
        })
        .collect()
}

/// The spec id lists, by version.
fn spec_ids(manifest: &Table) -> BTreeMap<String, Vec<String>> {
    let spec = manifest
        .get("spec")
        .and_then(Value::as_table)
        .expect("a [spec] table");
    let mut ids = BTreeMap::new();
    for (version, expected) in APPENDIX_B {
        let table = spec
            .get(version)
            .and_then(Value::as_table)
            .unwrap_or_else(|| panic!("no [spec.\"{version}\"] table"));
        let list = strings(table, "ids", &format!("spec.\"{version}\""));
        assert_eq!(list.len(), expected, "MQTT {version}: Appendix B count");
        let mut seen = HashSet::new();
        for id in &list {
            assert!(is_well_formed(id), "MQTT {version}: malformed id {id:?}");
            assert!(seen.insert(*id), "MQTT {version}: {id} listed twice");
        }
        ids.insert(
            version.to_owned(),
            list.into_iter().map(str::to_owned).collect(),
        );
    }
    assert_eq!(spec.len(), APPENDIX_B.len(), "unexpected spec versions");
    ids
}

fn statements(manifest: &Table) -> Vec<&Table> {
    let Some(Value::Array(items)) = manifest.get("statement") else {
        panic!("no [[statement]] entries");
    };
    items
        .iter()
        .map(|v| v.as_table().expect("each [[statement]] is a table"))
        .collect()
}

/// Whether the line `index` of `lines` is a test function: the attributes
/// and comments above it include `#[test]` or `#[tokio::test]`, or it opens
/// an `each_version!` scenario (which expands to one test per version).
fn is_test_fn(lines: &[&str], index: usize) -> bool {
    for line in lines[..index].iter().rev().map(|l| l.trim()) {
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            return true;
        }
        if line.ends_with("each_version! {") {
            return true;
        }
        if !(line.is_empty() || line.starts_with("//") || line.starts_with("#[")) {
            return false;
        }
    }
    false
}

/// Checks that `reference` (`path::name`) names a test function.
fn check_test(root: &Path, reference: &str, at: &str) -> Result<(), String> {
    let (path, name) = reference
        .rsplit_once("::")
        .ok_or_else(|| format!("{at}: {reference:?} is not `path::name`"))?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("{at}: {name:?} is not a function name"));
    }
    let text = fs::read_to_string(root.join(path))
        .map_err(|e| format!("{at}: cannot read {path}: {e}"))?;
    let lines: Vec<&str> = text.lines().collect();
    let found = lines.iter().enumerate().find(|(_, line)| {
        let line = line.trim_start();
        let line = line.strip_prefix("async ").unwrap_or(line);
        line.strip_prefix("fn ")
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|rest| rest.starts_with(['(', '<']))
    });
    match found {
        None => Err(format!("{at}: no `fn {name}` in {path}")),
        Some((index, _)) if !is_test_fn(&lines, index) => {
            Err(format!("{at}: `fn {name}` in {path} is not a test"))
        }
        Some(_) => Ok(()),
    }
}

/// Per version: (client-binding statements, covered ones).
type Figures = BTreeMap<String, (usize, usize)>;

fn check(manifest: &Table) -> Figures {
    let root = repo_root();
    let ids = spec_ids(manifest);
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut figures: Figures = ids.keys().map(|v| (v.clone(), (0, 0))).collect();
    let mut errors = Vec::new();
    for statement in statements(manifest) {
        let id = string(statement, "id", "a statement");
        let version = string(statement, "version", id);
        let at = format!("{id} ({version})");
        for key in statement.keys() {
            assert!(KEYS.contains(&key.as_str()), "{at}: unknown key `{key}`");
        }
        assert!(is_well_formed(id), "{at}: malformed id");
        let listed = ids
            .get(version)
            .unwrap_or_else(|| panic!("{at}: unknown version"));
        assert!(listed.iter().any(|l| l == id), "{at}: not in Appendix B");
        assert!(
            seen.insert((version.to_owned(), id.to_owned())),
            "{at}: listed twice"
        );
        let level = string(statement, "level", &at);
        assert!(LEVELS.contains(&level), "{at}: level {level:?}");
        let binds = string(statement, "binds", &at);
        assert!(BINDS.contains(&binds), "{at}: binds {binds:?}");
        let status = string(statement, "status", &at);
        assert!(STATUSES.contains(&status), "{at}: status {status:?}");
        assert!(
            !string(statement, "summary", &at).trim().is_empty(),
            "{at}: empty summary"
        );
        let tests = strings(statement, "tests", &at);
        let why = statement.get("why").and_then(Value::as_str).unwrap_or("");
        match status {
            "covered" => {
                assert!(!tests.is_empty(), "{at}: covered by no test");
                assert!(
                    statement.get("why").is_none(),
                    "{at}: `why` is for the others"
                );
            }
            "not-applicable" => {
                assert_eq!(
                    binds, "server",
                    "{at}: only server statements are not applicable"
                );
                assert!(
                    tests.is_empty(),
                    "{at}: tests on a statement that does not apply"
                );
            }
            _ => assert!(statement.get("note").is_none(), "{at}: say it in `why`"),
        }
        if status != "covered" {
            assert!(!why.trim().is_empty(), "{at}: {status} needs a `why`");
        }
        if status != "not-applicable" {
            assert_ne!(
                binds, "server",
                "{at}: a server-only statement does not apply"
            );
        }
        for test in tests {
            if let Err(e) = check_test(&root, test, &at) {
                errors.push(e);
            }
        }
        if binds != "server" {
            let entry = figures.get_mut(version).expect("a known version");
            entry.0 += 1;
            entry.1 += usize::from(status == "covered");
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    for (version, listed) in &ids {
        for id in listed {
            assert!(
                seen.contains(&(version.clone(), id.clone())),
                "MQTT {version}: {id} has no statement"
            );
        }
    }
    figures
}

/// The coverage figure for one version, as the READMEs state it.
fn figure_line(version: &str, (total, covered): (usize, usize)) -> String {
    let tenths = (covered * 1000 + total / 2) / total;
    format!(
        "MQTT {version}: {covered} of {total} client-binding statements covered ({}.{}%)",
        tenths / 10,
        tenths % 10
    )
}

#[test]
fn manifest_is_complete_and_its_tests_exist() {
    let manifest = manifest();
    let figures = check(&manifest);
    let mut report = String::from("Conformance coverage (docs/conformance/manifest.toml):\n");
    for (version, counts) in &figures {
        writeln!(report, "  {}", figure_line(version, *counts)).unwrap();
    }
    writeln!(report, "Not yet:").unwrap();
    for statement in statements(&manifest) {
        if statement.get("status").and_then(Value::as_str) == Some("not-yet") {
            let field = |k| statement.get(k).and_then(Value::as_str).unwrap_or("");
            writeln!(
                report,
                "  {} ({}): {}",
                field("id"),
                field("version"),
                field("why")
            )
            .unwrap();
        }
    }
    println!("{report}");
}

/// The figure in each README is the one the manifest gives, so it cannot
/// go stale.
#[test]
fn readmes_state_the_current_figure() {
    let figures = check(&manifest());
    let root = repo_root();
    for readme in ["README.md", "docs/conformance/README.md"] {
        let text = fs::read_to_string(root.join(readme)).expect(readme);
        for (version, counts) in &figures {
            let line = figure_line(version, *counts);
            assert!(text.contains(&line), "{readme} must say: {line}");
        }
    }
}

#[test]
fn ids_are_checked_for_form() {
    for good in [
        "MQTT-1.5.3-1",
        "MQTT-3.1.0-1",
        "MQTT-3.1.2-30",
        "MQTT-4.12.0-7",
    ] {
        assert!(is_well_formed(good), "{good}");
    }
    for bad in [
        "MQTT-3.1.2.7",
        "MQTT-3-8.3-4",
        "MQTT-3.1-1",
        "MQTT-3.1.2-",
        "MQTT-03.1.2-1",
        "MQTT-0.1.2-1",
        "MQTT-3.1.2-0",
        "mqtt-3.1.2-1",
        "MQTT-3.1.2-1a",
    ] {
        assert!(!is_well_formed(bad), "{bad}");
    }
}
