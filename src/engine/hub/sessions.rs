//! Recovery in the hub: a dropped client's slot stays (its id, its rooms, its
//! queue, which keeps filling) while its session is *detached*; a client that
//! presents the session's token within the window takes it over again, and
//! the window's end without one removes it like any closed connection.

use tungstenite::Utf8Bytes;

use super::Hub;
use super::registry::{Conn, OutboxRef};
use super::session::{NoResume, State};
use crate::engine::recovery::{parse_token, same_secret, token};
use crate::protocol::client_id::ClientId;

impl Hub {
    /// The connection in `id`'s slot ended without a close from either side:
    /// keep its session for the window. `Some(epoch)` to pass to [`Hub::expire`];
    /// `None` when it cannot be kept (recovery off, or already lost).
    pub(crate) fn detach(&self, id: ClientId) -> Option<u64> {
        let conn = self.conns.get(id)?;
        let mut session = conn.session();
        let session = session.as_mut()?;
        if session.state != State::Attached {
            return None;
        }
        let epoch = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u64;
        session.state = State::Detached { epoch };
        self.conns
            .detached
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.counters
            .sessions_detached
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(epoch)
    }

    /// The window of absence `epoch` ended: `true` if the session was not
    /// resumed, and the caller now removes it (rooms, `on_disconnect`).
    pub(crate) fn expire(&self, id: ClientId, epoch: u64) -> bool {
        let Some(conn) = self.conns.get(id) else {
            return false;
        };
        let mut session = conn.session();
        let Some(session) = session.as_mut() else {
            return false;
        };
        match session.state {
            State::Detached { epoch: e } if e == epoch => {
                session.state = State::Gone;
                self.conns
                    .detached
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Whether a slot's session is away (its client dropped, the window runs).
    pub(super) fn away(conn: &Conn) -> bool {
        conn.session()
            .as_ref()
            .is_some_and(|s| matches!(s.state, State::Detached { .. } | State::Resuming { .. }))
    }

    /// Whether the connection in `id`'s slot took over a dropped session.
    pub(crate) fn is_recovered(&self, id: ClientId) -> bool {
        self.conns
            .get(id)
            .is_some_and(|c| c.session().as_ref().is_some_and(|s| s.recovered))
    }

    /// A client presents `token` (and the last offset it received): claims
    /// the session for it while its `on_connect` runs. On success, finish
    /// with [`Hub::finish_resume`] or [`Hub::abort_resume`].
    pub(crate) fn begin_resume(
        &self,
        token_text: &str,
        last_offset: u64,
        identity: u64,
    ) -> Result<(ClientId, OutboxRef, Vec<Utf8Bytes>), NoResume> {
        let (id, secret) = parse_token(token_text).ok_or(NoResume::Unknown)?;
        let conn = self.conns.get(id).ok_or(NoResume::Unknown)?;
        let replay = {
            let mut session = conn.session();
            let session = session.as_mut().ok_or(NoResume::Unknown)?;
            if !same_secret(&session.secret, &secret) || session.identity != identity {
                return Err(NoResume::Unknown);
            }
            if session.lost {
                return Err(NoResume::TooFarBehind);
            }
            let State::Detached { epoch } = session.state else {
                return Err(NoResume::NotAway);
            };
            let replay = conn
                .outbox
                .written_since(last_offset)
                .ok_or(NoResume::TooFarBehind)?;
            session.state = State::Resuming { epoch };
            replay
        };
        Ok((id, OutboxRef(conn), replay))
    }

    /// The resuming client's `on_connect` refused: the session waits on.
    pub(crate) fn abort_resume(&self, id: ClientId) {
        let Some(conn) = self.conns.get(id) else {
            return;
        };
        if let Some(session) = conn.session().as_mut()
            && let State::Resuming { epoch } = session.state
        {
            session.state = State::Detached { epoch };
        }
    }

    /// The resuming client is accepted: the session is attached to it again.
    pub(crate) fn finish_resume(&self, id: ClientId) -> Option<String> {
        let conn = self.conns.get(id)?;
        let mut session = conn.session();
        let session = session.as_mut()?;
        if !matches!(session.state, State::Resuming { .. }) {
            return None;
        }
        session.state = State::Attached;
        session.recovered = true;
        let token = token(id, &session.secret);
        self.conns
            .detached
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.counters
            .sessions_recovered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(token)
    }

    /// A full queue: if its session is away, the queue overflowed while
    /// its client is gone, so it can no longer be recovered whole and is
    /// not recovered at all (its client starts afresh and knows to
    /// resynchronise). Whether the session is away (then delivery drops
    /// the message without the slow-consumer policy).
    pub(super) fn lose_if_away(conn: &Conn) -> bool {
        let mut session = conn.session();
        let Some(session) = session.as_mut() else {
            return false;
        };
        match session.state {
            State::Resuming { .. } => return true,
            State::Detached { .. } if !session.lost => {}
            State::Detached { .. } => return true,
            State::Attached | State::Gone => return false,
        }
        // Stays detached (the window still ends with `on_disconnect`), but
        // nothing is kept and no token resumes it.
        session.lost = true;
        conn.outbox.forget();
        tracing::info!(client = %conn.id, "a detached session's queue overflowed; it cannot be recovered");
        true
    }
}
