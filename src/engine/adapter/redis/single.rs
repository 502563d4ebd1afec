//! One redis-server: plain pub/sub (`PUBLISH`/`SUBSCRIBE`) on a dedicated
//! subscriber connection, whose single stream keeps the server's order
//! across channels.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::shared::{Channels, Link, Parts, RoomCmd, SUBSCRIBE_TIMEOUT, backoff, take_node_id};
use crate::engine::adapter::relay::Received;
use crate::engine::adapter::relay::Relay;

/// Connects to one redis-server, takes a node id and subscribes; the client
/// and what the adapter is made of.
pub(super) async fn connect(
    url: &str,
    prefix: &str,
) -> Result<(redis::Client, Parts), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let node = take_node_id(&mut conn, prefix).await?;
    let channels = Channels::new(prefix);
    let own = [channels.all.clone(), channels.node(node)];
    let pubsub = subscribe(&client, &own).await?;
    let (relay, received) = Relay::new(node, "redis");
    let link = Link::up();
    let (rooms, room_cmds) = mpsc::unbounded_channel();
    tokio::spawn(
        Subscriber {
            client: client.clone(),
            channels: channels.clone(),
            own,
            node,
            rooms: HashSet::new(),
            received,
            link: link.clone(),
        }
        .run(pubsub, room_cmds),
    );
    let parts = Parts {
        node,
        channels,
        relay,
        rooms,
        link,
        per_room: true,
    };
    Ok((client, parts))
}

pub(super) async fn publisher(
    client: redis::Client,
    mut rx: mpsc::Receiver<(String, Vec<u8>)>,
    link: Arc<Link>,
) {
    let mut failures = 0u32;
    let mut pending: Option<(String, Vec<u8>)> = None;
    loop {
        let mut conn = until_ok(&mut failures, "connect to publish", || {
            client.get_multiplexed_async_connection()
        })
        .await;
        link.publish_failing.store(false, Ordering::SeqCst);
        loop {
            let (channel, bytes) = match pending.take() {
                Some(b) => b,
                None => match rx.recv().await {
                    Some(b) => b,
                    None => return, // the adapter is gone
                },
            };
            let sent: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&bytes)
                .query_async(&mut conn)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "redis adapter: publish failed; reconnecting");
                link.publish_failing.store(true, Ordering::SeqCst);
                pending = Some((channel, bytes));
                failures += 1;
                tokio::time::sleep(backoff(failures)).await;
                break; // reconnect
            }
        }
    }
}

/// Receives what other nodes publish and queues it for delivery; follows
/// the node's rooms (subscribing to a room when its first member here joins,
/// unsubscribing when its last one leaves); subscribes again, to its own
/// channels and every room, whenever the subscription is lost. Stops when
/// the queue's receiver is gone (the adapter was dropped unused, or the app
/// stopped).
pub(super) struct Subscriber {
    pub(super) client: redis::Client,
    pub(super) channels: Channels,
    /// The broadcast channel and this node's own.
    pub(super) own: [String; 2],
    pub(super) node: u32,
    /// The rooms with a member on this node.
    pub(super) rooms: HashSet<String>,
    pub(super) received: Received,
    pub(super) link: Arc<Link>,
}

