//! Routes: the zero-sized marker types a user declares.
//!
//! A route is a unit struct that implements [`Incoming`] (client → server) or
//! [`Outgoing`] (server → client). The trait carries the route's last wire-name
//! segment and its payload type, so the direction is part of the type: a handler
//! can only be registered for an `Incoming` route, and only `Outgoing` routes can
//! be sent by the server.
//!
//! Routes are grouped into routers (see [`crate::router`]); a [`Scope`] nests a
//! sub-router under a [`Namespace`], which prefixes the wire names of everything
//! inside it: `Scope<Chat, (SendMessage, ())>` puts `SendMessage` on the wire as
//! `"chat.message"`.

use std::marker::PhantomData;

use garde::Validate;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What the receiving side reads from a message: deserialized, then
/// validated (`#[derive(Deserialize, Validate)]`). The server needs it of
/// what clients send it (incoming and request payloads, the answers to its
/// questions); the Rust client of what the server sends.
///
/// Implemented for every `DeserializeOwned + Validate<Context = ()> + Send +
/// Sync + 'static` type. Its methods are the library's; you never call them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from a message",
    label = "needs `#[derive(Deserialize, Validate)]`",
    note = "a received payload is an owned type with `#[derive(Deserialize, Validate)]` (garde's `Validate` with the default context `()`); borrowed types such as `&str` are not, use `String`"
)]
pub trait Decode: Send + Sync + 'static {
    /// Checks the value with its garde rules.
    #[doc(hidden)]
    fn check_received(&self) -> Result<(), garde::Report>;
    /// Reads the value from JSON text.
    #[doc(hidden)]
    fn from_json(raw: &str) -> serde_json::Result<Self>
    where
        Self: Sized;
    /// Where `raw` fails to deserialize, as a wire path (`items[2].roomId`;
    /// empty for the whole value). The failure path only: `raw` is read again.
    #[doc(hidden)]
    fn json_error_path(raw: &str) -> String
    where
        Self: Sized;
}

#[diagnostic::do_not_recommend]
impl<T> Decode for T
where
    T: DeserializeOwned + Validate<Context = ()> + Send + Sync + 'static,
{
    fn check_received(&self) -> Result<(), garde::Report> {
        self.validate()
    }
    fn from_json(raw: &str) -> serde_json::Result<Self> {
        serde_json::from_str(raw)
    }
    fn json_error_path(raw: &str) -> String {
        let mut de = serde_json::Deserializer::from_str(raw);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            // "." is the root: the whole value.
            Err(e) => Some(e.path().to_string())
                .filter(|p| p != ".")
                .unwrap_or_default(),
            Ok(_) => String::new(),
        }
    }
}

/// What the sending side writes into a message: validated, then serialized
/// (`#[derive(Serialize, Validate)]`). The server needs it of what it sends
/// (outgoing payloads, request answers, its questions); the Rust client of
/// what it sends.
///
/// Implemented for every `Serialize + Validate<Context = ()> + Send + Sync +
/// 'static` type. Its methods are the library's; you never call them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be written into a message",
    label = "needs `#[derive(Serialize, Validate)]`",
    note = "a sent payload is an owned type with `#[derive(Serialize, Validate)]` (garde's `Validate` with the default context `()`)"
)]
pub trait Encode: Send + Sync + 'static {
    /// Checks the value with its garde rules.
    #[doc(hidden)]
    fn check_sent(&self) -> Result<(), garde::Report>;
    /// Writes the value with serde.
    #[doc(hidden)]
    fn write<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

#[diagnostic::do_not_recommend]
impl<T> Encode for T
where
    T: Serialize + Validate<Context = ()> + Send + Sync + 'static,
{
    fn check_sent(&self) -> Result<(), garde::Report> {
        self.validate()
    }
    fn write<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.serialize(serializer)
    }
}

/// A message body that travels both ways: [`Encode`] and [`Decode`], what a
/// payload needs when one program both sends and receives it (a server and
/// its Rust client sharing the router, say).
///
/// A route declares no serde bounds: each side asks for what it does with a
/// payload, where it does it. A server that only receives `Join` needs
/// `#[derive(Deserialize, Validate)]` on its payload; one that only sends
/// `OnMessage` needs `#[derive(Serialize, Validate)]`; a Rust client the
/// mirror; exporting the contract adds `JsonSchema`. A missing derive is
/// reported with the route and the reason ("`Empty` must implement
/// `Serialize` and `Validate`: the server sends it on `OnList`").
///
/// ```
/// use garde::Validate;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Validate)]
/// struct Text {
///     #[garde(length(min = 1, max = 2000))]
///     text: String,
/// }
///
/// fn is_payload<P: zocket::Payload>() {}
/// is_payload::<Text>();
/// is_payload::<()>(); // a route without data carries `null`
/// ```
pub trait Payload: Encode + Decode {}

