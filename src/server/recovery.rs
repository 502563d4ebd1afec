//! What connection-state recovery adds to a connection's start and end: the
//! greeting (`$zocket.welcome`, then on a resume the messages the client
//! missed), and at the end the choice between keeping a dropped client's
//! session for its window and finishing it now (rooms, `on_disconnect`).

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tracing::Instrument;
use tungstenite::Message;

use super::frames::Frames;
use crate::engine::conn::Conn;
use crate::engine::hub::Hub;
use crate::engine::hub::session::Welcome;
use crate::engine::lifecycle::Lifecycle;
use crate::protocol::client_id::ClientId;
use crate::protocol::route::WELCOME_ROUTE;
use crate::protocol::wire::encode;
use crate::util::panic_message;

/// The first messages of a connection with recovery on (or of a client that
/// asked for in-band refusals): `$zocket.welcome` (without `token` when
/// recovery is off), then, on a resume, the written messages the client missed.
pub(super) fn greeting(id: ClientId, welcome: Welcome) -> VecDeque<Message> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Payload<'a> {
        client_id: ClientId,
        #[serde(skip_serializing_if = "str::is_empty")]
        token: &'a str,
        recovered: bool,
    }
    let payload = Payload {
        client_id: id,
        token: &welcome.token,
        recovered: welcome.recovered,
    };
    let mut out = VecDeque::with_capacity(1 + welcome.replay.len());
    if let Ok(text) = encode(WELCOME_ROUTE, &payload) {
        out.push_back(Message::text(text));
    }
    out.extend(welcome.replay.into_iter().map(Message::Text));
    out
}

/// The end of a connection. A client that dropped (no close from either
/// side; `detachable`) may come back when recovery is on: its slot, rooms
/// and queue wait for it, and `on_disconnect` runs when the window ends
/// without a resume. Otherwise the connection finishes now.
pub(super) async fn conclude<U, F>(
    frames: Arc<F>,
    hub: Arc<Hub>,
    conn: Conn,
    data: U,
    detachable: bool,
) where
    U: Send + Sync + 'static,
    F: Frames<U>,
{
    let id = conn.id;
    if let (true, Some(recovery)) = (detachable, hub.config.recovery)
        && let Some(epoch) = hub.detach(id)
    {
        tracing::debug!(window = ?recovery.window, "connection lost; session kept for the window");
        let guard = hub.lifecycle.task_guard();
        tokio::spawn(
            async move {
                let _guard = guard;
                let mut stop = hub.lifecycle.watch();
                tokio::select! {
                    () = tokio::time::sleep(recovery.window) => {}
                    () = Lifecycle::stopped(&mut stop) => {}
                }
                if hub.expire(id, epoch) {
                    tracing::debug!("recovery window over; the session ends");
                    finish(frames, hub, conn, data).await;
                }
            }
            .in_current_span(),
        );
        return;
    }
    finish(frames, hub, conn, data).await;
}

/// The end of a connection (or of a session): leave every room, then run
/// `on_disconnect` exactly once.
async fn finish<U, F>(frames: Arc<F>, hub: Arc<Hub>, conn: Conn, data: U)
where
    U: Send + Sync + 'static,
    F: Frames<U>,
{
    let id = conn.id;
    if let Some(outbox) = hub.outbox_of(id) {
        outbox.shut();
    }
    hub.session_ended(id);
    // Boxed: a cold path, so the long-lived connection future does not carry
    // its state (idle memory per connection).
    let rooms = Box::pin(hub.unregister_gradually(id)).await;
    if let Some(on_disconnect) = frames.on_disconnect(conn, data, rooms) {
        match AssertUnwindSafe(on_disconnect).catch_unwind().await {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => {
                tracing::error!(
                    error = failure.log.as_deref().unwrap_or(""),
                    "on_disconnect failed"
                )
            }
            Err(panic) => tracing::error!(panic = panic_message(&panic), "on_disconnect panicked"),
        }
    }
    tracing::debug!("disconnected");
}
