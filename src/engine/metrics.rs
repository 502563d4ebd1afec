//! Counters for observability, readable as a [`Metrics`] snapshot from
//! [`ServerHandle::metrics`](crate::ServerHandle::metrics).
//!
//! Every counter is an atomic updated on the hot path without a lock; the
//! per-route maps are built once from the router and never change.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::protocol::router::{Direction, RouteInfo};
use crate::protocol::wire::ErrorKind;

const KINDS: [ErrorKind; 8] = [
    ErrorKind::InvalidJson,
    ErrorKind::UnknownRoute,
    ErrorKind::InvalidPayload,
    ErrorKind::ValidationFailed,
    ErrorKind::Rejected,
    ErrorKind::HandlerError,
    ErrorKind::UnsupportedFrame,
    ErrorKind::RateLimited,
];

fn kind_index(kind: ErrorKind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

#[derive(Default)]
struct OutCounters {
    sent: AtomicU64,
    delivered: AtomicU64,
}

/// Histograms of how long things take (feature `metrics`, when the app
/// records them): per incoming route, the handshake, the outgoing queue.
#[cfg(feature = "metrics")]
pub(crate) struct Timings {
    pub(crate) handler: HashMap<Box<str>, prometheus_client::metrics::histogram::Histogram>,
    pub(crate) handshake: prometheus_client::metrics::histogram::Histogram,
    pub(crate) outbox_wait: prometheus_client::metrics::histogram::Histogram,
}

#[cfg(feature = "metrics")]
fn seconds_histogram() -> prometheus_client::metrics::histogram::Histogram {
    // 50 µs to about 1.6 s, doubling.
    prometheus_client::metrics::histogram::Histogram::new(
        prometheus_client::metrics::histogram::exponential_buckets(0.000_05, 2.0, 16),
    )
}

/// When a timed step started: `None` unless the app records timings.
pub(crate) type Started = Option<std::time::Instant>;

/// The live counters of one app.
#[derive(Default)]
pub(crate) struct Counters {
    /// Present when the app records timings (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) timings: Option<Box<Timings>>,
    pub(crate) dropped_slow: AtomicU64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) handshakes_refused: AtomicU64,
    pub(crate) sessions_detached: AtomicU64,
    pub(crate) sessions_recovered: AtomicU64,
    pub(crate) remote_received: AtomicU64,
    pub(crate) remote_unused: AtomicU64,
    pub(crate) remote_other_version: AtomicU64,
    incoming: HashMap<Box<str>, AtomicU64>,
    /// Messages dropped quietly (`Reject::quiet`), by incoming route.
    dropped: HashMap<Box<str>, AtomicU64>,
    outgoing: HashMap<Box<str>, OutCounters>,
    errors: [AtomicU64; KINDS.len()],
}

