//! Handshake data: the [`Headers`] type `on_connect` receives, read from the
//! upgrade request's headers merged with its query string.

use garde::Validate;
use serde::de::{DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde_json::{Map, Value};

use crate::engine::dispatch::Handshake;
use crate::protocol::issues::{issue_of_json, issues_of};
use crate::protocol::wire::Issue;

/// Handshake data: what `on_connect` receives, deserialized from the upgrade
/// request's headers merged with its query string.
///
/// Implemented for every `DeserializeOwned + Validate<Context = ()>` type.
/// Values are strings. A field named `f` (after serde's renames) reads query
/// parameter `f` (exact name: query names are case-sensitive) or, when the
/// query has none, the HTTP header `f` in any case (header names are not);
/// the query wins when both give it. So `#[serde(rename = "userName")]` reads
/// `?userName=..` (what the Zocket v1 client sends) or a `UserName:` header.
///
/// A type that reads nothing accepts every handshake: `()` (or a unit struct
/// with an empty `Validate` impl) takes no handshake data at all, as in
/// `on_connect(|_: (), id| ..)`.
pub trait Headers: DeserializeOwned + Validate<Context = ()> + Send + 'static {}
impl<T: DeserializeOwned + Validate<Context = ()> + Send + 'static> Headers for T {}

/// Deserializes and validates handshake data.
pub(crate) fn parse_headers<H: Headers>(data: Handshake) -> Result<H, Vec<Issue>> {
    // The names as the client sent them, to name fields as the wire does.
    let mut names = data.headers.clone();
    names.extend(data.query.clone());
    let headers = H::deserialize(HandshakeData(data)).map_err(|e| vec![issue_of_json(&e, "")])?;
    headers
        .validate()
        .map_err(|report| issues_of(&report, Some(&serde_json::Value::Object(names))))?;
    Ok(headers)
}

/// The handshake map as a serde `Deserializer`: a map for structs and maps,
/// and nothing at all for a type that takes nothing (`()`, a unit struct),
/// so such a type accepts every handshake instead of refusing the map.
struct HandshakeData(Handshake);

impl HandshakeData {
    /// Headers (lower-cased names), then the query on top (exact names win);
    /// then each of `fields` the query lacks, from the header of that name in
    /// any case.
    fn merged(self, fields: &[&str]) -> Map<String, Value> {
        let Handshake { query, headers } = self.0;
        let mut out = headers.clone();
        for (k, v) in query {
            out.insert(k, v);
        }
        for field in fields {
            if !out.contains_key(*field)
                && let Some(v) = headers.get(&field.to_ascii_lowercase())
            {
                out.insert((*field).to_owned(), v.clone());
            }
        }
        out
    }
}

impl<'de> Deserializer<'de> for HandshakeData {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        Value::Object(self.merged(&[]))
            .into_deserializer()
            .deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        Value::Object(self.merged(fields))
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
        bytes byte_buf seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Handshake data with these query parameters.
    fn map(pairs: &[(&str, &str)]) -> Handshake {
        Handshake {
            query: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                .collect(),
            headers: Map::new(),
        }
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

    #[derive(Debug, Deserialize, Validate)]
    struct CamelCase {
        #[serde(rename = "userName")]
        #[garde(length(min = 1))]
        user_name: String,
    }

    #[test]
    fn query_names_match_exactly_and_header_names_in_any_case() {
        // `?userName=` (what the Zocket v1 client sends) reaches `userName`.
        let h = parse_headers::<CamelCase>(map(&[("userName", "Alice")])).unwrap();
        assert_eq!(h.user_name, "Alice");
        // Query names are case-sensitive: `?username=` is another parameter.
        assert!(parse_headers::<CamelCase>(map(&[("username", "Alice")])).is_err());
        // Header names are not: `UserName:` arrives lower-cased and still matches.
        let mut data = Handshake::default();
        data.headers
            .insert("username".into(), Value::String("Bob".into()));
        assert_eq!(
            parse_headers::<CamelCase>(data.clone()).unwrap().user_name,
            "Bob"
        );
        // The query wins over a header.
        data.query
            .insert("userName".into(), Value::String("Alice".into()));
        assert_eq!(parse_headers::<CamelCase>(data).unwrap().user_name, "Alice");
    }

    #[test]
    fn unit_types_accept_any_handshake() {
        assert!(parse_headers::<()>(map(&[("host", "x"), ("name", "a")])).is_ok());
        assert!(parse_headers::<()>(Handshake::default()).is_ok());
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
