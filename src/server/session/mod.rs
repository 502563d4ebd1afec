//! One connection: a single task that reads frames, runs their handlers one at
//! a time in arrival order, and writes the client's outgoing queue, all from one
//! hand-written poll loop.
//!
//! Why one task and not a reader and a writer: a connection then costs one task
//! and no channel, and a reply queued by a handler is written in the same
//! wake-up that ran the handler, coalesced with anything else queued, in one
//! flush. Writes never wait for a handler and handlers never wait for writes:
//! the loop polls the socket for writing, the running handler, and the socket
//! for reading in the same pass. Handlers run one at a time in arrival order:
//! while one runs, the loop reads on only to take answers to the server's
//! questions (`Ctx::ask`); other messages wait, in order, up to a bound.
//!
//! What the loop does with a data frame is a type parameter ([`Frames`]): an
//! app dispatches it to its handlers; the conformance echo server writes it
//! back. The choice is made once per server, not checked per frame.
//!
//! Memory: tungstenite reads through a [`BufferedSocket`](super::socket::BufferedSocket),
//! so an idle connection holds no large read buffer; the future a
//! connection's task holds is built so that it carries the session once.
//!
//! Longer than 500 lines because the poll loop and the steps it takes (write,
//! read, handler, heartbeat, close) share the private `Session` state; split,
//! each part would need all of it. The two clocks that need only a little of
//! it (the credentials' expiry, the time one message may take) are in `timers`.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use tokio::time::{Instant, Sleep};
use tracing::Instrument;
use tungstenite::Message;
use tungstenite::protocol::frame::CloseFrame;

use super::frames::{Frames, OnData, Running};

mod timers; // credentials' expiry, and the time one message may take to arrive

use super::recovery::{conclude, greeting};
use super::socket::{Socket, Ws};
use crate::engine::conn::Conn;
use crate::engine::dispatch::Failure;
use crate::engine::hub::{Hub, OutboxRef, Registered};
use crate::engine::outbox::CloseCmd;
use crate::engine::rate::{Admit, Bucket};
use crate::engine::report::{LogBudget, Reported, report};
use crate::protocol::wire::ErrorKind;

/// Frames one connection reads per wake-up before it yields to the others.
///
/// A single socket read can hold a thousand small frames; handled in one pass,
/// each of their room sends would land in every member's queue before any
/// member's task ran, and healthy readers would overflow their queues and be
/// closed as slow consumers. With the budget, members drain their queues
/// between a sender's batches: one sender grows a member's queue by at most
/// this many messages per turn. A burst of up to this many messages still goes
/// out to each member in one write.
const FRAMES_PER_WAKEUP: usize = 32;

/// Messages read while a handler runs, waiting for it in arrival order.
/// The connection keeps reading while a handler runs so that answers to the
/// server's questions (`Ctx::ask`) reach it; beyond this many waiting
/// messages it stops reading until the handler is done (backpressure).
const HELD_MESSAGES: usize = 64;
/// Bytes of held messages past which the connection stops reading (one
/// message may take it over, by at most `max_message_size`).
const HELD_BYTES: usize = 64 << 10;

/// How long a connection closed for abuse (a flood, errors at line rate)
/// stays open, unread, for its client to read the close frame, at most
/// (`close_timeout` if shorter).
const ABUSE_LINGER: Duration = Duration::from_secs(1);

enum Phase {
    Open,
    /// Our close frame is queued; we wait for the peer's until the deadline.
    Closing(Pin<Box<Sleep>>),
}

struct Session<U, S: Socket, F> {
    frames: Arc<F>,
    hub: Arc<Hub>,
    ws: Ws<S>,
    outbox: OutboxRef,
    conn: Conn,
    data: U,
    /// Messages taken from the outbox, not yet handed to tungstenite.
    pending: VecDeque<Message>,
    unflushed: bool,
    /// Since when writes have been refused by the socket.
    write_blocked: Option<Instant>,
    dispatch: Option<Running<U>>,
    /// When the client's credentials expire (apps with `Builder::expires`).
    expiry: Option<Expiry>,
    /// Data frames read while `dispatch` runs, to handle after it.
    held: VecDeque<Message>,
    held_bytes: usize,
    phase: Phase,
    heartbeat: Option<(Duration, Pin<Box<Sleep>>)>,
    last_seen: Instant,
    /// Bounds the log lines this client's failed messages cause (made on the
    /// first failure: most connections never have one).
    log_budget: Option<Box<LogBudget>>,
    /// The client's rate limit, when there is one.
    rate: Option<Bucket>,
    /// Fires when the message in progress has taken `message_timeout` (made
    /// on first use; its deadline says which message it is timing).
    partial: Option<Pin<Box<Sleep>>>,
    /// Whether the end of this connection leaves its session for the client
    /// to resume (recovery on): not after a close from either side, except
    /// the heartbeat's (a silent peer is what recovery is for).
    detachable: bool,
    /// Closed for abuse: the socket is no longer read (see [`Session::close_abusive`]).
    deaf: bool,
}

