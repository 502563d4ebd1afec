//! [`Connection`]: a handle of one connection that outlives the message, for
//! timers and tasks that end with the connection.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::app::delivery::{Delivery, prepare};
use crate::engine::conn::Conn;
use crate::engine::tasks::{Fire, TimerState};
use crate::protocol::error::SendError;
use crate::protocol::route::{Outgoing, ServerSends};
use crate::protocol::router::Contains;

/// One connection, for work that outlives the message that started it:
/// `'static`, cheap to clone, typed by the app's router `R` like
/// [`Ctx`](crate::Ctx). Get it with [`Ctx::connection`](crate::Ctx::connection).
///
/// It dereferences to [`Conn`] (id, rooms, `close`), sends typed messages,
/// and starts tasks and timers that end with the connection: when its session
/// ends (before `on_disconnect`), a timer still waiting never fires, and a
/// task still running gets [`Config::close_timeout`](crate::Config::close_timeout)
/// to finish, as a handler does, before it is dropped.
///
/// A typing indicator that goes off after 3 s without a keystroke:
///
/// ```
/// # use std::time::Duration;
/// # use garde::Validate; use serde::{Deserialize, Serialize};
/// # use zocket::{Ctx, HandlerResult, Incoming, Outgoing};
/// # #[derive(Clone, Serialize, Deserialize, Validate)]
/// # struct Typing { #[garde(length(min = 1))] room: String, #[garde(skip)] typing: bool }
/// # struct SetTyping; impl Incoming for SetTyping { const NAME: &'static str = "typing"; type Payload = Typing; }
/// # struct OnTyping; impl Outgoing for OnTyping { const NAME: &'static str = "onTyping"; type Payload = Typing; }
/// # type AppRouter = (SetTyping, (OnTyping, ()));
/// async fn typing(t: Typing, ctx: Ctx<AppRouter>) -> HandlerResult {
///     ctx.send(OnTyping, t.clone())?.except(ctx.id()).to_room([&t.room]);
///     // Each keystroke restarts the timer of this room; the last one fires.
///     let key = format!("typing:{}", t.room);
///     ctx.connection().restart_timer(&key, Duration::from_secs(3), move |conn| async move {
///         let stopped = Typing { typing: false, ..t };
///         if let Ok(d) = conn.send(OnTyping, stopped.clone()) {
///             d.except(conn.id()).to_room([&stopped.room]);
///         }
///     });
///     Ok(())
/// }
/// ```
pub struct Connection<R> {
    conn: Conn,
    _router: PhantomData<fn() -> R>,
}

impl<R> Clone for Connection<R> {
    fn clone(&self) -> Self {
        Connection {
            conn: self.conn.clone(),
            _router: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Connection<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.conn.id)
            .finish()
    }
}

impl<R> Deref for Connection<R> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl<R: 'static> Connection<R> {
    pub(crate) fn new(conn: Conn) -> Self {
        Connection {
            conn,
            _router: PhantomData,
        }
    }

    /// Whether the connection is still open (its client connected).
    pub fn is_connected(&self) -> bool {
        self.conn.hub.is_connected(self.conn.id)
    }

    /// Prepares an outgoing message, as [`Ctx::send`](crate::Ctx::send) does
    /// (this connection counts as its sender for `.except`).
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
        prepare::<R, O, I>(&self.conn.hub, Some(self.conn.id), route, payload)
    }

    /// Runs `work` as a task of this connection: it ends with the connection
    /// (after the close timeout's grace). `None` when the connection's
    /// session has ended already: nothing is started.
    pub fn spawn<F>(&self, work: F) -> Option<TaskHandle>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let scope = self.conn.hub.conn_scope(self.conn.id)?;
        Some(TaskHandle(scope.spawn(work)))
    }

    /// Runs `f` once after `after`, unless the returned [`Timer`] is
    /// cancelled first or the connection ends first.
    pub fn timer<F, Fut>(&self, after: Duration, f: F) -> Timer
    where
        F: FnOnce(Connection<R>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.start_timer(after, None, f)
    }

    /// Like [`timer`](Self::timer), keyed: a pending timer of this connection
    /// with the same `key` is cancelled first, so only the latest fires (a
    /// typing indicator's "stopped", a debounce).
    pub fn restart_timer<F, Fut>(&self, key: &str, after: Duration, f: F) -> Timer
    where
        F: FnOnce(Connection<R>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.start_timer(after, Some(key), f)
    }

    /// Cancels the pending timer of `key`: `true` if it existed and will now
    /// never fire.
    pub fn cancel_timer(&self, key: &str) -> bool {
        self.conn
            .hub
            .conn_scope(self.conn.id)
            .is_some_and(|scope| scope.cancel_key(key))
    }

    fn start_timer<F, Fut>(&self, after: Duration, key: Option<&str>, f: F) -> Timer
    where
        F: FnOnce(Connection<R>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(scope) = self.conn.hub.conn_scope(self.conn.id) else {
            return Timer(TimerState::cancelled());
        };
        let this = self.clone();
        let fire: Fire = Box::new(move || Box::pin(f(this)));
        Timer(scope.timer(after, key, fire))
    }
}

/// A timer of a connection ([`Connection::timer`]).
#[derive(Debug, Clone)]
pub struct Timer(Arc<TimerState>);

impl Timer {
    /// Cancels the timer: `true` if it had not fired, and then it never will
    /// (on any runtime: cancelling and firing are one atomic step each).
    /// `false` if it fired (or is firing) already, or was cancelled before.
    pub fn cancel(&self) -> bool {
        self.0.cancel()
    }
    /// Whether the timer is still waiting.
    pub fn is_pending(&self) -> bool {
        self.0.is_pending()
    }
    /// Whether the timer fired.
    pub fn has_fired(&self) -> bool {
        self.0.has_fired()
    }
}

/// A task of a connection ([`Connection::spawn`]).
#[derive(Debug, Clone)]
pub struct TaskHandle(tokio::task::AbortHandle);

impl TaskHandle {
    /// Stops the task now.
    pub fn abort(&self) {
        self.0.abort();
    }
    /// Whether the task has ended (finished, aborted, or ended with its connection).
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}
