//! Scaling out: how room sends, broadcasts and sends to client ids reach the
//! clients of other server processes.
//!
//! Every delivery is first made to this process's own clients. When the app has
//! an [`Adapter`], the delivery is then handed to it as a [`Remote`] (the
//! message's serialized text, serialized once, plus its target), and the adapter
//! carries it to the other nodes, whose [`Inbox`] delivers it to their own
//! clients. Without an adapter (the default) nothing else happens: delivery is
//! in-process and costs nothing extra.
//!
//! A client id names the node that issued it ([`ClientId::node`]), so a send to
//! an id of another node is published only when needed, and ids are unique
//! across nodes as long as node ids are (the Redis adapter takes its node id
//! from an atomic counter in Redis).
//!
//! Room membership stays local to each node: a room send reaches the members
//! on every node, while `ServerHandle::members` and `rooms` list this node's.

use std::sync::{Arc, Weak};

use tungstenite::Message;

use crate::registry::{ClientId, Core};

/// Who a delivery is for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// These clients (only those on other nodes are published).
    Clients(Vec<ClientId>),
    /// Every member of these rooms, on every node.
    Rooms(Vec<String>),
    /// Every client on every node.
    All,
}

/// A delivery travelling between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The node that made the delivery.
    pub origin: u32,
    /// Who it is for.
    pub target: Target,
    /// A client left out (`.except(id)`).
    pub except: Option<ClientId>,
    /// The serialized message (`{"type":..,"payload":..}`).
    pub text: String,
}

/// Carries deliveries between server processes.
///
/// `publish` is called on the hot path, inside `Delivery::to`/`to_room`/
/// `broadcast`, so it must not block or wait: queue the message for a
/// background task (the Redis adapter uses a bounded channel, and logs what it
/// has to drop while Redis is unreachable). `start` is called once, from
/// `serve`, inside the tokio runtime.
///
/// An adapter that only counts what would leave this node (a real one would
/// send [`encode`]d bytes over its transport in `publish`, and feed what it
/// receives, [`decode`]d, to the inbox it got in `start`):
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use zocket::adapter::{Adapter, Inbox, Remote};
///
/// #[derive(Default)]
/// struct Counting(AtomicUsize);
///
/// impl Adapter for Counting {
///     fn node(&self) -> u32 {
///         1
///     }
///     fn publish(&self, _remote: Remote) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
///     fn start(&self, _inbox: Inbox) {}
/// }
///
/// # type AppRouter = ();
/// let app = zocket::Zocket::<AppRouter>::builder()
///     .adapter(Counting::default())
///     .build()
///     .unwrap();
/// ```
pub trait Adapter: Send + Sync + 'static {
    /// This node's id; every [`ClientId`] issued here carries it.
    fn node(&self) -> u32;
    /// Sends a delivery made on this node to the other nodes. Must not block.
    fn publish(&self, remote: Remote);
    /// Starts receiving deliveries from other nodes; hand each to `inbox`.
    fn start(&self, inbox: Inbox);
}

/// Where an adapter hands deliveries that arrive from other nodes.
#[derive(Clone)]
pub struct Inbox {
    pub(crate) core: Weak<Core>,
}

