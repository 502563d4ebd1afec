//! [`Contract`]: every route of a router with the JSON Schema of its payload,
//! the handshake data's schema, the error route's schema; as a JSON document,
//! a TypeScript module, and a fingerprint.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::entry::{Parts, RouteContract, direction_name, split_outcome};
use super::identity::{ContractIdentity, canonical};
use super::jsonschema::each_ref;
use crate::protocol::route::{ERROR_ROUTE, REPLY_ROUTE};
use crate::protocol::router::describe::{Describe, describe};
use crate::protocol::wire::ErrorPayload;
use crate::util::fnv1a;

/// The name under which the handshake data appears in a contract's route hashes.
pub(crate) const HANDSHAKE_ENTRY: &str = "$handshake";

/// The contract of a router: what a client in any language needs to talk to it.
///
/// Built from the router type alone (`Contract::of::<R, _>()`), plus the
/// handshake data type if the app has one. Every payload type must implement
/// `schemars::JsonSchema` (derive it next to `Serialize, Deserialize, Validate`;
/// the derive reads `#[serde]` renames and the `#[garde]` rules `length`,
/// `range`, `pattern`, `email` and `url`).
///
/// ```
/// use garde::Validate;
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
/// use zocket::contract::Contract;
/// use zocket::{Incoming, Outgoing};
///
/// #[derive(Serialize, Deserialize, Validate, JsonSchema)]
/// struct Text {
///     #[garde(length(chars, min = 1, max = 500))]
///     text: String,
/// }
/// struct Post;
/// impl Incoming for Post {
///     const NAME: &'static str = "post";
///     type Payload = Text;
/// }
/// struct OnPost;
/// impl Outgoing for OnPost {
///     const NAME: &'static str = "onPost";
///     type Payload = Text;
/// }
///
/// let contract = Contract::of::<(Post, (OnPost, ())), _>();
/// let doc = contract.to_json();
/// assert_eq!(doc["routes"][0]["name"], "onPost");
/// assert_eq!(doc["$defs"]["Text"]["properties"]["text"]["maxLength"], 500);
/// assert!(contract.typescript().contains("\"post\": Text;"));
/// assert_eq!(contract.fingerprint().len(), 16);
/// ```
#[derive(Debug, Clone)]
pub struct Contract {
    routes: Vec<RouteContract>,
    handshake: Option<Value>,
    definitions: Map<String, Value>,
    error: Value,
}

fn generator() -> SchemaGenerator {
    SchemaGenerator::new(SchemaSettings::draft2020_12())
}

impl Contract {
    /// The contract of router `R` (`Shape` is inferred: write `Contract::of::<R, _>()`).
    pub fn of<R: Describe<Shape>, Shape>() -> Contract {
        let mut generator = generator();
        let mut routes: Vec<RouteContract> = describe::<R, Shape>(&mut generator)
            .into_iter()
            .map(|r| {
                let (response, error) = split_outcome(r.response.map(|s| s.to_value()));
                RouteContract {
                    name: r.name,
                    direction: r.direction,
                    payload: r.payload.to_value(),
                    response,
                    error,
                }
            })
            .collect();
        routes.sort_by(|a, b| a.name.cmp(&b.name));
        let error = generator.subschema_for::<ErrorPayload>().to_value();
        let definitions = generator.take_definitions(true);
        Contract {
            routes,
            handshake: None,
            definitions,
            error,
        }
    }

    /// Adds the handshake data type `H` (the headers type of `on_connect`):
    /// sent by clients as query parameters, every value a string. `()` (no
    /// handshake data) leaves the contract as it is.
    pub fn with_handshake<H: JsonSchema>(mut self) -> Contract {
        let mut generator = generator();
        let schema = generator.subschema_for::<H>().to_value();
        if schema == json!({ "type": "null" }) {
            return self;
        }
        for (name, def) in generator.take_definitions(true) {
            self.definitions.entry(name).or_insert(def);
        }
        self.handshake = Some(schema);
        self
    }