/// A connection's credentials' expiry: first the warning, then the close.
struct Expiry {
    pub(super) timer: Pin<Box<Sleep>>,
    pub(super) deadline: Instant,
    pub(super) warned: bool,
}

/// Why a connection ended (for the log).
#[derive(Debug)]
enum End {
    /// The close handshake completed, or the peer went away.
    Closed,
    /// The socket failed.
    Failed(tungstenite::Error),
    /// We closed and the peer did not answer in time.
    CloseTimeout,
    /// The peer did not read for longer than the stall limit.
    Stalled,
    /// We closed the peer for abuse and stopped reading it.
    Abusive,
}

impl<U: Send + Sync + 'static, S: Socket, F: Frames<U>> Session<U, S, F> {
    fn begin_close(&mut self, frame: CloseFrame) {
        if matches!(self.phase, Phase::Closing(_)) {
            return;
        }
        tracing::debug!(code = u16::from(frame.code), reason = %frame.reason, "closing");
        self.outbox.shut();
        self.pending.push_back(Message::Close(Some(frame)));
        let deadline = Instant::now() + self.hub.config.close_timeout;
        self.phase = Phase::Closing(Box::pin(tokio::time::sleep_until(deadline)));
    }

    fn close_with(&mut self, code: u16, reason: &'static str) {
        self.detachable = false;
        self.begin_close(
            CloseCmd {
                code,
                reason: reason.into(),
            }
            .frame(),
        );
    }

    /// Closes a client that abuses the connection (a flood, errors at line
    /// rate) with 1008, and stops paying for it: the close frame goes out,
    /// but the socket is not read again, so nothing more is decoded (a
    /// flooder that keeps writing meets TCP's backpressure), and the
    /// connection ends `ABUSE_LINGER` later without waiting for the peer's
    /// close frame, which would mean reading everything it sent before it.
    fn close_abusive(&mut self, reason: &'static str) {
        self.close_with(1008, reason);
        self.deaf = true;
        if let Phase::Closing(deadline) = &mut self.phase {
            let linger = self.hub.config.close_timeout.min(ABUSE_LINGER);
            deadline.as_mut().reset(Instant::now() + linger);
        }
    }

    /// Hands queued messages to tungstenite and flushes. `Ok(true)` if anything moved.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<bool, End> {
        let mut progressed = false;
        loop {
            if self.pending.is_empty()
                && matches!(self.phase, Phase::Open)
                && self.outbox.poll_open(cx)
            {
                if self.pending.capacity() > 1024 {
                    self.pending = VecDeque::new();
                }
                let since = self.outbox.take(&mut self.pending);
                self.hub.counters.dequeued(since);
            }
            if self.pending.is_empty() {
                break;
            }
            while !self.pending.is_empty() {
                match Pin::new(&mut self.ws).poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        let msg = self.pending.pop_front().expect("not empty");
                        if let Err(e) = Pin::new(&mut self.ws).start_send(msg) {
                            return Err(End::Failed(e));
                        }
                        self.unflushed = true;
                        progressed = true;
                    }
                    Poll::Ready(Err(e)) => return Err(End::Failed(e)),
                    Poll::Pending => {
                        self.write_blocked.get_or_insert_with(Instant::now);
                        return Ok(progressed);
                    }
                }
            }
            if !matches!(self.phase, Phase::Open) {
                break;
            }
        }
        if self.unflushed {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.unflushed = false;
                    self.write_blocked = None;
                }
                Poll::Ready(Err(e)) => return Err(End::Failed(e)),
                Poll::Pending => {
                    self.write_blocked.get_or_insert_with(Instant::now);
                }
            }
        } else {
            self.write_blocked = None;
        }
        Ok(progressed)
    }

    /// Reports a failed message to its client within the connection's
    /// budgets; a client that keeps provoking errors at line rate is closed.
    fn fail(&mut self, failure: Failure) {
        let verdict = report(
            &self.hub,
            self.conn.id,
            failure,
            self.log_budget.get_or_insert_default(),
        );
        if verdict == Reported::Close {
            self.close_abusive("too many invalid messages");
        }
    }

    fn on_frame(&mut self, msg: Message) {
        if !matches!(self.phase, Phase::Open) {
            return; // closing: read, but handle nothing
        }
        match msg {
            Message::Text(_) | Message::Binary(_) => {
                if let Some(rate) = &mut self.rate {
                    match rate.admit(msg.len()) {
                        Admit::Yes => {}
                        Admit::Drop { tell: None } => {
                            // Counted; the client heard of its limit less than a second ago.
                            self.hub.counters.error(ErrorKind::RateLimited);
                            return;
                        }
                        Admit::Drop {
                            tell: Some(dropped),
                        } => {
                            let mut failure = Failure::new(
                                ErrorKind::RateLimited,
                                None,
                                "too many messages: slow down; messages over the limit are dropped",
                            );
                            failure.payload.dropped = Some(dropped);
                            self.fail(failure);
                            return;
                        }
                        Admit::Close => {
                            tracing::info!("rate limit exceeded persistently; closing");
                            self.hub.counters.error(ErrorKind::RateLimited);
                            self.close_abusive("rate limit exceeded");
                            return;
                        }
                    }
                }
                if self.dispatch.is_none() {
                    self.run_data(msg);
                    return;
                }
                // A handler is running: an answer to one of the server's
                // questions is taken now (the handler may be waiting for
                // it); anything else waits for the handler, in order.
                match self.frames.take_answer(&msg, &self.conn) {
                    Some(Ok(())) => {}
                    Some(Err(failure)) => self.fail(failure),
                    None => {
                        self.held_bytes += msg.len();
                        self.held.push_back(msg);
                    }
                }
            }
            // The client said goodbye: its session ends with this connection.
            Message::Close(_) => self.detachable = false,
            // tungstenite answers pings; a close is answered on the next read.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }

    /// Hands one admitted data frame to the app (or the echo).
    fn run_data(&mut self, msg: Message) {
        match self.frames.on_data(msg, &self.conn, &self.data) {
            OnData::Run(dispatch) => self.dispatch = Some(dispatch),
            OnData::Write(msg) => self.pending.push_back(msg),
            OnData::Fail(failure) => self.fail(failure),
        }
    }

    fn on_read_error(&mut self, e: tungstenite::Error) -> Option<End> {
        use tungstenite::Error as E;
        let (code, reason) = match &e {
            // The peer went away without a close frame: nothing to answer.
            E::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
                return Some(End::Failed(e));
            }
            E::Capacity(_) => (1009, "message too big"),
            E::Utf8(_) => (1007, "invalid UTF-8"),
            E::Protocol(_) => (1002, "protocol error"),
            _ => return Some(End::Failed(e)),
        };
        tracing::info!(error = %e, code, "closing the connection after a read error");
        self.close_with(code, reason);
        None
    }

    fn poll_session(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        // Registered before the queue is looked at, so no push is missed.
        self.outbox.waker.register(cx.waker());
        let mut frames = 0usize;
        loop {
            let mut progressed = false;

            if matches!(self.phase, Phase::Open)
                && let Some(frame) = self.outbox.take_close(&mut self.pending)
            {
                // What was queued before the request goes out first, then the close.
                self.detachable = false;
                self.begin_close(frame);
                progressed = true;
            }

            match self.poll_write(cx) {
                Ok(p) => progressed |= p,
                Err(end) => return Poll::Ready(end),
            }

            if let Some(dispatch) = &mut self.dispatch
                && let Poll::Ready(result) = dispatch.as_mut().poll(cx)
            {
                self.dispatch = None;
                match result {
                    Ok(None) => {}
                    // Re-authenticated: the next message sees the new data.
                    Ok(Some(data)) => {
                        self.data = data;
                        self.set_expiry();
                    }
                    Err(failure) => self.fail(failure),
                }
                progressed = true;
            }

            if self.poll_expiry(cx) {
                progressed = true;
            }

            while self.dispatch.is_none()
                && matches!(self.phase, Phase::Open)
                && let Some(msg) = self.held.pop_front()
            {
                self.held_bytes -= msg.len();
                self.run_data(msg);
                progressed = true;
            }

            if !self.deaf
                && self.held.len() < HELD_MESSAGES
                && self.held_bytes < HELD_BYTES
                && frames < FRAMES_PER_WAKEUP
            {
                match Pin::new(&mut self.ws).poll_next(cx) {
                    Poll::Ready(Some(Ok(msg))) => {
                        self.last_seen = Instant::now();
                        frames += 1;
                        self.on_frame(msg);
                        progressed = true;
                    }
                    Poll::Ready(Some(Err(e))) => {
                        if let Some(end) = self.on_read_error(e) {
                            return Poll::Ready(end);
                        }
                        progressed = true;
                    }
                    Poll::Ready(None) => return Poll::Ready(End::Closed),
                    Poll::Pending => {}
                }
            }

            if let Some((every, sleep)) = &mut self.heartbeat
                && sleep.as_mut().poll(cx).is_ready()
            {
                let every = *every;
                let now = Instant::now();
                sleep.as_mut().reset(now + every);
                if self
                    .write_blocked
                    .is_some_and(|since| now - since > every * 2)
                {
                    return Poll::Ready(End::Stalled);
                }
                if now - self.last_seen > every * 2 {
                    tracing::info!("peer silent for two heartbeat intervals; closing");
                    // Not a goodbye: the session stays resumable.
                    self.begin_close(
                        CloseCmd {
                            code: 1001,
                            reason: "heartbeat timeout".into(),
                        }
                        .frame(),
                    );
                } else if matches!(self.phase, Phase::Open) && self.pending.is_empty() {
                    self.pending.push_back(Message::Ping(Default::default()));
                }
                progressed = true;
            }

            if self.poll_message_timeout(cx) {
                progressed = true;
            }

            if let Phase::Closing(deadline) = &mut self.phase
                && deadline.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(if self.deaf {
                    End::Abusive
                } else {
                    End::CloseTimeout
                });
            }

            if !progressed {
                if frames >= FRAMES_PER_WAKEUP {
                    // Out of budget with frames possibly still buffered: let the
                    // other connections (the recipients of what these frames
                    // sent) run, then continue from here.
                    cx.waker().wake_by_ref();
                }
                return Poll::Pending;
            }
        }
    }
}