impl Inbox {
    /// Delivers `remote` to this node's clients; returns how many got it, or
    /// `None` once the app is gone (the adapter should stop). Deliveries that
    /// this node published itself are ignored.
    pub fn deliver(&self, remote: Remote) -> Option<usize> {
        let core = self.core.upgrade()?;
        if remote.origin == core.node {
            return Some(0);
        }
        let msg = Message::Text(remote.text.into());
        Some(match remote.target {
            Target::Clients(ids) => core.deliver_to(ids, &msg, remote.except),
            Target::Rooms(rooms) => core.deliver_to_rooms(rooms, &msg, remote.except),
            Target::All => core.deliver_all(&msg, remote.except),
        })
    }
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

/// Hands a local delivery to the adapter, if there is one.
pub(crate) fn publish(core: &Core, target: Target, except: Option<ClientId>, msg: &Message) {
    let Some(adapter) = &core.adapter else { return };
    if let Target::Clients(ids) = &target
        && ids.is_empty()
    {
        return;
    }
    let text = match msg {
        Message::Text(t) => t.as_str().to_owned(),
        _ => return,
    };
    adapter.publish(Remote {
        origin: core.node,
        target,
        except,
        text,
    });
}

pub(crate) type DynAdapter = Arc<dyn Adapter>;

// ---------------------------------------------------------------------------
// A compact binary encoding for adapters that move bytes (Redis pub/sub).
// ---------------------------------------------------------------------------

const VERSION: u8 = 1;

/// Encodes a [`Remote`] as bytes for a byte transport. The format is private
/// to zocket (versioned); both ends must run compatible zocket versions.
pub fn encode(remote: &Remote) -> Vec<u8> {
    let mut out = Vec::with_capacity(remote.text.len() + 32);
    out.push(VERSION);
    out.extend_from_slice(&remote.origin.to_be_bytes());
    match remote.except {
        Some(id) => {
            out.push(1);
            out.extend_from_slice(&id.as_u128().to_be_bytes());
        }
        None => out.push(0),
    }
    match &remote.target {
        Target::All => out.push(0),
        Target::Clients(ids) => {
            out.push(1);
            out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
            for id in ids {
                out.extend_from_slice(&id.as_u128().to_be_bytes());
            }
        }
        Target::Rooms(rooms) => {
            out.push(2);
            out.extend_from_slice(&(rooms.len() as u32).to_be_bytes());
            for room in rooms {
                out.extend_from_slice(&(room.len() as u32).to_be_bytes());
                out.extend_from_slice(room.as_bytes());
            }
        }
    }
    out.extend_from_slice(remote.text.as_bytes());
    out
}

/// Decodes bytes made by [`encode`]; `None` for anything malformed.
pub fn decode(bytes: &[u8]) -> Option<Remote> {
    let mut r = Reader(bytes);
    if r.u8()? != VERSION {
        return None;
    }
    let origin = r.u32()?;
    let except = match r.u8()? {
        0 => None,
        1 => Some(ClientId::from_u128(r.u128()?)),
        _ => return None,
    };
    let target = match r.u8()? {
        0 => Target::All,
        1 => {
            let n = r.u32()? as usize;
            // Each id is 16 bytes: refuse counts the input cannot hold.
            if n > r.0.len() / 16 {
                return None;
            }
            Target::Clients(
                (0..n)
                    .map(|_| r.u128().map(ClientId::from_u128))
                    .collect::<Option<_>>()?,
            )
        }
        2 => {
            let n = r.u32()? as usize;
            if n > r.0.len() / 4 {
                return None;
            }
            let mut rooms = Vec::with_capacity(n);
            for _ in 0..n {
                let len = r.u32()? as usize;
                rooms.push(String::from_utf8(r.take(len)?.to_vec()).ok()?);
            }
            Target::Rooms(rooms)
        }
        _ => return None,
    };
    let text = std::str::from_utf8(r.0).ok()?.to_owned();
    Some(Remote {
        origin,
        target,
        except,
        text,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }
    fn u128(&mut self) -> Option<u128> {
        self.take(16)
            .map(|b| u128::from_be_bytes(b.try_into().expect("16 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_every_target() {
        for target in [
            Target::All,
            Target::Clients(vec![ClientId::from_u128(1), ClientId::from_u128(u128::MAX)]),
            Target::Rooms(vec!["lobby".into(), String::new(), "é".into()]),
        ] {
            for except in [None, Some(ClientId::from_u128(42))] {
                let remote = Remote {
                    origin: 7,
                    target: target.clone(),
                    except,
                    text: r#"{"type":"x","payload":null}"#.into(),
                };
                assert_eq!(decode(&encode(&remote)), Some(remote));
            }
        }
    }

    #[test]
    fn malformed_bytes_decode_to_none() {
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[9]), None);
        assert_eq!(decode(&[1, 0, 0, 0, 1, 0, 1, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(
            decode(&[1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9, b'x']),
            None
        );
        let mut bad_utf8 = encode(&Remote {
            origin: 1,
            target: Target::All,
            except: None,
            text: "ok".into(),
        });
        bad_utf8.push(0xff);
        assert_eq!(decode(&bad_utf8), None);
    }
}
