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