    /// The routes, sorted by wire name.
    pub fn routes(&self) -> &[RouteContract] {
        &self.routes
    }

    /// The schema of the handshake data, if [`with_handshake`](Self::with_handshake) gave one.
    pub fn handshake(&self) -> Option<&Value> {
        self.handshake.as_ref()
    }

    /// Named type definitions referenced as `#/$defs/<Name>` by the schemas.
    pub fn definitions(&self) -> &Map<String, Value> {
        &self.definitions
    }

    /// The fingerprint: 16 hex digits, equal for equal contracts whatever the
    /// order of the router's routes or the machine.
    pub fn fingerprint(&self) -> String {
        self.identity().fingerprint
    }

    /// The fingerprint and per-route hashes a client sends in its handshake.
    pub fn identity(&self) -> ContractIdentity {
        let mut routes = BTreeMap::new();
        let mut all = String::new();
        for (name, entry) in self.entries() {
            let mut text = String::new();
            canonical(&entry, &mut text);
            routes.insert(
                name.clone(),
                format!("{:08x}", fnv1a(text.as_bytes()) >> 32),
            );
            all.push_str(&name);
            all.push('\n');
            all.push_str(&text);
            all.push('\n');
        }
        ContractIdentity {
            fingerprint: format!("{:016x}", fnv1a(all.as_bytes())),
            routes,
        }
    }