impl<T: Encode + Decode> Payload for T {}

/// The server receives `Self` on route `X`: it must deserialize and validate.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must implement `Deserialize` and garde's `Validate`: the server receives it on `{X}`",
    label = "received by the server on `{X}`",
    note = "add `#[derive(Deserialize, Validate)]` to `{Self}` (an owned type: `String`, not `&str`)"
)]
pub trait ServerReceives<X>: Decode {}
#[diagnostic::do_not_recommend]
impl<T: Decode, X> ServerReceives<X> for T {}

/// The server sends `Self` on route `X`: it must validate and serialize.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must implement `Serialize` and garde's `Validate`: the server sends it on `{X}`",
    label = "sent by the server on `{X}`",
    note = "add `#[derive(Serialize, Validate)]` to `{Self}` (`#[garde(allow_unvalidated)]` when it has no rules)"
)]
pub trait ServerSends<X>: Encode {}
#[diagnostic::do_not_recommend]
impl<T: Encode, X> ServerSends<X> for T {}

/// The Rust client sends `Self` on route `X`: it must validate and serialize.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must implement `Serialize` and garde's `Validate`: the client sends it on `{X}`",
    label = "sent by the client on `{X}`",
    note = "add `#[derive(Serialize, Validate)]` to `{Self}`"
)]
pub trait ClientSends<X>: Encode {}
#[diagnostic::do_not_recommend]
impl<T: Encode, X> ClientSends<X> for T {}

/// The Rust client receives `Self` on route `X`: it must deserialize and validate.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must implement `Deserialize` and garde's `Validate`: the client receives it on `{X}`",
    label = "received by the client on `{X}`",
    note = "add `#[derive(Deserialize, Validate)]` to `{Self}`"
)]
pub trait ClientReceives<X>: Decode {}
#[diagnostic::do_not_recommend]
impl<T: Decode, X> ClientReceives<X> for T {}

/// An [`Encode`] value seen as `Serialize`, for the wire encoder.
pub(crate) struct AsJson<'a, P: ?Sized>(pub(crate) &'a P);

impl<P: Encode> Serialize for AsJson<'_, P> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.write(serializer)
    }
}

/// A client → server route.
///
/// Implement it on a unit struct. `NAME` is the last segment of the route's wire
/// name; the [`Scope`]s around the route in the router add the rest.
///
/// A name segment is 1–64 ASCII letters, digits, `_` or `-`; the router checks this
/// when the app or client is built.
///
/// ```
/// use garde::Validate;
/// use serde::{Deserialize, Serialize};
/// use zocket::Incoming;
///
/// #[derive(Serialize, Deserialize, Validate)]
/// struct Text {
///     #[garde(length(min = 1, max = 2000))]
///     text: String,
/// }
///
/// /// The client posts a chat message.
/// struct SendMessage;
///
/// impl Incoming for SendMessage {
///     const NAME: &'static str = "message";
///     type Payload = Text;
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an incoming route",
    label = "not a client -> server route",
    note = "handlers are registered for, and clients send, routes that implement `zocket::Incoming`"
)]
pub trait Incoming: Send + Sync + 'static {
    /// The route's own wire-name segment, for example `"message"`.
    const NAME: &'static str;
    /// What the client sends. Validated with garde before any handler sees it.
    type Payload: Send + Sync + 'static;
}

/// A server → client route.
///
/// Implement it on a unit struct, like [`Incoming`].
///
/// ```
/// use garde::Validate;
/// use serde::{Deserialize, Serialize};
/// use zocket::Outgoing;
///
/// #[derive(Serialize, Deserialize, Validate)]
/// struct Text {
///     #[garde(length(min = 1, max = 2000))]
///     text: String,
/// }
///
/// /// The server delivers a chat message.
/// struct OnMessage;
///
/// impl Outgoing for OnMessage {
///     const NAME: &'static str = "onMessage";
///     type Payload = Text;
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an outgoing route",
    label = "not a server -> client route",
    note = "the server sends, and clients listen on, routes that implement `zocket::Outgoing`"
)]
pub trait Outgoing: Send + Sync + 'static {
    /// The route's own wire-name segment, for example `"onMessage"`.
    const NAME: &'static str;
    /// What the server sends. Validated with garde before it is queued.
    type Payload: Send + Sync + 'static;
}