impl Counters {
    /// Counters for `routes`; with `timed` (and the `metrics` feature) also
    /// the histograms.
    pub(crate) fn new(routes: &[RouteInfo], timed: bool) -> Self {
        let mut c = Counters::default();
        #[cfg(feature = "metrics")]
        if timed {
            c.timings = Some(Box::new(Timings {
                handler: routes
                    .iter()
                    .filter(|r| matches!(r.direction, Direction::Incoming | Direction::Request))
                    .map(|r| (r.name.as_str().into(), seconds_histogram()))
                    .collect(),
                handshake: seconds_histogram(),
                outbox_wait: seconds_histogram(),
            }));
        }
        #[cfg(not(feature = "metrics"))]
        let _ = timed;
        for r in routes {
            match r.direction {
                Direction::Incoming | Direction::Request => {
                    c.incoming.insert(r.name.as_str().into(), AtomicU64::new(0));
                    c.dropped.insert(r.name.as_str().into(), AtomicU64::new(0));
                }
                Direction::Outgoing | Direction::ClientRequest => {
                    c.outgoing
                        .insert(r.name.as_str().into(), OutCounters::default());
                }
            }
        }
        c
    }
    /// A message for `route` was handled (its handler ran to completion or failed).
    pub(crate) fn message_in(&self, route: &str) {
        if let Some(n) = self.incoming.get(route) {
            n.fetch_add(1, Relaxed);
        }
    }
    /// A message for `route` was dropped quietly by a middleware or its handler.
    pub(crate) fn dropped(&self, route: &str) {
        if let Some(n) = self.dropped.get(route) {
            n.fetch_add(1, Relaxed);
        }
    }
    /// A message for `route` was prepared and queued for `recipients` clients.
    pub(crate) fn message_out(&self, route: &str, recipients: usize) {
        if let Some(c) = self.outgoing.get(route) {
            c.sent.fetch_add(1, Relaxed);
            c.delivered.fetch_add(recipients as u64, Relaxed);
        }
    }
    /// Whether timings are recorded (so the clock is read only then).
    #[inline]
    pub(crate) fn timed(&self) -> bool {
        #[cfg(feature = "metrics")]
        return self.timings.is_some();
        #[cfg(not(feature = "metrics"))]
        false
    }
    /// Starts timing a step, when timings are recorded.
    #[inline]
    pub(crate) fn start(&self) -> Started {
        self.timed().then(std::time::Instant::now)
    }
    /// The handler of `route` ran from `started` to now.
    #[inline]
    pub(crate) fn handled(&self, route: &str, started: Started) {
        #[cfg(feature = "metrics")]
        if let (Some(t), Some(started)) = (&self.timings, started)
            && let Some(h) = t.handler.get(route)
        {
            h.observe(started.elapsed().as_secs_f64());
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (route, started);
    }
    /// A handshake ran from `started` to now.
    pub(crate) fn handshake_done(&self, started: Started) {
        #[cfg(feature = "metrics")]
        if let (Some(t), Some(started)) = (&self.timings, started) {
            t.handshake.observe(started.elapsed().as_secs_f64());
        }
        #[cfg(not(feature = "metrics"))]
        let _ = started;
    }
    /// A batch of queued messages, the oldest queued at `since`, is being written.
    #[inline]
    pub(crate) fn dequeued(&self, since: Started) {
        #[cfg(feature = "metrics")]
        if let (Some(t), Some(since)) = (&self.timings, since) {
            t.outbox_wait.observe(since.elapsed().as_secs_f64());
        }
        #[cfg(not(feature = "metrics"))]
        let _ = since;
    }
    pub(crate) fn error(&self, kind: ErrorKind) {
        self.errors[kind_index(kind)].fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self, connections: usize, rooms: usize) -> Metrics {
        Metrics {
            connections,
            rooms,
            connections_total: self.connections_total.load(Relaxed),
            handshakes_refused: self.handshakes_refused.load(Relaxed),
            dropped_slow: self.dropped_slow.load(Relaxed),
            sessions_detached: self.sessions_detached.load(Relaxed),
            sessions_recovered: self.sessions_recovered.load(Relaxed),
            remote_received: self.remote_received.load(Relaxed),
            remote_unused: self.remote_unused.load(Relaxed),
            remote_other_version: self.remote_other_version.load(Relaxed),
            messages_in: self
                .incoming
                .iter()
                .map(|(k, v)| (k.to_string(), v.load(Relaxed)))
                .collect(),
            dropped: self
                .dropped
                .iter()
                .map(|(k, v)| (k.to_string(), v.load(Relaxed)))
                .collect(),
            messages_out: self
                .outgoing
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        RouteOut {
                            sent: v.sent.load(Relaxed),
                            delivered: v.delivered.load(Relaxed),
                        },
                    )
                })
                .collect(),
            errors: KINDS
                .iter()
                .zip(&self.errors)
                .map(|(k, v)| (*k, v.load(Relaxed)))
                .filter(|(_, v)| *v > 0)
                .collect(),
        }
    }
}

/// Messages sent on one outgoing route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteOut {
    /// Messages prepared (validated and serialized once each).
    pub sent: u64,
    /// Copies queued for recipients.
    pub delivered: u64,
}

/// A snapshot of the server's counters.
///
/// ```
/// # use zocket::Zocket;
/// let app = Zocket::<()>::builder().build().unwrap();
/// let m = app.handle().metrics();
/// assert_eq!(m.connections, 0);
/// assert!(m.errors.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Open connections.
    pub connections: usize,
    /// Rooms with at least one member.
    pub rooms: usize,
    /// Connections accepted since the app was built.
    pub connections_total: u64,
    /// Upgrades refused (invalid headers, `on_connect`, Origin, full, ...).
    pub handshakes_refused: u64,
    /// Messages not queued because a client's queue was full.
    pub dropped_slow: u64,
    /// Sessions kept after their client dropped (recovery on).
    pub sessions_detached: u64,
    /// Of those, sessions a client took over again within the window.
    pub sessions_recovered: u64,
    /// Deliveries other nodes sent that reached this node through the
    /// adapter (room sends, sends to client ids, broadcasts).
    pub remote_received: u64,
    /// Of those, deliveries that had no recipient here: work the adapter's
    /// routing wasted on this node. With per-room routing only a send to
    /// several rooms at once can be one (see the adapter guide).
    pub remote_unused: u64,
    /// Packets from other nodes in a packet version this node does not speak
    /// (a node of another zocket release): ignored, never read.
    pub remote_other_version: u64,
    /// Messages handled per incoming route (wire name).
    pub messages_in: BTreeMap<String, u64>,
    /// Messages a middleware or handler dropped quietly ([`Reject::quiet`](crate::Reject::quiet)),
    /// per incoming route (wire name); the clients were not told.
    pub dropped: BTreeMap<String, u64>,
    /// Messages sent per outgoing route (wire name).
    pub messages_out: BTreeMap<String, RouteOut>,
    /// Messages dropped or refused, by kind (only kinds that occurred).
    pub errors: BTreeMap<ErrorKind, u64>,
}
