//! The wire codec: Zocket's JSON envelope, both directions.
//!
//! Every message is one text frame holding `{"type": "<dotted.name>", "payload": <json>}`.
//! Incoming envelopes are parsed once; the payload stays a raw JSON slice until
//! the route's handler deserializes it into its typed payload, so no
//! `serde_json::Value` tree is built on the hot path. See PROTOCOL.md.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::protocol::json;
use crate::protocol::route::{ERROR_ROUTE, REPLY_ROUTE};

/// An incoming envelope borrowing from the frame's text.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) route: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(crate) payload: Option<&'a RawValue>,
    /// Request id (zocket extension): echoed in the reply or the error.
    /// Present means present: `"id": null` is `Some("null")` (an invalid id),
    /// not a message without one.
    #[serde(borrow, default, deserialize_with = "present")]
    pub(crate) id: Option<&'a RawValue>,
    /// The message's position in the session, on messages from a server with
    /// recovery on (zocket extension; servers ignore it on incoming messages).
    #[serde(borrow, default)]
    pub(crate) offset: Option<&'a RawValue>,
    /// Upstream Zocket's request id: answered on [`RPC_RESPONSE_ROUTE`].
    #[serde(borrow, default, rename = "rpcId", deserialize_with = "present")]
    pub(crate) rpc_id: Option<&'a RawValue>,
}

/// A field that is there, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue as serde::Deserialize>::deserialize(d).map(Some)
}

/// The route on which upstream Zocket's RPC (`rpcId`) is answered.
pub(crate) const RPC_RESPONSE_ROUTE: &str = "__rpc_res";

/// Where a message's answer goes, when someone waits for one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reply<'a> {
    /// A plain message: nobody waits.
    None,
    /// zocket's request id: the answer goes on `$zocket.reply` with `id`.
    Id(&'a RawValue),
    /// Upstream Zocket's `rpcId`: the answer goes on `__rpc_res` with `rpcId`.
    RpcId(&'a RawValue),
}

/// Serializes upstream Zocket's answer `{"type":"__rpc_res","rpcId":..,"payload":..}`
/// (no `payload` for a message route, as upstream; for a failure, `"error"`
/// with the error payload instead).
pub(crate) fn encode_rpc_response<P: Serialize + ?Sized>(
    rpc_id: &RawValue,
    payload: Option<&P>,
    error: Option<&ErrorPayload>,
) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Out<'a, P: ?Sized> {
        #[serde(rename = "type")]
        route: &'a str,
        #[serde(rename = "rpcId")]
        rpc_id: &'a RawValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<&'a P>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a ErrorPayload>,
    }
    json::to_string(&Out {
        route: RPC_RESPONSE_ROUTE,
        rpc_id,
        payload,
        error,
    })
}

/// Longest request id accepted, in bytes: a string's own (decoded, without
/// its quotes), a number's digits.
pub(crate) const MAX_ID_LEN: usize = 64;

/// Whether `id` is a JSON string or number of at most [`MAX_ID_LEN`] bytes
/// (`null`, `true`, objects and arrays are not ids).
pub(crate) fn valid_id(id: &RawValue) -> bool {
    let text = id.get();
    match text.as_bytes().first() {
        // A string: its own bytes count (decoded), not the quotes.
        Some(b'"') => serde_json::from_str::<std::borrow::Cow<'_, str>>(text)
            .is_ok_and(|s| s.len() <= MAX_ID_LEN),
        // A number: its text.
        Some(b) if *b == b'-' || b.is_ascii_digit() => text.len() <= MAX_ID_LEN,
        _ => false,
    }
}

/// Serializes a reply `{"type": "$zocket.reply", "id": id, "payload": payload}`.
pub(crate) fn encode_reply<P: Serialize + ?Sized>(
    id: &RawValue,
    payload: &P,
) -> Result<String, serde_json::Error> {
    encode_with_id(REPLY_ROUTE, payload, Some(id))
}

/// The JSON text of a missing payload.
pub(crate) const NULL: &str = "null";

/// Parses an envelope; fails when `text` is not JSON, or not an object with a
/// string `type`.
pub(crate) fn parse_envelope(text: &str) -> Result<Envelope<'_>, serde_json::Error> {
    serde_json::from_str(text)
}

