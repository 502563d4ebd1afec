//! The Redis adapter (feature `redis`): room sends, broadcasts and sends to
//! client ids reach the clients of every server process sharing a Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::codec::{decode, encode};
use super::remote::Remote;
use super::{Adapter, Inbox};

/// Deliveries waiting to be published; beyond this (Redis unreachable for a
/// while), new ones are dropped and logged.
const PUBLISH_QUEUE: usize = 10_000;

/// Deliveries received from other nodes and not yet handed to this node's
/// clients (before `serve` starts, or while delivery lags); beyond this, new
/// ones are dropped and logged.
const RECEIVE_QUEUE: usize = 10_000;

/// Carries deliveries between server processes over Redis pub/sub.
///
/// Every node publishes the deliveries it makes (serialized once, in a compact
/// binary form) on one channel and subscribes to it; each node delivers what
/// others published to its own clients. The node id, part of every client id,
/// comes from `INCR <prefix>:nodes`, so ids are unique across nodes.
///
/// If Redis goes away, local delivery keeps working; the adapter logs, retries
/// with backoff, and resumes. Deliveries made while it is disconnected are
/// published once it reconnects (up to 10,000 queued; beyond that, dropped and
/// logged). Redis pub/sub itself is at-most-once: a node that is not
/// subscribed when a delivery is published misses it. [`RedisAdapter::connect`]
/// subscribes before it returns, so a node receives every delivery published
/// from then on; those that arrive before it serves wait (up to 10,000) until
/// it does.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # type AppRouter = ();
/// use zocket::{RedisAdapter, Zocket};
///
/// let adapter = RedisAdapter::connect("redis://127.0.0.1/", "chat").await?;
/// let app = Zocket::<AppRouter>::builder().adapter(adapter).build()?;
/// app.serve("0.0.0.0:3000").await?;
/// # Ok(()) }
/// ```
pub struct RedisAdapter {
    node: u32,
    channel: String,
    client: redis::Client,
    tx: mpsc::Sender<Vec<u8>>,
    /// Deliveries `publish` had to drop because the queue was full.
    dropped: AtomicU64,
    /// What `start` takes: the publish queue and the received deliveries.
    parked: std::sync::Mutex<Option<Parked>>,
    /// The subscription is live, and publishing has not failed since the
    /// last (re)connection: what [`Adapter::connected`] reports.
    link: Arc<Link>,
}

/// Whether each of the adapter's two Redis connections is up.
#[derive(Default)]
struct Link {
    subscribed: AtomicBool,
    publish_failing: AtomicBool,
}

struct Parked {
    outgoing: mpsc::Receiver<Vec<u8>>,
    incoming: mpsc::Receiver<Remote>,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("node", &self.node)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl RedisAdapter {
    /// Connects to Redis at `url`, takes a node id and subscribes to the
    /// cluster's channel. Nodes that share a `prefix` (e.g. the app's name)
    /// form one cluster.
    ///
    /// When this returns, the node is subscribed: whatever another node
    /// publishes from now on reaches this node's clients once it serves.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached to take the node id or to subscribe.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let node: u64 = redis::cmd("INCR")
            .arg(format!("{prefix}:nodes"))
            .query_async(&mut conn)
            .await?;
        // Node 0 means "no adapter"; INCR starts at 1.
        let node = (node as u32).max(1);
        let channel = format!("{prefix}:deliveries");
        let pubsub = subscribe(&client, &channel).await?;
        let (in_tx, incoming) = mpsc::channel(RECEIVE_QUEUE);
        let link = Arc::new(Link::default());
        link.subscribed.store(true, Ordering::SeqCst);
        tokio::spawn(subscriber(
            client.clone(),
            channel.clone(),
            node,
            pubsub,
            in_tx,
            link.clone(),
        ));
        let (tx, outgoing) = mpsc::channel(PUBLISH_QUEUE);
        Ok(RedisAdapter {
            node,
            channel,
            client,
            tx,
            dropped: AtomicU64::new(0),
            parked: std::sync::Mutex::new(Some(Parked { outgoing, incoming })),
            link,
        })
    }
}

impl Adapter for RedisAdapter {
    fn node(&self) -> u32 {
        self.node
    }

    fn publish(&self, remote: Remote) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(encode(&remote)) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    node = self.node,
                    dropped,
                    "redis adapter: publish queue full (is Redis down?); deliveries to other nodes dropped"
                );
            }
        }
    }

    fn start(&self, inbox: Inbox) {
        let parked = crate::util::lock_unpoisoned(&self.parked).take();
        let Some(Parked {
            outgoing,
            mut incoming,
        }) = parked
        else {
            return;
        };
        tokio::spawn(publisher(
            self.client.clone(),
            self.channel.clone(),
            outgoing,
            self.link.clone(),
        ));
        tokio::spawn(async move {
            while let Some(remote) = incoming.recv().await {
                if inbox.deliver(remote).is_none() {
                    return; // the app is gone; dropping `incoming` stops the subscriber
                }
            }
        });
    }

    fn connected(&self) -> bool {
        self.link.subscribed.load(Ordering::SeqCst)
            && !self.link.publish_failing.load(Ordering::SeqCst)
    }
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis((100u64 << failures.min(6)).min(5_000))
}

async fn publisher(
    client: redis::Client,
    channel: String,
    mut rx: mpsc::Receiver<Vec<u8>>,
    link: Arc<Link>,
) {
    let mut failures = 0u32;
    let mut pending: Option<Vec<u8>> = None;
    loop {
        let mut conn = until_ok(&mut failures, "connect to publish", || {
            client.get_multiplexed_async_connection()
        })
        .await;
        link.publish_failing.store(false, Ordering::SeqCst);
        loop {
            let bytes = match pending.take() {
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
                pending = Some(bytes);
                failures += 1;
                tokio::time::sleep(backoff(failures)).await;
                break; // reconnect
            }
        }
    }
}

/// Receives what other nodes publish, starting with the subscription made by
/// `connect`, and queues it for delivery; subscribes again whenever the
/// subscription is lost. Stops when the queue's receiver is gone (the adapter
/// was dropped unused, or the app stopped).
async fn subscriber(
    client: redis::Client,
    channel: String,
    node: u32,
    first: redis::aio::PubSub,
    queue: mpsc::Sender<Remote>,
    link: Arc<Link>,
) {
    use futures_util::StreamExt;
    let mut failures = 0u32;
    let mut dropped = 0u64;
    let mut ready = Some(first);
    loop {
        let pubsub = match ready.take() {
            Some(p) => p,
            None => tokio::select! {
                _ = queue.closed() => return,
                p = until_ok(&mut failures, "subscribe", || subscribe(&client, &channel)) => p,
            },
        };
        link.subscribed.store(true, Ordering::SeqCst);
        let mut messages = pubsub.into_on_message();
        loop {
            let msg = tokio::select! {
                _ = queue.closed() => return,
                m = messages.next() => m,
            };
            let Some(msg) = msg else { break };
            let Some(remote) = decode(msg.get_payload_bytes()) else {
                tracing::warn!(node, "redis adapter: ignoring a malformed delivery");
                continue;
            };
            match queue.try_send(remote) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped += 1;
                    if dropped.is_power_of_two() {
                        tracing::warn!(
                            node,
                            dropped,
                            "redis adapter: receive queue full (is the node serving?); deliveries from other nodes dropped"
                        );
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        link.subscribed.store(false, Ordering::SeqCst);
        tracing::warn!(node, "redis adapter: subscription lost; resubscribing");
        failures += 1;
        tokio::time::sleep(backoff(failures)).await;
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

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> Result<redis::aio::PubSub, redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
