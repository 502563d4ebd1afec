//! A connection's outgoing queue: bounded, filled by any task without
//! waiting, drained by the connection's own task.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::task::AtomicWaker;
use tokio::time::{Duration, Instant};
use tungstenite::Message;
use tungstenite::protocol::frame::CloseFrame;

use crate::engine::adapter::RoomReady;
use crate::engine::recovery::History;
use crate::util::lock_unpoisoned;

/// Why the server is closing a connection.
#[derive(Debug, Clone)]
pub(crate) struct CloseCmd {
    pub(crate) code: u16,
    pub(crate) reason: std::borrow::Cow<'static, str>,
}

impl CloseCmd {
    pub(crate) fn frame(&self) -> CloseFrame {
        CloseFrame {
            code: self.code.into(),
            reason: match &self.reason {
                std::borrow::Cow::Borrowed(r) => (*r).into(),
                std::borrow::Cow::Owned(r) => r.clone().into(),
            },
        }
    }
}

/// Why a message could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum QueueError {
    Full,
    Closed,
}

/// How much one connection's queue may hold.
///
/// Over the *soft* bounds (messages or bytes) the queue still accepts messages,
/// for at most `grace`: a reader that falls behind for a moment (a burst, a
/// busy moment on its side) catches up and is left alone. A queue that stays
/// over them longer, or reaches the *hard* bounds (four times the soft ones),
/// belongs to a reader that is not keeping up, and refuses: the caller applies
/// the slow-consumer policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueLimits {
    pub(crate) soft_len: usize,
    pub(crate) soft_bytes: usize,
    pub(crate) grace: Duration,
    /// Note when the oldest queued message was queued (for the
    /// time-in-queue histogram of the `metrics` feature).
    pub(crate) timed: bool,
}

impl QueueLimits {
    /// The limits every outbox of an app shares (a bound of 0 counts as 1).
    pub(crate) fn shared(self) -> Arc<QueueLimits> {
        Arc::new(QueueLimits {
            soft_len: self.soft_len.max(1),
            soft_bytes: self.soft_bytes.max(1),
            ..self
        })
    }
    fn hard_len(&self) -> usize {
        self.soft_len.saturating_mul(4)
    }
    fn hard_bytes(&self) -> usize {
        self.soft_bytes.saturating_mul(4)
    }
}

#[derive(Default)]
struct OutboxState {
    queue: VecDeque<Message>,
    /// Bytes of the messages in `queue`.
    bytes: usize,
    /// Since when the queue has been over its soft bounds.
    over_since: Option<Instant>,
    /// When the oldest message in `queue` was queued (only when timed).
    first_queued: Option<std::time::Instant>,
    close: Option<CloseCmd>,
    closed: bool,
    /// With recovery on: the written messages, and the offsets they got.
    history: Option<Box<History>>,
}

/// A connection's bounded outgoing queue, filled by any task (never
/// waiting) and drained by the connection's task. Aligned to 64 bytes:
/// the queues of connections served by different cores never share a
/// cache line.
pub(crate) struct Outbox {
    state: Mutex<OutboxState>,
    pub(crate) waker: AtomicWaker,
    /// The app's limits, one copy shared by every connection.
    limits: Arc<QueueLimits>,
    /// Set with `state.close`, readable without the lock.
    close_requested: AtomicBool,
    /// Rooms this client joined whose deliveries from other nodes this node
    /// does not receive yet: nothing is taken from the queue until they are
    /// ready (see [`RoomReady`]). `gated` is readable without the lock.
    gate: Mutex<Vec<RoomReady>>,
    gated: AtomicBool,
}

/// Gives every text message its offset (see [`History`]).
fn record<'a>(history: &mut History, messages: impl Iterator<Item = &'a mut Message>) {
    for msg in messages {
        if let Message::Text(text) = msg {
            *text = history.record(std::mem::take(text));
        }
    }
}

