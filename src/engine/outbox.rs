//! A connection's outgoing queue: bounded, filled by any task without
//! waiting, drained by the connection's own task.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::task::AtomicWaker;
use tungstenite::Message;
use tungstenite::protocol::frame::CloseFrame;

use crate::util::lock_unpoisoned;

/// Why the server is closing a connection.
#[derive(Debug, Clone)]
pub(crate) struct CloseCmd {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
}

impl CloseCmd {
    pub(crate) fn frame(&self) -> CloseFrame {
        CloseFrame {
            code: self.code.into(),
            reason: self.reason.into(),
        }
    }
}

/// Why a message could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum QueueError {
    Full,
    Closed,
}

#[derive(Default)]
struct OutboxState {
    queue: VecDeque<Message>,
    close: Option<CloseCmd>,
    closed: bool,
}

/// A connection's bounded outgoing queue, filled by any task (under the
/// registry lock, never waiting) and drained by the connection's task.
pub(crate) struct Outbox {
    state: Mutex<OutboxState>,
    pub(crate) waker: AtomicWaker,
    limit: usize,
    /// Set with `state.close`, readable without the lock.
    close_requested: AtomicBool,
}

impl Outbox {
    pub(crate) fn new(limit: usize) -> Self {
        Outbox {
            state: Mutex::default(),
            waker: AtomicWaker::new(),
            limit: limit.max(1),
            close_requested: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        lock_unpoisoned(&self.state)
    }

    /// Queues a message, or says why not.
    pub(crate) fn push(&self, msg: Message) -> Result<(), QueueError> {
        let mut state = self.lock();
        if state.closed || state.close.is_some() {
            return Err(QueueError::Closed);
        }
        if state.queue.len() >= self.limit {
            return Err(QueueError::Full);
        }
        let was_empty = state.queue.is_empty();
        state.queue.push_back(msg);
        drop(state);
        if was_empty {
            self.waker.wake();
        }
        Ok(())
    }

    /// Asks the connection to close; the first request wins. `true` if it was the first.
    pub(crate) fn close(&self, cmd: CloseCmd) -> bool {
        let mut state = self.lock();
        if state.closed || state.close.is_some() {
            return false;
        }
        state.close = Some(cmd);
        self.close_requested.store(true, Ordering::Release);
        drop(state);
        self.waker.wake();
        true
    }

    /// Whether a close was requested.
    #[cfg(test)]
    pub(crate) fn close_code(&self) -> Option<u16> {
        self.lock().close.as_ref().map(|c| c.code)
    }

    /// Refuses everything from now on (the connection is gone).
    pub(crate) fn shut(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.queue = VecDeque::new();
    }

    /// Moves the queued messages into `into`, which must be empty.
    pub(crate) fn take(&self, into: &mut VecDeque<Message>) {
        let mut state = self.lock();
        std::mem::swap(&mut state.queue, into);
    }

    /// When a close was requested: appends what was queued before it to
    /// `into` and returns the close frame.
    pub(crate) fn take_close(&self, into: &mut VecDeque<Message>) -> Option<CloseFrame> {
        if !self.close_requested.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.lock();
        into.extend(state.queue.drain(..));
        state.close.as_ref().map(CloseCmd::frame)
    }

    /// Drops everything queued.
    #[cfg(any(fuzzing, test))]
    pub(crate) fn clear(&self) {
        self.lock().queue.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_is_bounded_and_refuses_after_close() {
        let outbox = Outbox::new(2);
        assert_eq!(outbox.push(Message::text("a")), Ok(()));
        assert_eq!(outbox.push(Message::text("b")), Ok(()));
        assert_eq!(outbox.push(Message::text("c")), Err(QueueError::Full));
        let mut taken = VecDeque::new();
        outbox.take(&mut taken);
        assert_eq!(taken.len(), 2);
        assert!(outbox.take_close(&mut taken).is_none());
        assert_eq!(outbox.len(), 0);
        assert!(outbox.close(CloseCmd {
            code: 1008,
            reason: "x"
        }));
        assert!(!outbox.close(CloseCmd {
            code: 1001,
            reason: "y"
        }));
        assert_eq!(outbox.close_code(), Some(1008));
        assert_eq!(outbox.push(Message::text("d")), Err(QueueError::Closed));
    }
}
