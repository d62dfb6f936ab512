//! Strict JSON parsing for manifests: one JSON value, nothing but whitespace after it, and no key
//! given twice in one object.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `"name":"example.com/app",
//! "name":"evil.com/x"` would be read as `evil.com/x` while a reader that keeps the first sees
//! `example.com/app`. Keys are compared ASCII-case-insensitively, as the manifest decoder matches
//! them (Go's `encoding/json` does the same). Failures say what is wrong — nesting deeper than
//! serde_json's 128-level limit, a number that does not fit a 64-bit float (`1e400`), bytes that
//! are not UTF-8, trailing data — with the line and column.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::validation::{index, join};

/// Why bytes are not an acceptable JSON document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct JsonError {
    /// The JSON path of a duplicate key; empty for syntax errors.
    pub path: String,
    /// What is wrong, with the line and column.
    pub message: String,
}

/// Parses a whole JSON document; see the module docs.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = Strict {
        path: "",
        duplicate: &duplicate,
    };
    seed.deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| match duplicate.take() {
            Some((path, key)) => JsonError {
                path,
                message: format!(
                    "key {key:?} given more than once (keys match case-insensitively), at line {} column {}",
                    e.line(),
                    e.column()
                ),
            },
            None => JsonError {
                path: String::new(),
                message: format!("invalid JSON: {}", describe(&e)),
            },
        })
}

fn describe(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    let what = full.strip_suffix(&at).unwrap_or(&full);
    let what = match what {
        "recursion limit exceeded" => "nested more than 128 levels deep".to_owned(),
        "number out of range" => {
            "number out of range (it does not fit a 64-bit floating-point number)".to_owned()
        }
        "invalid unicode code point" => "not UTF-8 (or an invalid \\u escape)".to_owned(),
        "trailing characters" => "data after the end of the JSON value".to_owned(),
        other => other.to_owned(),
    };
    format!("{what}{at}")
}

/// Builds a `Value`, refusing duplicate keys; `path` names where it is, for messages.
struct Strict<'p> {
    path: &'p str,
    /// Set to the path and key of a duplicate key (the error itself is serde_json's).
    duplicate: &'p RefCell<Option<(String, String)>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict {
            path: &index(self.path, items.len()),
            duplicate: self.duplicate,
        })? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut seen = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            // Paths end up on terminals: control characters in keys are escaped.
            let path = join(self.path, &key.escape_debug().to_string());
            if !seen.insert(key.to_ascii_lowercase()) {
                self.duplicate.replace(Some((path, key)));
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(Strict {
                path: &path,
                duplicate: self.duplicate,
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(bytes: &[u8]) -> String {
        parse(bytes).unwrap_err().to_string()
    }

    #[test]
    fn refuses_exact_and_case_variant_duplicate_keys_with_their_path() {
        let e = err(br#"{"name":"example.com/app","name":"evil.com/x"}"#);
        assert!(e.contains("name: key \"name\" given more than once"), "{e}");
        let e = err(br#"{"app":{"exec":["/a"],"Exec":["/b"]}}"#);
        assert!(
            e.contains("app.Exec: key \"Exec\" given more than once"),
            "{e}"
        );
        let e = err(br#"{"a":[{"x":1,"x":2}]}"#);
        assert!(e.contains("a[0].x"), "{e}");
        let e = err(b"{\"\\u001b[2K\":1,\"\\u001b[2K\":2}");
        assert!(!e.contains('\u{1b}') && e.contains("\\u{1b}[2K"), "{e}");
        // Control: the same keys in different objects are fine.
        let v = parse(br#"{"name":"a","app":{"name":"b"},"l":[{"name":1},{"name":2}]}"#).unwrap();
        assert_eq!(v["app"]["name"], "b");
    }

    #[test]
    fn says_what_is_wrong() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(err(deep.as_bytes()).contains("nested more than 128 levels deep"));
        assert!(parse(("[".repeat(100) + &"]".repeat(100)).as_bytes()).is_ok());
        assert!(err(br#"{"n":1e400}"#).contains("number out of range"));
        assert!(parse(br#"{"n":1e300}"#).is_ok());
        let e = err(b"{\"name\":\"\xff\"}");
        assert!(e.contains("not UTF-8"), "{e}");
        assert!(err(b"{} THIS IS NOT JSON").contains("data after the end of the JSON value"));
        assert!(parse(b"{}  \n").is_ok());
    }
}