impl Subscriber {
    pub(super) async fn run(
        mut self,
        first: redis::aio::PubSub,
        mut cmds: mpsc::UnboundedReceiver<RoomCmd>,
    ) {
        use futures_util::StreamExt;
        let mut failures = 0u32;
        let mut ready = Some(first);
        loop {
            let pubsub = match ready.take() {
                Some(p) => p,
                None => {
                    let mut all: Vec<String> = self.own.to_vec();
                    all.extend(self.rooms.iter().map(|r| self.channels.room(r)));
                    tokio::select! {
                        _ = self.received.closed() => return,
                        p = until_ok(&mut failures, "subscribe", || subscribe(&self.client, &all)) => p,
                    }
                }
            };
            self.link.subscribed.store(true, Ordering::SeqCst);
            let (mut sink, mut messages) = pubsub.split();
            loop {
                let msg = tokio::select! {
                    _ = self.received.closed() => return,
                    cmd = cmds.recv() => {
                        let Some(cmd) = cmd else { return }; // the adapter is gone
                        if self.follow(&mut sink, cmd, &mut cmds).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    m = messages.next() => m,
                };
                let Some(msg) = msg else { break };
                if !self.received.accept(msg.get_payload_bytes()) {
                    return;
                }
            }
            self.link.subscribed.store(false, Ordering::SeqCst);
            tracing::warn!(
                node = self.node,
                "redis adapter: subscription lost; resubscribing"
            );
            failures += 1;
            tokio::time::sleep(backoff(failures)).await;
        }
    }

    /// Applies `first` and whatever room changes are queued behind it, in
    /// order, a run of subscriptions (or unsubscriptions) in one command.
    /// The members waiting for a room are let go once its subscription is
    /// confirmed, or when it fails (then `Err`: the connection is renewed,
    /// and every room subscribed again).
    async fn follow(
        &mut self,
        sink: &mut redis::aio::PubSubSink,
        first: RoomCmd,
        cmds: &mut mpsc::UnboundedReceiver<RoomCmd>,
    ) -> Result<(), ()> {
        let mut batch = vec![first];
        while batch.len() < 1024
            && let Ok(cmd) = cmds.try_recv()
        {
            batch.push(cmd);
        }
        let mut batch = batch.into_iter().peekable();
        while let Some(cmd) = batch.next() {
            let open = matches!(cmd, RoomCmd::Open(..));
            let mut run = vec![cmd];
            while let Some(next) = batch.next_if(|c| matches!(c, RoomCmd::Open(..)) == open) {
                run.push(next);
            }
            let mut names = Vec::with_capacity(run.len());
            let mut signals = Vec::new();
            for cmd in run {
                match cmd {
                    RoomCmd::Open(room, signal) => {
                        names.push(self.channels.room(&room));
                        self.rooms.insert(room);
                        signals.push(signal);
                    }
                    RoomCmd::Close(room) => {
                        names.push(self.channels.room(&room));
                        self.rooms.remove(&room);
                    }
                }
            }
            let done = if open {
                tokio::time::timeout(SUBSCRIBE_TIMEOUT, sink.subscribe(&names)).await
            } else {
                tokio::time::timeout(SUBSCRIBE_TIMEOUT, sink.unsubscribe(&names)).await
            };
            // Confirmed, or failed: either way the waiting members go on.
            drop(signals);
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(node = self.node, error = %e, "redis adapter: cannot follow the node's rooms; reconnecting");
                    return Err(());
                }
                Err(_) => {
                    tracing::warn!(
                        node = self.node,
                        "redis adapter: Redis did not confirm a (un)subscription in time; reconnecting"
                    );
                    return Err(());
                }
            }
        }
        Ok(())
    }
}

/// Runs `attempt` until it succeeds, logging each failure and waiting longer
/// after each (`failures` counts them across calls; a success resets it).
async fn until_ok<T, F, Fut>(failures: &mut u32, what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, redis::RedisError>>,
{
    loop {
        match attempt().await {
            Ok(value) => {
                if *failures > 0 {
                    tracing::info!(
                        failures = *failures,
                        "redis adapter: {what}: succeeded again"
                    );
                }
                *failures = 0;
                return value;
            }
            Err(e) => {
                *failures += 1;
                tracing::warn!(error = %e, failures = *failures, "redis adapter: cannot {what}; retrying");
                tokio::time::sleep(backoff(*failures)).await;
            }
        }
    }
}

pub(super) async fn subscribe(
    client: &redis::Client,
    channels: &[String],
) -> Result<redis::aio::PubSub, redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channels).await?;
    Ok(pubsub)
}
