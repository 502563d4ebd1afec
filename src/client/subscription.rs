//! Listening: a [`Subscription`] per listener, and [`RouteStream`].

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::sync::mpsc;

use super::shared::{Listener, Shared};

/// A listener registration; unsubscribes when dropped.
#[must_use = "dropping a Subscription unsubscribes at once"]
pub struct Subscription {
    shared: Weak<Shared>,
    route: String,
    id: u64,
    active: bool,
}

impl Subscription {
    /// Registers `listener` for the wire name `route`.
    pub(crate) fn new(shared: &Arc<Shared>, route: String, listener: Listener) -> Self {
        let id = shared.next_listener.fetch_add(1, Ordering::Relaxed);
        shared
            .listeners()
            .entry(route.clone().into_boxed_str())
            .or_default()
            .push((id, listener));
        Subscription {
            shared: Arc::downgrade(shared),
            route,
            id,
            active: true,
        }
    }
    /// Stops delivery to this listener.
    pub fn unsubscribe(mut self) {
        self.remove();
    }
    /// Keeps the listener for the client's whole life.
    pub fn forever(mut self) {
        self.active = false;
    }
    fn remove(&mut self) {
        if !std::mem::take(&mut self.active) {
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            let mut listeners = shared.listeners();
            if let Some(list) = listeners.get_mut(self.route.as_str()) {
                list.retain(|(id, _)| *id != self.id);
                if list.is_empty() {
                    listeners.remove(self.route.as_str());
                }
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.remove();
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("route", &self.route)
            .finish()
    }
}

/// A `Stream` of one route's payloads; see [`Client::stream`](crate::Client::stream).
pub struct RouteStream<P> {
    pub(crate) rx: mpsc::Receiver<P>,
    pub(crate) _sub: Subscription,
}

impl<P> Stream for RouteStream<P> {
    type Item = P;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<P>> {
        self.rx.poll_recv(cx)
    }
}

impl<P> fmt::Debug for RouteStream<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteStream").finish_non_exhaustive()
    }
}
