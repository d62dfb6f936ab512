//! A small hand-written decoder from `serde_json::Value` to the typed manifest structs.
//!
//! Why not `#[derive(Deserialize)]`: the Go reference matches keys case-insensitively (the spec's own
//! prose writes `supplementaryGids`), and we must report every error with its JSON path instead of
//! stopping at the first. Rules of this decoder:
//! - keys match ASCII-case-insensitively; unknown keys are ignored (as Go does);
//! - two keys of one object that are equal or differ only in case are an error (Go keeps the last
//!   one; such input is hostile): the parser ([`super::json`]) refuses them before decoding, and
//!   `Object::get` checks again for values built another way;
//! - `null` means absent, as Go's zero value does;
//! - a struct decodes to `Some` only when nothing under it failed to decode, but its own
//!   cross-field rules (`check_own`) run right away, on stand-ins ("" or empty lists) for what
//!   failed, so independent parts of a document all get checked; findings at or under a path that
//!   failed to decode are then dropped (`Decoder::into_errors`);
//! - a list with an item that could not be decoded at all counts as empty for those rules, so no
//!   finding ever names a shifted index.

use crate::name::{AcIdentifier, AcName};
use crate::validation::{Error, index, join};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Collects errors while decoding; `failures` counts decode failures only (not rule violations).
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    pub(crate) errors: Vec<Error>,
    failures: usize,
    /// Paths that failed to decode: rule checks run on partly decoded structs (with benign
    /// stand-ins for what failed), and [`Decoder::into_errors`] drops their findings under these.
    failed_paths: Vec<String>,
}

/// A position in the failure count, to ask "did anything under this struct fail to decode?".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark(usize);

impl Decoder {
    pub(crate) fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.failures += 1;
        self.failed_paths.push(path.to_owned());
        self.errors.push(Error::new(path, message));
    }

    /// All errors, minus rule findings at or under a path that already failed to decode
    /// (they would only describe the stand-in value).
    pub(crate) fn into_errors(self) -> Vec<Error> {
        let failed = self.failed_paths;
        let under = |p: &str, f: &str| {
            p == f || (p.starts_with(f) && matches!(p.as_bytes().get(f.len()), Some(b'.' | b'[')))
        };
        let mut decode_failures = failed.clone();
        self.errors
            .into_iter()
            .filter(|e| {
                // A decode failure is kept (once per recorded failure); a rule finding only when
                // it is not about something that failed to decode.
                if let Some(i) = decode_failures.iter().position(|f| *f == e.path) {
                    decode_failures.swap_remove(i);
                    return true;
                }
                !failed.iter().any(|f| under(&e.path, f))
            })
            .collect()
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark(self.failures)
    }

    pub(crate) fn clean_since(&self, mark: Mark) -> bool {
        self.failures == mark.0
    }

    pub(crate) fn object<'a>(&mut self, v: &'a Value, path: &str) -> Option<Object<'a>> {
        match v {
            Value::Object(map) => Some(Object {
                map,
                path: path.to_owned(),
            }),
            other => {
                self.fail(path, format!("must be an object, found {}", kind(other)));
                None
            }
        }
    }
}

/// Names a JSON value's type for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object being decoded, with its path.
#[derive(Debug)]
pub(crate) struct Object<'a> {
    map: &'a Map<String, Value>,
    pub(crate) path: String,
}

impl<'a> Object<'a> {
    /// The value under `key` (case-insensitive), `None` when absent or `null`.
    pub(crate) fn get(&self, d: &mut Decoder, key: &str) -> Option<&'a Value> {
        let mut found = self.map.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
        let first = found.next();
        if found.next().is_some() {
            d.fail(
                &self.path_of(key),
                "key given more than once (keys match case-insensitively)",
            );
            return None;
        }
        first.map(|(_, v)| v).filter(|v| !v.is_null())
    }

    /// Whether `key` is present with a non-null value.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_null())
    }

    pub(crate) fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Decodes an optional field; absent gives `None` without error.
    pub(crate) fn field<T>(
        &self,
        d: &mut Decoder,
        key: &str,
        f: impl FnOnce(&mut Decoder, &'a Value, &str) -> Option<T>,
    ) -> Option<T> {
        let v = self.get(d, key)?;
        f(d, v, &self.path_of(key))
    }

    /// Decodes a required field; absent is an error.
    pub(crate) fn required<T>(
        &self,
        d: &mut Decoder,
        key: &str,
        f: impl FnOnce(&mut Decoder, &'a Value, &str) -> Option<T>,
    ) -> Option<T> {
        match self.get(d, key) {
            Some(v) => f(d, v, &self.path_of(key)),
            None => {
                d.fail(&self.path_of(key), "is required");
                None
            }
        }
    }

    /// Decodes an optional list; absent gives an empty list, and so does a list with an item
    /// that could not be decoded at all, so rules over the list never see shifted indices.
    pub(crate) fn list<T>(
        &self,
        d: &mut Decoder,
        key: &str,
        mut f: impl FnMut(&mut Decoder, &'a Value, &str) -> Option<T>,
    ) -> Vec<T> {
        let mut dropped = false;
        let list = self.field(d, key, |d, v, p| {
            array(d, v, p, |d, v, p| {
                let item = f(d, v, p);
                dropped |= item.is_none();
                item
            })
        });
        if dropped {
            Vec::new()
        } else {
            list.unwrap_or_default()
        }
    }
}

pub(crate) fn string(d: &mut Decoder, v: &Value, path: &str) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        other => {
            d.fail(path, format!("must be a string, found {}", kind(other)));
            None
        }
    }
}

