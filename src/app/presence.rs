//! Typed presence: who is in a room, keyed by a user key the app chooses
//! (several connections, e.g. browser tabs, share one key), with metadata
//! of the app's type, and diffs on an outgoing route of the app's router.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use garde::Validate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tungstenite::Utf8Bytes;

use crate::engine::adapter::Target;
use crate::engine::conn::Conn;
use crate::engine::hub::Hub;
use crate::protocol::client_id::ClientId;
use crate::protocol::wire::encode;
use crate::util::lock_unpoisoned;

/// What a presence entry carries: any serde + garde type.
pub trait PresenceMeta:
    Serialize + DeserializeOwned + Validate<Context = ()> + Clone + Send + Sync + 'static
{
}
impl<T> PresenceMeta for T where
    T: Serialize + DeserializeOwned + Validate<Context = ()> + Clone + Send + Sync + 'static
{
}

/// What changed for one key in one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PresenceEvent {
    /// The key appeared: its first connection was tracked.
    Join,
    /// The key is gone: its last connection was untracked or closed.
    Leave,
    /// The key's metadata changed (updated, or a connection came or went
    /// while others remain).
    Update,
}

/// A presence diff, sent to the room's members on the app's diff route:
/// `{"room", "key", "event": "join"|"leave"|"update", "metas": [..]}`.
/// `metas` are the key's metadata now, one per connection (for a leave:
/// the ones that left).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PresenceDiff<M> {
    /// The room.
    pub room: String,
    /// The user key.
    pub key: String,
    /// What happened.
    pub event: PresenceEvent,
    /// The key's metadata (see above).
    pub metas: Vec<M>,
}

impl<M: Validate<Context = ()>> Validate for PresenceDiff<M> {
    type Context = ();
    fn validate_into(
        &self,
        ctx: &(),
        parent: &mut dyn FnMut() -> garde::Path,
        report: &mut garde::Report,
    ) {
        for (i, meta) in self.metas.iter().enumerate() {
            let mut path = || parent().join("metas").join(i);
            meta.validate_into(ctx, &mut path, report);
        }
    }
}

/// Presence of one app: tracked connections by room and key.
///
/// Create it before building the app, hand it to
/// [`Builder::presence`](crate::Builder::presence) with the outgoing route
/// that carries [`PresenceDiff`]s, and use it in handlers. A connection's
/// entries are removed when its session ends (at its close, or when its
/// recovery window runs out), with the diffs that follow.
///
/// ```
/// # use garde::Validate; use serde::{Deserialize, Serialize};
/// use zocket::presence::{Presence, PresenceDiff};
/// use zocket::{Ctx, HandlerResult, Incoming, Outgoing, Zocket};
///
/// #[derive(Clone, Debug, Serialize, Deserialize, Validate)]
/// struct Online { #[garde(skip)] name: String }
/// #[derive(Serialize, Deserialize, Validate)]
/// struct Room { #[garde(length(min = 1))] room: String }
///
/// struct Join;
/// impl Incoming for Join { const NAME: &'static str = "join"; type Payload = Room; }
/// struct OnPresence;
/// impl Outgoing for OnPresence { const NAME: &'static str = "onPresence"; type Payload = PresenceDiff<Online>; }
/// type Api = (Join, (OnPresence, ()));
///
/// let presence = Presence::<Online>::new();
/// let tracked = presence.clone();
/// let app = Zocket::<Api>::builder()
///     .presence(&presence, OnPresence)
///     .on(Join, move |r: Room, ctx: Ctx<Api>| {
///         let presence = tracked.clone();
///         async move {
///             ctx.join(&r.room)?;
///             // The user key: here the client id; an app uses its user id, so tabs share it.
///             presence.track(ctx.conn(), &r.room, &ctx.id().to_string(), Online { name: "ann".into() })?;
///             HandlerResult::Ok(())
///         }
///     })
///     .build()
///     .unwrap();
/// assert!(presence.list("lobby").is_empty());
/// ```
pub struct Presence<M> {
    inner: Arc<Inner<M>>,
}

