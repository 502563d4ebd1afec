//! Reading the JSON Schema that `schemars` writes: references, types,
//! variants, required fields; and the identifiers and string literals of the
//! TypeScript that comes out of it.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Names the generated module itself defines; a payload type with one of them gets a `_`.
const RESERVED: &[&str] = &[
    "Routes",
    "Contract",
    "routeSchemas",
    "contract",
    "z",
    "Handshake",
    "HandshakeSchema",
    "ZocketError",
];

/// A TypeScript identifier for a definition name.
pub(crate) fn ident(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if RESERVED.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

pub(crate) fn quote(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

pub(crate) fn ref_name(schema: &Map<String, Value>) -> Option<String> {
    let r = schema.get("$ref")?.as_str()?;
    r.strip_prefix("#/$defs/").map(ident)
}

pub(crate) fn types_of(schema: &Map<String, Value>) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn variants(schema: &Map<String, Value>) -> Option<&Vec<Value>> {
    schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
}

pub(crate) fn required(s: &Map<String, Value>) -> BTreeSet<&str> {
    s.get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The marker a payload field with a rule no schema can express carries in
/// its JSON Schema: `#[schemars(extend("x-zocket-custom" = "what it checks"))]`
/// next to garde's `custom(..)`.
pub(crate) const CUSTOM_MARKER: &str = "x-zocket-custom";

pub(crate) fn rule_text(rule: &Value) -> String {
    match rule {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `text` on one line, safe inside a comment.
pub(crate) fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace("*/", "* /")
}

/// Calls `f` with the name of every `#/$defs/<name>` reference in `value`.
pub(crate) fn each_ref(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                f(name);
            }
            for v in map.values() {
                each_ref(v, f);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| each_ref(v, f)),
        _ => {}
    }
}
