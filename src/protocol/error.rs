//! Errors, one enum per concern.
//!
//! - [`BuildError`]: the app or client cannot be built from its router (fatal, at start-up).
//! - [`SendError`]: a message could not be queued; it hands the payload back.
//! - [`Reject`]: a middleware, handler or `on_connect` refuses; not a failure of the
//!   server, the client is told why.
//! - [`HandlerError`]: what a handler returns when it fails; logged, and the client
//!   gets a generic error message (internal details never leave the server).
//!
//! A normal close is not an error: it is the `on_disconnect` event.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// The router cannot be turned into a dispatch table. Fatal: fix the router type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two routes (in either direction) have the same full wire name.
    #[error("routes `{first}` and `{second}` both have the wire name \"{name}\"")]
    DuplicateName {
        /// The shared wire name.
        name: String,
        /// The marker declared first.
        first: &'static str,
        /// The marker declared second.
        second: &'static str,
    },
    /// A route or namespace name segment is empty, too long or has characters
    /// outside ASCII letters, digits, `_` and `-`.
    #[error("route `{marker}` has the invalid wire name \"{name}\": a segment {problem}")]
    InvalidName {
        /// The full wire name.
        name: String,
        /// The marker type.
        marker: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// A message could not be sent. Each variant hands the payload back.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum SendError<P> {
    /// The payload failed its garde validation; nothing was sent.
    #[error("payload for route \"{route}\" is invalid: {report}")]
    Invalid {
        /// The route's wire name.
        route: String,
        /// The payload, handed back.
        payload: P,
        /// What garde found.
        report: garde::Report,
    },
    /// The payload could not be serialized to JSON (e.g. a map with non-string keys).
    #[error("payload for route \"{route}\" cannot be serialized: {source}")]
    Serialize {
        /// The route's wire name.
        route: String,
        /// The payload, handed back.
        payload: P,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The client's send buffer is full (see `BufferPolicy`); nothing was queued.
    #[error("send buffer full; message for route \"{route}\" not queued")]
    Full {
        /// The route's wire name.
        route: String,
        /// The payload, handed back.
        payload: P,
    },
    /// The client is closed; nothing was queued.
    #[error("client closed; message for route \"{route}\" not sent")]
    Closed {
        /// The route's wire name.
        route: String,
        /// The payload, handed back.
        payload: P,
    },
}

impl<P> SendError<P> {
    /// The payload that was not sent.
    pub fn into_payload(self) -> P {
        match self {
            SendError::Invalid { payload, .. }
            | SendError::Serialize { payload, .. }
            | SendError::Full { payload, .. }
            | SendError::Closed { payload, .. } => payload,
        }
    }
}

impl<P> fmt::Debug for SendError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Invalid { route, report, .. } => f
                .debug_struct("Invalid")
                .field("route", route)
                .field("report", &report.to_string())
                .finish_non_exhaustive(),
            SendError::Serialize { route, source, .. } => f
                .debug_struct("Serialize")
                .field("route", route)
                .field("source", source)
                .finish_non_exhaustive(),
            SendError::Full { route, .. } => f
                .debug_struct("Full")
                .field("route", route)
                .finish_non_exhaustive(),
            SendError::Closed { route, .. } => f
                .debug_struct("Closed")
                .field("route", route)
                .finish_non_exhaustive(),
        }
    }
}

/// A refusal: a middleware rejects a message, a handler refuses it, or
/// `on_connect` refuses a connection.
///
/// For messages, the client gets the `message` on the reserved error route.
/// For connections, the handshake is answered with `status` (401 or 403) and a
/// JSON body `{"error": message}`; no socket is opened.
///
/// ```
/// use zocket::Reject;
///
/// let r = Reject::forbidden("admins only");
/// assert_eq!(r.status(), 403);
/// assert_eq!(r.message(), "admins only");
/// assert_eq!(Reject::unauthorized("no token").status(), 401);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    status: u16,
    message: Cow<'static, str>,
    quiet: bool,
}

impl Reject {
    /// A refusal with status 403.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self::forbidden(message)
    }
    /// "You are not allowed": 403 when refusing a connection.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Reject {
            status: 403,
            message: message.into(),
            quiet: false,
        }
    }
    /// "Who are you?": 401 when refusing a connection.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Reject {
            status: 401,
            message: message.into(),
            quiet: false,
        }
    }
    /// Drops the message without telling its sender: no `$zocket.error` (nor
    /// `__rpc_res`) goes out, the handler does not run (from a middleware),
    /// and the drop is counted by route ([`Metrics::dropped`](crate::Metrics))
    /// and logged at debug level with `reason`, which the client never sees.
    /// For messages a client may send in a state where they mean nothing
    /// (typing in a room it left), as the original Zocket's
    /// `if (!ctx.rooms.has(room)) return;`. A dropped request gets no answer
    /// and its caller times out: refuse requests loudly. From `on_connect` it
    /// refuses like [`forbidden`](Self::forbidden) (a handshake always gets an answer).
    ///
    /// ```
    /// use zocket::Reject;
    /// let r = Reject::quiet("not in the room");
    /// assert!(r.is_quiet());
    /// assert!(!Reject::forbidden("no").is_quiet());
    /// ```
    pub fn quiet(reason: impl Into<Cow<'static, str>>) -> Self {
        Reject {
            quiet: true,
            ..Self::forbidden(reason)
        }
    }
    /// Whether this drops the message without telling the client ([`quiet`](Self::quiet)).
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }
    /// The HTTP status used when this refuses a connection: 401 or 403.
    pub fn status(&self) -> u16 {
        self.status
    }
    /// The reason, shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rejected: {}", self.message)
    }
}