/// The bytes a queued message holds.
fn size_of_message(msg: &Message) -> usize {
    match msg {
        Message::Text(t) => t.len(),
        Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
        Message::Close(_) | Message::Frame(_) => 0,
    }
}

impl Outbox {
    #[cfg(test)]
    pub(crate) fn new(limits: QueueLimits) -> Self {
        Outbox::sharing(limits.shared())
    }

    /// An outbox with the app's limits (see [`QueueLimits::shared`]).
    pub(crate) fn sharing(limits: Arc<QueueLimits>) -> Self {
        Outbox {
            state: Mutex::default(),
            waker: AtomicWaker::new(),
            limits,
            close_requested: AtomicBool::new(false),
            gate: Mutex::default(),
            gated: AtomicBool::new(false),
        }
    }

    /// Holds the queue back until `ready` (the client joined a room whose
    /// deliveries from other nodes this node does not receive yet).
    pub(crate) fn hold_until(&self, ready: RoomReady) {
        lock_unpoisoned(&self.gate).push(ready);
        self.gated.store(true, Ordering::Release);
    }

    /// Whether the queue may be taken now; if not, `cx` is woken when it may.
    pub(crate) fn poll_open(&self, cx: &mut std::task::Context<'_>) -> bool {
        if !self.gated.load(Ordering::Acquire) {
            return true;
        }
        let mut gate = lock_unpoisoned(&self.gate);
        gate.retain(|ready| ready.poll_ready(cx).is_pending());
        if gate.is_empty() {
            self.gated.store(false, Ordering::Release);
            true
        } else {
            false
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
        let size = size_of_message(&msg);
        let len = state.queue.len() + 1;
        let bytes = state.bytes + size;
        let limits = &self.limits;
        if len > limits.hard_len() || bytes > limits.hard_bytes() {
            return Err(QueueError::Full);
        }
        if len > limits.soft_len || bytes > limits.soft_bytes {
            let now = Instant::now();
            let since = *state.over_since.get_or_insert(now);
            if now.duration_since(since) >= limits.grace {
                return Err(QueueError::Full);
            }
        }
        let was_empty = state.queue.is_empty();
        if was_empty && limits.timed {
            state.first_queued = Some(std::time::Instant::now());
        }
        state.queue.push_back(msg);
        state.bytes = bytes;
        drop(state);
        if was_empty {
            self.waker.wake();
        }
        Ok(())
    }

    /// Bytes of the messages waiting in the queue now.
    #[cfg(feature = "metrics")]
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock().bytes
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
        state.bytes = 0;
    }

    /// Moves the queued messages into `into`, which must be empty: the
    /// reader has caught up with everything queued so far. With recovery on,
    /// each text message gets its offset and is kept in the history.
    pub(crate) fn take(&self, into: &mut VecDeque<Message>) -> Option<std::time::Instant> {
        let mut state = self.lock();
        std::mem::swap(&mut state.queue, into);
        state.bytes = 0;
        state.over_since = None;
        let since = state.first_queued.take();
        if let Some(history) = &mut state.history {
            record(history, into.iter_mut());
        }
        since
    }

    /// When a close was requested: appends what was queued before it to
    /// `into` and returns the close frame.
    pub(crate) fn take_close(&self, into: &mut VecDeque<Message>) -> Option<CloseFrame> {
        if !self.close_requested.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.lock();
        let from = into.len();
        into.extend(state.queue.drain(..));
        state.bytes = 0;
        if let Some(history) = &mut state.history {
            record(history, into.iter_mut().skip(from));
        }
        state.close.as_ref().map(CloseCmd::frame)
    }

    /// Keeps a history of written messages from now on (recovery).
    pub(crate) fn record_history(&self, history: History) {
        self.lock().history = Some(Box::new(history));
    }

    /// The written messages after offset `last`, to write again on a resume;
    /// `None` if they are not all kept (or there is no history).
    pub(crate) fn written_since(&self, last: u64) -> Option<Vec<tungstenite::Utf8Bytes>> {
        self.lock().history.as_ref()?.since(last)
    }

