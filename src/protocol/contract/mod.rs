//! The contract of a router, for the world outside Rust: a JSON document with
//! the JSON Schema of every route, a TypeScript module (types, a route map,
//! zod schemas), and a fingerprint that clients send so a server can tell when
//! they were built against another contract.
//!
//! Generating needs the `schema` feature; reading a client's fingerprint does not.

#[cfg(feature = "schema")]
pub(crate) mod document; // Contract: the walk's result as JSON, with its fingerprint
#[cfg(feature = "schema")]
pub(crate) mod entry; // RouteContract, and the parts the TypeScript module is written from
pub(crate) mod identity; // ContractIdentity, ContractCheck, drift between two contracts
#[cfg(feature = "schema")]
pub(crate) mod jsonschema; // reading schemars' JSON Schema; TypeScript names and literals
#[cfg(feature = "schema")]
pub(crate) mod typescript; // the TypeScript module: types, route map, the module's layout
#[cfg(feature = "schema")]
pub(crate) mod zod; // zod schemas mirroring the JSON Schema rules
