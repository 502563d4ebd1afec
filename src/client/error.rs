//! The client's errors, one enum per operation; each keeps its cause.

pub use crate::protocol::error::PayloadError;
use crate::protocol::error::SendError;
use crate::protocol::wire::ErrorPayload;

/// Why a [`Client::request`](crate::Client::request) has no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError<P> {
    /// The request could not be queued; the payload is handed back.
    #[error(transparent)]
    Send(SendError<P>),
    /// The server reported a failure for this request.
    #[error("the server refused the request: {} ({:?})", .0.message, .0.kind)]
    Server(ErrorPayload),
    /// No answer within the request timeout.
    #[error("no answer within the request timeout")]
    Timeout,
    /// The client closed before the answer came.
    #[error("the client closed before the answer came")]
    Closed,
    /// The answer does not deserialize or validate.
    #[error("invalid answer on route \"{route}\"")]
    InvalidResponse {
        /// The request route's wire name.
        route: String,
        /// What is wrong with the answer.
        #[source]
        source: PayloadError,
    },
}

/// Why [`ClientBuilder`](crate::ClientBuilder)'s first connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL or a header is not valid.
    #[error("invalid request")]
    Request(#[source] tungstenite::Error),
    /// The server answered the first upgrade with an HTTP error (400 invalid
    /// headers, 401/403 refused by `on_connect`, 409 contract drift, 503
    /// full). The first connection is not retried; reconnections follow
    /// [`ClientBuilder::retry_refused`](crate::ClientBuilder::retry_refused).
    #[error("server refused the connection with HTTP {status}: {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The response body (zocket sends JSON).
        body: String,
    },
    /// Network or protocol failure (server down, connection reset, ...).
    #[error("cannot connect")]
    Io(#[source] tungstenite::Error),
    /// No answer within the connect timeout.
    #[error("cannot connect: no answer within the connect timeout")]
    Timeout,
    /// The credentials provider (`ClientBuilder::headers_with`) failed; its
    /// message. On a reconnection it is retried with the backoff instead.
    #[error("cannot connect: the credentials provider failed: {0}")]
    Credentials(String),
}

/// A refused handshake: the HTTP status and the body the server answered
/// with (zocket sends JSON: `{"error": "..", "details": [..]}`). See
/// [`Client::refusal`](crate::Client::refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status (400, 401, 403, 409, 429, 503, ...).
    pub status: u16,
    /// The response body.
    pub body: String,
}