/// The route and the payload's text of a message written exactly as Zocket
/// clients write it, `{"type":"<route>","payload":<value>}`, found without
/// reading the payload (the handler's decoder reads it once, in full).
///
/// `None` when the text does not start that way, when its last bytes look
/// like an `id`, `rpcId` or `offset` field follows the payload, or when the
/// route has escapes: those go through [`parse_envelope`]. If the payload
/// text is in fact followed by another field, it does not parse as one JSON
/// value, and the caller falls back to [`parse_envelope`] too: this only
/// saves a pass, it never changes what a message means.
pub(crate) fn fast_envelope(text: &str) -> Option<(&str, &str)> {
    const FIELDS_AFTER: [&[u8]; 3] = [b",\"id\":", b",\"rpcId\":", b",\"offset\":"];
    let rest = text.strip_prefix(r#"{"type":""#)?;
    let end = rest.find('"')?;
    let route = &rest[..end];
    if route.contains('\\') {
        return None;
    }
    let payload = rest[end..]
        .strip_prefix(r#"","payload":"#)?
        .strip_suffix('}')?;
    let bytes = payload.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(96)..];
    if FIELDS_AFTER
        .iter()
        .any(|field| tail.windows(field.len()).any(|w| w == *field))
    {
        return None;
    }
    Some((route, payload))
}

/// Serializes `{"type": route, "payload": payload}`.
pub(crate) fn encode<P: Serialize + ?Sized>(
    route: &str,
    payload: &P,
) -> Result<String, serde_json::Error> {
    encode_with_id::<P, ()>(route, payload, None)
}

/// Serializes a request `{"type": route, "id": id, "payload": payload}`.
pub(crate) fn encode_request<P: Serialize + ?Sized>(
    route: &str,
    payload: &P,
    id: u64,
) -> Result<String, serde_json::Error> {
    encode_with_id(route, payload, Some(id))
}

/// The one envelope writer: `{"type": route, ["id": id,] "payload": payload}`.
fn encode_with_id<P: Serialize + ?Sized, I: Serialize>(
    route: &str,
    payload: &P,
    id: Option<I>,
) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Out<'a, P: ?Sized, I> {
        #[serde(rename = "type")]
        route: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<I>,
        payload: &'a P,
    }
    json::to_string(&Out { route, id, payload })
}

/// What went wrong with a message, as told to the client on the reserved route
/// [`ERROR_ROUTE`] (`"$zocket.error"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The frame is not a JSON object with a string `type`.
    InvalidJson,
    /// No incoming route has this `type`.
    UnknownRoute,
    /// The payload does not have the route's shape.
    InvalidPayload,
    /// The payload has the right shape but fails validation.
    ValidationFailed,
    /// A middleware or the handler refused the message.
    Rejected,
    /// The handler failed or panicked; details stay in the server's log.
    HandlerError,
    /// A binary frame that is not UTF-8, or any binary frame when the app set
    /// `binary_as_text(false)` (a binary frame holding UTF-8 JSON is read as text).
    UnsupportedFrame,
    /// The client sent faster than its rate limit allows; the message was
    /// dropped. A client that keeps going is closed with 1008.
    RateLimited,
    /// The handshake was refused (bad handshake data, `on_connect`, a strict
    /// contract check, capacity), told in band to a client that asked for it
    /// (`zocket-refusal=message`): `status` carries the HTTP status the
    /// refusal would have had, and the connection is then closed with
    /// 4000 + that status. Fatal: the connection never opens.
    Refused,
    /// A request route refused with its own typed error (its response is an
    /// [`Outcome`](crate::Outcome)): the error is in `error`.
    RouteError,
}

impl ErrorKind {
    /// The kind as it appears on the wire (`"invalid_json"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::UnknownRoute => "unknown_route",
            ErrorKind::InvalidPayload => "invalid_payload",
            ErrorKind::ValidationFailed => "validation_failed",
            ErrorKind::Rejected => "rejected",
            ErrorKind::HandlerError => "handler_error",
            ErrorKind::UnsupportedFrame => "unsupported_frame",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Refused => "refused",
            ErrorKind::RouteError => "route_error",
        }
    }
}

/// One problem found in a payload or in the handshake headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Issue {
    /// Where: a field path such as `"text"` or `"items[2].name"`; empty for the whole value.
    pub path: String,
    /// What.
    pub message: String,
}

/// The payload of the reserved error route `"$zocket.error"`.
///
/// ```json
/// {"type":"$zocket.error","payload":{"kind":"validation_failed","route":"chat.send",
///   "message":"payload failed validation","details":[{"path":"text","message":"length is lower than 1"}]}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorPayload {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The route the message named, when it named one.
    #[serde(default)]
    pub route: Option<String>,
    /// A human-readable reason.
    pub message: String,
    /// Field-level problems, for `invalid_payload` and `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Issue>,
    /// The request id, when the failed message was a request (zocket extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<serde_json::Value>,
    /// For [`ErrorKind::Refused`] only: the HTTP status the refused handshake
    /// would have been answered with (400, 401, 403, 409, 429, 500, 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// How many of the client's messages were dropped, or errors left
    /// unreported, since the previous error it was sent: a client over its
    /// rate limit, or provoking errors faster than the server replies to them
    /// (10 a second, bursts of 20), gets one error now and then with this
    /// count instead of one per message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    /// For [`ErrorKind::RouteError`] only: the route's error, as the route's
    /// error type serializes it (the `E` of its [`Outcome`](crate::Outcome)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<serde_json::Value>"))]
    pub error: Option<serde_json::Value>,
}

