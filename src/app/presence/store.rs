//! The presence store: entries by room and key, diffs, and their delivery.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use garde::Validate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tungstenite::Utf8Bytes;

use crate::engine::adapter::Target;
use crate::engine::hub::Hub;
use crate::protocol::client_id::ClientId;
use crate::protocol::wire::encode;
use crate::util::lock_unpoisoned;

/// The default time after which a silent node's presence entries are removed.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(15);

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

/// The metadata of `id`'s entry under `room`/`key`, as JSON (for the other nodes).
pub(super) fn diff_meta_of<M: Serialize>(
    inner: &Inner<M>,
    id: ClientId,
    room: &str,
    key: &str,
) -> Option<serde_json::Value> {
    let state = lock_unpoisoned(&inner.state);
    let (_, meta) = state
        .rooms
        .get(room)?
        .get(key)?
        .iter()
        .find(|(c, _)| *c == id)?;
    serde_json::to_value(meta).ok()
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
    pub(super) inner: Arc<Inner<M>>,
}

impl<M> Clone for Presence<M> {
    fn clone(&self) -> Self {
        Presence {
            inner: self.inner.clone(),
        }
    }
}

pub(super) struct Inner<M> {
    /// The diff route's wire name and the app's hub, once attached.
    pub(super) attached: OnceLock<(String, Weak<Hub>)>,
    pub(super) state: Mutex<State<M>>,
    /// With an adapter: when each other node was last heard from.
    pub(super) last_seen: Mutex<HashMap<u32, Instant>>,
    /// How long a silent node's entries are kept (milliseconds).
    pub(super) node_timeout_ms: AtomicU64,
    pub(super) ticking: AtomicBool,
}

pub(super) struct State<M> {
    /// room -> key -> (connection, metadata), in tracking order.
    pub(super) rooms: HashMap<String, BTreeMap<String, Vec<(ClientId, M)>>>,
    /// connection -> its (room, key) entries, for the clean-up.
    pub(super) by_conn: HashMap<ClientId, HashSet<(String, String)>>,
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
                last_seen: Mutex::new(HashMap::new()),
                node_timeout_ms: AtomicU64::new(DEFAULT_NODE_TIMEOUT.as_millis() as u64),
                ticking: AtomicBool::new(false),
            }),
        }
    }

    pub(super) fn timeout(&self) -> Duration {
        Duration::from_millis(self.inner.node_timeout_ms.load(Ordering::Relaxed))
    }

    pub(super) fn hub(&self) -> Option<(String, Arc<Hub>)> {
        let (route, hub) = self.inner.attached.get()?;
        Some((route.clone(), hub.upgrade()?))
    }

    /// Removes `id`'s entries in the rooms `which` accepts; the diffs to send.
    pub(super) fn remove(
        &self,
        id: ClientId,
        which: impl Fn(&str) -> bool,
    ) -> Vec<PresenceDiff<M>> {
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

    /// Sends `diff` to this node's members of the room only.
    pub(super) fn publish_here(&self, diff: &PresenceDiff<M>) {
        let Some((route, hub)) = self.hub() else {
            return;
        };
        if let Ok(text) = encode(&route, diff) {
            hub.deliver_here(
                &Target::Rooms(vec![diff.room.clone()]),
                &Utf8Bytes::from(text),
            );
        }
    }

    /// Sends `diff` to the room's members (on every node, with an adapter).
    pub(super) fn publish(&self, diff: &PresenceDiff<M>) {
        let Some((route, hub)) = self.inner.attached.get() else {
            return;
        };
        let Some(hub) = hub.upgrade() else { return };
        match encode(route, diff) {
            Ok(text) => {
                hub.deliver(
                    Target::Rooms(vec![diff.room.clone()]),
                    &Utf8Bytes::from(text),
                    &[],
                );
            }
            Err(e) => tracing::error!(error = %e, "a presence diff did not serialize"),
        }
    }
}
