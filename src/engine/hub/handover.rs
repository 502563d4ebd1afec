//! Recovery across nodes. A dropped client's session stays on the node that
//! held its connection; when the client comes back through another node,
//! that node asks for it over the adapter (`Packet::Session` messages), the
//! holding node hands it over (the rooms, and the messages the client missed
//! after its offset, with their offsets) and forgets it without running
//! `on_disconnect`, and the new node adopts it under the same client id.
//!
//! Messages sent to the client while the session is in transit (between
//! the hand-over and the adoption, one round trip through the adapter) are
//! not kept; a hand-over that does not complete within [`HANDOVER_TIMEOUT`]
//! gives the client a fresh session.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tungstenite::Utf8Bytes;

use super::registry::{Conn, OutboxRef};
use super::session::{Session, Welcome};
use super::{Hub, RegisterError, Registered};
use crate::engine::adapter::{Opaque, Packet, Remote};
use crate::engine::recovery::{History, parse_token};
use crate::protocol::client_id::ClientId;
use crate::util::lock_unpoisoned;

/// How long a node waits for another node to hand a session over.
pub(crate) const HANDOVER_TIMEOUT: Duration = Duration::from_secs(3);

/// Hand-overs this node is waiting for, by request number.
#[derive(Default)]
pub(crate) struct Waiting {
    next: std::sync::atomic::AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Given>>>,
}

/// What a `Packet::Session` carries.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SessionMessage {
    /// "Give me this session": from node `from` (where the client came back)
    /// to node `to` (which holds it).
    Ask {
        from: u32,
        to: u32,
        request: u64,
        token: String,
        identity: u64,
        last: u64,
    },
    /// The answer, to node `to`; `session` is `None` when it cannot be given.
    Give {
        to: u32,
        request: u64,
        session: Option<Given>,
    },
}

/// A session handed over: its rooms, the messages to write again, the next offset.
#[derive(Serialize, Deserialize)]
pub(crate) struct Given {
    rooms: Vec<String>,
    replay: Vec<String>,
    next: u64,
}

impl Hub {
    /// The client of token `token` came back here, but its session is on
    /// another node: asks for it. `None` if it is not there to give (unknown,
    /// expired, resumed elsewhere, too far behind) or no answer came in time.
    pub(crate) async fn request_handover(
        &self,
        token: &str,
        last: u64,
        identity: u64,
    ) -> Option<(ClientId, Given)> {
        let adapter = self.adapter.as_ref()?;
        let (id, _) = parse_token(token)?;
        if id.node() == self.node {
            return None;
        }
        let request = self.handovers.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock_unpoisoned(&self.handovers.waiting).insert(request, tx);
        let ask = SessionMessage::Ask {
            from: self.node,
            to: id.node(),
            request,
            token: token.to_owned(),
            identity,
            last,
        };
        adapter.publish(Remote {
            origin: self.node,
            packet: Packet::Session(Opaque::of(&ask)?),
        });
        let given = tokio::time::timeout(HANDOVER_TIMEOUT, rx).await;
        lock_unpoisoned(&self.handovers.waiting).remove(&request);
        match given {
            Ok(Ok(given)) => Some((id, given)),
            _ => {
                tracing::info!(client = %id, "no session handed over by its node; a fresh one starts");
                None
            }
        }
    }

    /// A `Packet::Session` message from another node.
    pub(super) fn on_session_message(&self, body: &Opaque) {
        let Some(message) = body.read::<SessionMessage>() else {
            tracing::warn!("ignoring a malformed session message from another node");
            return;
        };
        match message {
            SessionMessage::Ask {
                from,
                to,
                request,
                token,
                identity,
                last,
            } if to == self.node => {
                let session = self.give_session(&token, identity, last);
                let give = SessionMessage::Give {
                    to: from,
                    request,
                    session,
                };
                if let (Some(adapter), Some(body)) = (&self.adapter, Opaque::of(&give)) {
                    adapter.publish(Remote {
                        origin: self.node,
                        packet: Packet::Session(body),
                    });
                }
            }
            SessionMessage::Give {
                to,
                request,
                session,
            } if to == self.node => {
                let waiter = lock_unpoisoned(&self.handovers.waiting).remove(&request);
                if let (Some(tx), Some(session)) = (waiter, session) {
                    let _ = tx.send(session);
                }
            }
            _ => {}
        }
    }

    /// Gives away a detached session of this node: its rooms and what its
    /// client missed after `last`. The slot is removed without
    /// `on_disconnect` (the session lives on, elsewhere).
    fn give_session(&self, token: &str, identity: u64, last: u64) -> Option<Given> {
        let (id, secret) = parse_token(token)?;
        let conn = self.conns.get(id)?;
        let claimed = conn
            .session()
            .as_mut()
            .is_some_and(|s| s.may_hand_over(&secret, identity));
        if !claimed {
            return None;
        }
        let outbox = &conn.outbox;
        let Some((replay, next)) = outbox.hand_over(last) else {
            // Too far behind: the session cannot be recovered whole; it waits
            // out its window here.
            self.abort_resume(id);
            return None;
        };
        if let Some(session) = conn.session().as_mut() {
            session.gone();
        }
        self.conns.detached.fetch_sub(1, Ordering::Relaxed);
        outbox.shut();
        self.session_ended(id);
        let rooms = self.unregister(id);
        tracing::info!(client = %id, "session handed over to another node");
        Some(Given {
            rooms,
            replay: replay.iter().map(|t| t.as_str().to_owned()).collect(),
            next,
        })
    }

    /// Takes in a session handed over by another node, under its own id.
    pub(crate) fn adopt(
        &self,
        id: ClientId,
        identity: u64,
        ip: Option<IpAddr>,
        given: Given,
    ) -> Result<Registered, RegisterError> {
        let recovery = self.config.recovery.ok_or(RegisterError::ShuttingDown)?;
        let Some((mut session, welcome)) = Session::new(id, identity) else {
            // No secret for a resumable session: a plain fresh connection.
            return self.register(ip, identity);
        };
        let mut admission = self.admission();
        // The per-address limit is not applied: the session was admitted
        // on its first node, and refusing it now would lose it.
        self.admit(&mut admission, ip, false)?;
        let outbox = self.new_outbox();
        outbox.record_history(History::continuing(&recovery, given.next));
        session.recovered = true;
        let session = Some(Box::new(session));
        let conn = self
            .conns
            .insert(|_| Conn::new(id, outbox, ip, session), true);
        drop(admission);
        for room in &given.rooms {
            let _ = self.join(id, room);
        }
        self.counters
            .sessions_recovered
            .fetch_add(1, Ordering::Relaxed);
        Ok(Registered {
            id,
            outbox: OutboxRef(conn),
            welcome: Some(Welcome {
                recovered: true,
                replay: given.replay.into_iter().map(Utf8Bytes::from).collect(),
                ..welcome
            }),
        })
    }
}
