//! The hub's unit tests: registration, rooms, delivery and the slow-consumer policy.

use std::sync::Arc;

use tungstenite::Utf8Bytes;

use super::rooms::Joined;
use super::{Hub, RegisterError};
use crate::engine::config::Config;
use crate::engine::metrics::Counters;

fn hub() -> Arc<Hub> {
    Hub::new(
        Config::default()
            .max_connections(3)
            .queue_len(2)
            .slow_consumer_grace(std::time::Duration::ZERO)
            .max_rooms_per_client(3),
        Counters::default(),
        None,
    )
}

#[test]
fn ids_are_not_reused_when_slots_are() {
    let core = hub();
    let a = core.register(None, 0).unwrap();
    let a_id = a.id;
    core.unregister(a_id);
    // New connections go round the shards: the slot comes back within a round.
    let b = (0..super::registry::SHARDS)
        .map(|_| {
            let b = core.register(None, 0).unwrap();
            if b.id.key() != a_id.key() {
                core.unregister(b.id);
            }
            b
        })
        .find(|b| b.id.key() == a_id.key())
        .expect("slab slot is reused");
    assert_ne!(a_id, b.id, "but the id is not");
    assert_eq!(
        core.join(a_id, "lobby"),
        Joined::Gone,
        "a stale id cannot join"
    );
    assert_eq!(core.join(b.id, "lobby"), Joined::Member);
}

#[test]
fn rooms_are_removed_when_empty_and_on_unregister() {
    let core = hub();
    let a = core.register(None, 0).unwrap();
    let b = core.register(None, 0).unwrap();
    assert_eq!(core.join(a.id, "x"), Joined::Member);
    assert_eq!(
        core.join(a.id, "x"),
        Joined::AlreadyMember,
        "joining twice is a no-op"
    );
    assert_eq!(core.join(b.id, "x"), Joined::Member);
    assert_eq!(core.join(a.id, "y"), Joined::Member);
    assert_eq!(core.room_names(), ["x", "y"]);
    assert_eq!(core.members("x").len(), 2);
    assert!(core.leave(b.id, "x"));
    assert!(!core.leave(b.id, "x"));
    assert_eq!(core.unregister(a.id), ["x", "y"]);
    assert_eq!(core.room_count(), 0);
    assert_eq!(core.connection_count(), 1);
}

#[test]
fn capacity_is_enforced() {
    let core = hub();
    let _k: Vec<_> = (0..3).map(|_| core.register(None, 0).unwrap()).collect();
    assert_eq!(core.register(None, 0).err(), Some(RegisterError::Full));
}

#[test]
fn full_queue_applies_close_policy_and_others_still_get_messages() {
    let core = hub();
    let slow = core.register(None, 0).unwrap();
    let fast = core.register(None, 0).unwrap();
    let msg = Utf8Bytes::from_static("x");
    for _ in 0..2 {
        assert_eq!(core.deliver_to([slow.id, fast.id], &msg, &[]), 2);
    }
    assert_eq!(core.deliver_to([slow.id], &msg, &[]), 0, "slow one is full");
    assert_eq!(slow.outbox.close_code(), Some(1008));
    assert_eq!(fast.outbox.len(), 2);
    assert_eq!(
        core.deliver_to([fast.id], &msg, &[]),
        0,
        "fast is full too, but"
    );
    assert_eq!(
        fast.outbox.close_code(),
        Some(1008),
        "each client has its own queue"
    );
}

#[test]
fn room_delivery_dedups_and_honours_except() {
    let core = hub();
    let a = core.register(None, 0).unwrap();
    let b = core.register(None, 0).unwrap();
    core.join(a.id, "x");
    core.join(a.id, "y");
    core.join(b.id, "y");
    let msg = Utf8Bytes::from_static("m");
    assert_eq!(core.deliver_to_rooms(["x", "y"], &msg, &[]), 2);
    assert_eq!((a.outbox.len(), b.outbox.len()), (1, 1), "each member once");
    assert_eq!(core.deliver_to_rooms(["y"], &msg, &[a.id]), 1);
    assert_eq!((a.outbox.len(), b.outbox.len()), (1, 2));
}

#[test]
fn a_join_beyond_the_room_limit_changes_nothing() {
    let core = hub();
    let b = core.register(None, 0).unwrap();
    for room in ["x", "y", "z"] {
        assert_eq!(core.join(b.id, room), Joined::Member);
    }
    assert_eq!(core.join(b.id, "w"), Joined::TooManyRooms, "the limit is 3");
    assert!(!core.in_room(b.id, "w"));
    assert_eq!(core.join(b.id, "x"), Joined::AlreadyMember);
}

