//! [`ContractIdentity`]: what a client says about the contract it was built
//! against (a fingerprint, and one short hash per route), and the comparison a
//! server makes with its own. Needs no schema support: servers built without
//! the `schema` feature still read and strip the parameters.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

#[cfg(test)]
use crate::util::fnv1a;

/// The handshake query parameter carrying the client's contract fingerprint.
pub const CONTRACT_PARAM: &str = "zocket-contract";
/// The handshake query parameter listing the client's routes with their hashes
/// (`name:hash,name:hash`), so a refusal can name the routes that differ.
pub const CONTRACT_ROUTES_PARAM: &str = "zocket-routes";

/// Most route entries read from a client's `zocket-routes` parameter; the rest
/// are ignored (the fingerprint still decides).
const MAX_CLIENT_ROUTES: usize = 4096;

/// The identity of a contract: its fingerprint, and a short hash per route
/// (plus `$handshake` for the handshake data and `$zocket.error`).
///
/// A server compares a connecting client's identity with its own (see
/// [`ContractCheck`]); the TypeScript module and the Rust client carry one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractIdentity {
    pub(crate) fingerprint: String,
    pub(crate) routes: BTreeMap<String, String>,
}

impl ContractIdentity {
    /// The fingerprint: 16 lowercase hex digits, the same for the same contract
    /// on every machine and in every route order.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Each route's wire name (and `$handshake`, `$zocket.error`) with its
    /// 8-hex-digit hash.
    pub fn routes(&self) -> &BTreeMap<String, String> {
        &self.routes
    }

    /// The value of the `zocket-routes` handshake parameter.
    pub fn routes_param(&self) -> String {
        let mut out = String::new();
        for (name, hash) in &self.routes {
            if !out.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "{name}:{hash}");
        }
        out
    }

    /// Parses a client's `zocket-routes` value; malformed entries are skipped.
    pub(crate) fn parse_routes(value: &str) -> BTreeMap<String, String> {
        value
            .split(',')
            .take(MAX_CLIENT_ROUTES)
            .filter_map(|entry| {
                let (name, hash) = entry.rsplit_once(':')?;
                let ok = !name.is_empty()
                    && name.len() <= 256
                    && hash.len() <= 16
                    && hash.bytes().all(|b| b.is_ascii_hexdigit());
                ok.then(|| (name.to_owned(), hash.to_owned()))
            })
            .collect()
    }

    /// The routes on which `client` (a client's route hashes) differs from this
    /// contract, in name order.
    pub(crate) fn diff(&self, client: &BTreeMap<String, String>) -> Vec<RouteDrift> {
        let mut out = Vec::new();
        for (name, hash) in &self.routes {
            match client.get(name) {
                Some(theirs) if theirs == hash => {}
                Some(_) => out.push(RouteDrift::new(name, DriftKind::Changed)),
                None => out.push(RouteDrift::new(name, DriftKind::OnlyOnServer)),
            }
        }
        for name in client.keys().filter(|n| !self.routes.contains_key(*n)) {
            out.push(RouteDrift::new(name, DriftKind::OnlyOnClient));
        }
        out.sort_by(|a, b| a.route.cmp(&b.route));
        out
    }
}

/// How a server treats a client whose contract fingerprint differs from its own.
///
/// Clients that send no fingerprint (plain Zocket clients, browsers using a bare
/// `WebSocket`) are accepted in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ContractCheck {
    /// Log a warning naming the routes that differ, and accept (the default).
    #[default]
    Warn,
    /// Refuse with HTTP 409 and a JSON body naming the routes that differ.
    Strict,
}

/// One route on which a client's contract differs from the server's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteDrift {
    /// The route's wire name (or `$handshake`, `$zocket.error`).
    pub route: String,
    /// How it differs.
    pub change: DriftKind,
}

impl RouteDrift {
    fn new(route: &str, change: DriftKind) -> Self {
        RouteDrift {
            route: route.chars().take(128).collect(),
            change,
        }
    }
}

/// How a route differs between a client's contract and the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DriftKind {
    /// Both have it, with different payload, response or direction.
    Changed,
    /// Only the server has it.
    OnlyOnServer,
    /// Only the client has it.
    OnlyOnClient,
}

impl DriftKind {
    /// The kind as it appears in a 409 body (`"changed"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Changed => "changed",
            DriftKind::OnlyOnServer => "only_on_server",
            DriftKind::OnlyOnClient => "only_on_client",
        }
    }
}

#[cfg_attr(not(feature = "schema"), allow(dead_code))]
/// Writes `value` as JSON with object keys sorted, so equal values give equal
/// text whatever order they were built in.
pub(crate) fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(routes: &[(&str, &str)]) -> ContractIdentity {
        ContractIdentity {
            fingerprint: "0".repeat(16),
            routes: routes
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"y":1,"x":2}],"c":null}}"#).unwrap();
        let mut out = String::new();
        canonical(&a, &mut out);
        assert_eq!(out, r#"{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}"#);
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn routes_param_round_trips_and_diff_names_each_change() {
        let server = identity(&[
            ("a.x", "00000001"),
            ("a.y", "00000002"),
            ("a.z", "00000003"),
        ]);
        let param = server.routes_param();
        assert_eq!(param, "a.x:00000001,a.y:00000002,a.z:00000003");
        assert_eq!(ContractIdentity::parse_routes(&param), server.routes);
        let client =
            ContractIdentity::parse_routes("a.x:00000001,a.y:0000000f,a.w:00000004,bad,:1,x:zz");
        let diff = server.diff(&client);
        let got: Vec<(&str, DriftKind)> =
            diff.iter().map(|d| (d.route.as_str(), d.change)).collect();
        assert_eq!(
            got,
            [
                ("a.w", DriftKind::OnlyOnClient),
                ("a.y", DriftKind::Changed),
                ("a.z", DriftKind::OnlyOnServer)
            ]
        );
    }
}
