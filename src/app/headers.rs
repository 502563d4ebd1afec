//! Handshake data: the [`Headers`] type `on_connect` receives, read from the
//! upgrade request's headers merged with its query string.

use garde::Validate;
use serde::de::{DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde_json::{Map, Value};

use crate::protocol::wire::{Issue, issue_of_json, issues_of};

/// Handshake data: what `on_connect` receives, deserialized from the upgrade
/// request's headers merged with its query string.
///
/// Implemented for every `DeserializeOwned + Validate<Context = ()>` type. Names
/// are lower-cased; the query string wins over headers. Values are strings.
///
/// A type that reads nothing accepts every handshake: `()` (or a unit struct
/// with an empty `Validate` impl) takes no handshake data at all, as in
/// `on_connect(|_: (), id| ..)`.
pub trait Headers: DeserializeOwned + Validate<Context = ()> + Send + 'static {}
impl<T: DeserializeOwned + Validate<Context = ()> + Send + 'static> Headers for T {}

/// Deserializes and validates handshake data.
pub(crate) fn parse_headers<H: Headers>(map: Map<String, Value>) -> Result<H, Vec<Issue>> {
    let headers = H::deserialize(HandshakeData(map)).map_err(|e| vec![issue_of_json(&e)])?;
    headers.validate().map_err(|report| issues_of(&report))?;
    Ok(headers)
}

/// The handshake map as a serde `Deserializer`: a map for structs and maps,
/// and nothing at all for a type that takes nothing (`()`, a unit struct),
/// so such a type accepts every handshake instead of refusing the map.
struct HandshakeData(Map<String, Value>);

impl<'de> Deserializer<'de> for HandshakeData {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        Value::Object(self.0)
            .into_deserializer()
            .deserialize_any(visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn map(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect()
    }

    #[derive(Debug, Deserialize, Validate)]
    struct Named {
        #[garde(length(min = 1))]
        name: String,
    }

    /// garde cannot derive for a unit struct; an empty impl says "nothing to check".
    #[derive(Debug, Deserialize)]
    struct Nothing;
    impl Validate for Nothing {
        type Context = ();
        fn validate_into(&self, _: &(), _: &mut dyn FnMut() -> garde::Path, _: &mut garde::Report) {
        }
    }

    #[test]
    fn unit_types_accept_any_handshake() {
        assert!(parse_headers::<()>(map(&[("host", "x"), ("name", "a")])).is_ok());
        assert!(parse_headers::<()>(Map::new()).is_ok());
        assert!(parse_headers::<Nothing>(map(&[("host", "x")])).is_ok());
    }

    #[test]
    fn structs_read_fields_and_are_validated() {
        let ok: Named = parse_headers(map(&[("name", "alice"), ("host", "x")])).unwrap();
        assert_eq!(ok.name, "alice");
        let missing = parse_headers::<Named>(map(&[("host", "x")])).unwrap_err();
        assert_eq!(missing[0].path, "name");
        let empty = parse_headers::<Named>(map(&[("name", "")])).unwrap_err();
        assert_eq!(empty[0].path, "name");
        let optional: Option<Named> = parse_headers(map(&[("name", "bob")])).unwrap();
        assert_eq!(optional.unwrap().name, "bob");
    }
}
