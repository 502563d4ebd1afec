//! [`ClientId`]: the name of one connection, unique across nodes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A connected client's id: stable for the connection's life, never reused
/// while the connection lives, and unique over the process's life up to 2³²
/// connections. With an [`Adapter`](crate::adapter::Adapter) it also names the
/// node (server process) that issued it, so ids are unique across nodes.
///
/// On the wire (and in `Display`/serde) it is a decimal string, e.g. `"4294967296"`.
///
/// ```
/// use zocket::ClientId;
///
/// let id: ClientId = "4294967299".parse().unwrap();
/// assert_eq!(id.to_string(), "4294967299");
/// assert_eq!(id.node(), 0);
/// assert_eq!(serde_json::to_string(&id).unwrap(), "\"4294967299\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(u128);

impl ClientId {
    pub(crate) fn new(node: u32, generation: u32, key: usize) -> Self {
        ClientId((u128::from(node) << 64) | (u128::from(generation) << 32) | key as u128)
    }
    pub(crate) fn from_u128(v: u128) -> Self {
        ClientId(v)
    }
    /// The slot of the issuing node's registry.
    pub(crate) fn key(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
    /// The node (server process) that issued this id; 0 without an adapter.
    pub fn node(self) -> u32 {
        (self.0 >> 64) as u32
    }
    /// The id as a number.
    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for ClientId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(ClientId)
    }
}

impl Serialize for ClientId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A decimal string, as on the wire.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for ClientId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ClientId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]{1,39}$",
            "description": "A connected client's id, a decimal string."
        })
    }
}

impl garde::Validate for ClientId {
    type Context = ();
    fn validate_into(
        &self,
        _: &Self::Context,
        _: &mut dyn FnMut() -> garde::Path,
        _: &mut garde::Report,
    ) {
    }
}
