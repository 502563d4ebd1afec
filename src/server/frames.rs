//! [`Frames`]: what a session does with each data frame and at its end. An
//! app dispatches frames to its handlers; the conformance echo server writes
//! them back. The choice is made once per server, not checked per frame.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tungstenite::{Message, Utf8Bytes};

use crate::engine::conn::Conn;
use crate::engine::dispatch::{Failure, Handlers, answer_in, dispatch, reauthenticate};
use crate::protocol::wire::ErrorKind;

/// A running hook (`on_recover`, `on_disconnect`).
pub(crate) type Dispatch = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>>;

/// A running message: the boxed future of [`dispatch`] (which catches
/// panics), or of a re-authentication, which gives the connection's new data.
pub(crate) type Running<U> = Pin<Box<dyn Future<Output = Result<Option<U>, Failure>> + Send>>;

/// What a session does with each data frame, and when it ends.
pub(crate) trait Frames<U>: Send + Sync + 'static {
    /// Handles one text or binary frame.
    fn on_data(self: &Arc<Self>, msg: Message, conn: &Conn, data: &U) -> OnData<U>;
    /// Runs once after the connection has left its rooms.
    fn on_disconnect(&self, conn: Conn, data: U, rooms: Vec<String>) -> Option<Dispatch>;
    /// Runs first on a connection that resumed a dropped session.
    fn on_recover(&self, conn: &Conn, data: &U) -> Option<Dispatch>;
    /// Takes `msg` at once if it is a client's answer to a question of the
    /// server (`Some`, with the outcome); `None` for any other frame. Asked
    /// only while a handler runs.
    fn take_answer(&self, msg: &Message, conn: &Conn) -> Option<Result<(), Failure>> {
        let _ = (msg, conn);
        None
    }
    /// How long until the credentials behind `data` expire, if they do.
    fn expiry(&self, data: &U) -> Option<std::time::Duration> {
        let _ = data;
        None
    }
}

/// What to do with one data frame.
pub(crate) enum OnData<U> {
    /// Run this handler; handle nothing more until it is done (arrival order).
    Run(Running<U>),
    /// Write this message back.
    Write(Message),
    /// Tell the client what went wrong.
    Fail(Failure),
}

/// What a frame on the re-authentication route contains, quotes included
/// (checked only when the app takes re-authentication; `$zocket.auth`).
const AUTH_MARK: &str = "\"$zocket.auth\"";

/// An app: text frames go to their route's handler.
impl<U: Clone + Send + Sync + 'static> Frames<U> for Handlers<U> {
    fn on_data(self: &Arc<Self>, msg: Message, conn: &Conn, data: &U) -> OnData<U> {
        let text = match msg {
            Message::Text(text) => text,
            // What the original Zocket server does: a binary frame holding
            // UTF-8 is read as text (unless the app refuses binary frames).
            Message::Binary(bytes) if conn.hub.config.binary_as_text => {
                match Utf8Bytes::try_from(bytes) {
                    Ok(text) => text,
                    Err(_) => {
                        return OnData::Fail(Failure::new(
                            ErrorKind::UnsupportedFrame,
                            None,
                            "a binary frame must hold UTF-8 JSON; send JSON text frames",
                        ));
                    }
                }
            }
            _ => {
                return OnData::Fail(Failure::new(
                    ErrorKind::UnsupportedFrame,
                    None,
                    "binary frames are not accepted here; send JSON text frames",
                ));
            }
        };
        let handlers = self.clone();
        let (conn, data) = (conn.clone(), data.clone());
        OnData::Run(Box::pin(async move {
            let text = text.as_str();
            if handlers.on_reauth.is_some()
                && text.contains(AUTH_MARK)
                && let Some(outcome) = reauthenticate(&handlers, text, &conn, &data).await
            {
                return Ok(outcome);
            }
            dispatch(&handlers, text, &conn, &data).await.map(|()| None)
        }))
    }

    fn expiry(&self, data: &U) -> Option<std::time::Duration> {
        self.expiry.as_ref()?(data)
    }

    fn take_answer(&self, msg: &Message, conn: &Conn) -> Option<Result<(), Failure>> {
        let text = match msg {
            Message::Text(text) => text.as_str(),
            Message::Binary(bytes) if conn.hub.config.binary_as_text => {
                std::str::from_utf8(bytes).ok()?
            }
            _ => return None,
        };
        answer_in(text, conn)
    }

    fn on_recover(&self, conn: &Conn, data: &U) -> Option<Dispatch> {
        let run = self.on_recover.as_ref()?(conn.clone(), data.clone());
        Some(Box::pin(async move {
            run.await
                .map_err(|e| Failure::handler_failed("on_recover", e.to_string()))
        }))
    }

    fn on_disconnect(&self, conn: Conn, data: U, rooms: Vec<String>) -> Option<Dispatch> {
        let on_disconnect = self.on_disconnect.as_ref()?;
        let run = on_disconnect(conn, data, rooms);
        Some(Box::pin(async move {
            run.await
                .map_err(|e| Failure::handler_failed("on_disconnect", e.to_string()))
        }))
    }
}