    /// Each hashed entry: a route (or the handshake, or the error route) with
    /// every definition it reaches, so a change in a nested type changes the
    /// hash of every route that uses it.
    fn entries(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for route in &self.routes {
            let mut entry = json!({
                "direction": direction_name(route.direction),
                "payload": route.payload,
            });
            if let Some(response) = &route.response {
                entry["response"] = response.clone();
            }
            if let Some(error) = &route.error {
                entry["error"] = error.clone();
            }
            out.push((route.name.clone(), self.with_reached_defs(entry)));
        }
        if let Some(handshake) = &self.handshake {
            out.push((
                HANDSHAKE_ENTRY.to_owned(),
                self.with_reached_defs(json!({ "schema": handshake })),
            ));
        }
        out.push((
            ERROR_ROUTE.to_owned(),
            self.with_reached_defs(json!({ "payload": self.error })),
        ));
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn with_reached_defs(&self, mut entry: Value) -> Value {
        let mut reached = BTreeSet::new();
        let mut stack = vec![entry.clone()];
        while let Some(value) = stack.pop() {
            each_ref(&value, &mut |name| {
                if reached.insert(name.to_owned())
                    && let Some(def) = self.definitions.get(name)
                {
                    stack.push(def.clone());
                }
            });
        }
        let defs: Map<String, Value> = reached
            .into_iter()
            .filter_map(|name| self.definitions.get(&name).map(|d| (name, d.clone())))
            .collect();
        entry["$defs"] = Value::Object(defs);
        entry
    }

    /// The contract as one JSON document:
    ///
    /// ```json
    /// {"zocket": 1, "fingerprint": "…", "routes": [{"name": "chat.send",
    ///   "direction": "incoming", "payload": {…}, "hash": "…"}, …],
    ///  "handshake": {…} | null, "errorRoute": {"name": "$zocket.error", "payload": {…}},
    ///  "replyRoute": "$zocket.reply", "$defs": {…}}
    /// ```
    pub fn to_json(&self) -> Value {
        let identity = self.identity();
        let routes: Vec<Value> = self
            .routes
            .iter()
            .map(|r| {
                let mut v = json!({
                    "name": r.name,
                    "direction": direction_name(r.direction),
                    "payload": r.payload,
                    "hash": identity.routes[&r.name],
                });
                if let Some(response) = &r.response {
                    v["response"] = response.clone();
                }
                if let Some(error) = &r.error {
                    v["error"] = error.clone();
                }
                v
            })
            .collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "zocket": 1,
            "fingerprint": identity.fingerprint,
            "routes": routes,
            "handshake": self.handshake,
            "errorRoute": { "name": ERROR_ROUTE, "payload": self.error },
            "replyRoute": REPLY_ROUTE,
            "$defs": self.definitions,
        })
    }

    /// The contract as a TypeScript module: a type per payload, the route map
    /// `Routes`, the one `Contract` type the typed client (npm package
    /// `zocket-rs`, in `clients/ts/`) takes, zod schemas mirroring the
    /// validation rules, and the contract's identity as the value `contract`.
    /// It imports `zod` (version 4; only builders that zod 3 has too).
    pub fn typescript(&self) -> String {
        super::typescript::emit(&Parts {
            routes: &self.routes,
            definitions: &self.definitions,
            handshake: self.handshake.as_ref(),
            error: &self.error,
            identity: &self.identity(),
        })
    }

    /// Writes [`typescript`](Self::typescript) to `path` (creating its
    /// folder) unless the file already holds exactly that; `Ok(true)` when it
    /// wrote. For a build step or a small binary; in a test, use
    /// [`assert_typescript`](Self::assert_typescript).
    ///
    /// # Errors
    ///
    /// When the file cannot be read or written.
    pub fn write_typescript(&self, path: impl AsRef<Path>) -> std::io::Result<bool> {
        let path = path.as_ref();
        let module = self.typescript();
        if std::fs::read_to_string(path).is_ok_and(|old| old == module) {
            return Ok(false);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, module)?;
        Ok(true)
    }

    /// Checks, in a test, that the committed TypeScript module at `path`
    /// (relative to the current directory: the package's root under `cargo
    /// test`) is this contract's, so a front end never builds against a
    /// stale one. One line in a test:
    ///
    /// ```no_run
    /// # use zocket::contract::Contract;
    /// # type AppRouter = ();
    /// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct Hello { name: String }
    /// #[test]
    /// fn the_front_ends_contract_is_up_to_date() {
    ///     Contract::of::<AppRouter, _>()
    ///         .with_handshake::<Hello>()
    ///         .assert_typescript("web/src/contract.ts");
    /// }
    /// ```
    ///
    /// When the file is missing or differs, the test fails naming the file,
    /// the first line that differs and the command that rewrites it:
    /// `ZOCKET_UPDATE_CONTRACT=1 cargo test`, which writes the file and passes
    /// (never when `CI` is set: CI checks, it does not write).
    ///
    /// # Panics
    ///
    /// When the file is stale or missing (that is the check), or cannot be written when asked to.
    #[track_caller]
    pub fn assert_typescript(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let module = self.typescript();
        let old = std::fs::read_to_string(path).ok();
        if old.as_deref() == Some(module.as_str()) {
            return;
        }
        let update = std::env::var_os("ZOCKET_UPDATE_CONTRACT").is_some_and(|v| v == "1")
            && std::env::var_os("CI").is_none();
        if update {
            if let Err(e) = self.write_typescript(path) {
                panic!("cannot write {}: {e}", path.display());
            }
            return;
        }
        let why = match &old {
            None => "is missing".to_owned(),
            Some(old) => {
                let (n, (was, now)) = old
                    .lines()
                    .map(Some)
                    .chain(std::iter::repeat(None))
                    .zip(module.lines().map(Some).chain(std::iter::repeat(None)))
                    .enumerate()
                    .find(|(_, (a, b))| a != b)
                    .unwrap_or((0, (None, None)));
                let show = |l: Option<&str>| {
                    l.map_or_else(
                        || "(end of file)".to_owned(),
                        |l| l.chars().take(160).collect(),
                    )
                };
                format!(
                    "is stale: line {} is\n    {}\nbut the router now makes\n    {}",
                    n + 1,
                    show(was),
                    show(now)
                )
            }
        };
        panic!(
            "the TypeScript contract {} {why}\nrewrite it with: ZOCKET_UPDATE_CONTRACT=1 cargo test",
            path.display()
        );
    }
}
