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
