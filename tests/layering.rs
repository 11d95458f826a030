//! The house's layering, checked on the source: every `crate::` path in
//! `src/` (outside comments and the test module at the bottom of a file) is
//! an edge from the top-level module it is written in to the one it names.
//! The test fails when those edges form a cycle, or when one goes up or
//! sideways across the layers:
//!
//! ```text
//! Face (config, io_config, env_flags) → Flow (pipe, service, shutdown)
//!   → IO (source, sink, checkpoint) and Core (scan, redact, policy)
//!   → Formats (format, framing) → Rules (rules)
//! Telemetry (telemetry, stats, diag, findings, workload) beside, usable by all
//! ```
//!
//! Rules are data and import nothing from the engine; IO never decides
//! what is secret (no Core import); the Core knows no files, sockets or
//! tasks (no IO or Flow import); Telemetry imports only Telemetry. A new
//! top-level module must be given a layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each layer and the layers it may import from (itself included).
const LAYERS: &[(&str, &[&str], &[&str])] = &[
    // (layer, its modules, layers it may use)
    (
        "face",
        &["config", "env_flags", "ci", "cli", "packaging"],
        &[
            "face",
            "flow",
            "io",
            "core",
            "formats",
            "rules",
            "telemetry",
        ],
    ),
    (
        "flow",
        &["pipe", "service", "shutdown"],
        &["flow", "io", "core", "formats", "rules", "telemetry"],
    ),
    (
        "io",
        &["source", "sink", "checkpoint"],
        &["io", "formats", "telemetry"],
    ),
    (
        "core",
        &["scan", "redact", "policy"],
        &["core", "formats", "rules", "telemetry"],
    ),
    (
        "formats",
        &["format", "framing"],
        &["formats", "rules", "telemetry"],
    ),
    ("rules", &["rules"], &["rules"]),
    (
        "telemetry",
        &[
            "telemetry",
            "stats",
            "diag",
            "findings",
            "report",
            "workload",
        ],
        &["telemetry"],
    ),
];

fn layer_of(module: &str) -> Option<&'static str> {
    LAYERS
        .iter()
        .find(|(_, modules, _)| modules.contains(&module))
        .map(|(layer, _, _)| *layer)
}

fn may_use(from: &str, to: &str) -> bool {
    LAYERS
        .iter()
        .any(|(layer, _, allowed)| *layer == from && allowed.contains(&to))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None`: the crate
/// root and the binary).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => None,
        Some(stem) => Some(stem.to_string()),
        None => Some(first),
    }
}

/// The code of a file: without comments, and without the `#[cfg(test)]`
/// module that closes it (tests may use anything).
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        let line = match line.find("// ") {
            // A trailing comment (a `//` inside a string literal such as a
            // URL is left alone: it is followed by no space).
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The top-level modules named by `crate::` paths in `code`, grouped
/// imports (`crate::{a::X, b}`) included.
fn targets(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i;
        at = start + "crate::".len();
        if start > 0 && (is_ident(bytes[start - 1]) || bytes[start - 1] == b'$') {
            continue; // `logscrub_crate::`, `$crate::`
        }
        if bytes.get(at) == Some(&b'{') {
            // Grouped: the first identifier of each item at depth 1.
            let mut depth = 0;
            let mut expect_item = true;
            let mut j = at;
            while j < bytes.len() {
                match bytes[j] {
                    b'{' => {
                        depth += 1;
                        if depth == 1 {
                            expect_item = true;
                        }
                    }
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => expect_item = true,
                    b if depth == 1 && expect_item && is_ident(b) => {
                        let end = (j..bytes.len())
                            .find(|&k| !is_ident(bytes[k]))
                            .unwrap_or(bytes.len());
                        found.insert(code[j..end].to_string());
                        expect_item = false;
                        j = end;
                        continue;
                    }
                    _ => {}
                }
                j += 1;
            }
        } else {
            let end = (at..bytes.len())
                .find(|&k| !is_ident(bytes[k]))
                .unwrap_or(bytes.len());
            if end > at {
                found.insert(code[at..end].to_string());
            }
        }
    }
    // Items of the crate root (`crate::VERSION`) are not modules.
    found.retain(|name| name.starts_with(|c: char| c.is_ascii_lowercase()));
    found
}

/// Module → the modules it imports, with one file that shows each edge.
type Graph = BTreeMap<String, BTreeMap<String, PathBuf>>;

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut graph = Graph::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let edges = graph.entry(module.clone()).or_default();
        for target in targets(&code(&text)) {
            if target != module && target != "self" && target != "super" {
                edges.entry(target).or_insert_with(|| file.clone());
            }
        }
    }
    graph
}

/// A cycle of the graph, if it has one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(1) => {
                let from = path.iter().position(|n| n == node).unwrap();
                let mut cycle = path[from..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            Some(_) => return None,
            None => {}
        }
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            if let Some(cycle) = visit(next, graph, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut state, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_import_cycle_between_modules() {
    let graph = graph();
    if let Some(cycle) = find_cycle(&graph) {
        let shown: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("{} → {} ({})", w[0], w[1], graph[&w[0]][&w[1]].display()))
            .collect();
        panic!("import cycle:\n  {}", shown.join("\n  "));
    }
}

#[test]
fn imports_follow_the_layers() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, edges) in &graph {
        let Some(from) = layer_of(module) else {
            wrong.push(format!("module {module} has no layer in tests/layering.rs"));
            continue;
        };
        for (target, file) in edges {
            let Some(to) = layer_of(target) else {
                wrong.push(format!("module {target} has no layer in tests/layering.rs"));
                continue;
            };
            if !may_use(from, to) {
                wrong.push(format!(
                    "{module} ({from}) → {target} ({to}) in {}",
                    file.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "layering broken:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_checker_sees_cycles_and_grouped_imports() {
    // The parser: plain paths, grouped imports, comments and tests ignored.
    let text = "use crate::a::X;\nuse crate::{b::Y, c};\n// crate::d\nlet x = crate::e::f(); // crate::g\n#[cfg(test)]\nmod tests {\n    use crate::h;\n}\n";
    let found: Vec<String> = targets(&code(text)).into_iter().collect();
    assert_eq!(found, ["a", "b", "c", "e"]);
    // The cycle finder.
    let mut graph = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph
            .entry(from.into())
            .or_default()
            .insert(to.into(), PathBuf::from("x.rs"));
    }
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    graph.get_mut("c").unwrap().remove("a");
    assert!(find_cycle(&graph).is_none());
    // The layer table: every layer may use itself, rules use nothing else.
    for (layer, _, allowed) in LAYERS {
        assert!(allowed.contains(layer), "{layer}");
    }
    assert!(!may_use("rules", "core") && !may_use("io", "core") && !may_use("core", "io"));
}
