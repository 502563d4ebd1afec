//! Operations over HTTP on the server's own listener: `/metrics` scraped and
//! parsed as Prometheus parses it (per-route histograms with the right
//! counts), `/health` and `/ready` (also at the connection cap), and
//! `/ready` following Redis going away and coming back.
#![cfg(feature = "metrics")]

mod common;
use std::time::{Duration, Instant};

use common::*;
use prometheus_parse::{Scrape, Value};
use serde_json::json;

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// `/metrics`, parsed as Prometheus parses its text format.
async fn scrape(server: &Server) -> Scrape {
    let (status, body) = http(server.addr, &get("/metrics")).await;
    assert_eq!(status, 200, "{body}");
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

/// The value of sample `name` whose label `key` is `value` (or that has no labels).
fn sample<'a>(scrape: &'a Scrape, name: &str, label: Option<(&str, &str)>) -> &'a Value {
    let found = scrape.samples.iter().find(|s| {
        s.metric == name
            && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v))
            && (label.is_some() || s.labels.is_empty())
    });
    &found
        .unwrap_or_else(|| panic!("no sample {name} {label:?} in {:#?}", scrape.samples))
        .value
}

fn count(v: &Value) -> f64 {
    match v {
        Value::Counter(n) | Value::Gauge(n) | Value::Untyped(n) => *n,
        Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
        other => panic!("not a number or histogram: {other:?}"),
    }
}

#[tokio::test]
async fn metrics_are_scraped_with_per_route_histograms() {
    let server = start_with(config().metrics_path("/metrics")).await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    for i in 0..5 {
        a.send("echo", json!({"text": format!("m{i}")})).await;
        a.expect("onEcho").await;
    }
    b.send("rooms.join", json!({"room": "x"})).await;
    b.send("broadcast", json!({"text": "all"})).await;
    a.expect("onBroadcast").await;
    b.expect("onBroadcast").await;
    a.send("nope", json!(null)).await;
    a.expect_error("unknown_route").await;

    let s = scrape(&server).await;
    // Handler time, per incoming route, with the exact number of messages.
    let echo = sample(
        &s,
        "zocket_handler_duration_seconds",
        Some(("route", "echo")),
    );
    assert_eq!(count(echo), 5.0, "{echo:?}");
    let Value::Histogram(buckets) = echo else {
        panic!("a histogram: {echo:?}")
    };
    assert!(buckets.len() > 10, "buckets: {buckets:?}");
    assert_eq!(
        count(sample(
            &s,
            "zocket_handler_duration_seconds",
            Some(("route", "broadcast"))
        )),
        1.0
    );
    assert_eq!(
        count(sample(
            &s,
            "zocket_handler_duration_seconds",
            Some(("route", "rooms.join"))
        )),
        1.0
    );
    // Every route is listed, also those without traffic (bounded labels).
    assert_eq!(
        count(sample(
            &s,
            "zocket_handler_duration_seconds",
            Some(("route", "whoami"))
        )),
        0.0
    );
    // Counters and gauges.
    assert_eq!(
        count(sample(
            &s,
            "zocket_messages_in_total",
            Some(("route", "echo"))
        )),
        5.0
    );
    assert_eq!(
        count(sample(
            &s,
            "zocket_deliveries_total",
            Some(("route", "onBroadcast"))
        )),
        2.0
    );
    assert_eq!(
        count(sample(
            &s,
            "zocket_errors_total",
            Some(("kind", "unknown_route"))
        )),
        1.0
    );
    assert_eq!(count(sample(&s, "zocket_connections", None)), 2.0);
    assert_eq!(count(sample(&s, "zocket_rooms", None)), 1.0);
    assert_eq!(
        count(sample(&s, "zocket_connections_accepted_total", None)),
        2.0
    );
    // Two handshakes timed; every written batch's wait timed.
    assert_eq!(
        count(sample(&s, "zocket_handshake_duration_seconds", None)),
        2.0
    );
    assert!(count(sample(&s, "zocket_outbox_wait_seconds", None)) >= 8.0);
    // No client id or room name is a label anywhere.
    for sample in &s.samples {
        for (key, _) in sample.labels.iter() {
            assert!(
                ["route", "kind", "le"].contains(&key.as_str()),
                "label {key}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn health_and_ready_answer_at_the_connection_cap() {
    let server = start_with(
        config()
            .max_connections(1)
            .health_check("/health")
            .ready_check("/ready")
            .metrics_path("/metrics"),
    )
    .await;
    let _only = Client::connect(&server, "a").await;
    // The cap is reached: an upgrade is refused, the checks still answer.
    let (status, _) = http(server.addr, &upgrade_request("/?name=b", "")).await;
    assert_eq!(status, 503);
    let (status, body) = http(server.addr, &get("/health")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"status":"ok","connections":1}"#)
    );
    let (status, body) = http(server.addr, &get("/ready")).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ready"}"#));
    let (status, _) = http(server.addr, &get("/metrics")).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[cfg(feature = "redis")]
mod with_redis {
    use super::*;

    /// A private redis-server on `port`, killed on drop.
    struct PrivateRedis(std::process::Child);

    impl PrivateRedis {
        fn start(port: u16) -> Option<PrivateRedis> {
            use std::io::BufRead;
            let mut child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .ok()?;
            let out = child.stdout.take()?;
            for line in std::io::BufReader::new(out).lines() {
                if line.ok()?.contains("Ready to accept connections") {
                    return Some(PrivateRedis(child));
                }
            }
            None
        }
    }

    impl Drop for PrivateRedis {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Asks `/ready` until it answers `status` (the adapter notices Redis
    /// going away and coming back on its own schedule).
    async fn ready_becomes(server: &Server, status: u16) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (got, body) = http(server.addr, &get("/ready")).await;
            if got == status {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "/ready stayed {got} ({body}), expected {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ready_follows_redis_going_away_and_coming_back() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let Some(redis) = PrivateRedis::start(port) else {
            if std::env::var_os("CI").is_some() {
                panic!("redis-server is required when CI is set (.ci/run installs it)");
            }
            eprintln!("\n***** SKIPPED: no redis-server binary *****\n");
            return;
        };
        let url = format!("redis://127.0.0.1:{port}/");
        let adapter = zocket::RedisAdapter::connect(&url, "ready").await.unwrap();
        let server = start_node(
            config().ready_check("/ready").health_check("/health"),
            Some(adapter),
        )
        .await;
        let (status, body) = http(server.addr, &get("/ready")).await;
        assert_eq!((status, body.as_str()), (200, r#"{"status":"ready"}"#));

        drop(redis);
        let body: serde_json::Value =
            serde_json::from_str(&ready_becomes(&server, 503).await).unwrap();
        assert_eq!(
            body,
            json!({"status": "not ready", "reasons": ["adapter disconnected"]})
        );
        // `/health` says the process is alive all along.
        let (status, _) = http(server.addr, &get("/health")).await;
        assert_eq!(status, 200);

        let _redis = PrivateRedis::start(port).expect("redis-server restarts on its port");
        ready_becomes(&server, 200).await;
        server.stop().await;
    }
}
