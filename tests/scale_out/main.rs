//! One scale-out suite, run against every cluster engine: the same test
//! bodies, one fixture per engine (`Engine`). Each engine's tests need its
//! server, which `.ci/run` starts: redis-server on 127.0.0.1:6379 (or
//! `REDIS_URL`), nats-server on 127.0.0.1:4222 (or `NATS_URL`). Without it
//! (and without `CI` set) an engine's tests say SKIPPED.
#![cfg(any(feature = "redis", feature = "nats"))]

#[path = "../common/mod.rs"]
mod common;
mod suite;

use suite::Engine;

/// An engine's server is required under CI; elsewhere its tests skip.
fn unavailable(what: &str, e: impl std::fmt::Display) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required when CI is set (.ci/run starts it): {e}");
    }
    eprintln!("\n***** SKIPPED: no {what} ({e}); run .ci/run *****\n");
}

/// Runs each test body of the suite against one engine.
macro_rules! suite_for {
    ($engine:ty) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_node_receives_only_the_traffic_of_rooms_it_has_members_in() {
            suite::room_traffic_reaches_only_nodes_with_members::<$engine>().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_fresh_room_gets_traffic_sent_right_after_the_join_is_answered() {
            suite::a_fresh_room_misses_nothing::<$engine>().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cluster_operations_work_across_three_nodes() {
            suite::cluster_operations::<$engine>().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cluster_operations_time_out_with_typed_errors() {
            suite::cluster_operations_time_out::<$engine>().await;
        }
    };
}

/// A single redis-server.
#[cfg(feature = "redis")]
struct Redis;

#[cfg(feature = "redis")]
impl Engine for Redis {
    type Adapter = zocket::RedisAdapter;
    // One server writes to one subscriber connection in publish order.
    const ORDER_ACROSS_CHANNELS: bool = true;
    async fn adapter(prefix: &str) -> Option<Self::Adapter> {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
        zocket::RedisAdapter::connect(&url, prefix)
            .await
            .map_err(|e| unavailable(&format!("redis-server at {url}"), e))
            .ok()
    }
    async fn listeners(prefix: &str, room: &str) -> Option<i64> {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
        let client = redis::Client::open(url).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(format!("{prefix}:room:{room}"))
            .query_async(&mut conn)
            .await
            .ok()?;
        Some(n)
    }
}

#[cfg(feature = "redis")]
mod redis_single {
    use super::*;
    suite_for!(Redis);
}

/// A Redis Cluster of three masters (sharded pub/sub), which `.ci/run`
/// starts on ports 7000-7002 (or `REDIS_CLUSTER_URLS`, comma-separated).
#[cfg(feature = "redis")]
struct RedisCluster;

#[cfg(feature = "redis")]
fn cluster_urls() -> Vec<String> {
    std::env::var("REDIS_CLUSTER_URLS")
        .unwrap_or_else(|_| {
            "redis://127.0.0.1:7000/,redis://127.0.0.1:7001/,redis://127.0.0.1:7002/".into()
        })
        .split(',')
        .map(str::to_owned)
        .collect()
}

#[cfg(feature = "redis")]
impl Engine for RedisCluster {
    type Adapter = zocket::RedisAdapter;
    // Channels live on different shards.
    const ORDER_ACROSS_CHANNELS: bool = false;
    async fn adapter(prefix: &str) -> Option<Self::Adapter> {
        let urls = cluster_urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        zocket::RedisAdapter::connect_cluster(&urls, prefix)
            .await
            .map_err(|e| unavailable(&format!("a Redis Cluster at {urls:?}"), e))
            .ok()
    }
    async fn listeners(prefix: &str, room: &str) -> Option<i64> {
        let client = redis::cluster::ClusterClient::new(cluster_urls()).ok()?;
        let mut conn = client.get_async_connection().await.ok()?;
        let counts: std::collections::HashMap<String, i64> = redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg(format!("{prefix}:room:{room}"))
            .query_async(&mut conn)
            .await
            .ok()?;
        counts.values().copied().max()
    }
}

#[cfg(feature = "redis")]
mod redis_cluster {
    use super::*;
    suite_for!(RedisCluster);
}

/// A single nats-server.
#[cfg(feature = "nats")]
struct Nats;

#[cfg(feature = "nats")]
impl Engine for Nats {
    type Adapter = zocket::NatsAdapter;
    // Each subscription's messages are handed over on their own.
    const ORDER_ACROSS_CHANNELS: bool = false;
    async fn adapter(prefix: &str) -> Option<Self::Adapter> {
        let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
        zocket::NatsAdapter::connect(&url, prefix)
            .await
            .map_err(|e| unavailable(&format!("nats-server at {url}"), e))
            .ok()
    }
    async fn listeners(_prefix: &str, _room: &str) -> Option<i64> {
        // NATS core has no count of a subject's subscribers for a client.
        None
    }
}

#[cfg(feature = "nats")]
mod nats_single {
    use super::*;
    suite_for!(Nats);
}
