//! The lifecycle of a running app: which connection tasks are still running,
//! and whether a graceful shutdown has started.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::util::lock_unpoisoned;

/// Counts running connection tasks and carries the shutdown flag.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    /// Connection tasks (handshakes included) not yet finished, their
    /// `on_disconnect` included.
    tasks: Arc<watch::Sender<usize>>,
    /// Set once when a graceful shutdown starts.
    stopping: watch::Sender<bool>,
    /// Sockets accepted and still in their handshake, in all and per address.
    pending: Arc<Mutex<Pending>>,
}

#[derive(Debug, Default)]
struct Pending {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            tasks: Arc::new(watch::Sender::new(0)),
            stopping: watch::Sender::new(false),
            pending: Arc::default(),
        }
    }
}

impl Lifecycle {
    /// Counts a connection task as running until the guard drops.
    pub(crate) fn task_guard(&self) -> TaskGuard {
        self.tasks.send_modify(|n| *n += 1);
        TaskGuard(self.tasks.clone())
    }

    /// Sockets being served: connections and handshakes in progress.
    pub(crate) fn task_count(&self) -> usize {
        *self.tasks.borrow()
    }

    /// Waits until no connection task is running.
    pub(crate) async fn idle(&self) {
        let mut rx = self.tasks.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Counts a socket from `ip` as in its handshake until the guard drops, or
    /// says no: `max_total` sockets are in their handshake already, or more
    /// than half of them are and `max_per_ip` of them come from `ip`.
    /// Handshakes have their own budget, apart from established connections;
    /// while it is plentiful one host may use it freely (a burst of connects
    /// from one machine is normal), and once it runs short a host holding its
    /// share gets no more, so it cannot take the slots honest hosts need.
    pub(crate) fn try_pending(
        &self,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: Option<usize>,
    ) -> Result<PendingGuard, PendingRefused> {
        let mut pending = lock_unpoisoned(&self.pending);
        if pending.total >= max_total {
            return Err(PendingRefused::Total);
        }
        let under_pressure = pending.total >= max_total / 2;
        let from_ip = pending.per_ip.entry(ip).or_default();
        if under_pressure && max_per_ip.is_some_and(|max| *from_ip >= max) {
            return Err(PendingRefused::FromAddress);
        }
        *from_ip += 1;
        pending.total += 1;
        Ok(PendingGuard {
            pending: self.pending.clone(),
            ip,
        })
    }

    /// Sockets in their handshake now.
    #[cfg(test)]
    pub(crate) fn pending_count(&self) -> usize {
        lock_unpoisoned(&self.pending).total
    }

    /// Raises the shutdown flag (once; later calls change nothing).
    pub(crate) fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// A receiver of the shutdown flag, for [`Lifecycle::stopped`].
    pub(crate) fn watch(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Resolves once a shutdown has started (at once if it already has).
    pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Why [`Lifecycle::try_pending`] said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PendingRefused {
    /// Too many handshakes in all.
    Total,
    /// Too many handshakes from this address.
    FromAddress,
}

/// Keeps a socket counted as in its handshake; see [`Lifecycle::try_pending`].
#[derive(Debug)]
pub(crate) struct PendingGuard {
    pending: Arc<Mutex<Pending>>,
    ip: IpAddr,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        let mut pending = lock_unpoisoned(&self.pending);
        pending.total -= 1;
        if let Some(n) = pending.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                pending.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Keeps a connection task counted; see [`Lifecycle::task_guard`].
#[derive(Debug)]
pub(crate) struct TaskGuard(Arc<watch::Sender<usize>>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_for_the_last_guard() {
        let life = Lifecycle::default();
        let a = life.task_guard();
        let b = life.task_guard();
        assert_eq!(life.task_count(), 2);
        drop(a);
        assert_eq!(life.task_count(), 1);
        let idle = life.idle();
        drop(b);
        idle.await;
        assert_eq!(life.task_count(), 0);
    }

    #[test]
    fn pending_handshakes_are_bounded_in_all_and_per_address() {
        let life = Lifecycle::default();
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        // A budget of 4: the per-address cap of 1 applies from 2 in use.
        let a1 = life.try_pending(a, 4, Some(1)).unwrap();
        let a2 = life.try_pending(a, 4, Some(1)).unwrap();
        assert_eq!(
            life.try_pending(a, 4, Some(1)).unwrap_err(),
            PendingRefused::FromAddress,
            "under pressure, a holds its share"
        );
        let _b1 = life.try_pending(b, 4, Some(1)).unwrap();
        assert_eq!(
            life.try_pending(b, 4, Some(1)).unwrap_err(),
            PendingRefused::FromAddress
        );
        drop(a1);
        drop(a2);
        assert_eq!(life.pending_count(), 1);
        let _a3 = life
            .try_pending(a, 4, Some(1))
            .expect("no pressure: a may again");
        let _more: Vec<_> = (0..2)
            .map(|_| life.try_pending(a, 100, None).unwrap())
            .collect();
        assert_eq!(
            life.try_pending(b, 4, None).unwrap_err(),
            PendingRefused::Total
        );
    }

    #[tokio::test]
    async fn stopped_resolves_after_stop_even_when_late() {
        let life = Lifecycle::default();
        let mut rx = life.watch();
        assert!(!*rx.borrow());
        life.stop();
        Lifecycle::stopped(&mut rx).await;
        let mut late = life.watch();
        Lifecycle::stopped(&mut late).await;
    }
}
