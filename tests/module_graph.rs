//! The house rules of `src/`, checked on the source itself:
//!
//! - the module-level graph of `crate::` / `super::` references is acyclic;
//! - each floor imports only the floors below it (protocol < engine < app <
//!   server; the client uses protocol only; `util` is below them all);
//! - items are named by their defining module, not through the crate root's
//!   re-exports (which would hide the real edges);
//! - no source file has more than 500 lines before its tests unless its
//!   header says why.
//!
//! It reads files as text: comments are skipped, paths are parsed from `use`
//! trees and from inline `crate::a::b` / `super::a` paths. `super::` is read
//! relative to the file's module, so inside an inline `mod` block write a
//! `crate::` path instead.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Lines before a file's tests that need a written reason beyond them.
const MAX_LINES: usize = 500;

/// A module path such as `engine::hub` (the crate root is `""`).
type Module = String;

struct Source {
    module: Module,
    path: PathBuf,
    code: String,
    text: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).expect("under src/");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    match last.as_str() {
        "lib.rs" | "mod.rs" => {}
        name => parts.push(name.trim_end_matches(".rs").to_owned()),
    }
    parts.join("::")
}

/// The code without comments (a `//` at the start of a line or after white
/// space starts one; `/* */` blocks are removed).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|line| {
            let bytes = line.as_bytes();
            let mut cut = line.len();
            for i in 0..bytes.len().saturating_sub(1) {
                if bytes[i] == b'/'
                    && bytes[i + 1] == b'/'
                    && (i == 0 || bytes[i - 1].is_ascii_whitespace())
                {
                    cut = i;
                    break;
                }
            }
            &line[..cut]
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses a path or use-tree starting at `s` (just after `crate::`,
/// `super::` or `self::`) into every full path it names.
fn paths_at(s: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> (&str, &str) {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (&s[..end], &s[end..])
    }
    fn tree<'a>(mut s: &'a str, prefix: &[String], out: &mut Vec<Vec<String>>) -> &'a str {
        let mut path = prefix.to_vec();
        loop {
            s = s.trim_start();
            if let Some(inner) = s.strip_prefix('{') {
                let mut rest = inner;
                loop {
                    rest = rest.trim_start();
                    if let Some(after) = rest.strip_prefix('}') {
                        return after;
                    }
                    if let Some(after) = rest.strip_prefix(',') {
                        rest = after;
                        continue;
                    }
                    let before = rest.len();
                    rest = tree(rest, &path, out);
                    if rest.len() == before {
                        // Not a path (e.g. `*`): skip one character.
                        rest = &rest[rest.chars().next().map_or(0, char::len_utf8)..];
                    }
                    if rest.is_empty() {
                        return rest;
                    }
                }
            }
            let (name, after) = ident(s);
            if name.is_empty() {
                if path.len() > prefix.len() {
                    out.push(path);
                }
                return s;
            }
            path.push(name.to_owned());
            s = after;
            match s.strip_prefix("::") {
                Some(after) => s = after,
                None => {
                    out.push(path);
                    return s;
                }
            }
        }
    }
    let mut out = Vec::new();
    tree(s, &[], &mut out);
    out
}

fn parent(module: &str) -> Module {
    module
        .rsplit_once("::")
        .map_or(String::new(), |(p, _)| p.to_owned())
}

fn join(base: &str, rest: &[String]) -> Vec<String> {
    let mut v: Vec<String> = if base.is_empty() {
        Vec::new()
    } else {
        base.split("::").map(str::to_owned).collect()
    };
    v.extend(rest.iter().cloned());
    v
}

/// The longest prefix of `path` that is a module.
fn resolve(path: &[String], modules: &BTreeSet<Module>) -> Module {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
        .unwrap_or_default()
}

/// Every module `source` refers to, with the text of the reference.
fn references(source: &Source, modules: &BTreeSet<Module>) -> Vec<(Module, String)> {
    let mut refs = Vec::new();
    let code = &source.code;
    for (keyword, base) in [
        ("crate::", String::new()),
        ("super::", parent(&source.module)),
        ("self::", source.module.clone()),
    ] {
        let mut from = 0;
        while let Some(at) = code[from..].find(keyword) {
            let start = from + at;
            from = start + keyword.len();
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue; // part of a longer path, e.g. `zocket::crate_x::`
            }
            for path in paths_at(&code[from..]) {
                let full = join(&base, &path);
                refs.push((
                    resolve(&full, modules),
                    format!("{keyword}{}", path.join("::")),
                ));
            }
        }
    }
    // Relative `use child::..` of a declared child module.
    for line in code.lines() {
        let line = line.trim_start();
        let Some(rest) = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|p| line.strip_prefix(p))
        else {
            continue;
        };
        for path in paths_at(rest) {
            let full = join(&source.module, &path);
            let child = resolve(&full, modules);
            if child != source.module && child.starts_with(&source.module) {
                refs.push((child, format!("use {}", path.join("::"))));
            }
        }
    }
    refs
}

