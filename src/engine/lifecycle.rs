//! The lifecycle of a running app: which connection tasks are still running,
//! and whether a graceful shutdown has started.

use std::sync::Arc;

use tokio::sync::watch;

/// Counts running connection tasks and carries the shutdown flag.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    /// Connection tasks (handshakes included) not yet finished, their
    /// `on_disconnect` included.
    tasks: Arc<watch::Sender<usize>>,
    /// Set once when a graceful shutdown starts.
    stopping: watch::Sender<bool>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            tasks: Arc::new(watch::Sender::new(0)),
            stopping: watch::Sender::new(false),
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