/// Serves one upgraded connection (registered as `registered`) in its own
/// span until it ends, then cleans up: leaves every room, then runs
/// `on_disconnect` exactly once.
///
/// Not an `async fn`: the session is built here, before the future, so the
/// future a connection's task holds for its whole life carries the session
/// once and nothing else (an `async fn` keeps its arguments for its whole
/// life, next to what they were moved into).
pub(crate) fn run<U, S, F>(
    frames: Arc<F>,
    hub: Arc<Hub>,
    ws: Ws<S>,
    registered: Registered,
    data: U,
    peer: &str,
) -> impl Future<Output = ()> + Send + 'static
where
    U: Send + Sync + 'static,
    S: Socket,
    F: Frames<U>,
{
    let Registered {
        id,
        outbox,
        welcome,
    } = registered;
    let span = tracing::info_span!("conn", client = %id, peer);
    let session = span.in_scope(|| {
        tracing::debug!("connected");
        let recovered = welcome.as_ref().is_some_and(|w| w.recovered);
        let pending = welcome.map_or_else(VecDeque::new, |w| greeting(id, w));
        let heartbeat = hub
            .config
            .heartbeat
            .map(|every| (every, Box::pin(tokio::time::sleep(every))));
        let conn = Conn {
            hub: hub.clone(),
            id,
        };
        let mut session = Session {
            frames: frames.clone(),
            rate: hub.config.rate_limit.map(Bucket::new),
            hub,
            ws,
            outbox,
            conn: conn.clone(),
            data,
            pending,
            unflushed: false,
            write_blocked: None,
            dispatch: None,
            expiry: None,
            held: VecDeque::new(),
            held_bytes: 0,
            phase: Phase::Open,
            heartbeat,
            last_seen: Instant::now(),
            log_budget: None,
            partial: None,
            detachable: true,
            deaf: false,
        };
        if recovered {
            // Before the client's first message: the app's own catch-up.
            session.dispatch = frames
                .on_recover(&conn, &session.data)
                .map(|run| Box::pin(async move { run.await.map(|()| None) }) as Running<U>);
        }
        session.set_expiry();
        session
    });
    serve(session).instrument(span)
}

