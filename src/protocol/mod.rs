//! Floor 1, protocol and types: what the server and the client agree on.
//!
//! Nothing here uses tokio or knows about sockets; the [`Client`](crate::Client)
//! depends on this floor only.

pub(crate) mod client_id; // ClientId: who a message is for
pub(crate) mod contract; // the router's contract for other languages: schema, TypeScript, fingerprint
pub(crate) mod error; // BuildError, SendError, Reject, HandlerError
pub(crate) mod issues; // field-level problems, named as on the wire
pub(crate) mod json; // the JSON writer of outgoing messages (a fast string escaper)
pub(crate) mod outcome; // Outcome: a request's answer or its route's typed error
pub(crate) mod route; // Incoming, Outgoing, Request, Namespace, Scope, Payload
pub(crate) mod router; // nested-tuple routers and the traits that check them
pub(crate) mod wire; // the JSON envelope, error payloads, request ids
