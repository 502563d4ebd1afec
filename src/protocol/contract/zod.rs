//! zod schemas from JSON Schema: the same rules, checked in TypeScript.
//! Only builders that zod 3 and zod 4 share are used; string lengths are
//! counted in code points (the generated module defines `codePoints`), as
//! JSON Schema and garde's `length(chars, ..)` count.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::jsonschema::{
    CUSTOM_MARKER, one_line, quote, ref_name, required, rule_text, types_of, variants,
};

/// The zod schema of a schema.
pub(crate) fn zod(schema: &Value) -> String {
    let Value::Object(s) = schema else {
        return if schema == &Value::Bool(false) {
            "z.never()".into()
        } else {
            "z.unknown()".into()
        };
    };
    if let Some(name) = ref_name(s) {
        return format!("{name}Schema");
    }
    if let Some(c) = s.get("const") {
        return literal(c);
    }
    if let Some(Value::Array(values)) = s.get("enum") {
        return zod_union(values.iter().map(literal).collect());
    }
    if let Some(vs) = variants(s) {
        let alts = zod_union(vs.iter().map(zod).collect());
        return if s.contains_key("properties") {
            format!("z.intersection({}, {alts})", zod_object(s))
        } else {
            alts
        };
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        let mut parts = all.iter().map(zod);
        let first = parts.next().unwrap_or_else(|| "z.unknown()".into());
        return parts.fold(first, |acc, p| format!("z.intersection({acc}, {p})"));
    }
    let types = types_of(s);
    if types.is_empty() {
        return if s.contains_key("properties") {
            zod_object(s)
        } else {
            "z.unknown()".into()
        };
    }
    let nullable = types.contains(&"null") && types.len() > 1;
    let alts: Vec<String> = types
        .into_iter()
        .filter(|t| !nullable || *t != "null")
        .map(|t| single_zod(t, s))
        .collect();
    let base = zod_union(alts);
    if nullable {
        format!("{base}.nullable()")
    } else {
        base
    }
}

fn literal(v: &Value) -> String {
    if v.is_null() {
        "z.null()".into()
    } else {
        format!("z.literal({v})")
    }
}

fn zod_union(mut alts: Vec<String>) -> String {
    alts.dedup();
    match alts.len() {
        0 => "z.never()".into(),
        1 => alts.remove(0),
        _ => format!("z.union([{}])", alts.join(", ")),
    }
}

fn num(s: &Map<String, Value>, key: &str) -> Option<String> {
    s.get(key).filter(|v| v.is_number()).map(Value::to_string)
}

fn single_zod(t: &str, s: &Map<String, Value>) -> String {
    match t {
        "string" => {
            let mut z = String::from("z.string()");
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                let _ = write!(z, ".regex(new RegExp({}, \"u\"))", quote(p));
            }
            match s.get("format").and_then(Value::as_str) {
                Some("email") => z.push_str(".email()"),
                Some("uri") => z.push_str(".url()"),
                _ => {}
            }
            let min = num(s, "minLength");
            let max = num(s, "maxLength");
            if min.is_some() || max.is_some() {
                let mut tests = Vec::new();
                let mut words = Vec::new();
                if let Some(min) = &min {
                    tests.push(format!("codePoints(s) >= {min}"));
                    words.push(format!("at least {min}"));
                }
                if let Some(max) = &max {
                    tests.push(format!("codePoints(s) <= {max}"));
                    words.push(format!("at most {max}"));
                }
                let _ = write!(
                    z,
                    ".refine((s) => {}, {{ message: {} }})",
                    tests.join(" && "),
                    quote(&format!(
                        "length must be {} characters",
                        words.join(" and ")
                    ))
                );
            }
            z
        }
        "integer" | "number" => {
            let mut z = String::from(if t == "integer" {
                "z.number().int()"
            } else {
                "z.number()"
            });
            for (key, method) in [
                ("minimum", "gte"),
                ("maximum", "lte"),
                ("exclusiveMinimum", "gt"),
                ("exclusiveMaximum", "lt"),
            ] {
                if let Some(n) = num(s, key) {
                    let _ = write!(z, ".{method}({n})");
                }
            }
            z
        }
        "boolean" => "z.boolean()".into(),
        "null" => "z.null()".into(),
        "array" => {
            let mut z = if let Some(Value::Array(prefix)) = s.get("prefixItems") {
                format!(
                    "z.tuple([{}])",
                    prefix.iter().map(zod).collect::<Vec<_>>().join(", ")
                )
            } else {
                let item = s.get("items").map_or_else(|| "z.unknown()".to_owned(), zod);
                format!("z.array({item})")
            };
            if !s.contains_key("prefixItems") {
                if let Some(n) = num(s, "minItems") {
                    let _ = write!(z, ".min({n})");
                }
                if let Some(n) = num(s, "maxItems") {
                    let _ = write!(z, ".max({n})");
                }
            }
            z
        }
        "object" => zod_object(s),
        _ => "z.unknown()".into(),
    }
}

fn zod_object(s: &Map<String, Value>) -> String {
    let required = required(s);
    let props = s.get("properties").and_then(Value::as_object);
    if let Some(extra @ Value::Object(_)) = s.get("additionalProperties")
        && props.is_none_or(Map::is_empty)
    {
        return format!("z.record(z.string(), {})", zod(extra));
    }
    let mut fields = Vec::new();
    if let Some(props) = props {
        for (name, prop) in props {
            let opt = if required.contains(name.as_str()) {
                ""
            } else {
                ".optional()"
            };
            let rule = prop.get(CUSTOM_MARKER).map_or_else(String::new, |rule| {
                format!(
                    "/* the server also checks: {} */ ",
                    one_line(&rule_text(rule))
                )
            });
            fields.push(format!("{rule}{}: {}{opt}", quote(name), zod(prop)));
        }
    }
    let strict = if s.get("additionalProperties") == Some(&Value::Bool(false)) {
        ".strict()"
    } else {
        ""
    };
    format!("z.object({{ {} }}){strict}", fields.join(", "))
}
