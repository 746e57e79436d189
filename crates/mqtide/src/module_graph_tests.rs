//! The arrows between this crate's top-level modules run one way: the
//! user-facing side (`connect`, `client`, `options`, `request`, `oneshot`)
//! depends on what it sends (`command`), and the event loop on what it
//! drives (`command`, `router`, `store`, `transport`), never the reverse.
//! This test reads the sources, lists every `crate::…` and `super::…`
//! reference that leaves a top-level module (comments aside), and fails on
//! a cycle or on one of the arrows named below.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Arrows that would tie the two sides together again (and which no cycle
/// check would catch, while the other direction is absent).
const FORBIDDEN: &[(&str, &str)] = &[
    ("event_loop", "client"),
    ("event_loop", "options"),
    ("event_loop", "connect"),
    ("command", "client"),
    ("command", "options"),
    ("command", "event_loop"),
    ("client", "event_loop"),
    ("options", "client"),
    ("options", "event_loop"),
    ("transport", "event_loop"),
];

type Graph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// Every edge `from → to`, with where it is (file:line).
fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let modules: BTreeSet<String> = fs::read_dir(src)
        .expect("read src")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_stem()?.to_str()?.to_owned();
            (path.is_dir() || path.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|name| name != "lib")
        .collect();
    let mut graph = Graph::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let mut path: Vec<String> = rel
            .with_extension("")
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        if path
            .last()
            .is_some_and(|last| last == "mod" || last == "lib")
        {
            path.pop();
        }
        let Some(me) = path.first().cloned() else {
            continue; // lib.rs: the root re-exports everything.
        };
        let text = fs::read_to_string(&file).expect("read source");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for to in references(code, &path) {
                if to != me && modules.contains(&to) {
                    let at = format!("{}:{}", rel.display(), number + 1);
                    graph
                        .entry(me.clone())
                        .or_default()
                        .entry(to)
                        .or_default()
                        .push(at);
                }
            }
        }
    }
    graph
}

/// The top-level modules one line of code names.
fn references(code: &str, path: &[String]) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            found.extend(group.split(',').map(|item| ident(item.trim())));
        } else {
            found.push(ident(rest));
        }
    }
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        let before = &rest[..i];
        let mut ups = 0;
        let mut tail = &rest[i..];
        while let Some(next) = tail.strip_prefix("super::") {
            ups += 1;
            tail = next;
        }
        // `super` in a file `a/b.rs` (path [a, b]) is `a`: the top-level
        // module is left only when every level is climbed.
        if !before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            if ups < path.len() {
                found.push(path[0].clone());
            } else {
                found.push(ident(tail));
            }
        }
        rest = tail;
    }
    found
}

/// A cycle through `start`, if there is one.
fn cycle_from(graph: &Graph, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(trail) = stack.pop() {
        let last = trail.last()?;
        for next in graph.get(last).into_iter().flat_map(BTreeMap::keys) {
            if next == start {
                let mut cycle = trail.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = trail.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn the_modules_depend_on_each_other_one_way() {
    let graph = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let edges = |from: &str, to: &str| graph.get(from).and_then(|t| t.get(to));
    assert!(
        edges("connect", "event_loop").is_some(),
        "the check finds no edges: {graph:#?}"
    );
    for (from, to) in FORBIDDEN {
        if let Some(at) = edges(from, to) {
            panic!("{from} must not depend on {to}, but does at {at:?}");
        }
    }
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module) {
            let at: Vec<_> = cycle
                .windows(2)
                .map(|w| format!("{} -> {} ({})", w[0], w[1], graph[&w[0]][&w[1]][0]))
                .collect();
            panic!("the modules form a cycle: {}", at.join(", "));
        }
    }
}