impl StdError for Reject {}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error a handler returns.
///
/// Any `std::error::Error + Send + Sync` converts into it with `?`, and so does
/// a [`Reject`] (which is then reported to the client as a rejection, not as a
/// failure). A failure is logged with the route and client id; the client is only
/// told that the handler failed.
///
/// ```
/// use zocket::{HandlerError, Reject};
///
/// fn parse(n: &str) -> Result<u32, HandlerError> {
///     Ok(n.parse::<u32>()?) // a ParseIntError becomes a HandlerError
/// }
/// assert!(parse("x").is_err());
/// let refused: HandlerError = Reject::new("not now").into();
/// assert!(refused.as_reject().is_some());
/// ```
pub struct HandlerError(pub(crate) HandlerErrorKind);

pub(crate) enum HandlerErrorKind {
    Rejected(Reject),
    Failed(BoxError),
}

impl HandlerError {
    /// A failure with a plain message.
    pub fn msg(message: impl fmt::Display) -> Self {
        HandlerError(HandlerErrorKind::Failed(message.to_string().into()))
    }
    /// The refusal, when this error is one.
    pub fn as_reject(&self) -> Option<&Reject> {
        match &self.0 {
            HandlerErrorKind::Rejected(r) => Some(r),
            HandlerErrorKind::Failed(_) => None,
        }
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for HandlerError {
    fn from(e: E) -> Self {
        let boxed: BoxError = Box::new(e);
        match boxed.downcast::<Reject>() {
            Ok(r) => HandlerError(HandlerErrorKind::Rejected(*r)),
            Err(e) => HandlerError(HandlerErrorKind::Failed(e)),
        }
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            HandlerErrorKind::Rejected(r) => f.debug_tuple("Rejected").field(r).finish(),
            HandlerErrorKind::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            HandlerErrorKind::Rejected(r) => fmt::Display::fmt(r, f),
            HandlerErrorKind::Failed(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// What a handler returns.
pub type HandlerResult = Result<(), HandlerError>;

/// Why a payload received from the other side (a server's reply, a
/// client's answer) was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// It does not have the route's type.
    #[error("payload does not match the route's type")]
    Json(#[source] serde_json::Error),
    /// It has the type but fails its garde validation.
    #[error("payload failed validation")]
    Invalid(#[source] garde::Report),
}

impl PayloadError {
    /// Reads and validates a payload of type `P` from JSON text.
    pub(crate) fn accept<P: crate::protocol::route::Decode>(raw: &str) -> Result<P, Self> {
        let payload = P::from_json(raw).map_err(PayloadError::Json)?;
        payload.check_received().map_err(PayloadError::Invalid)?;
        Ok(payload)
    }
}

/// Why a question to a client ([`ClientRequest`](crate::ClientRequest),
/// asked with [`Ctx::ask`](crate::Ctx::ask)) got no usable answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The question's payload failed its garde validation; nothing was sent.
    #[error("question on route \"{route}\" is invalid: {report}")]
    Invalid {
        /// The route's wire name.
        route: String,
        /// What garde found.
        report: garde::Report,
    },
    /// The question's payload could not be serialized to JSON.
    #[error("question on route \"{route}\" cannot be serialized: {source}")]
    Serialize {
        /// The route's wire name.
        route: String,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The question could not be queued: the client is not connected to
    /// this server, or its outgoing queue is full.
    #[error("question on route \"{route}\" could not be queued for the client")]
    Undelivered {
        /// The route's wire name.
        route: String,
    },
    /// No answer came within the timeout.
    #[error("no answer on route \"{route}\" within {timeout:?}")]
    Timeout {
        /// The route's wire name.
        route: String,
        /// How long the server waited.
        timeout: std::time::Duration,
    },
    /// The client's session ended before it answered.
    #[error("the client disconnected before answering on route \"{route}\"")]
    Disconnected {
        /// The route's wire name.
        route: String,
    },
    /// The client answered with an error (its handler failed or refused).
    #[error("the client refused the question on route \"{route}\": {message}")]
    Refused {
        /// The route's wire name.
        route: String,
        /// The client's message.
        message: String,
    },
    /// The answer does not deserialize into, or validate as, the route's `Response`.
    #[error("the answer on route \"{route}\" is invalid: {source}")]
    InvalidAnswer {
        /// The route's wire name.
        route: String,
        /// Why it was not accepted.
        source: PayloadError,
    },
}
