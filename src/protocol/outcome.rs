//! [`Outcome`]: the answer of a request route that can refuse with a typed
//! error of its own ("room is full", "banned"), which clients match on
//! instead of comparing message strings.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The newtype-struct name an [`Outcome::Err`] serializes under, so the
/// server tells it from an answer without serializing it twice; and the key
/// the client reads a route error back from (never on the wire).
pub(crate) const ROUTE_ERROR: &str = "$zocket.routeError";

/// The answer of a [`Request`](crate::Request) route whose handler may refuse
/// with the route's own error type `E`: declare the route's `Response` as
/// `Outcome<Answer, E>`.
///
/// On the wire, `Ok` is the ordinary answer (`$zocket.reply` with the
/// answer as payload; clients that know nothing of outcomes see no
/// difference), and `Err` is a `$zocket.error` of kind `route_error` whose
/// `error` field is `E` as JSON (PROTOCOL.md §6). The Rust client gives the
/// answer back as the same `Outcome` ([`Outcome::into_result`]), the
/// TypeScript client as a `RequestError` of kind `"route"` whose `routeError`
/// is typed by the route. A handler can only answer its route's `Outcome`:
/// refusing with another error type does not compile.
///
/// ```
/// use garde::Validate;
/// use serde::{Deserialize, Serialize};
/// use zocket::{Ctx, HandlerError, Outcome, Request};
///
/// #[derive(Serialize, Deserialize, Validate)]
/// struct RoomId { #[garde(length(min = 1, max = 64))] room: String }
/// #[derive(Serialize, Deserialize, Validate)]
/// #[garde(allow_unvalidated)]
/// struct Joined { members: u32 }
/// /// Why a join is refused: clients match on it.
/// #[derive(Debug, Serialize, Deserialize)]
/// #[serde(tag = "reason", rename_all = "camelCase")]
/// enum JoinError { RoomFull { capacity: u32 }, Banned }
///
/// struct Join;
/// impl Request for Join {
///     const NAME: &'static str = "join";
///     type Payload = RoomId;
///     type Response = Outcome<Joined, JoinError>;
/// }
///
/// type Api = (Join,);
/// async fn join(r: RoomId, ctx: Ctx<Api>) -> Result<Outcome<Joined, JoinError>, HandlerError> {
///     if r.room == "vip" {
///         return Ok(Outcome::Err(JoinError::Banned));
///     }
///     ctx.join(&r.room)?;
///     Ok(Outcome::Ok(Joined { members: 1 }))
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T, E> {
    /// The answer.
    Ok(T),
    /// The route's refusal, told to the caller as `route_error`.
    Err(E),
}

impl<T, E> Outcome<T, E> {
    /// As a `Result`, to match on or to use with `?`.
    pub fn into_result(self) -> Result<T, E> {
        match self {
            Outcome::Ok(t) => Ok(t),
            Outcome::Err(e) => Err(e),
        }
    }
}

impl<T, E> From<Result<T, E>> for Outcome<T, E> {
    fn from(result: Result<T, E>) -> Self {
        match result {
            Ok(t) => Outcome::Ok(t),
            Err(e) => Outcome::Err(e),
        }
    }
}

impl<T: Serialize, E: Serialize> Serialize for Outcome<T, E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Outcome::Ok(t) => t.serialize(serializer),
            Outcome::Err(e) => serializer.serialize_newtype_struct(ROUTE_ERROR, e),
        }
    }
}

/// The answer as JSON; a route error as `{"$zocket.routeError": error}`, the
/// form the Rust client builds from a `route_error` (a plain answer with
/// exactly that key is not something a zocket server sends).
impl<'de, T: DeserializeOwned, E: DeserializeOwned> Deserialize<'de> for Outcome<T, E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if let serde_json::Value::Object(map) = &value
            && map.len() == 1
            && let Some(error) = map.get(ROUTE_ERROR)
        {
            return E::deserialize(error)
                .map(Outcome::Err)
                .map_err(D::Error::custom);
        }
        T::deserialize(value)
            .map(Outcome::Ok)
            .map_err(D::Error::custom)
    }
}

/// Validates the answer; a route error is the handler's own and is sent as it is.
impl<T: garde::Validate, E> garde::Validate for Outcome<T, E> {
    type Context = T::Context;
    fn validate_into(
        &self,
        ctx: &Self::Context,
        parent: &mut dyn FnMut() -> garde::Path,
        report: &mut garde::Report,
    ) {
        if let Outcome::Ok(t) = self {
            t.validate_into(ctx, parent, report);
        }
    }
}

/// The answer's schema, with the error's under `x-zocket-error` (the
/// contract lists it as the route's `error`).
#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema, E: schemars::JsonSchema> schemars::JsonSchema for Outcome<T, E> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Outcome_{}_{}", T::schema_name(), E::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let answer = generator.subschema_for::<T>();
        let error = generator.subschema_for::<E>();
        schemars::json_schema!({
            "allOf": [answer],
            "x-zocket-error": error,
        })
    }
}

