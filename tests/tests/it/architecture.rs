//! The invariants ARCHITECTURE.md states about the code's shape, read from the code itself:
//! `core` depends on no chat SDK, queue or SMTP crate (from `cargo metadata`), and no module
//! imports another that imports it back (from the source of every crate).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package sits in the workspace")
        .to_path_buf()
}

/// Crates `core` must never pull in, directly or through another crate: it is the domain, and
/// front-ends and the worker bring the chat SDKs, the queue and email.
const NOT_IN_CORE: &[&str] = &[
    "serenity",
    "teloxide",
    "teloxide-core",
    "apalis",
    "apalis-core",
    "apalis-redis",
    "apalis-sqlite",
    "apalis-cron",
    "redis",
    "lettre",
];

/// This machine's target triple: `cargo metadata` resolves only its dependencies, so it needs
/// no crate that is not built here (and so no network).
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host")
}

#[test]
fn core_depends_on_no_chat_sdk_queue_or_smtp_crate() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
        ])
        .arg(host_triple())
        .current_dir(workspace())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes = meta["resolve"]["nodes"].as_array().expect("resolve graph");
    let deps_of = |id: &str| -> Vec<String> {
        nodes
            .iter()
            .find(|n| n["id"].as_str() == Some(id))
            .and_then(|n| n["deps"].as_array())
            .map(|deps| {
                deps.iter()
                    // Only what the library itself links: not its tests' or build scripts'.
                    .filter(|d| {
                        d["dep_kinds"]
                            .as_array()
                            .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
                    })
                    .filter_map(|d| d["pkg"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let core = names
        .iter()
        .find(|(_, name)| **name == "mentorops-core")
        .map(|(id, _)| id.to_string())
        .expect("mentorops-core is in the workspace");
    let mut seen = BTreeSet::new();
    let mut todo = vec![core];
    while let Some(id) = todo.pop() {
        for dep in deps_of(&id) {
            if seen.insert(dep.clone()) {
                todo.push(dep);
            }
        }
    }
    let linked: BTreeSet<&str> = seen
        .iter()
        .filter_map(|id| names.get(id.as_str()).copied())
        .collect();
    assert!(
        linked.contains("sqlx"),
        "the walk found core's own dependencies: {linked:?}"
    );
    let wrong: Vec<&&str> = NOT_IN_CORE
        .iter()
        .filter(|n| linked.contains(**n))
        .collect();
    assert!(wrong.is_empty(), "mentorops-core links {wrong:?}");
}

/// The modules of one crate: `a::b` → its file.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<String, PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "bin") {
                    walk(&path, src, out);
                }
                continue;
            }
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap_or(&path).with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// The code of a file without comments, string contents and its unit tests.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        // A quote as a character literal would read as the start of a string.
        let line = line.replace("'\"'", "' '").replace("'\\\"'", "' '");
        let line = line.split("//").next().unwrap_or_default();
        let mut in_string = false;
        let mut escaped = false;
        for c in line.chars() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                    out.push('"');
                }
                continue;
            }
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
        out.push('\n');
    }
    out
}

/// Which modules each module of a crate uses: every path in its code (`crate::a::b`,
/// `super::x`, `self::y`, or one that starts with a top-level module's name, as an imported
/// module is written) resolved to the longest module it names. A module's use of its own
/// submodules is left out: `mod.rs` declaring and re-exporting its children is how Rust lays
/// out a module, not a dependency back.
fn uses(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(src);
    let tops: BTreeSet<String> = mods
        .keys()
        .filter_map(|m| {
            m.split("::")
                .next()
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        })
        .collect();
    let mut graph = BTreeMap::new();
    for (module, path) in &mods {
        let here: Vec<&str> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").collect()
        };
        let code = code_of(&std::fs::read_to_string(path).unwrap_or_default());
        let mut edges = BTreeSet::new();
        let words: Vec<&str> = code
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| w.contains("::"))
            .collect();
        for word in words {
            let segs: Vec<&str> = word.split("::").filter(|s| !s.is_empty()).collect();
            let Some(first) = segs.first() else { continue };
            let full: Vec<&str> = match *first {
                "crate" => segs[1..].to_vec(),
                "self" => here
                    .iter()
                    .copied()
                    .chain(segs[1..].iter().copied())
                    .collect(),
                "super" => {
                    let ups = segs.iter().take_while(|s| **s == "super").count();
                    let keep = here.len().saturating_sub(ups);
                    here[..keep]
                        .iter()
                        .copied()
                        .chain(segs[ups..].iter().copied())
                        .collect()
                }
                t if tops.contains(t) && !word.starts_with("::") => segs.clone(),
                _ => continue,
            };
            let target = (1..=full.len())
                .rev()
                .map(|k| full[..k].join("::"))
                .find(|m| mods.contains_key(m));
            if let Some(target) = target
                && target != *module
                && !(module.is_empty() || target.starts_with(&format!("{module}::")))
            {
                edges.insert(target);
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

/// The module cycles of a graph (strongly connected components of more than one module).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for m in graph.keys() {
        if !reachable[m].contains(m) || found.iter().any(|c| c.contains(m)) {
            continue;
        }
        let cycle: Vec<String> = graph
            .keys()
            .filter(|o| reachable[m].contains(*o) && reachable[*o].contains(m))
            .cloned()
            .collect();
        found.push(cycle);
    }
    found
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    for krate in ["core", "bot", "worker"] {
        let graph = uses(&workspace().join(krate).join("src"));
        assert!(graph.len() > 5, "{krate}: found its modules");
        let found = cycles(&graph);
        assert!(
            found.is_empty(),
            "{krate}: modules that import each other: {}",
            found
                .iter()
                .map(|c| c.join(" ↔ "))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_string(), to.into_iter().map(str::to_string).collect()))
    .collect();
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
}

#[test]
fn the_import_reader_sees_paths_in_code_and_not_in_comments_or_strings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("x")).expect("dir");
    std::fs::write(src.join("lib.rs"), "pub mod x;\npub mod y;\n").expect("lib");
    std::fs::write(src.join("x/mod.rs"), "pub mod z;\nuse crate::y::Thing;\n").expect("x");
    std::fs::write(
        src.join("x/z.rs"),
        "// crate::y::not_this\nfn f() { let _ = \"y::nor_this\"; super::super::y::g(); }\n",
    )
    .expect("z");
    std::fs::write(src.join("y.rs"), "use crate::x::z;\n").expect("y");
    let graph = uses(src);
    assert_eq!(graph["x"], BTreeSet::from(["y".to_string()]));
    assert_eq!(graph["x::z"], BTreeSet::from(["y".to_string()]));
    assert_eq!(graph["y"], BTreeSet::from(["x::z".to_string()]));
    assert_eq!(
        cycles(&graph),
        vec![vec!["x::z".to_string(), "y".to_string()]]
    );
}