/// The connection's life, then its end. An `async move` block rather than
/// an `async fn`: an `async fn` stores its argument twice (captured, then
/// rebound), and this one is the session.
#[allow(
    clippy::manual_async_fn,
    reason = "see above: the size of every connection's task"
)]
fn serve<U, S, F>(mut session: Session<U, S, F>) -> impl Future<Output = ()> + Send + 'static
where
    U: Send + Sync + 'static,
    S: Socket,
    F: Frames<U>,
{
    async move {
        match std::future::poll_fn(|cx| session.poll_session(cx)).await {
            End::Failed(error) => tracing::debug!(%error, "connection failed"),
            other => tracing::debug!(end = ?other, "connection ended"),
        }
        // The client is gone: its questions end now (`AskError::Disconnected`),
        // and a handler still running (perhaps waiting for an answer) gets
        // `close_timeout` to finish before the connection's end is run.
        session.hub.asks.end(session.conn.id);
        if let Some(running) = session.dispatch.take() {
            let grace = session.hub.config.close_timeout;
            // Boxed: a cold path, kept out of every connection's future.
            let finished = Box::pin(tokio::time::timeout(grace, running)).await;
            if finished.is_err() {
                tracing::debug!(?grace, "a handler outlived its connection; dropped");
            }
        }
        let Session {
            frames,
            hub,
            conn,
            data,
            detachable,
            ..
        } = session;
        // Boxed: the end of a connection is a cold path; inline, its state
        // would make every connection's task larger for its whole life.
        Box::pin(conclude(frames, hub, conn, data, detachable)).await;
    }
}