/// The answer a client gives back for a `route_error` (`payload`): the
/// route's response `P` holding the error, when `P` is an [`Outcome`] of
/// that error type; `None` for any other failure or response type.
pub(crate) fn from_route_error<P: crate::protocol::route::Decode>(
    payload: &crate::protocol::wire::ErrorPayload,
) -> Option<P> {
    if payload.kind != crate::protocol::wire::ErrorKind::RouteError {
        return None;
    }
    let wrapped = serde_json::json!({ ROUTE_ERROR: payload.error.as_ref()? }).to_string();
    P::from_json(&wrapped)
        .ok()
        .filter(|p| p.check_received().is_ok())
}

/// Whether `payload` is an [`Outcome::Err`], and its error as JSON: asks the
/// value to serialize itself into a serializer that stops at the first call,
/// so an ordinary answer costs one call, not a second serialization.
pub(crate) fn route_error<P: crate::protocol::route::Encode>(
    payload: &P,
) -> Option<serde_json::Result<serde_json::Value>> {
    payload.write(probe::Probe).ok().flatten()
}

mod probe {
    //! A serializer that only looks at the outermost call.
    use serde::Serialize;
    use serde::ser::{Impossible, Serializer};

    use super::ROUTE_ERROR;

    #[derive(Debug)]
    pub(super) struct NotAnOutcome;
    impl std::fmt::Display for NotAnOutcome {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("not an outcome")
        }
    }
    impl std::error::Error for NotAnOutcome {}
    impl serde::ser::Error for NotAnOutcome {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            NotAnOutcome
        }
    }

    pub(super) struct Probe;

    type Found = Option<serde_json::Result<serde_json::Value>>;

    macro_rules! nothing {
        ($($name:ident($($arg:ty),*);)*) => {$(
            fn $name(self, $(_: $arg),*) -> Result<Found, NotAnOutcome> {
                Ok(None)
            }
        )*};
    }

    impl Serializer for Probe {
        type Ok = Found;
        type Error = NotAnOutcome;
        type SerializeSeq = Impossible<Found, NotAnOutcome>;
        type SerializeTuple = Impossible<Found, NotAnOutcome>;
        type SerializeTupleStruct = Impossible<Found, NotAnOutcome>;
        type SerializeTupleVariant = Impossible<Found, NotAnOutcome>;
        type SerializeMap = Impossible<Found, NotAnOutcome>;
        type SerializeStruct = Impossible<Found, NotAnOutcome>;
        type SerializeStructVariant = Impossible<Found, NotAnOutcome>;

        nothing! {
            serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
            serialize_i64(i64); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32);
            serialize_u64(u64); serialize_f32(f32); serialize_f64(f64); serialize_char(char);
            serialize_str(&str); serialize_bytes(&[u8]); serialize_none(); serialize_unit();
            serialize_unit_struct(&'static str);
            serialize_unit_variant(&'static str, u32, &'static str);
        }

        fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<Found, NotAnOutcome> {
            Ok(None)
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            name: &'static str,
            value: &T,
        ) -> Result<Found, NotAnOutcome> {
            Ok((name == ROUTE_ERROR).then(|| serde_json::to_value(value)))
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<Found, NotAnOutcome> {
            Ok(None)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAnOutcome> {
            Err(NotAnOutcome)
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAnOutcome> {
            Err(NotAnOutcome)
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, NotAnOutcome> {
            Err(NotAnOutcome)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, NotAnOutcome> {
            Err(NotAnOutcome)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAnOutcome> {
            Err(NotAnOutcome)
        }
        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, NotAnOutcome> {
            Err(NotAnOutcome)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, NotAnOutcome> {
            Err(NotAnOutcome)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, garde::Validate, Debug, PartialEq)]
    struct Answer {
        #[garde(range(max = 10))]
        n: u32,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(tag = "reason")]
    enum Why {
        Full { capacity: u32 },
    }

    #[test]
    fn an_error_is_found_without_serializing_an_answer() {
        let ok: Outcome<Answer, Why> = Outcome::Ok(Answer { n: 1 });
        assert!(route_error(&ok).is_none());
        let err: Outcome<Answer, Why> = Outcome::Err(Why::Full { capacity: 3 });
        let found = route_error(&err).unwrap().unwrap();
        assert_eq!(found, serde_json::json!({"reason": "Full", "capacity": 3}));
        // Any other payload is not an outcome.
        assert!(route_error(&Answer { n: 2 }).is_none());
        assert!(route_error(&()).is_none());
    }

    #[test]
    fn an_answer_is_its_plain_json_and_reads_back() {
        let ok: Outcome<Answer, Why> = Outcome::Ok(Answer { n: 1 });
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#"{"n":1}"#);
        let back: Outcome<Answer, Why> = serde_json::from_str(r#"{"n":1}"#).unwrap();
        assert_eq!(back, ok);
        let err: Outcome<Answer, Why> = serde_json::from_value(
            serde_json::json!({ROUTE_ERROR: {"reason": "Full", "capacity": 3}}),
        )
        .unwrap();
        assert_eq!(err.into_result(), Err(Why::Full { capacity: 3 }));
    }

    #[test]
    fn only_the_answer_is_validated() {
        use garde::Validate;
        let bad: Outcome<Answer, Why> = Outcome::Ok(Answer { n: 11 });
        assert!(bad.validate().is_err());
        let err: Outcome<Answer, Why> = Outcome::Err(Why::Full { capacity: 99 });
        assert!(err.validate().is_ok());
    }
}
