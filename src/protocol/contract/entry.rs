//! One route of a contract, and the parts of a contract the TypeScript
//! module is written from.

use serde_json::{Map, Value};

use super::identity::ContractIdentity;
use crate::protocol::router::Direction;

/// One route of a [`Contract`](crate::contract::Contract).
#[derive(Debug, Clone)]
pub struct RouteContract {
    /// The full dotted wire name.
    pub name: String,
    /// Which way it travels.
    pub direction: Direction,
    /// The payload's JSON Schema (often a `$ref` into the contract's `$defs`).
    pub payload: Value,
    /// The response's JSON Schema, for request routes.
    pub response: Option<Value>,
    /// The route's own error's JSON Schema, for request routes whose response
    /// is an [`Outcome`](crate::Outcome) (`response` is then the answer's).
    pub error: Option<Value>,
}

/// Splits a response schema into the answer's and the route error's (an
/// [`Outcome`](crate::Outcome) writes the error under `x-zocket-error`).
pub(crate) fn split_outcome(response: Option<Value>) -> (Option<Value>, Option<Value>) {
    match response {
        Some(Value::Object(mut schema)) if schema.contains_key("x-zocket-error") => {
            let error = schema.remove("x-zocket-error");
            let answer = match schema.remove("allOf") {
                Some(Value::Array(mut all)) if all.len() == 1 => all.pop(),
                _ => None,
            };
            (answer, error)
        }
        other => (other, None),
    }
}

/// What the TypeScript module is written from.
pub(crate) struct Parts<'a> {
    pub(crate) routes: &'a [RouteContract],
    pub(crate) definitions: &'a Map<String, Value>,
    pub(crate) handshake: Option<&'a Value>,
    pub(crate) error: &'a Value,
    pub(crate) identity: &'a ContractIdentity,
}

/// The direction's name in the JSON document.
pub(crate) fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Incoming => "incoming",
        Direction::Outgoing => "outgoing",
        Direction::Request => "request",
        Direction::ClientRequest => "clientRequest",
    }
}
