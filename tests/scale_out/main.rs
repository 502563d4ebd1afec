//! One scale-out suite, run against every cluster engine: the same test
//! bodies, one fixture per engine (`Engine`). Each engine's tests need its
//! server, which `.ci/run` starts: redis-server on 127.0.0.1:6379 (or
//! `REDIS_URL`). Without it (and without `CI` set) the tests say SKIPPED.
#![cfg(feature = "redis")]

#[path = "../common/mod.rs"]
mod common;
mod suite;

use suite::Engine;
use zocket::RedisAdapter;

/// A single redis-server.
struct Redis;

impl Engine for Redis {
    type Adapter = RedisAdapter;
    async fn adapter(prefix: &str) -> Option<RedisAdapter> {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
        match RedisAdapter::connect(&url, prefix).await {
            Ok(a) => Some(a),
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("redis-server is required when CI is set (.ci/run starts it): {e}")
            }
            Err(e) => {
                eprintln!("\n***** SKIPPED: no redis-server at {url} ({e}); run .ci/run *****\n");
                None
            }
        }
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

mod redis_single {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_receives_only_the_traffic_of_rooms_it_has_members_in() {
        suite::room_traffic_reaches_only_nodes_with_members::<Redis>().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fresh_room_gets_traffic_sent_right_after_the_join_is_answered() {
        suite::a_fresh_room_misses_nothing::<Redis>().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cluster_operations_work_across_three_nodes() {
        suite::cluster_operations::<Redis>().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cluster_operations_time_out_with_typed_errors() {
        suite::cluster_operations_time_out::<Redis>().await;
    }
}
