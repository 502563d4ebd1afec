//! What travels between nodes: one typed packet per message, and who a
//! delivery is for.

use crate::protocol::client_id::ClientId;

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

/// Everything one node says to the others, one variant per kind.
///
/// An adapter routes a packet by its variant (a delivery by its
/// [`Target`], a cluster message by its node) and carries it, as it is or
/// [`encode`](crate::adapter::encode)d (bytes with a version byte first).
/// Only [`Delivery`](Packet::Delivery) has content an adapter may read: the
/// message as clients receive it. zocket's own messages (session
/// hand-overs, presence, cluster questions) are [`Opaque`]: carried, never
/// read outside zocket, versioned with the packet.
///
/// ```
/// use zocket::adapter::{Packet, Target};
///
/// fn describe(packet: &Packet) -> String {
///     match packet {
///         Packet::Delivery { target: Target::Rooms(rooms), .. } => format!("to rooms {rooms:?}"),
///         Packet::Delivery { .. } => "to clients".into(),
///         Packet::Cluster { node: Some(node), .. } => format!("for node {node}"),
///         other => format!("zocket's own ({} bytes)", other.len()),
///     }
/// }
/// let packet = Packet::Delivery {
///     target: Target::Rooms(vec!["lobby".into()]),
///     except: vec![],
///     text: r#"{"type":"chat.message","payload":"hi"}"#.into(),
/// };
/// assert_eq!(describe(&packet), r#"to rooms ["lobby"]"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Packet {
    /// A message for clients.
    Delivery {
        /// Who it is for.
        target: Target,
        /// Clients left out (`.except(..)`), usually none or one.
        except: Vec<ClientId>,
        /// The serialized message as clients receive it
        /// (`{"type":..,"payload":..}`).
        text: String,
    },
    /// A session moving between nodes (connection-state recovery): a node
    /// asks for a session, or the node that held it gives it.
    Session(Opaque),
    /// A presence change or heartbeat of a node.
    Presence(Opaque),
    /// A cluster-wide question or its answer.
    Cluster {
        /// The node it is for; `None`: every node.
        node: Option<u32>,
        /// The question or answer.
        body: Opaque,
    },
}

impl Packet {
    /// The size of what it carries, in bytes (a delivery's text, or the
    /// body of zocket's own message).
    pub fn len(&self) -> usize {
        match self {
            Packet::Delivery { text, .. } => text.len(),
            Packet::Session(body) | Packet::Presence(body) | Packet::Cluster { body, .. } => {
                body.0.len()
            }
        }
    }

    /// Whether it carries nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The body of one of zocket's own inter-node messages, in zocket's
/// private encoding: an adapter carries it and need not (cannot) read it.
/// It changes only with the packet version
/// ([`encode`](crate::adapter::encode) writes it first).
#[derive(Clone, PartialEq, Eq)]
pub struct Opaque(pub(crate) Box<[u8]>);

impl Opaque {
    /// The body of a message of zocket's, serialized.
    pub(crate) fn of<T: serde::Serialize>(message: &T) -> Option<Opaque> {
        serde_json::to_vec(message)
            .ok()
            .map(|b| Opaque(b.into_boxed_slice()))
    }

    /// The message of zocket's it carries, if it is one of type `T`.
    pub(crate) fn read<'a, T: serde::Deserialize<'a>>(&'a self) -> Option<T> {
        serde_json::from_slice(&self.0).ok()
    }
}

impl std::fmt::Debug for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opaque({} bytes)", self.0.len())
    }
}

/// A packet travelling between nodes, with the node that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The node that sent it.
    pub origin: u32,
    /// What it says.
    pub packet: Packet,
}

impl Remote {
    /// A delivery made on node `origin`.
    pub fn delivery(origin: u32, target: Target, except: Vec<ClientId>, text: String) -> Remote {
        Remote {
            origin,
            packet: Packet::Delivery {
                target,
                except,
                text,
            },
        }
    }
}
