//! Text forms of a [`Closure`]: one path per line, a `lddtree`-like tree, and JSON.

use std::collections::HashSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::Closure;

/// Every path, one per line, sorted.
pub fn paths(closure: &Closure) -> String {
    closure
        .paths()
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect()
}

/// Who needs whom, per program; each object is expanded once per program.
pub fn tree(closure: &Closure) -> String {
    let mut out = String::new();
    for program in closure.programs() {
        let mut expanded = HashSet::new();
        let node = closure.graph().get(program);
        match node.and_then(|n| n.interpreter.as_ref()) {
            Some(interp) => {
                let _ = writeln!(
                    out,
                    "{} (interpreter => {})",
                    program.display(),
                    interp.display()
                );
            }
            None => {
                let _ = writeln!(out, "{}", program.display());
            }
        }
        expand(closure, program, 1, &mut expanded, &mut out);
        if let Some(interp) = node.and_then(|n| n.interpreter.as_ref())
            && closure
                .graph()
                .get(interp)
                .is_some_and(|n| n.interpreter.is_some())
        {
            expand(closure, interp, 1, &mut expanded, &mut out);
        }
    }
    out
}

fn expand(
    closure: &Closure,
    object: &Path,
    depth: usize,
    expanded: &mut HashSet<PathBuf>,
    out: &mut String,
) {
    if !expanded.insert(object.to_path_buf()) {
        return;
    }
    let Some(node) = closure.graph().get(object) else {
        return;
    };
    for need in &node.needs {
        let indent = "    ".repeat(depth);
        match &need.path {
            Some(path) => {
                let _ = writeln!(out, "{indent}{} => {}", need.name, path.display());
                if !expanded.contains(path) {
                    expand(closure, path, depth + 1, expanded, out);
                }
            }
            None => {
                let _ = writeln!(out, "{indent}{} => not found", need.name);
            }
        }
    }
}

/// The closure as pretty JSON: programs, paths, graph, hints (typed) and missing needs.
pub fn json(closure: &Closure) -> String {
    // Serialising plain maps, sets and strings cannot fail.
    serde_json::to_string_pretty(closure).unwrap_or_default() + "\n"
}