/// A client → server route that answers: the client sends a payload with an
/// `id`, the handler returns a `Response`, and the server replies to that
/// client on the reserved route `"$zocket.reply"` with the same `id`
/// (a zocket extension of Zocket's protocol; see PROTOCOL.md).
///
/// Register its handler with [`Builder::on_request`](crate::Builder::on_request);
/// call it with [`Client::request`](crate::Client::request). A plain Zocket
/// client may still send it as an ordinary message (without `id`): the handler
/// runs and its response is dropped.
///
/// ```
/// use garde::Validate;
/// use serde::{Deserialize, Serialize};
/// use zocket::Request;
///
/// #[derive(Serialize, Deserialize, Validate)]
/// struct UserId { #[garde(range(min = 1))] id: u64 }
/// #[derive(Serialize, Deserialize, Validate)]
/// struct User { #[garde(length(min = 1))] name: String }
///
/// struct GetUser;
/// impl Request for GetUser {
///     const NAME: &'static str = "get";
///     type Payload = UserId;
///     type Response = User;
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a request route",
    label = "not a request (client -> server with a reply) route",
    note = "`.on_request(..)` and `client.request(..)` take routes that implement `zocket::Request`"
)]
pub trait Request: Send + Sync + 'static {
    /// The route's own wire-name segment.
    const NAME: &'static str;
    /// What the client sends. Validated before the handler sees it.
    type Payload: Send + Sync + 'static;
    /// What the handler answers. Validated before it is sent.
    type Response: Send + Sync + 'static;
}

/// A server → client route that answers: the server asks one client with
/// [`Ctx::ask`](crate::Ctx::ask) (or [`ServerHandle::ask`](crate::ServerHandle::ask))
/// and awaits its typed `Response`; the client answers with the handler it
/// registered with [`ClientBuilder::on_request`](crate::ClientBuilder::on_request).
///
/// On the wire the question is an ordinary message with an `id` chosen by
/// the server; the client answers on `"$zocket.reply"` with that `id`, or
/// with a `"$zocket.error"` carrying it (see PROTOCOL.md). A client built
/// for a router with a `ClientRequest` route does not compile until it has
/// a handler for it.
///
/// ```
/// use garde::Validate;
/// use serde::{Deserialize, Serialize};
/// use zocket::ClientRequest;
///
/// #[derive(Serialize, Deserialize, Validate)]
/// struct Question { #[garde(length(min = 1))] text: String }
/// #[derive(Serialize, Deserialize, Validate)]
/// struct Answer { #[garde(skip)] yes: bool }
///
/// /// The server asks the user to confirm something.
/// struct Confirm;
/// impl ClientRequest for Confirm {
///     const NAME: &'static str = "confirm";
///     type Payload = Question;
///     type Response = Answer;
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a client request route",
    label = "not a server -> client route with a reply",
    note = "`ctx.ask(..)` and the client's `.on_request(..)` take routes that implement `zocket::ClientRequest`"
)]
pub trait ClientRequest: Send + Sync + 'static {
    /// The route's own wire-name segment.
    const NAME: &'static str;
    /// What the server asks with. Validated before it is sent.
    type Payload: Send + Sync + 'static;
    /// What the client answers. Validated by the client before it is sent,
    /// and by the server before `ask` returns it.
    type Response: Send + Sync + 'static;
}

/// The reserved route on which the server answers a [`Request`] (and a
/// client answers a [`ClientRequest`]).
pub const REPLY_ROUTE: &str = "$zocket.reply";

/// The name of a [`Scope`]: a wire-name prefix segment.
///
/// ```
/// use zocket::{Namespace, Scope};
///
/// struct Chat;
/// impl Namespace for Chat {
///     const NAME: &'static str = "chat";
/// }
/// # struct Post; impl zocket::Incoming for Post { const NAME: &'static str = "post"; type Payload = (); }
///
/// // `Post` is "chat.post" on the wire.
/// type Router = (Scope<Chat, (Post, ())>, ());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a namespace",
    label = "used as the name of a `Scope`",
    note = "implement `zocket::Namespace` for `{Self}` with `const NAME: &'static str`"
)]
pub trait Namespace: Send + Sync + 'static {
    /// The prefix segment, for example `"chat"`.
    const NAME: &'static str;
}

/// A sub-router `R` whose routes all live under the namespace `N`.
///
/// Scopes nest to any depth; each adds its namespace's name and a dot in front
/// of the wire names inside it. `Scope` is a type-level marker and is never
/// constructed.
pub struct Scope<N: Namespace, R>(PhantomData<fn() -> (N, R)>);

/// The reserved wire name on which the server reports a dropped or rejected
/// message to the client that sent it.
///
/// User routes cannot take it: their segments may not contain `$`.
pub const ERROR_ROUTE: &str = "$zocket.error";

/// The reserved route on which a server with recovery on greets each
/// connection: `{"clientId": "..", "token": "..", "recovered": bool}`.
/// Clients that do not know it ignore it, as they ignore `$zocket.error`.
pub const WELCOME_ROUTE: &str = "$zocket.welcome";

