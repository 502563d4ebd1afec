//! What travels between nodes: a delivery and who it is for.

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
    /// Not a delivery: a message about a session moving between nodes
    /// (connection-state recovery), in `text`. Adapters carry it like any
    /// other; only zocket reads it.
    Session,
    /// Not a delivery: a presence change or heartbeat of another node, in
    /// `text` (only zocket reads it).
    Presence,
    /// Not a delivery: a cluster-wide operation's question or answer, in
    /// `text`, for one node (`Some(node)`) or every node (`None`). Only
    /// zocket reads it.
    Cluster {
        /// The node it is for; `None`: every node.
        node: Option<u32>,
    },
}

/// A delivery travelling between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The node that made the delivery.
    pub origin: u32,
    /// Who it is for.
    pub target: Target,
    /// Clients left out (`.except(..)`), usually none or one.
    pub except: Vec<ClientId>,
    /// The serialized message (`{"type":..,"payload":..}`).
    pub text: String,
}
