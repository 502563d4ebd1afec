//! The Prometheus exposition of one app (feature `metrics`): every counter of
//! the [`Metrics`](crate::Metrics) snapshot, gauges, and the histograms.
//!
//! Counters and gauges are read from the hub's own atomics at scrape time
//! (a `prometheus-client` [`Collector`]), so the hot path keeps one set of
//! counters; only the histograms are recorded as they happen. Labels are
//! route wire names (known when the app is built) and error kinds: the
//! number of series is bounded by the router, never by clients or rooms.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::engine::hub::Hub;

/// The content type of what [`render`] writes.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The metrics of `hub`, in the OpenMetrics text format (which Prometheus
/// scrapes; it is a superset of its classic text format).
pub(crate) fn render(hub: &Arc<Hub>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(hub.clone())));
    let mut out = String::with_capacity(4096);
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// Reads the hub when scraped.
struct Scrape(Arc<Hub>);

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrape")
    }
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

/// One counter family with one label.
fn labelled_counters<'a>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &str,
    values: impl Iterator<Item = (&'a str, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value, count) in values {
        let labels = [(label, value)];
        ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn histogram(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    h: &Histogram,
) -> Result<(), std::fmt::Error> {
    h.encode(encoder.encode_descriptor(name, help, Some(&Unit::Seconds), h.metric_type())?)
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let hub = &self.0;
        let m = hub
            .counters
            .snapshot(hub.connection_count(), hub.room_count());
        let e = &mut encoder;
        gauge(
            e,
            "zocket_connections",
            "Open connections.",
            m.connections as i64,
        )?;
        gauge(
            e,
            "zocket_rooms",
            "Rooms with at least one member.",
            m.rooms as i64,
        )?;
        gauge(
            e,
            "zocket_outbox_bytes",
            "Bytes waiting in the outgoing queues of all connections.",
            hub.queued_bytes() as i64,
        )?;
        counter(
            e,
            "zocket_connections_accepted",
            "Connections accepted.",
            m.connections_total,
        )?;
        counter(
            e,
            "zocket_handshakes_refused",
            "Upgrades refused (invalid headers, on_connect, Origin, limits).",
            m.handshakes_refused,
        )?;
        counter(
            e,
            "zocket_messages_dropped_slow",
            "Messages not queued because a client's queue was full.",
            m.dropped_slow,
        )?;
        counter(
            e,
            "zocket_sessions_detached",
            "Sessions kept after their client dropped (recovery).",
            m.sessions_detached,
        )?;
        counter(
            e,
            "zocket_sessions_recovered",
            "Sessions a client took over again within the window.",
            m.sessions_recovered,
        )?;
        counter(
            e,
            "zocket_remote_deliveries_received",
            "Deliveries from other nodes that reached this node through the adapter.",
            m.remote_received,
        )?;
        counter(
            e,
            "zocket_remote_deliveries_unused",
            "Deliveries from other nodes that had no recipient on this node.",
            m.remote_unused,
        )?;
        counter(
            e,
            "zocket_remote_packets_other_version",
            "Packets from other nodes in a version this node does not speak (ignored, never read).",
            m.remote_other_version,
        )?;
        labelled_counters(
            e,
            "zocket_messages_in",
            "Messages handled, by incoming route.",
            "route",
            m.messages_in.iter().map(|(r, n)| (r.as_str(), *n)),
        )?;
        labelled_counters(
            e,
            "zocket_messages_dropped",
            "Messages a middleware or handler dropped quietly (Reject::quiet), by incoming route.",
            "route",
            m.dropped.iter().map(|(r, n)| (r.as_str(), *n)),
        )?;
        labelled_counters(
            e,
            "zocket_messages_out",
            "Messages prepared (validated and serialized once), by outgoing route.",
            "route",
            m.messages_out.iter().map(|(r, o)| (r.as_str(), o.sent)),
        )?;
        labelled_counters(
            e,
            "zocket_deliveries",
            "Copies of messages queued for recipients, by outgoing route.",
            "route",
            m.messages_out
                .iter()
                .map(|(r, o)| (r.as_str(), o.delivered)),
        )?;
        let kinds: Vec<(String, u64)> = m
            .errors
            .iter()
            .map(|(k, n)| (k.as_str().to_owned(), *n))
            .collect();
        labelled_counters(
            e,
            "zocket_errors",
            "Messages dropped or refused, by kind (as on $zocket.error).",
            "kind",
            kinds.iter().map(|(k, n)| (k.as_str(), *n)),
        )?;
        if let Some(t) = &hub.counters.timings {
            let mut family = e.encode_descriptor(
                "zocket_handler_duration",
                "Time from a message's dispatch to its handler's end (middleware included), by incoming route.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            let mut routes: Vec<_> = t.handler.iter().collect();
            routes.sort_by(|a, b| a.0.cmp(b.0));
            for (route, h) in routes {
                let labels = [("route", &**route)];
                h.encode(family.encode_family(&labels)?)?;
            }
            histogram(
                e,
                "zocket_handshake_duration",
                "Time from an accepted socket to its upgrade (or refusal).",
                &t.handshake,
            )?;
            histogram(
                e,
                "zocket_outbox_wait",
                "Time the oldest message of a written batch waited in its connection's queue.",
                &t.outbox_wait,
            )?;
        }
        Ok(())
    }
}
