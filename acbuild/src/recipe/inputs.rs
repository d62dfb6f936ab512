//! Host checks of a parsed recipe: every input exists and has the kind its node promises.
//!
//! Only metadata and the first bytes of programs are read; the plan and trace steps read the rest.
//! A host path that changes between this check and the build is caught again where it is opened.

use std::fs;
use std::io::Read;
use std::path::Path;

use super::diagnostic::{RecipeErrors, Reporter};
use super::model::{EntryKind, Recipe};

/// Check the recipe's host inputs; every problem is reported against the node's host-path argument.
pub fn check_inputs(recipe: &Recipe) -> Result<(), RecipeErrors> {
    check_inputs_with(recipe, &|p| p.to_path_buf())
}

/// Check the recipe's inputs as read through `locate` (package mode: in the sysroot).
pub fn check_inputs_with(
    recipe: &Recipe,
    locate: &dyn Fn(&Path) -> std::path::PathBuf,
) -> Result<(), RecipeErrors> {
    let mut r = Reporter::new(&recipe.path.display().to_string(), &recipe.source);
    for entry in &recipe.image.entries {
        let (source, node) = match &entry.kind {
            EntryKind::Program { source } => (source, "program"),
            EntryKind::File { source } => (source, "file"),
            EntryKind::Tree { source } => (source, "tree"),
            EntryKind::Dir | EntryKind::Symlink { .. } | EntryKind::Text { .. } => continue,
        };
        let located = locate(&source.value);
        let path = &located;
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(err) => {
                let help = if recipe.image.packages.is_empty() {
                    format!(
                        "relative paths are resolved against the recipe's directory `{}`",
                        recipe.base_dir.display()
                    )
                } else {
                    "no package of the recipe ships it: add the package that does".to_owned()
                };
                r.error(
                    source.span,
                    format!("input `{}` cannot be read: {err}", source.value.display()),
                    "missing input",
                    Some(help),
                );
                continue;
            }
        };
        let problem = match node {
            "tree" if !meta.is_dir() => Some("is not a directory".to_owned()),
            "file" | "program" if !meta.is_file() => Some("is not a regular file".to_owned()),
            "program" => match is_elf(path) {
                Ok(true) => None,
                Ok(false) => Some("is not an ELF program".to_owned()),
                Err(err) => Some(format!("cannot be read: {err}")),
            },
            _ => None,
        };
        if let Some(problem) = problem {
            let help = if node == "program" {
                "copy scripts and data with `file`; `program` traces ELF executables"
            } else {
                "use `file` for files and `tree` for directories"
            };
            r.error(
                source.span,
                format!("`{}` {problem}", source.value.display()),
                "wrong kind of input",
                Some(help.to_owned()),
            );
        }
    }
    r.finish(())
}

fn is_elf(path: &Path) -> std::io::Result<bool> {
    let mut magic = [0u8; 4];
    let mut file = fs::File::open(path)?;
    let mut read = 0;
    while read < magic.len() {
        match file.read(&mut magic[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read == 4 && magic == *b"\x7fELF")
}