/// The reserved route on which a client sends new handshake values (a fresh
/// token) without reconnecting: `{"type":"$zocket.auth","payload":{"token":".."},"id":1}`.
/// The server answers on `$zocket.reply` (or `$zocket.error`, then closes with 4003).
pub const AUTH_ROUTE: &str = "$zocket.auth";

/// The reserved route on which the server warns a client that its
/// credentials expire soon: `{"expiresInMs": n}`. A client that does not
/// re-authenticate in time is closed with 4001.
pub const EXPIRING_ROUTE: &str = "$zocket.expiring";

/// The handshake query parameter with which a client resumes a session: the
/// token from its last `$zocket.welcome`.
pub const SESSION_PARAM: &str = "zocket-session";

/// The handshake query parameter with the last offset the resuming client received.
pub const OFFSET_PARAM: &str = "zocket-offset";

/// The reserved route on which a client checks that the server is alive
/// (browsers cannot send WebSocket pings): `{"type":"$zocket.ping"}`, any
/// payload. The server answers [`PONG_ROUTE`] at once, in its place among the
/// connection's messages; no handler, middleware or per-route metric sees it.
pub const PING_ROUTE: &str = "$zocket.ping";

/// The server's answer to [`PING_ROUTE`]: `{"type":"$zocket.pong","payload":null}`.
pub const PONG_ROUTE: &str = "$zocket.pong";

/// The handshake query parameter with which a client asks to hear a refusal
/// in band: with `zocket-refusal=message`, a handshake the server refuses
/// (invalid handshake data, `on_connect`, a strict contract check, capacity)
/// is accepted as a WebSocket that carries one `$zocket.error` of kind
/// `refused` (with the HTTP `status` it would have had) and is then closed with
/// code 4000 + that status. Browsers cannot read the status or body of a
/// refused upgrade; this is how a browser app tells "wrong password" from
/// "server down". Without it, refusals are plain HTTP answers.
pub const REFUSAL_PARAM: &str = "zocket-refusal";

/// Refuses, when the code that uses a route marker is built, a marker that is
/// not zero-sized (`size` is its size, `name` its route's own name): a struct
/// with fields or an enum with several variants. Such a value would carry
/// data the router never sees (`PostTo { room }` would drop `room`, and
/// `Room::Leave` would run the handler registered for `Room::Join`, both being
/// the type `Room`). The message names the route.
///
/// Called through [`marker_name!`] in a `const` block, so it is a
/// post-monomorphization check: `cargo build` reports it, `cargo check` does
/// not (no trait can say "zero-sized").
pub(crate) const fn check_marker(size: usize, name: &str) {
    if size == 0 {
        return;
    }
    const BEFORE: &[u8] = b"route `";
    const AFTER: &[u8] = b"`: its marker is not a unit struct (it has fields, or is an enum); \
declare each route as its own unit struct, like `struct Post;`";
    const NAME_MAX: usize = 128;
    let mut buf = [0u8; BEFORE.len() + NAME_MAX + AFTER.len()];
    let mut n = 0;
    let mut i = 0;
    while i < BEFORE.len() {
        buf[n] = BEFORE[i];
        n += 1;
        i += 1;
    }
    let name = name.as_bytes();
    i = 0;
    while i < name.len() && i < NAME_MAX {
        buf[n] = name[i];
        n += 1;
        i += 1;
    }
    i = 0;
    while i < AFTER.len() {
        buf[n] = AFTER[i];
        n += 1;
        i += 1;
    }
    match core::str::from_utf8(buf.split_at(n).0) {
        Ok(message) => panic!("{}", message),
        // A name cut inside a UTF-8 sequence: say it without the name.
        Err(_) => panic!("a route marker must be a unit struct, like `struct Post;`"),
    }
}

/// `marker_name!(X)` is `X::NAME`, after [`check_marker`] refused (at build
/// time) a marker `X` that is not zero-sized.
macro_rules! marker_name {
    ($x:ident) => {{
        const { $crate::protocol::route::check_marker(::core::mem::size_of::<$x>(), $x::NAME) };
        $x::NAME
    }};
}
pub(crate) use marker_name;

/// Checks one wire-name segment; `Err` says what is wrong with it.
pub(crate) fn check_segment(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("is empty");
    }
    if segment.len() > 64 {
        return Err("is longer than 64 bytes");
    }
    if !segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err("may only contain ASCII letters, digits, `_` and `-`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_segment;

    #[test]
    fn segments_are_plain_identifiers() {
        assert!(check_segment("onMessage").is_ok());
        assert!(check_segment("user_2-x").is_ok());
        assert_eq!(check_segment(""), Err("is empty"));
        assert!(check_segment("a.b").is_err());
        assert!(check_segment("$zocket").is_err());
        assert!(check_segment("quote\"").is_err());
        assert!(check_segment(&"x".repeat(65)).is_err());
    }
}
