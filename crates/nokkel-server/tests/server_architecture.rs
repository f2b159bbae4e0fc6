#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The server's shape, read from its source (as the OpenAPI test reads the routes):
//!
//! - no import circles between the crate's top-level modules, nor between the children of
//!   `services` or of `http`;
//! - nothing below the HTTP edge imports it back (only the start-up code `serve` and
//!   `lib.rs` may name `http`);
//! - no handler calls the store: everything under `src/http/` goes through a service.
//!
//! The checks are textual on purpose: they see exactly what a reviewer sees, and a
//! handler that is made to call `state.store.…` fails this test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its module path (`["http", "login"]`) and its text.
struct SourceFile {
    module: Vec<String>,
    path: PathBuf,
    text: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn source_files() -> Vec<SourceFile> {
    fn walk(dir: &Path, module: &[String], out: &mut Vec<SourceFile>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut child = module.to_vec();
                child.push(name);
                walk(&path, &child, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut this = module.to_vec();
                if name != "mod" && name != "lib" {
                    this.push(name);
                }
                let text = std::fs::read_to_string(&path).unwrap();
                out.push(SourceFile {
                    module: this,
                    path,
                    text,
                });
            }
        }
    }
    let mut files = Vec::new();
    walk(&src_dir(), &[], &mut files);
    assert!(files.len() > 20, "the sources were not found");
    files
}

/// The source without comments, so prose that names a module is no dependency.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.trim_start() {
            l if l.starts_with("//") => "",
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every module path a file refers to: `crate::a::b…`, `super::a…` (resolved), and the
/// members of `use crate::{a, b}` / `use super::{a, b}` groups.
fn references(file: &SourceFile) -> Vec<Vec<String>> {
    let code = code_of(&file.text);
    let mut found = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", parent_of(&file.module)),
    ] {
        for (at, _) in code.match_indices(prefix) {
            // `nokkel_server::crate::` does not exist; `self::super::` is not used here.
            if at > 0 && code[..at].ends_with(|c: char| is_ident(c) || c == ':') {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            let mut path = base.clone();
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for member in group[..end].split(',') {
                    let name: String = member.trim().chars().take_while(|c| is_ident(*c)).collect();
                    if !name.is_empty() {
                        let mut p = path.clone();
                        p.push(name);
                        found.push(p);
                    }
                }
                continue;
            }
            let segments: String = rest
                .chars()
                .take_while(|c| is_ident(*c) || *c == ':')
                .collect();
            path.extend(
                segments
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            found.push(path);
        }
    }
    found
}

/// The module `super` names from a file of `module` (in a `mod.rs` and in a plain file
/// alike, the parent). Inside a file's `mod tests`, `super` is the file's own module; read
/// as the parent it adds no edge, since references to a module's parent are not counted.
fn parent_of(module: &[String]) -> Vec<String> {
    let mut parent = module.to_vec();
    parent.pop();
    parent
}

/// The child modules of `module` (directories and files below its folder).
fn children_of(files: &[SourceFile], module: &[String]) -> BTreeSet<String> {
    files
        .iter()
        .filter(|f| f.module.len() > module.len() && f.module.starts_with(module))
        .map(|f| f.module[module.len()].clone())
        .collect()
}

/// Edges between the children of `scope` (the top level when `scope` is empty): child A
/// → child B when a file inside A refers to something inside B.
fn graph(files: &[SourceFile], scope: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let children = children_of(files, scope);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        if file.module.len() <= scope.len() || !file.module.starts_with(scope) {
            continue;
        }
        let from = &file.module[scope.len()];
        for reference in references(file) {
            if reference.len() <= scope.len() || !reference.starts_with(scope) {
                continue;
            }
            let to = &reference[scope.len()];
            if to != from && children.contains(to) {
                edges.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    edges
}

/// A cycle in `edges`, if there is one, as the list of nodes around it.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_import_circles_between_server_modules() {
    let files = source_files();
    for scope in [vec![], vec!["services".to_owned()], vec!["http".to_owned()]] {
        let edges = graph(&files, &scope);
        assert!(!edges.is_empty(), "no dependencies found in {scope:?}");
        if let Some(cycle) = find_cycle(&edges) {
            panic!(
                "import circle between the modules of crate::{}: {}",
                scope.join("::"),
                cycle.join(" → ")
            );
        }
    }
}

#[test]
fn nothing_below_the_edge_imports_it() {
    let files = source_files();
    let edges = graph(&files, &[]);
    let importers: Vec<&String> = edges
        .iter()
        .filter(|(from, to)| to.contains("http") && !["serve"].contains(&from.as_str()))
        .map(|(from, _)| from)
        .collect();
    assert!(
        importers.is_empty(),
        "modules below the HTTP edge import it: {importers:?}"
    );
    // The edge itself depends on the services, as it should: the graph sees real imports.
    assert!(edges["http"].contains("services"));
}

/// Calls on the store from a file: `.store.` / `.store\n.` (any whitespace) or `Store::`.
fn store_calls(text: &str) -> usize {
    let squeezed: String = code_of(text).split_whitespace().collect();
    squeezed.matches(".store.").count() + squeezed.matches("Store::").count()
}

#[test]
fn no_handler_calls_the_store() {
    let files = source_files();
    let handlers: Vec<&SourceFile> = files
        .iter()
        .filter(|f| f.module.first().is_some_and(|m| m == "http"))
        .collect();
    assert!(handlers.len() >= 10, "the HTTP edge's files were not found");
    let offenders: Vec<String> = handlers
        .iter()
        .filter(|f| store_calls(&f.text) > 0)
        .map(|f| f.path.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "handlers call the store directly instead of a service: {offenders:?}"
    );
    // The detector itself sees a call written across lines, as rustfmt writes long ones.
    assert_eq!(
        store_calls("let x = state\n    .store\n    .login(id)\n    .await?;"),
        1
    );
    assert!(
        store_calls(
            &files
                .iter()
                .find(|f| f.module == ["services", "login"])
                .unwrap()
                .text
        ) > 0
    );
}
