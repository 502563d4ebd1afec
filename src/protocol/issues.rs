//! Issues: what is wrong with a payload or handshake, field by field, named
//! as the wire names the fields (serde's renames, nested paths, indices),
//! whichever check found it (serde while decoding, garde while validating).

use std::fmt;

use crate::protocol::wire::{Issue, MAX_ISSUES, excerpt};

/// The issues in a garde report, each field bounded, at most [`MAX_ISSUES`].
/// garde names fields as they are in Rust (`room_id`); with `input`, the
/// value as it came, each path is written as it is on the wire (`roomId`,
/// after serde's `rename`/`rename_all`), see [`wire_path`].
pub(crate) fn issues_of(report: &garde::Report, input: Option<&serde_json::Value>) -> Vec<Issue> {
    let mut issues: Vec<Issue> = report
        .iter()
        .take(MAX_ISSUES)
        .map(|(path, error)| {
            let rust = path.to_string();
            let path = match input {
                Some(input) => wire_path(&rust, input),
                None => rust,
            };
            Issue {
                path: excerpt(&path),
                message: excerpt(error.message()),
            }
        })
        .collect();
    let total = report.iter().count();
    if total > MAX_ISSUES {
        issues.push(Issue {
            path: String::new(),
            message: format!("and {} more issues", total - MAX_ISSUES),
        });
    }
    issues
}

/// Turns a serde error into an issue; `at` is where it happened as a wire
/// path (from [`Payload::json_error_path`](crate::Payload), empty if unknown).
/// The message may quote the offending value: it is cut to an excerpt. A
/// missing, unknown or duplicate field is named in the message: the path
/// then ends with that field (`items[2].roomId` for a `roomId` missing in the
/// third item).
pub(crate) fn issue_of_json(err: &impl fmt::Display, at: &str) -> Issue {
    let message = excerpt(&err.to_string());
    let field = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let path = match field {
        // serde_path_to_error stops at the object that lacks the field.
        Some(field) if at.is_empty() => field.to_owned(),
        Some(field) if !at.ends_with(field) => format!("{at}.{field}"),
        _ => at.to_owned(),
    };
    Issue {
        path: excerpt(&path),
        message,
    }
}

/// A garde path (Rust field names: `items[2].room_id`) written as the wire
/// has it, by walking `input` (the value as it came): a segment that is not
/// a key of the object there takes the key that differs from it only in case
/// and `_`/`-` (what serde's `rename_all` does), when exactly one does.
/// Indices and map keys stay as they are; a segment with no match (an
/// explicit `rename` to another word) keeps its Rust name.
pub(crate) fn wire_path(rust: &str, input: &serde_json::Value) -> String {
    fn loose(s: &str) -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    }
    let mut out = String::with_capacity(rust.len());
    let mut at = Some(input);
    let mut rest = rust;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            // An index or a map key, as it is.
            let end = after.find(']').map_or(after.len(), |e| e + 1);
            let inner = &after[..end.saturating_sub(1)];
            at = at.and_then(|v| match v {
                serde_json::Value::Array(items) => {
                    inner.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                serde_json::Value::Object(map) => map.get(inner),
                _ => None,
            });
            out.push('[');
            out.push_str(&after[..end.min(after.len())]);
            rest = &after[end.min(after.len())..];
            continue;
        }
        let segment_start = rest.strip_prefix('.').unwrap_or(rest);
        let end = segment_start
            .find(['.', '['])
            .unwrap_or(segment_start.len());
        let segment = &segment_start[..end];
        rest = &segment_start[end..];
        let wire = match at {
            Some(serde_json::Value::Object(map)) if !map.contains_key(segment) => {
                let wanted = loose(segment);
                let mut candidates = map.keys().filter(|k| loose(k) == wanted);
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => only.as_str(),
                    _ => segment,
                }
            }
            _ => segment,
        };
        at = at.and_then(|v| v.get(wire));
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(wire);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::protocol::wire::MAX_EXCERPT;

    #[test]
    fn garde_paths_are_written_as_the_wire_names_them() {
        let input = serde_json::json!({
            "roomId": "x", "member-list": [{"displayName": "a"}, {"displayName": "b"}],
            "byName": {"some_key": {"userId": 1}}, "exact_name": 1,
        });
        assert_eq!(wire_path("room_id", &input), "roomId");
        assert_eq!(
            wire_path("member_list[1].display_name", &input),
            "member-list[1].displayName"
        );
        assert_eq!(
            wire_path("by_name[some_key].user_id", &input),
            "byName[some_key].userId"
        );
        assert_eq!(wire_path("exact_name", &input), "exact_name");
        // No match (an explicit rename to another word), or not an object: kept.
        assert_eq!(wire_path("other", &input), "other");
        assert_eq!(wire_path("room_id.deeper", &input), "roomId.deeper");
        assert_eq!(wire_path("", &input), "");
        // Two keys that differ only in case: ambiguous, kept.
        let twins = serde_json::json!({"roomId": 1, "room_id": 2, "ROOMID": 3});
        assert_eq!(wire_path("room_id", &twins), "room_id");
        let twins = serde_json::json!({"roomId": 1, "ROOMID": 3});
        assert_eq!(wire_path("room_id", &twins), "room_id");
    }

    #[test]
    fn json_issues_name_the_field_when_serde_does() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct T {
            name: String,
        }
        let err = serde_json::from_str::<T>("{}").unwrap_err();
        assert_eq!(issue_of_json(&err, "").path, "name");
        let err = serde_json::from_str::<T>(r#"{"name": 5}"#).unwrap_err();
        assert_eq!(issue_of_json(&err, "").path, "");
    }

    #[test]
    fn client_text_is_cut_to_an_excerpt() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(100); // 200 bytes
        let cut = excerpt(&long);
        assert!(cut.len() <= MAX_EXCERPT, "{}", cut.len());
        assert!(cut.ends_with('…'));
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct T {
            flag: bool,
        }
        let huge = format!(r#"{{"flag": "{}"}}"#, "x".repeat(60_000));
        let issue = issue_of_json(&serde_json::from_str::<T>(&huge).unwrap_err(), "");
        assert!(
            issue.message.len() <= MAX_EXCERPT,
            "{}",
            issue.message.len()
        );
        assert!(
            issue.message.starts_with("invalid type: string"),
            "{}",
            issue.message
        );
    }
}
