//! [`Cluster`]: rooms and clients across every node of a cluster, through
//! the adapter, with timeouts and typed results.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::hub::Hub;
use crate::engine::hub::cluster::{Answer, Op};
use crate::protocol::client_id::ClientId;

/// Why a cluster-wide operation has no (complete) answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Not every node answered within the timeout (a node that is down, or
    /// that does not serve yet). `expected` is `None` when the adapter cannot
    /// count the nodes (it then waits for the whole timeout).
    #[error("{answered} of {} other nodes answered within {timeout:?}", expected.map_or("?".to_owned(), |n| n.to_string()))]
    Incomplete {
        /// Nodes that answered (this one not counted).
        answered: usize,
        /// Nodes that were to answer (this one not counted), when known.
        expected: Option<usize>,
        /// The time waited.
        timeout: Duration,
    },
    /// The node that issued the client's id did not answer within the
    /// timeout (it is down, or gone).
    #[error("node {node} (which issued client {client}) did not answer within {timeout:?}")]
    NoAnswer {
        /// The node asked.
        node: u32,
        /// The client asked about.
        client: ClientId,
        /// The time waited.
        timeout: Duration,
    },
    /// The client is not connected (nor away with a resumable session) on
    /// the node that issued its id.
    #[error("client {0} is not connected")]
    NotConnected(ClientId),
    /// The client is in [`max_rooms_per_client`](crate::Config::max_rooms_per_client)
    /// rooms already; nothing changed.
    #[error("client {0} is in as many rooms as it may be")]
    TooManyRooms(ClientId),
}

/// Rooms and clients across every node of a cluster: what
/// [`ServerHandle::cluster`](crate::ServerHandle::cluster) returns.
///
/// Each operation asks the other nodes through the adapter and waits for
/// their answers, at most [`Config::cluster_timeout`](crate::Config::cluster_timeout)
/// (2 s) or the time set with [`timeout`](Cluster::timeout). An operation on
/// one client goes to the node that issued its id (a client that resumed its
/// session on another node, with recovery, is looked for there too only
/// through its new id's node); listings and counts ask every node. Without
/// an adapter, every operation is answered by this node at once.
///
/// ```
/// # async fn run() {
/// use zocket::Zocket;
///
/// let app = Zocket::<()>::builder().build().unwrap();
/// let cluster = app.handle().cluster();
/// assert_eq!(cluster.connection_count().await, Ok(0));
/// assert_eq!(cluster.members("lobby").await, Ok(vec![]));
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run());
/// ```
#[derive(Clone)]
pub struct Cluster {
    hub: Arc<Hub>,
    timeout: Duration,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.hub.node)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Cluster {
    pub(crate) fn new(hub: Arc<Hub>) -> Self {
        let timeout = hub.config.cluster_timeout;
        Cluster { hub, timeout }
    }

    /// Waits at most `timeout` for the other nodes' answers.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The members of `room` on every node, sorted.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Incomplete`] when a node did not answer in time.
    pub async fn members(&self, room: &str) -> Result<Vec<ClientId>, ClusterError> {
        let op = Op::Members {
            room: room.to_owned(),
        };
        let mut all = self.hub.members(room);
        for answer in self.everywhere(op).await? {
            if let Answer::Members(ids) = answer {
                all.extend(ids);
            }
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Open connections on every node.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Incomplete`] when a node did not answer in time.
    pub async fn connection_count(&self) -> Result<usize, ClusterError> {
        let mut n = self.hub.connection_count();
        for answer in self.everywhere(Op::Count).await? {
            if let Answer::Count(count) = answer {
                n += count;
            }
        }
        Ok(n)
    }

    /// The rooms of client `id`, sorted, whichever node it is connected to.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotConnected`], or [`ClusterError::NoAnswer`] when
    /// its node did not answer in time.
    pub async fn rooms_of(&self, id: ClientId) -> Result<Vec<String>, ClusterError> {
        match self.on_client(id, Op::RoomsOf { client: id }).await? {
            Answer::Rooms(rooms) => Ok(rooms),
            other => Err(self.unexpected(id, other)),
        }
    }

    /// Makes client `id` join `room`, whichever node it is connected to:
    /// `Ok(true)` when it became a member, `Ok(false)` when it was one.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotConnected`], [`ClusterError::TooManyRooms`], or
    /// [`ClusterError::NoAnswer`] when its node did not answer in time.
    pub async fn join(&self, id: ClientId, room: &str) -> Result<bool, ClusterError> {
        let op = Op::Join {
            client: id,
            room: room.to_owned(),
        };
        self.done(id, op).await
    }

    /// Makes client `id` leave `room`, whichever node it is connected to:
    /// `Ok(false)` when it was not a member.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotConnected`], or [`ClusterError::NoAnswer`] when
    /// its node did not answer in time.
    pub async fn leave(&self, id: ClientId, room: &str) -> Result<bool, ClusterError> {
        let op = Op::Leave {
            client: id,
            room: room.to_owned(),
        };
        self.done(id, op).await
    }

    /// Closes client `id`'s connection with `code` and `reason` (at most 123
    /// bytes are sent), whichever node it is connected to.
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotConnected`], or [`ClusterError::NoAnswer`] when
    /// its node did not answer in time.
    pub async fn close(&self, id: ClientId, code: u16, reason: &str) -> Result<(), ClusterError> {
        let op = Op::Close {
            client: id,
            code,
            reason: truncate(reason, 123).to_owned(),
        };
        self.done(id, op).await.map(|_| ())
    }

    /// Asks every other node; their answers, or `Incomplete`.
    async fn everywhere(&self, op: Op) -> Result<Vec<Answer>, ClusterError> {
        let got = self.hub.ask_nodes(None, op, self.timeout).await;
        match got.expected {
            Some(n) if got.answers.len() >= n => Ok(got.answers),
            expected => Err(ClusterError::Incomplete {
                answered: got.answers.len(),
                expected,
                timeout: self.timeout,
            }),
        }
    }

    /// Asks the node that issued `id` (this one: at once).
    async fn on_client(&self, id: ClientId, op: Op) -> Result<Answer, ClusterError> {
        let answer = if id.node() == self.hub.node || !self.hub.clustered() {
            self.hub.answer_here(&op)
        } else {
            let got = self.hub.ask_nodes(Some(id.node()), op, self.timeout).await;
            got.answers
                .into_iter()
                .next()
                .ok_or(ClusterError::NoAnswer {
                    node: id.node(),
                    client: id,
                    timeout: self.timeout,
                })?
        };
        match answer {
            Answer::NotConnected => Err(ClusterError::NotConnected(id)),
            Answer::TooManyRooms => Err(ClusterError::TooManyRooms(id)),
            answer => Ok(answer),
        }
    }

    /// An answer of the wrong kind (a node running an incompatible version):
    /// logged, and treated as no answer within the timeout.
    fn unexpected(&self, id: ClientId, answer: Answer) -> ClusterError {
        tracing::warn!(client = %id, ?answer, "a node answered a cluster operation with the wrong kind of answer");
        ClusterError::NoAnswer {
            node: id.node(),
            client: id,
            timeout: self.timeout,
        }
    }

    async fn done(&self, id: ClientId, op: Op) -> Result<bool, ClusterError> {
        match self.on_client(id, op).await? {
            Answer::Done(changed) => Ok(changed),
            other => Err(self.unexpected(id, other)),
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
