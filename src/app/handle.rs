//! [`ServerHandle`]: the server, from outside handlers.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::app::ask::Ask;
use crate::app::cluster::Cluster;
use crate::app::delivery::{Delivery, prepare};
use crate::engine::conn::joined;
use crate::engine::hub::Hub;
use crate::engine::lifecycle::Lifecycle;
use crate::engine::metrics::Metrics;
use crate::protocol::client_id::ClientId;
use crate::protocol::error::{Reject, SendError};
use crate::protocol::route::{ClientRequest, Outgoing, ServerReceives, ServerSends};
use crate::protocol::router::Contains;

/// A handle to a running (or built) app, usable outside handlers: send to any
/// client, room or everyone, inspect rooms, close clients, shut down.
///
/// Cheap to clone. Get one from [`Zocket::handle`](crate::Zocket::handle) or
/// [`Ctx::server`](crate::Ctx::server).
pub struct ServerHandle<R> {
    pub(crate) hub: Arc<Hub>,
    _router: PhantomData<fn() -> R>,
}

impl<R> Clone for ServerHandle<R> {
    fn clone(&self) -> Self {
        ServerHandle::new(self.hub.clone())
    }
}

impl<R> fmt::Debug for ServerHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("connections", &self.connection_count())
            .finish()
    }
}

impl<R> ServerHandle<R> {
    pub(crate) fn new(hub: Arc<Hub>) -> Self {
        ServerHandle {
            hub,
            _router: PhantomData,
        }
    }
    /// Prepares an outgoing message for any recipients; see [`Ctx::send`](crate::Ctx::send).
    pub fn send<O, I>(
        &self,
        route: O,
        payload: O::Payload,
    ) -> Result<Delivery, SendError<O::Payload>>
    where
        O: Outgoing,
        O::Payload: ServerSends<O>,
        R: Contains<O, I>,
    {
        prepare::<R, O, I>(&self.hub, None, route, payload)
    }
    /// Asks the client `client` (connected to this server) on client request
    /// route `route`; see [`Ctx::ask`](crate::Ctx::ask).
    pub fn ask<X, I>(&self, client: ClientId, route: X, payload: X::Payload) -> Ask<X>
    where
        X: ClientRequest,
        X::Payload: ServerSends<X>,
        X::Response: ServerReceives<X>,
        R: Contains<X, I>,
    {
        let _ = route;
        Ask::new::<R, I>(self.hub.clone(), client, payload)
    }
    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.hub.connection_count()
    }
    /// Whether `id` is connected.
    pub fn is_connected(&self, id: ClientId) -> bool {
        self.hub.is_connected(id)
    }
    /// Names of the rooms that have members, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.hub.room_names()
    }
    /// Members of `room`, sorted.
    pub fn members(&self, room: &str) -> Vec<ClientId> {
        self.hub.members(room)
    }
    /// Makes client `id` join `room`; see [`Conn::join`](crate::Conn::join).
    ///
    /// # Errors
    ///
    /// A [`Reject`] when the client is in
    /// [`max_rooms_per_client`](crate::Config::max_rooms_per_client) rooms already.
    pub fn join(&self, id: ClientId, room: &str) -> Result<bool, Reject> {
        joined(
            self.hub.join(id, room),
            self.hub.config.max_rooms_per_client,
        )
    }
    /// Makes client `id` leave `room`.
    pub fn leave(&self, id: ClientId, room: &str) -> bool {
        self.hub.leave(id, room)
    }
    /// Closes client `id`'s connection with `code`.
    pub fn close(&self, id: ClientId, code: u16, reason: &'static str) -> bool {
        self.hub.close(id, code, reason)
    }
    /// Rooms and clients across every node of the cluster (through the
    /// adapter): members of a room, rooms of a client, joining, leaving and
    /// closing a client wherever it is connected, the connection count.
    /// Without an adapter, this node alone.
    pub fn cluster(&self) -> Cluster {
        Cluster::new(self.hub.clone())
    }
    /// A snapshot of every counter: connections, rooms, messages in and out
    /// per route, errors by kind, slow-consumer drops.
    pub fn metrics(&self) -> Metrics {
        self.hub
            .counters
            .snapshot(self.hub.connection_count(), self.hub.room_count())
    }
    /// The app's metrics in the Prometheus (OpenMetrics) text format, for a
    /// `/metrics` route of your own, such as one on an axum router next to
    /// [`Zocket::axum_route`](crate::Zocket): every counter of
    /// [`metrics`](ServerHandle::metrics), gauges of connections, rooms and
    /// queued bytes, and (when [`Config::record_metrics`](crate::Config::record_metrics)
    /// or [`Config::metrics_path`](crate::Config::metrics_path) is set)
    /// histograms of handler time per route, handshake time and time in the
    /// outgoing queue. Feature `metrics`.
    ///
    /// ```
    /// # use zocket::{Config, Zocket};
    /// let app = Zocket::<()>::builder()
    ///     .config(Config::default().record_metrics(true))
    ///     .build()
    ///     .unwrap();
    /// let text = app.handle().prometheus();
    /// assert!(text.contains("zocket_connections 0"));
    /// assert!(text.contains("zocket_handshake_duration_seconds_count 0"));
    /// ```
    #[cfg(feature = "metrics")]
    pub fn prometheus(&self) -> String {
        crate::engine::prometheus::render(&self.hub)
    }
    /// The content type of [`prometheus`](ServerHandle::prometheus)'s text.
    #[cfg(feature = "metrics")]
    pub const PROMETHEUS_CONTENT_TYPE: &'static str = crate::engine::prometheus::CONTENT_TYPE;
    /// Starts a graceful shutdown: stop accepting, close every socket with 1001,
    /// run every `on_disconnect`. `serve` returns once that is done.
    pub fn shutdown(&self) {
        self.hub.begin_shutdown();
    }
    /// Waits until a shutdown has started and every connection has finished.
    pub async fn closed(&self) {
        Lifecycle::stopped(&mut self.hub.lifecycle.watch()).await;
        self.hub.lifecycle.idle().await;
    }
}
