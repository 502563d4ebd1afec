//! Work that belongs to one connection and outlives a message: tasks and
//! timers started through a connection handle, ended with the connection.
//!
//! A connection's [`ConnScope`] is made at its first task or timer and ended
//! when its session ends (before `on_disconnect`): a timer still waiting
//! then never fires, and a task still running gets
//! [`Config::close_timeout`](crate::Config::close_timeout) to finish, as a
//! handler does, before it is dropped.
//!
//! A timer's fate is one atomic: pending, then either cancelled or fired,
//! whichever comes first, so a `cancel()` that returns `true` guarantees the
//! timer never fires, on any runtime.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::util::lock_unpoisoned;

const PENDING: u8 = 0;
const CANCELLED: u8 = 1;
const FIRED: u8 = 2;

/// One timer's fate.
#[derive(Debug)]
pub(crate) struct TimerState(AtomicU8);

impl TimerState {
    fn new(state: u8) -> Arc<Self> {
        Arc::new(TimerState(AtomicU8::new(state)))
    }
    /// Cancels the timer if it has not fired: `true` means it never will.
    pub(crate) fn cancel(&self) -> bool {
        self.0
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
    /// Takes the right to fire: `true` once, if nobody cancelled first.
    fn claim(&self) -> bool {
        self.0
            .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
    pub(crate) fn is_pending(&self) -> bool {
        self.0.load(Ordering::Acquire) == PENDING
    }
    pub(crate) fn has_fired(&self) -> bool {
        self.0.load(Ordering::Acquire) == FIRED
    }
    /// A timer of a connection that has ended: cancelled from the start.
    pub(crate) fn cancelled() -> Arc<Self> {
        TimerState::new(CANCELLED)
    }
}

/// A timer's work, run when it fires.
pub(crate) type Fire = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The tasks and timers of one connection.
pub(crate) struct ConnScope {
    ended: watch::Sender<bool>,
    /// Pending timers, so the end cancels them; keyed ones by their key.
    timers: Mutex<Timers>,
    grace: Duration,
}

#[derive(Default)]
struct Timers {
    keyed: HashMap<String, Arc<TimerState>>,
    unkeyed: Vec<Arc<TimerState>>,
}

impl ConnScope {
    pub(crate) fn new(grace: Duration) -> Arc<Self> {
        Arc::new(ConnScope {
            ended: watch::Sender::new(false),
            timers: Mutex::new(Timers::default()),
            grace,
        })
    }

    /// Runs `work` until it finishes, or until `grace` after the connection ends.
    pub(crate) fn spawn(
        &self,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::AbortHandle {
        let mut ended = self.ended.subscribe();
        let grace = self.grace;
        tokio::spawn(async move {
            let mut work = std::pin::pin!(work);
            let ended = async move {
                // (the guard `wait_for` returns is dropped at once: it is not `Send`)
                let _ = ended.wait_for(|e| *e).await.map(|_| ());
            };
            tokio::select! {
                () = &mut work => {}
                () = ended => {
                    if tokio::time::timeout(grace, work).await.is_err() {
                        tracing::debug!(?grace, "a connection task outlived its connection; dropped");
                    }
                }
            }
        })
        .abort_handle()
    }

    /// Fires `fire` after `after`, unless cancelled (or the connection ends)
    /// first. With a `key`, a pending timer of the same key is cancelled.
    pub(crate) fn timer(&self, after: Duration, key: Option<&str>, fire: Fire) -> Arc<TimerState> {
        let state = TimerState::new(PENDING);
        {
            let mut timers = lock_unpoisoned(&self.timers);
            if *self.ended.borrow() {
                return TimerState::cancelled();
            }
            timers.unkeyed.retain(|t| t.is_pending());
            match key {
                Some(key) => {
                    if let Some(old) = timers.keyed.insert(key.to_owned(), state.clone()) {
                        old.cancel();
                    }
                }
                None => timers.unkeyed.push(state.clone()),
            }
        }
        let mine = state.clone();
        self.spawn(async move {
            tokio::time::sleep(after).await;
            if mine.claim() {
                fire().await;
            }
        });
        state
    }

    /// Cancels the pending timer of `key`: `true` if it will not fire.
    pub(crate) fn cancel_key(&self, key: &str) -> bool {
        lock_unpoisoned(&self.timers)
            .keyed
            .remove(key)
            .is_some_and(|t| t.cancel())
    }

    /// The connection ended: pending timers never fire; tasks get the grace.
    pub(crate) fn end(&self) {
        let timers = {
            let mut timers = lock_unpoisoned(&self.timers);
            self.ended.send_replace(true);
            std::mem::take(&mut *timers)
        };
        for t in timers.keyed.values().chain(&timers.unkeyed) {
            t.cancel();
        }
    }
}

/// Where a connection's scope is: not made yet, running, or over.
#[derive(Default)]
pub(crate) enum ScopeSlot {
    #[default]
    None,
    Running(Arc<ConnScope>),
    Ended,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_is_cancelled_or_fired_never_both() {
        let t = TimerState::new(PENDING);
        assert!(t.cancel());
        assert!(!t.claim(), "a cancelled timer cannot fire");
        let t = TimerState::new(PENDING);
        assert!(t.claim());
        assert!(!t.cancel(), "a fired timer cannot be cancelled");
        assert!(t.has_fired());
    }
}