impl<M> Clone for Presence<M> {
    fn clone(&self) -> Self {
        Presence {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<M> {
    /// The diff route's wire name and the app's hub, once attached.
    attached: OnceLock<(String, Weak<Hub>)>,
    state: Mutex<State<M>>,
}

struct State<M> {
    /// room -> key -> (connection, metadata), in tracking order.
    rooms: HashMap<String, BTreeMap<String, Vec<(ClientId, M)>>>,
    /// connection -> its (room, key) entries, for the clean-up.
    by_conn: HashMap<ClientId, HashSet<(String, String)>>,
}

impl<M: PresenceMeta> Default for Presence<M> {
    fn default() -> Self {
        Self::new()
    }
}

/// Why presence could not track.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PresenceError {
    /// [`Builder::presence`](crate::Builder::presence) was not called with this presence.
    #[error("this presence is not attached to an app (Builder::presence)")]
    NotAttached,
    /// The metadata fails its validation.
    #[error("invalid presence metadata: {0}")]
    Invalid(String),
}

impl From<PresenceError> for crate::protocol::error::Reject {
    fn from(e: PresenceError) -> Self {
        crate::protocol::error::Reject::new(e.to_string())
    }
}

impl<M: PresenceMeta> Presence<M> {
    /// An empty presence, to attach with [`Builder::presence`](crate::Builder::presence).
    pub fn new() -> Self {
        Presence {
            inner: Arc::new(Inner {
                attached: OnceLock::new(),
                state: Mutex::new(State {
                    rooms: HashMap::new(),
                    by_conn: HashMap::new(),
                }),
            }),
        }
    }

    /// Attaches to an app: diffs go out on `route` through `hub`, and a
    /// session's entries go when it ends.
    pub(crate) fn attach(&self, route: String, hub: &Arc<Hub>) {
        if self
            .inner
            .attached
            .set((route, Arc::downgrade(hub)))
            .is_err()
        {
            tracing::warn!("a presence was attached to a second app; it keeps the first");
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        hub.on_gone(Arc::new(move |id| {
            if let Some(inner) = weak.upgrade() {
                Presence { inner }.untrack_all(id);
            }
        }));
    }

    /// Tracks `conn` in `room` under `key` with `meta`. The room's members
    /// get a join diff when the key is new, else an update. Tracking the
    /// same connection again under the same key replaces its metadata.
    ///
    /// # Errors
    ///
    /// [`PresenceError`] when `meta` fails validation or the presence is not
    /// attached (with `?` in a handler, the client is told).
    pub fn track(&self, conn: &Conn, room: &str, key: &str, meta: M) -> Result<(), PresenceError> {
        meta.validate()
            .map_err(|r| PresenceError::Invalid(r.to_string()))?;
        if self.inner.attached.get().is_none() {
            return Err(PresenceError::NotAttached);
        }
        let id = conn.id();
        let diff = {
            let mut state = lock_unpoisoned(&self.inner.state);
            let entries = state
                .rooms
                .entry(room.to_owned())
                .or_default()
                .entry(key.to_owned())
                .or_default();
            let event = if entries.is_empty() {
                PresenceEvent::Join
            } else {
                PresenceEvent::Update
            };
            match entries.iter_mut().find(|(c, _)| *c == id) {
                Some(entry) => entry.1 = meta,
                None => entries.push((id, meta)),
            }
            let metas = entries.iter().map(|(_, m)| m.clone()).collect();
            state
                .by_conn
                .entry(id)
                .or_default()
                .insert((room.to_owned(), key.to_owned()));
            PresenceDiff {
                room: room.to_owned(),
                key: key.to_owned(),
                event,
                metas,
            }
        };
        self.publish(&diff);
        Ok(())
    }

    /// Replaces the metadata of `conn`'s entry in `room` (every key it is
    /// tracked under there); the members get an update. `false` if it is not tracked there.
    ///
    /// # Errors
    ///
    /// [`PresenceError::Invalid`] when `meta` fails validation.
    pub fn update(&self, conn: &Conn, room: &str, meta: M) -> Result<bool, PresenceError> {
        meta.validate()
            .map_err(|r| PresenceError::Invalid(r.to_string()))?;
        let id = conn.id();
        let diffs: Vec<PresenceDiff<M>> = {
            let mut state = lock_unpoisoned(&self.inner.state);
            let Some(keys) = state.rooms.get_mut(room) else {
                return Ok(false);
            };
            let mut diffs = Vec::new();
            for (key, entries) in keys.iter_mut() {
                if let Some(entry) = entries.iter_mut().find(|(c, _)| *c == id) {
                    entry.1 = meta.clone();
                    diffs.push(PresenceDiff {
                        room: room.to_owned(),
                        key: key.clone(),
                        event: PresenceEvent::Update,
                        metas: entries.iter().map(|(_, m)| m.clone()).collect(),
                    });
                }
            }
            diffs
        };
        for diff in &diffs {
            self.publish(diff);
        }
        Ok(!diffs.is_empty())
    }

    /// Stops tracking `conn` in `room`; the members get a leave (its key's
    /// last connection) or an update. `false` if it was not tracked there.
    pub fn untrack(&self, conn: &Conn, room: &str) -> bool {
        let diffs = self.remove(conn.id(), |r| r == room);
        let any = !diffs.is_empty();
        for diff in &diffs {
            self.publish(diff);
        }
        any
    }

    /// Who is in `room`: each key with the metadata of each of its connections.
    pub fn list(&self, room: &str) -> BTreeMap<String, Vec<M>> {
        lock_unpoisoned(&self.inner.state)
            .rooms
            .get(room)
            .map(|keys| {
                keys.iter()
                    .map(|(k, entries)| {
                        (k.clone(), entries.iter().map(|(_, m)| m.clone()).collect())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A session ended: every entry of `id` goes, with the diffs.
    fn untrack_all(&self, id: ClientId) {
        for diff in self.remove(id, |_| true) {
            self.publish(&diff);
        }
    }

    /// Removes `id`'s entries in the rooms `which` accepts; the diffs to send.
    fn remove(&self, id: ClientId, which: impl Fn(&str) -> bool) -> Vec<PresenceDiff<M>> {
        let mut state = lock_unpoisoned(&self.inner.state);
        let state = &mut *state;
        let Some(entries) = state.by_conn.get_mut(&id) else {
            return Vec::new();
        };
        let gone: Vec<(String, String)> =
            entries.iter().filter(|(r, _)| which(r)).cloned().collect();
        for e in &gone {
            entries.remove(e);
        }
        if entries.is_empty() {
            state.by_conn.remove(&id);
        }
        let mut diffs = Vec::new();
        for (room, key) in gone {
            let Some(keys) = state.rooms.get_mut(&room) else {
                continue;
            };
            let Some(list) = keys.get_mut(&key) else {
                continue;
            };
            let left: Vec<M> = list
                .iter()
                .filter(|(c, _)| *c == id)
                .map(|(_, m)| m.clone())
                .collect();
            list.retain(|(c, _)| *c != id);
            let diff = if list.is_empty() {
                keys.remove(&key);
                PresenceDiff {
                    room: room.clone(),
                    key,
                    event: PresenceEvent::Leave,
                    metas: left,
                }
            } else {
                let metas = list.iter().map(|(_, m)| m.clone()).collect();
                PresenceDiff {
                    room: room.clone(),
                    key,
                    event: PresenceEvent::Update,
                    metas,
                }
            };
            if keys.is_empty() {
                state.rooms.remove(&room);
            }
            diffs.push(diff);
        }
        diffs
    }

    /// Sends `diff` to the room's members (on every node, with an adapter).
    fn publish(&self, diff: &PresenceDiff<M>) {
        let Some((route, hub)) = self.inner.attached.get() else {
            return;
        };
        let Some(hub) = hub.upgrade() else { return };
        match encode(route, diff) {
            Ok(text) => {
                hub.deliver(
                    Target::Rooms(vec![diff.room.clone()]),
                    &Utf8Bytes::from(text),
                    None,
                );
            }
            Err(e) => tracing::error!(error = %e, "a presence diff did not serialize"),
        }
    }
}
