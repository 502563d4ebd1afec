//! [`RoomReady`]: the moment a node receives a room's deliveries from the
//! other nodes, which an adapter with per-room subscriptions reaches some
//! time after the room's first member joined here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::util::lock_unpoisoned;

#[derive(Default)]
struct Inner {
    done: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Inner {
    fn finish(&self) {
        self.done.store(true, Ordering::Release);
        for waker in std::mem::take(&mut *lock_unpoisoned(&self.wakers)) {
            waker.wake();
        }
    }
}

/// Whether this node receives a room's deliveries from the other nodes yet:
/// what [`Adapter::open_room`](super::Adapter::open_room) returns.
///
/// While it is pending, zocket holds back what it writes to the members who
/// joined the room here (their messages wait in their queues), so nothing a
/// member receives after its join can have been sent before this node
/// listened to the room. Cheap to clone; every clone sees the same moment.
///
/// ```
/// use zocket::adapter::RoomReady;
///
/// assert!(RoomReady::now().is_ready());
/// let (ready, signal) = RoomReady::pending();
/// assert!(!ready.is_ready());
/// signal.ready();
/// assert!(ready.is_ready());
/// ```
#[derive(Clone, Default)]
pub struct RoomReady(Option<Arc<Inner>>);

/// Makes its [`RoomReady`] ready: when [`ready`](RoomReadySignal::ready) is
/// called, or when it is dropped (an adapter that cannot subscribe, or gives
/// up, must not hold the room's members back for ever).
pub struct RoomReadySignal(Arc<Inner>);

impl RoomReady {
    /// Ready already: the node receives the room's deliveries (an adapter
    /// that sends every node everything, or no adapter).
    pub fn now() -> Self {
        RoomReady(None)
    }

    /// Not ready until the returned signal says so (or is dropped).
    pub fn pending() -> (RoomReady, RoomReadySignal) {
        let inner = Arc::new(Inner::default());
        (RoomReady(Some(inner.clone())), RoomReadySignal(inner))
    }

    /// Whether the node receives the room's deliveries now.
    pub fn is_ready(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|inner| inner.done.load(Ordering::Acquire))
    }

    /// `Ready` once the signal fired; otherwise wakes `cx` when it does.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.0 else {
            return Poll::Ready(());
        };
        if inner.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut wakers = lock_unpoisoned(&inner.wakers);
        // Checked again under the lock: `finish` takes the wakers after it
        // sets `done`, so a waker pushed now is either taken or not needed.
        if inner.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Awaiting a `RoomReady` waits until the node receives the room's
/// deliveries (for adapters that compose another adapter's readiness).
impl std::future::Future for RoomReady {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_ready(cx)
    }
}

impl std::fmt::Debug for RoomReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomReady")
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl RoomReadySignal {
    /// The node receives the room's deliveries now.
    pub fn ready(self) {
        // Drop does it.
    }
}

impl Drop for RoomReadySignal {
    fn drop(&mut self) {
        self.0.finish();
    }
}

impl std::fmt::Debug for RoomReadySignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomReadySignal").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_task_wakes_when_the_signal_fires_or_drops() {
        for drop_it in [false, true] {
            let (ready, signal) = RoomReady::pending();
            let waiter = {
                let ready = ready.clone();
                tokio::spawn(async move { std::future::poll_fn(|cx| ready.poll_ready(cx)).await })
            };
            tokio::task::yield_now().await;
            assert!(!ready.is_ready());
            if drop_it {
                drop(signal);
            } else {
                signal.ready();
            }
            waiter.await.unwrap();
            assert!(ready.is_ready());
        }
    }
}