    /// Hands a detached session over to another node: what the client
    /// missed after offset `last` (written messages, then the queued ones,
    /// which get their offsets now), and the next offset. Empties the queue.
    pub(crate) fn hand_over(&self, last: u64) -> Option<(Vec<tungstenite::Utf8Bytes>, u64)> {
        let mut state = self.lock();
        let state = &mut *state;
        let history = state.history.as_mut()?;
        let queued = std::mem::take(&mut state.queue);
        state.bytes = 0;
        for msg in queued {
            if let Message::Text(text) = msg {
                history.record(text);
            }
        }
        let replay = history.since(last)?;
        Some((replay, history.next()))
    }

    /// Drops what is queued and what is kept (a session that cannot be
    /// recovered any more).
    pub(crate) fn forget(&self) {
        let mut state = self.lock();
        state.queue = VecDeque::new();
        state.bytes = 0;
        state.over_since = None;
        state.history = None;
    }

    /// Drops everything queued.
    #[cfg(any(fuzzing, test))]
    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        state.queue.clear();
        state.bytes = 0;
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(soft_len: usize, soft_bytes: usize, grace_ms: u64) -> QueueLimits {
        QueueLimits {
            soft_len,
            soft_bytes,
            grace: Duration::from_millis(grace_ms),
            timed: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn over_the_soft_bound_a_queue_has_a_grace_period_then_refuses() {
        let outbox = Outbox::new(limits(2, 1 << 20, 1_000));
        for m in ["a", "b", "c"] {
            assert_eq!(outbox.push(Message::text(m)), Ok(()), "a burst is queued");
        }
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(outbox.push(Message::text("d")), Ok(()), "within the grace");
        // The reader catches up: the grace starts over next time.
        let mut taken = VecDeque::new();
        outbox.take(&mut taken);
        assert_eq!(taken.len(), 4);
        tokio::time::advance(Duration::from_millis(2_000)).await;
        for m in ["e", "f", "g"] {
            assert_eq!(outbox.push(Message::text(m)), Ok(()));
        }
        // It does not: past the grace, the queue refuses.
        tokio::time::advance(Duration::from_millis(1_001)).await;
        assert_eq!(outbox.push(Message::text("h")), Err(QueueError::Full));
    }

    #[test]
    fn the_hard_bounds_refuse_at_once_in_messages_and_in_bytes() {
        let outbox = Outbox::new(limits(2, 1 << 20, 60_000));
        for _ in 0..8 {
            assert_eq!(outbox.push(Message::text("x")), Ok(()));
        }
        assert_eq!(
            outbox.push(Message::text("x")),
            Err(QueueError::Full),
            "4 x 2"
        );
        let outbox = Outbox::new(limits(1_000, 100, 60_000));
        assert_eq!(outbox.push(Message::text("x".repeat(300))), Ok(()));
        assert_eq!(outbox.push(Message::text("x".repeat(100))), Ok(()));
        assert_eq!(
            outbox.push(Message::text("x")),
            Err(QueueError::Full),
            "401 bytes > 4 x 100"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn outbox_is_bounded_and_refuses_after_close() {
        let outbox = Outbox::new(limits(1, 1 << 20, 0));
        assert_eq!(outbox.push(Message::text("a")), Ok(()));
        assert_eq!(
            outbox.push(Message::text("b")),
            Err(QueueError::Full),
            "with no grace, the soft bound refuses at once"
        );
        let mut taken = VecDeque::new();
        outbox.take(&mut taken);
        assert_eq!(taken.len(), 1);
        assert!(outbox.take_close(&mut taken).is_none());
        assert_eq!(outbox.len(), 0);
        assert!(outbox.close(CloseCmd {
            code: 1008,
            reason: "x".into()
        }));
        assert!(!outbox.close(CloseCmd {
            code: 1001,
            reason: "y".into()
        }));
        assert_eq!(outbox.close_code(), Some(1008));
        assert_eq!(outbox.push(Message::text("d")), Err(QueueError::Closed));
    }
}
