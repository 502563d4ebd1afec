//! Redis Cluster: sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7 and
//! later) through the cluster client, so each channel's traffic stays on the
//! shard that owns the channel's slot instead of being copied to every
//! node of the Redis cluster. The client reconnects, follows slot moves and
//! renews the subscriptions by itself.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::shared::{Channels, Link, Parts, RoomCmd, SUBSCRIBE_TIMEOUT, backoff, take_node_id};
use crate::engine::adapter::relay::Relay;

/// Connects to the cluster, takes a node id and subscribes; the cluster
/// connection and what the adapter is made of.
pub(super) async fn connect(
    nodes: &[&str],
    prefix: &str,
) -> Result<(ClusterConnection, Parts), redis::RedisError> {
    let (push_tx, mut pushes) = mpsc::unbounded_channel::<PushInfo>();
    let client = redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(push_tx)
        .build()?;
    let mut conn = client.get_async_connection().await?;
    let node = take_node_id(&mut conn, prefix).await?;
    let channels = Channels::new(prefix);
    // A sharded subscription names channels of one slot only: one each.
    for channel in [channels.all.clone(), channels.node(node)] {
        conn.ssubscribe(channel).await?;
    }
    let (relay, mut received) = Relay::new(node, "redis");
    let link = Link::up();
    tokio::spawn(async move {
        while let Some(push) = pushes.recv().await {
            if let Some(bytes) = message(&push)
                && !received.accept(bytes)
            {
                return;
            }
        }
    });
    let (rooms, cmds) = mpsc::unbounded_channel();
    tokio::spawn(follow_rooms(conn.clone(), channels.clone(), cmds));
    let parts = Parts {
        node,
        channels,
        relay,
        rooms,
        link,
        per_room: true,
    };
    Ok((conn, parts))
}

/// The payload of a (sharded) message push; `None` for any other push
/// (subscription confirmations, disconnections).
fn message(push: &PushInfo) -> Option<&[u8]> {
    if !matches!(push.kind, PushKind::SMessage | PushKind::Message) {
        return None;
    }
    match push.data.get(1)? {
        Value::BulkString(bytes) => Some(bytes),
        _ => None,
    }
}

/// Subscribes to a room's channel when its first member here joins (the
/// members wait for the confirmation, or at most `SUBSCRIBE_TIMEOUT`),
/// unsubscribes when its last one leaves.
async fn follow_rooms(
    mut conn: ClusterConnection,
    channels: Channels,
    mut cmds: mpsc::UnboundedReceiver<RoomCmd>,
) {
    while let Some(cmd) = cmds.recv().await {
        let (what, done) = match cmd {
            RoomCmd::Open(room, signal) => {
                let done =
                    tokio::time::timeout(SUBSCRIBE_TIMEOUT, conn.ssubscribe(channels.room(&room)))
                        .await;
                drop(signal);
                ("subscribe to", done)
            }
            RoomCmd::Close(room) => (
                "unsubscribe from",
                tokio::time::timeout(SUBSCRIBE_TIMEOUT, conn.sunsubscribe(channels.room(&room)))
                    .await,
            ),
        };
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "redis adapter: cannot {what} a room's channel")
            }
            Err(_) => tracing::warn!(
                "redis adapter: the cluster did not confirm in time that it would {what} a room's channel"
            ),
        }
    }
}

/// Publishes what the hub queued, in order; retries a failed publish after
/// a backoff (the cluster client reconnects by itself).
pub(super) async fn publisher(
    mut conn: ClusterConnection,
    mut rx: mpsc::Receiver<(String, Vec<u8>)>,
    link: Arc<Link>,
) {
    let mut failures = 0u32;
    while let Some((channel, bytes)) = rx.recv().await {
        loop {
            let sent: Result<i64, _> = redis::cmd("SPUBLISH")
                .arg(&channel)
                .arg(&bytes)
                .query_async(&mut conn)
                .await;
            match sent {
                Ok(_) => {
                    failures = 0;
                    link.publish_failing.store(false, Ordering::SeqCst);
                    break;
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_power_of_two() {
                        tracing::warn!(error = %e, failures, "redis adapter: publish failed; retrying");
                    }
                    link.publish_failing.store(true, Ordering::SeqCst);
                    tokio::time::sleep(backoff(failures)).await;
                }
            }
        }
    }
}

/// How many nodes listen to the cluster channel: what `SPUBLISH` of an
/// empty message (which every node ignores) reports as its receivers.
pub(super) async fn node_count(mut conn: ClusterConnection, channels: &Channels) -> Option<usize> {
    redis::cmd("SPUBLISH")
        .arg(&channels.all)
        .arg(&[] as &[u8])
        .query_async(&mut conn)
        .await
        .ok()
}