/// The floor of a module's top folder; `None` for the crate root and test hooks.
fn floor(module: &str) -> Option<f32> {
    match module.split("::").next().unwrap_or("") {
        "util" => Some(0.0),
        "protocol" => Some(1.0),
        "client" => Some(1.5),
        "engine" => Some(2.0),
        "app" => Some(3.0),
        "server" => Some(4.0),
        "testing" => Some(5.0),
        _ => None,
    }
}

fn load() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("read a source file");
            Source {
                module: module_of(&src, &path),
                code: strip_comments(&text),
                text,
                path,
            }
        })
        .collect()
}

fn graph() -> (BTreeMap<Module, BTreeSet<Module>>, Vec<String>) {
    let sources = load();
    let modules: BTreeSet<Module> = sources.iter().map(|s| s.module.clone()).collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let mut problems = Vec::new();
    for source in &sources {
        let from = &source.module;
        let node = edges.entry(from.clone()).or_default();
        if from.is_empty() || from == "fuzzing" {
            continue; // the crate root's catalogue and the fuzz hook see everything
        }
        for (to, text) in references(source, &modules) {
            if to == *from {
                continue;
            }
            if to.is_empty() {
                problems.push(format!(
                    "{}: `{text}` goes through the crate root; name the defining module",
                    source.path.display()
                ));
                continue;
            }
            let (Some(f), Some(t)) = (floor(from), floor(&to)) else {
                continue;
            };
            let same_folder = from.split("::").next() == to.split("::").next();
            let allowed = same_folder
                || if from.starts_with("client") {
                    t <= 1.0
                } else {
                    t < f && !to.starts_with("client")
                };
            if !allowed {
                problems.push(format!(
                    "{}: `{text}` reaches up or across, from floor {f} (`{from}`) to floor {t} (`{to}`)",
                    source.path.display()
                ));
            }
            node.insert(to);
        }
    }
    (edges, problems)
}

/// A cycle in `edges`, if there is one, as the list of modules around it.
fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let at = stack.iter().position(|m| m == next).expect("on the stack");
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, edges, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in edges.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(c) = visit(node, edges, &mut marks, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_module_graph_has_no_cycle() {
    let (edges, _) = graph();
    assert!(edges.len() > 20, "found only {} modules", edges.len());
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn each_floor_imports_only_the_floors_below() {
    let (_, problems) = graph();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_source_file_is_long_without_a_reason() {
    let mut long = Vec::new();
    for source in load() {
        let lines = source
            .text
            .lines()
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .count();
        let explained = source
            .text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .any(|l| l.contains("Longer than 500 lines because"));
        if lines > MAX_LINES && !explained {
            long.push(format!("{} ({lines} lines)", source.path.display()));
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines with no reason at the top: {}",
        long.join(", ")
    );
}

// The checker itself, on small inputs: it must see the edges it is for.

#[test]
fn use_trees_expand_to_every_path() {
    let paths = paths_at("engine::{hub::Hub, conn::{self, Conn}, config::Config};");
    let text: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        text,
        [
            "engine::hub::Hub",
            "engine::conn::self",
            "engine::conn::Conn",
            "engine::config::Config"
        ]
    );
}

#[test]
fn a_planted_cycle_is_found() {
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    edges.entry("c".into()).or_default().insert("a".into());
    let cycle = find_cycle(&edges).expect("a cycle");
    assert_eq!(cycle, ["a", "b", "c", "a"]);
    edges.get_mut("c").expect("c").clear();
    assert!(find_cycle(&edges).is_none());
}

#[test]
fn comments_and_urls_are_not_code() {
    let code =
        strip_comments("let u = \"ws://x\"; // crate::app\n/// crate::engine\nuse crate::util;");
    assert!(code.contains("ws://x"));
    assert!(!code.contains("crate::app"));
    assert!(!code.contains("crate::engine"));
    assert!(code.contains("crate::util"));
}
