//! Delivery: queuing one serialized message for chosen clients, a room's
//! members or everyone, on this node and, through the adapter, on others.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use tungstenite::{Message, Utf8Bytes};

use super::{Hub, Slot, State};
use crate::engine::adapter::{Remote, Target};
use crate::engine::config::SlowConsumer;
use crate::engine::outbox::{CloseCmd, QueueError};
use crate::protocol::client_id::ClientId;

impl Hub {
    /// Queues `text` for one slot; applies the slow-consumer policy when full.
    pub(super) fn enqueue(&self, slot: &mut Slot, text: &Utf8Bytes) -> bool {
        match slot.outbox.push(Message::Text(text.clone())) {
            Ok(()) => true,
            Err(QueueError::Closed) => false,
            Err(QueueError::Full) if Hub::away(slot) => {
                Hub::lose(slot);
                false
            }
            Err(QueueError::Full) => {
                self.counters.dropped_slow.fetch_add(1, Ordering::Relaxed);
                slot.dropped += 1;
                match self.config.slow_consumer {
                    SlowConsumer::Drop => {
                        if slot.dropped == 1 || slot.dropped.is_multiple_of(1000) {
                            tracing::warn!(client = %slot.id, dropped = slot.dropped,
                                "slow consumer: outgoing queue full, message dropped");
                        }
                    }
                    SlowConsumer::Close(code) => {
                        let cmd = CloseCmd {
                            code,
                            reason: "slow consumer".into(),
                        };
                        if slot.outbox.close(cmd) {
                            tracing::warn!(client = %slot.id, code,
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
        adapter.publish(Remote {
            origin: self.node,
            target,
            except: except.to_vec(),
            text: text.as_str().to_owned(),
        });
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
            // Session hand-overs are not deliveries (see `handover`).
            Target::Session | Target::Presence | Target::Cluster { .. } => 0,
        }
    }

    /// Queues `text` for each id on this node; returns how many queued it.
    pub(crate) fn deliver_to(
        &self,
        ids: impl IntoIterator<Item = ClientId>,
        text: &Utf8Bytes,
        except: &[ClientId],
    ) -> usize {
        let mut state = self.lock();
        let mut n = 0;
        for id in ids {
            if except.contains(&id) {
                continue;
            }
            if let Some(slot) = state.slot_mut(id) {
                n += usize::from(self.enqueue(slot, text));
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
        let mut guard = self.lock();
        let State {
            conns, rooms: all, ..
        } = &mut *guard;
        let mut n = 0;
        let mut deliver_one = |key: usize| {
            if let Some(slot) = conns.get_mut(key)
                && !except.contains(&slot.id)
            {
                n += usize::from(self.enqueue(slot, text));
            }
        };
        let mut rooms = rooms.into_iter();
        let Some(first) = rooms.next() else { return 0 };
        match rooms.next() {
            None => {
                // One room: members are distinct already.
                if let Some(members) = all.get(first.as_ref()) {
                    members.iter().for_each(|&key| deliver_one(key));
                }
            }
            Some(second) => {
                let mut keys = HashSet::new();
                for room in [first, second].into_iter().chain(rooms) {
                    if let Some(members) = all.get(room.as_ref()) {
                        keys.extend(members.iter().copied());
                    }
                }
                keys.into_iter().for_each(deliver_one);
            }
        }
        n
    }

    /// Queues `text` for every connection on this node.
    pub(super) fn deliver_all(&self, text: &Utf8Bytes, except: &[ClientId]) -> usize {
        let mut state = self.lock();
        let mut n = 0;
        for (_, slot) in state.conns.iter_mut() {
            if except.contains(&slot.id) {
                continue;
            }
            n += usize::from(self.enqueue(slot, text));
        }
        n
    }
}
