//! Delivery: queuing one serialized message for chosen clients, a room's
//! members or everyone, on this node and, through the adapter, on others.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tungstenite::{Message, Utf8Bytes};

use super::Hub;
use super::registry::Conn;
use crate::engine::adapter::{Remote, Target};
use crate::engine::config::SlowConsumer;
use crate::engine::outbox::{CloseCmd, QueueError};
use crate::protocol::client_id::ClientId;

impl Hub {
    /// Queues `text` for one slot; applies the slow-consumer policy when full.
    pub(super) fn enqueue(&self, conn: &Conn, text: &Utf8Bytes) -> bool {
        match conn.outbox.push(Message::Text(text.clone())) {
            Ok(()) => true,
            Err(QueueError::Closed) => false,
            Err(QueueError::Full) if Hub::lose_if_away(conn) => false,
            Err(QueueError::Full) => {
                self.counters.dropped_slow.fetch_add(1, Ordering::Relaxed);
                let dropped = conn.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                match self.config.slow_consumer {
                    SlowConsumer::Drop => {
                        if dropped == 1 || dropped.is_multiple_of(1000) {
                            tracing::warn!(client = %conn.id, dropped,
                                "slow consumer: outgoing queue full, message dropped");
                        }
                    }
                    SlowConsumer::Close(code) => {
                        let cmd = CloseCmd {
                            code,
                            reason: "slow consumer".into(),
                        };
                        if conn.outbox.close(cmd) {
                            tracing::warn!(client = %conn.id, code,
                                "slow consumer: outgoing queue full, closing the connection");
                        }
                    }
                }
                false
            }
        }
    }

    /// Delivers `text` to `target`: first to this node's clients, then, with
    /// an adapter, to the other nodes. Returns how many of this node's
    /// clients it was queued for.
    pub(crate) fn deliver(&self, target: Target, text: &Utf8Bytes, except: &[ClientId]) -> usize {
        let Some(adapter) = &self.adapter else {
            return self.deliver_local(&target, text, except);
        };
        let n = self.deliver_local(&target, text, except);
        let target = match target {
            Target::Clients(ids) => {
                let remote: Vec<ClientId> = ids
                    .into_iter()
                    .filter(|id| id.node() != self.node)
                    .collect();
                if remote.is_empty() {
                    return n;
                }
                Target::Clients(remote)
            }
            other => other,
        };
        adapter.publish(Remote::delivery(
            self.node,
            target,
            except.to_vec(),
            text.as_str().to_owned(),
        ));
        n
    }

    /// Delivers `text` to this node's clients among `target`, and nowhere else.
    pub(crate) fn deliver_here(&self, target: &Target, text: &Utf8Bytes) -> usize {
        self.deliver_local(target, text, &[])
    }

    /// Delivers `text` to this node's clients among `target`.
    pub(super) fn deliver_local(
        &self,
        target: &Target,
        text: &Utf8Bytes,
        except: &[ClientId],
    ) -> usize {
        match target {
            Target::Clients(ids) => self.deliver_to(ids.iter().copied(), text, except),
            Target::Rooms(rooms) => self.deliver_to_rooms(rooms.iter(), text, except),
            Target::All => self.deliver_all(text, except),
        }
    }

    /// Queues `text` for each id on this node; returns how many queued it.
    pub(crate) fn deliver_to(
        &self,
        ids: impl IntoIterator<Item = ClientId>,
        text: &Utf8Bytes,
        except: &[ClientId],
    ) -> usize {
        let mut n = 0;
        for id in ids {
            if except.contains(&id) {
                continue;
            }
            if let Some(queued) = self.conns.with(id, |c| self.enqueue(c, text)) {
                n += usize::from(queued);
            }
        }
        n
    }

    /// Queues `text` for every member of the rooms (each member once).
    /// Delivers `text` to these clients (on other nodes too, with an
    /// adapter). Without an adapter the ids are not collected first.
    pub(crate) fn deliver_clients(
        &self,
        ids: impl IntoIterator<Item = ClientId>,
        text: &Utf8Bytes,
        except: &[ClientId],
    ) -> usize {
        if self.adapter.is_none() {
            return self.deliver_to(ids, text, except);
        }
        self.deliver(Target::Clients(ids.into_iter().collect()), text, except)
    }

    /// Delivers `text` to the members of these rooms (on other nodes too,
    /// with an adapter). Without an adapter no room name is copied.
    pub(crate) fn deliver_rooms<S: AsRef<str>>(
        &self,
        rooms: impl IntoIterator<Item = S>,
        text: &Utf8Bytes,
        except: &[ClientId],
    ) -> usize {
        if self.adapter.is_none() {
            return self.deliver_to_rooms(rooms, text, except);
        }
        let rooms = rooms.into_iter().map(|r| r.as_ref().to_owned()).collect();
        self.deliver(Target::Rooms(rooms), text, except)
    }

    pub(super) fn deliver_to_rooms<S: AsRef<str>>(
        &self,
        rooms: impl IntoIterator<Item = S>,
        text: &Utf8Bytes,
        except: &[ClientId],
    ) -> usize {
        let mut rooms = rooms.into_iter();
        let Some(first) = rooms.next() else { return 0 };
        let Some(second) = rooms.next() else {
            // One room: its members are distinct, and queued for under the
            // room's shard lock, where joins and leaves meet them.
            return self.rooms.with_members(first.as_ref(), |members| {
                members
                    .values()
                    .filter(|c| !except.contains(&c.id))
                    .map(|c| usize::from(self.enqueue(c, text)))
                    .sum()
            });
        };
        // Several rooms: each member once. The members are collected room
        // by room (one shard lock at a time), then queued for.
        let mut members: HashMap<ClientId, Arc<Conn>> = HashMap::new();
        for room in [first, second].into_iter().chain(rooms) {
            self.rooms.with_members(room.as_ref(), |m| {
                for (id, conn) in m {
                    members.entry(*id).or_insert_with(|| conn.clone());
                }
            });
        }
        members
            .values()
            .filter(|c| !except.contains(&c.id))
            .map(|c| usize::from(self.enqueue(c, text)))
            .sum()
    }

    /// Queues `text` for every connection on this node.
    pub(super) fn deliver_all(&self, text: &Utf8Bytes, except: &[ClientId]) -> usize {
        let mut n = 0;
        self.conns.each(|conn| {
            if !except.contains(&conn.id) {
                n += usize::from(self.enqueue(conn, text));
            }
        });
        n
    }
}
