//! Recipes: the KDL language in which an image is described (see `docs/recipe.md`).
//!
//! [`load`] reads a recipe file, parses it into the plain-data [`Recipe`] model and checks its host
//! inputs; every problem becomes a [`RecipeError`] with file, line, column, snippet and hint.
//! This module knows nothing of appc types, tracing or archives: the plan step takes a [`Recipe`]
//! from here. Host paths in a recipe are relative to the recipe file's directory, never the cwd.

mod diagnostic;
mod inputs;
mod model;
mod nodes;
mod parse;

use std::path::{Path, PathBuf};

pub use diagnostic::{Located, RecipeError, RecipeErrors, Reporter, did_you_mean, line_col};
pub use inputs::{check_inputs, check_inputs_with};
pub use model::*;
pub use nodes::reference as node_reference;
pub use parse::parse_str;

/// Why a recipe could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// The recipe file could not be read.
    #[error("cannot read recipe {}: {source}", path.display())]
    Read {
        /// The recipe file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The recipe file is not UTF-8.
    #[error("recipe {} is not UTF-8 text", path.display())]
    NotUtf8 {
        /// The recipe file.
        path: PathBuf,
    },
    /// The recipe has problems.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] RecipeErrors),
}

/// Read, parse and check a recipe file (syntax, language rules and, in host mode, host inputs;
/// a recipe with `package` nodes has its inputs checked in its sysroot by the build).
pub fn load(path: &Path) -> Result<Recipe, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let source = String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    let base_dir = recipe_dir(path);
    let recipe = parse_str(&source, path, &base_dir)?;
    if recipe.image.packages.is_empty() {
        check_inputs(&recipe)?;
    }
    Ok(recipe)
}

/// The directory a recipe's relative host paths are resolved against: the file's own directory,
/// made absolute so that later steps never depend on the cwd.
fn recipe_dir(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&parent).unwrap_or(parent)
}
