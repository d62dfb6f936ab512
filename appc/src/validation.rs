//! The error type of manifest parsing and validation.
//!
//! A manifest is checked as a whole and every broken rule is reported, each with the JSON path of the
//! offending value (`app.mountPoints[1].path`) and the rule it breaks. [`Errors`] is never empty.

use std::fmt;

/// One broken rule: where (`path`, a JSON path such as `app.ports[0].port`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// JSON path of the offending value; empty for the document itself.
    pub path: String,
    /// What is wrong, phrased as the rule (`must be absolute`).
    pub message: String,
}

impl Error {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A non-empty list of [`Error`]s, in document order. Displays one `path: message` per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(Vec<Error>);

impl Errors {
    /// `Ok(())` when `errors` is empty, the list otherwise.
    pub fn check(errors: Vec<Error>) -> Result<(), Errors> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Errors(errors))
        }
    }

    /// The errors, never empty.
    pub fn as_slice(&self) -> &[Error] {
        &self.0
    }

    /// Iterates the errors in document order.
    pub fn iter(&self) -> std::slice::Iter<'_, Error> {
        self.0.iter()
    }

    /// Whether some error sits at exactly `path`.
    pub fn has_path(&self, path: &str) -> bool {
        self.0.iter().any(|e| e.path == path)
    }
}

impl From<Error> for Errors {
    fn from(e: Error) -> Self {
        Errors(vec![e])
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

impl IntoIterator for Errors {
    type Item = Error;
    type IntoIter = std::vec::IntoIter<Error>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Errors {
    type Item = &'a Error;
    type IntoIter = std::slice::Iter<'a, Error>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Joins a JSON path and a key: `join("app", "ports")` is `app.ports`, `join("", "name")` is `name`.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Appends an index: `index("app.ports", 1)` is `app.ports[1]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}
