//! [`Conn`]: the connection a message came from, as handlers and middleware see it.

use std::fmt;
use std::sync::Arc;

use crate::engine::hub::Hub;
use crate::engine::hub::rooms::Joined;
use crate::protocol::client_id::ClientId;
use crate::protocol::error::Reject;

/// The connection a message came from: its id and its rooms.
///
/// Router-independent, so [`Middleware`](crate::Middleware) can use it whatever
/// the router; a [`Ctx`](crate::Ctx) dereferences to it. Cheap to clone.
#[derive(Clone)]
pub struct Conn {
    pub(crate) hub: Arc<Hub>,
    pub(crate) id: ClientId,
}

impl Conn {
    /// The client's id.
    pub fn id(&self) -> ClientId {
        self.id
    }
    /// Joins `room`: `Ok(true)` when the client became a member, `Ok(false)`
    /// when it was one already (or the connection is gone).
    ///
    /// # Errors
    ///
    /// A [`Reject`] when the client is in
    /// [`max_rooms_per_client`](crate::Config::max_rooms_per_client) rooms
    /// already; nothing changes. With `?` in a handler, the client is told
    /// on `$zocket.error` (`rejected`).
    pub fn join(&self, room: &str) -> Result<bool, Reject> {
        joined(
            self.hub.join(self.id, room),
            self.hub.config.max_rooms_per_client,
        )
    }
    /// Leaves `room`; `false` if not a member. An empty room is removed.
    pub fn leave(&self, room: &str) -> bool {
        self.hub.leave(self.id, room)
    }
    /// Whether the client is in `room`.
    pub fn in_room(&self, room: &str) -> bool {
        self.hub.in_room(self.id, room)
    }
    /// The client's rooms, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.hub.rooms_of(self.id)
    }
    /// Whether this connection resumed a session its client had dropped
    /// (connection-state recovery, [`Config::recovery`](crate::Config::recovery)):
    /// it kept its id and rooms and got the messages it missed. `false` for
    /// a fresh session, or with recovery off.
    pub fn recovered(&self) -> bool {
        self.hub.is_recovered(self.id)
    }
    /// Closes this connection with a close code (e.g. 1008) and reason.
    pub fn close(&self, code: u16, reason: &'static str) {
        self.hub.close(self.id, code, reason);
    }
}

/// The public answer to a join.
pub(crate) fn joined(outcome: Joined, limit: usize) -> Result<bool, Reject> {
    match outcome {
        Joined::Member => Ok(true),
        Joined::AlreadyMember | Joined::Gone => Ok(false),
        Joined::TooManyRooms => Err(Reject::forbidden(format!(
            "room limit reached: a client may be in at most {limit} rooms"
        ))),
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn").field("id", &self.id).finish()
    }
}