/// A string that must not be empty.
pub(crate) fn nonempty_string(d: &mut Decoder, v: &Value, path: &str) -> Option<String> {
    let s = string(d, v, path)?;
    if s.is_empty() {
        d.fail(path, "must not be empty");
        return None;
    }
    Some(s)
}

pub(crate) fn boolean(d: &mut Decoder, v: &Value, path: &str) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        other => {
            d.fail(
                path,
                format!("must be true or false, found {}", kind(other)),
            );
            None
        }
    }
}

/// An integer in `min..=max`.
pub(crate) fn integer(d: &mut Decoder, v: &Value, path: &str, min: i64, max: i64) -> Option<i64> {
    let n = match v {
        Value::Number(n) => n,
        other => {
            d.fail(path, format!("must be an integer, found {}", kind(other)));
            return None;
        }
    };
    let in_range = n.as_i64().filter(|i| (min..=max).contains(i));
    if in_range.is_none() {
        d.fail(
            path,
            format!("must be an integer from {min} to {max}, found {n}"),
        );
    }
    in_range
}

/// A non-negative integer that fits in `u64`.
pub(crate) fn unsigned(d: &mut Decoder, v: &Value, path: &str) -> Option<u64> {
    let n = v.as_u64();
    if n.is_none() {
        d.fail(path, format!("must be a non-negative integer, found {v}"));
    }
    n
}

pub(crate) fn array<'a, T>(
    d: &mut Decoder,
    v: &'a Value,
    path: &str,
    mut f: impl FnMut(&mut Decoder, &'a Value, &str) -> Option<T>,
) -> Option<Vec<T>> {
    match v {
        Value::Array(items) => Some(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| f(d, item, &index(path, i)))
                .collect(),
        ),
        other => {
            d.fail(path, format!("must be an array, found {}", kind(other)));
            None
        }
    }
}

pub(crate) fn identifier(d: &mut Decoder, v: &Value, path: &str) -> Option<AcIdentifier> {
    let s = string(d, v, path)?;
    AcIdentifier::new(&s)
        .map_err(|e| d.fail(path, e.to_string()))
        .ok()
}

pub(crate) fn ac_name(d: &mut Decoder, v: &Value, path: &str) -> Option<AcName> {
    let s = string(d, v, path)?;
    AcName::new(&s)
        .map_err(|e| d.fail(path, e.to_string()))
        .ok()
}

/// A `{string: string}` object (`userAnnotations`, `userLabels`, sysctl values).
pub(crate) fn string_map(
    d: &mut Decoder,
    v: &Value,
    path: &str,
) -> Option<BTreeMap<String, String>> {
    let Value::Object(map) = v else {
        d.fail(
            path,
            format!("must be an object of strings, found {}", kind(v)),
        );
        return None;
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        if let Some(s) = string(d, v, &join(path, k)) {
            out.insert(k.clone(), s);
        }
    }
    Some(out)
}

/// Parses a whole document strictly (see [`super::json`]).
pub(crate) fn parse_document(bytes: &[u8]) -> Result<Value, Error> {
    super::json::parse(bytes).map_err(|e| Error::new(e.path, e.message))
}

/// Whether a path is absolute and free of `..` components.
pub(crate) fn absolute_clean_path_problem(p: &str) -> Option<&'static str> {
    if !p.starts_with('/') {
        Some("must be an absolute path")
    } else if p.split('/').any(|c| c == "..") {
        Some("must not contain `..`")
    } else if p.contains('\0') {
        Some("must not contain NUL")
    } else {
        None
    }
}