impl ErrorPayload {
    pub(crate) fn encode(&self) -> String {
        // An ErrorPayload holds only strings and unit enums: it always serializes.
        encode(ERROR_ROUTE, self).unwrap_or_default()
    }
}

/// Longest excerpt of client-sent text that goes back to the client or into
/// the log, in bytes (route names, field paths, issue messages).
pub(crate) const MAX_EXCERPT: usize = 128;

/// Most issues listed in one error; the rest are counted in a last issue.
pub(crate) const MAX_ISSUES: usize = 16;

/// `text` cut to at most [`MAX_EXCERPT`] bytes (at a character boundary),
/// ending in `…` when something was cut: a client's input is never reflected
/// or logged in full.
pub(crate) fn excerpt(text: &str) -> String {
    if text.len() <= MAX_EXCERPT {
        return text.to_owned();
    }
    let mut cut = MAX_EXCERPT - '…'.len_utf8();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + 3);
    out.push_str(&text[..cut]);
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_read_as_on_the_wire() {
        for kind in [
            ErrorKind::InvalidJson,
            ErrorKind::UnknownRoute,
            ErrorKind::InvalidPayload,
            ErrorKind::ValidationFailed,
            ErrorKind::Rejected,
            ErrorKind::HandlerError,
            ErrorKind::UnsupportedFrame,
            ErrorKind::RateLimited,
            ErrorKind::Refused,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn the_fast_envelope_takes_only_the_plain_form() {
        assert_eq!(
            fast_envelope(r#"{"type":"chat.post","payload":{"text":"hi"}}"#),
            Some(("chat.post", r#"{"text":"hi"}"#))
        );
        assert_eq!(
            fast_envelope(r#"{"type":"x","payload":null}"#),
            Some(("x", "null"))
        );
        // Fields after the payload, other spacing or order, escapes: the full parse.
        for text in [
            r#"{"type":"x","payload":{"a":1},"id":7}"#,
            r#"{"type":"x","payload":1,"rpcId":"k"}"#,
            r#"{"type": "x", "payload": 1}"#,
            r#"{"payload":1,"type":"x"}"#,
            r#"{"type":"x\"y","payload":1}"#,
            r#"{"type":"x"}"#,
            r#"{"type":"x","payload":1"#,
            "",
        ] {
            assert_eq!(fast_envelope(text), None, "{text}");
        }
    }

    #[test]
    fn envelope_keeps_payload_raw() {
        let env =
            parse_envelope(r#"{"type":"chat.send","payload":{"text":"hi","n":[1,2]}}"#).unwrap();
        assert_eq!(env.route, "chat.send");
        assert_eq!(env.payload.unwrap().get(), r#"{"text":"hi","n":[1,2]}"#);
    }

    #[test]
    fn envelope_payload_may_be_missing_and_fields_may_be_extra() {
        let env = parse_envelope(r#"{"id":7,"type":"ping"}"#).unwrap();
        assert_eq!(env.route, "ping");
        assert!(env.payload.is_none());
    }

    #[test]
    fn envelope_type_with_escapes_is_decoded() {
        let env = parse_envelope(r#"{"type":"a\u002eb","payload":1}"#).unwrap();
        assert_eq!(env.route, "a.b");
    }

    #[test]
    fn envelope_errors() {
        for bad in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"type":5}"#,
            r#"{"type":"x","payload":}"#,
        ] {
            assert!(parse_envelope(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn encode_is_zocket_shaped() {
        #[derive(Serialize)]
        struct T {
            text: &'static str,
        }
        assert_eq!(
            encode("chat.onMessage", &T { text: "hi" }).unwrap(),
            r#"{"type":"chat.onMessage","payload":{"text":"hi"}}"#
        );
        assert_eq!(
            encode("ping", &()).unwrap(),
            r#"{"type":"ping","payload":null}"#
        );
    }

    #[test]
    fn error_payload_shape() {
        let e = ErrorPayload {
            kind: ErrorKind::UnknownRoute,
            route: Some("nope".into()),
            message: "unknown route".into(),
            details: vec![],
            id: None,
            status: None,
            dropped: None,
            error: None,
        };
        assert_eq!(
            e.encode(),
            r#"{"type":"$zocket.error","payload":{"kind":"unknown_route","route":"nope","message":"unknown route"}}"#
        );
    }
}