/// A hub for the threaded tests: queues that hold everything they get.
fn roomy_hub(connections: usize) -> Arc<Hub> {
    Hub::new(
        Config::default()
            .max_connections(connections)
            .max_connections_per_ip(Some(connections))
            .queue_len(1 << 20)
            .queue_bytes(1 << 30)
            .max_rooms_per_client(64),
        Counters::default(),
        None,
    )
}

/// The numbers of the messages in one outbox, in the order queued.
fn numbers_in(outbox: &crate::engine::outbox::Outbox) -> Vec<u64> {
    let mut queued = std::collections::VecDeque::new();
    outbox.take(&mut queued);
    queued
        .into_iter()
        .filter_map(|m| match m {
            tungstenite::Message::Text(t) => t.as_str().parse().ok(),
            _ => None,
        })
        .collect()
}

/// The guarantee the room table's locks keep, on real threads: a member
/// that joined receives every room message whose send started after its
/// join returned, and each sender's messages in the order sent (two
/// senders, joiners on four other threads).
#[test]
fn a_member_receives_every_room_message_sent_after_its_join_returned() {
    use std::sync::atomic::{AtomicU64, Ordering};
    const SENDS: u64 = 20_000;
    let core = roomy_hub(200);
    let joiners: Vec<_> = (0..160).map(|_| core.register(None, 0).unwrap()).collect();
    // Each sender's number of the send it is about to make (then makes it).
    let started = [AtomicU64::new(0), AtomicU64::new(0)];
    let cuts: Vec<[u64; 2]> = std::thread::scope(|s| {
        for (sender, started) in started.iter().enumerate() {
            let core = &core;
            s.spawn(move || {
                for n in 1..=SENDS {
                    started.store(n, Ordering::SeqCst);
                    // Sender 0 sends even numbers, sender 1 odd ones.
                    let text = Utf8Bytes::from((n * 2 + sender as u64).to_string());
                    core.deliver_to_rooms(["r"], &text, &[]);
                }
            });
        }
        let threads: Vec<_> = joiners
            .chunks(40)
            .map(|chunk| {
                let (core, started) = (&core, &started);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|j| {
                            assert_eq!(core.join(j.id, "r"), Joined::Member);
                            // Sends numbered above these started after the join returned.
                            let cut = [0, 1].map(|i| started[i].load(Ordering::SeqCst));
                            std::thread::yield_now();
                            cut
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    let mut joined_during_the_sends = 0;
    for (joiner, cut) in joiners.iter().zip(cuts) {
        let got = numbers_in(&joiner.outbox);
        for sender in 0..2u64 {
            let mine: Vec<u64> = got
                .iter()
                .filter(|n| *n % 2 == sender)
                .map(|n| (n - sender) / 2)
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] + 1 == w[1]),
                "in order, no gap"
            );
            let first = mine.first().copied().unwrap_or(SENDS + 1);
            assert!(
                first <= cut[sender as usize] + 1,
                "sends after the join reached the member: first {first}, cut {cut:?}"
            );
            assert_eq!(mine.last().copied().unwrap_or(SENDS), SENDS);
        }
        joined_during_the_sends += usize::from(cut.iter().any(|&c| c > 0 && c < SENDS));
    }
    assert!(joined_during_the_sends > 0, "some joins raced the sends");
}

/// Connections that register, join, send, leave and go on four threads at
/// once leave no room, no connection and no per-address count behind, and
/// nothing deadlocks (the lock order in the module docs).
#[test]
fn churn_on_many_threads_leaves_nothing_behind() {
    let core = roomy_hub(64);
    let ip: std::net::IpAddr = [127, 0, 0, 1].into();
    std::thread::scope(|s| {
        for t in 0..4usize {
            let core = &core;
            s.spawn(move || {
                let text = Utf8Bytes::from_static("x");
                for round in 0..2_000usize {
                    let a = core.register(Some(ip), 0).unwrap();
                    let rooms = [round % 7, (round + t) % 5, t].map(|r| format!("room-{r}"));
                    for room in &rooms {
                        core.join(a.id, room);
                    }
                    core.deliver_to_rooms([&rooms[0]], &text, &[]);
                    core.deliver_to_rooms(&rooms, &text, &[a.id]);
                    core.deliver_to([a.id], &text, &[]);
                    if round % 3 == 0 {
                        core.leave(a.id, &rooms[1]);
                    }
                    if round % 50 == 0 {
                        core.deliver_all(&text, &[]);
                    }
                    core.unregister(a.id);
                }
            });
        }
    });
    assert_eq!(core.room_count(), 0);
    assert_eq!(core.connection_count(), 0);
    assert!(core.admission().per_ip.is_empty());
    // The limit counts again from zero: 64 fit, the 65th does not.
    let all: Vec<_> = (0..64)
        .map(|_| core.register(Some(ip), 0).unwrap())
        .collect();
    assert_eq!(core.register(Some(ip), 0).err(), Some(RegisterError::Full));
    drop(all);
}
