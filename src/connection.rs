//! One connection: a single task that reads frames, runs their handlers one at
//! a time in arrival order, and writes the client's outgoing queue, all from one
//! hand-written poll loop.
//!
//! Why one task and not a reader and a writer: a connection then costs one task
//! and no channel, and a reply queued by a handler is written in the same
//! wake-up that ran the handler, coalesced with anything else queued, in one
//! flush. Writes never wait for a handler and handlers never wait for writes:
//! the loop polls the socket for writing, the running handler, and the socket
//! for reading (only when no handler is running, which keeps arrival order) in
//! the same pass.
//!
//! Memory: tungstenite reads through [`Io`], which performs each socket read
//! into a 64 KiB stack buffer and keeps only the bytes tungstenite has not taken
//! yet. tungstenite's own read buffer can therefore be tiny (512 B by default)
//! without costing a system call per 512 bytes of a large frame, and an idle
//! connection holds no read buffer beyond it.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::WebSocketStream;
use tungstenite::Message;
use tungstenite::protocol::frame::CloseFrame;

use crate::app::Runtime;
use crate::context::Conn;
use crate::handler::Failure;
use crate::registry::{ClientId, CloseCmd, Core};
use crate::wire::ErrorKind;

// ---------------------------------------------------------------------------
// Socket reads without a large per-connection buffer
// ---------------------------------------------------------------------------

/// Size of one socket read.
const READ_CHUNK: usize = 64 * 1024;

/// A socket (a `TcpStream`, or an upgraded HTTP connection from a framework)
/// whose reads go through a stack buffer: bytes read beyond what the caller
/// asked for are kept in `rest` (freed once consumed).
pub(crate) struct Io<S = TcpStream> {
    tcp: S,
    rest: Vec<u8>,
    pos: usize,
}

/// What a connection can run over.
pub(crate) trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Socket for S {}

impl<S: Socket> Io<S> {
    pub(crate) fn new(tcp: S, already_read: Vec<u8>) -> Self {
        Io {
            tcp,
            rest: already_read,
            pos: 0,
        }
    }
}

impl<S: Socket> AsyncRead for Io<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.rest.len() {
            let n = dst.remaining().min(this.rest.len() - this.pos);
            dst.put_slice(&this.rest[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.rest.len() {
                this.rest = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if dst.remaining() >= READ_CHUNK {
            return Pin::new(&mut this.tcp).poll_read(cx, dst);
        }
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut chunk);
        match Pin::new(&mut this.tcp).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let filled = buf.filled();
                let n = dst.remaining().min(filled.len());
                dst.put_slice(&filled[..n]);
                if n < filled.len() {
                    this.rest = filled[n..].to_vec();
                    this.pos = 0;
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<S: Socket> AsyncWrite for Io<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

pub(crate) type Ws<S = TcpStream> = WebSocketStream<Io<S>>;

// ---------------------------------------------------------------------------
// The outgoing queue
// ---------------------------------------------------------------------------

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
    waker: AtomicWaker,
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

    fn lock(&self) -> MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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
    fn take(&self, into: &mut VecDeque<Message>) {
        let mut state = self.lock();
        std::mem::swap(&mut state.queue, into);
    }

    /// When a close was requested: appends what was queued before it to
    /// `into` and returns the close frame.
    fn take_close(&self, into: &mut VecDeque<Message>) -> Option<CloseFrame> {
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

// ---------------------------------------------------------------------------
// The connection task
// ---------------------------------------------------------------------------

type Dispatch = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>>;

enum Phase {
    Open,
    /// Our close frame is queued; we wait for the peer's until the deadline.
    Closing(Pin<Box<Sleep>>),
}

struct Session<U, S: Socket> {
    runtime: Arc<Runtime<U>>,
    core: Arc<Core>,
    ws: Ws<S>,
    outbox: Arc<Outbox>,
    conn: Conn,
    data: U,
    /// Messages taken from the outbox, not yet handed to tungstenite.
    pending: VecDeque<Message>,
    unflushed: bool,
    /// Since when writes have been refused by the socket.
    write_blocked: Option<Instant>,
    dispatch: Option<Dispatch>,
    phase: Phase,
    heartbeat: Option<(Duration, Pin<Box<Sleep>>)>,
    last_seen: Instant,
}

/// Why a connection ended (for the log).
#[derive(Debug)]
enum End {
    /// The close handshake completed, or the peer went away.
    Closed,
    /// The socket failed.
    Failed(String),
    /// We closed and the peer did not answer in time.
    CloseTimeout,
    /// The peer did not read for longer than the stall limit.
    Stalled,
}

impl<U: Clone + Send + Sync + 'static, S: Socket> Session<U, S> {
    fn begin_close(&mut self, frame: CloseFrame) {
        if matches!(self.phase, Phase::Closing(_)) {
            return;
        }
        tracing::debug!(code = u16::from(frame.code), reason = %frame.reason, "closing");
        self.outbox.shut();
        self.pending.push_back(Message::Close(Some(frame)));
        let deadline = Instant::now() + self.core.config.close_timeout;
        self.phase = Phase::Closing(Box::pin(tokio::time::sleep_until(deadline)));
    }

    fn close_with(&mut self, code: u16, reason: &'static str) {
        self.begin_close(CloseCmd { code, reason }.frame());
    }

    /// Hands queued messages to tungstenite and flushes. `Ok(true)` if anything moved.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<bool, End> {
        let mut progressed = false;
        loop {
            if self.pending.is_empty() && matches!(self.phase, Phase::Open) {
                if self.pending.capacity() > 1024 {
                    self.pending = VecDeque::new();
                }
                self.outbox.take(&mut self.pending);
            }
            if self.pending.is_empty() {
                break;
            }
            while !self.pending.is_empty() {
                match Pin::new(&mut self.ws).poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        let msg = self.pending.pop_front().expect("not empty");
                        if let Err(e) = Pin::new(&mut self.ws).start_send(msg) {
                            return Err(End::Failed(e.to_string()));
                        }
                        self.unflushed = true;
                        progressed = true;
                    }
                    Poll::Ready(Err(e)) => return Err(End::Failed(e.to_string())),
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
                Poll::Ready(Err(e)) => return Err(End::Failed(e.to_string())),
                Poll::Pending => {
                    self.write_blocked.get_or_insert_with(Instant::now);
                }
            }
        } else {
            self.write_blocked = None;
        }
        Ok(progressed)
    }

    fn on_frame(&mut self, msg: Message) {
        if !matches!(self.phase, Phase::Open) {
            return; // closing: read, but handle nothing
        }
        if self.core.config.conformance_echo {
            if matches!(msg, Message::Text(_) | Message::Binary(_)) {
                self.pending.push_back(msg);
            }
            return;
        }
        match msg {
            Message::Text(text) => {
                self.dispatch = Some(start_dispatch(
                    &self.runtime,
                    text,
                    self.conn.clone(),
                    self.data.clone(),
                ))
            }
            Message::Binary(_) => report(
                &self.core,
                self.conn.id,
                Failure::new(
                    ErrorKind::UnsupportedFrame,
                    None,
                    "binary frames are not supported; send JSON text frames",
                ),
            ),
            // tungstenite answers pings; a close is answered on the next read.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => {}
        }
    }

    fn on_read_error(&mut self, e: tungstenite::Error) -> Option<End> {
        use tungstenite::Error as E;
        let (code, reason) = match &e {
            E::Capacity(_) => (1009, "message too big"),
            E::Utf8(_) => (1007, "invalid UTF-8"),
            E::Protocol(_) => (1002, "protocol error"),
            _ => return Some(End::Failed(e.to_string())),
        };
        tracing::info!(error = %e, code, "closing the connection after a read error");
        self.close_with(code, reason);
        None
    }

    fn poll_session(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        // Registered before the queue is looked at, so no push is missed.
        self.outbox.waker.register(cx.waker());
        loop {
            let mut progressed = false;

            if matches!(self.phase, Phase::Open)
                && let Some(frame) = self.outbox.take_close(&mut self.pending)
            {
                // What was queued before the request goes out first, then the close.
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
                if let Err(failure) = result {
                    report(&self.core, self.conn.id, failure);
                }
                progressed = true;
            }

            if self.dispatch.is_none() {
                match Pin::new(&mut self.ws).poll_next(cx) {
                    Poll::Ready(Some(Ok(msg))) => {
                        self.last_seen = Instant::now();
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
                    self.close_with(1001, "heartbeat timeout");
                } else if matches!(self.phase, Phase::Open) && self.pending.is_empty() {
                    self.pending.push_back(Message::Ping(Default::default()));
                }
                progressed = true;
            }

            if let Phase::Closing(deadline) = &mut self.phase
                && deadline.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(End::CloseTimeout);
            }

            if !progressed {
                return Poll::Pending;
            }
        }
    }
}

/// Starts handling one text frame: the boxed future of
/// [`dispatch`](crate::server::dispatch), which catches the handler's panics.
fn start_dispatch<U: Clone + Send + Sync + 'static>(
    runtime: &Arc<Runtime<U>>,
    text: tungstenite::Utf8Bytes,
    conn: Conn,
    data: U,
) -> Dispatch {
    let runtime = runtime.clone();
    Box::pin(async move { crate::server::dispatch(&runtime, text.as_str(), &conn, &data).await })
}

/// Logs a failed message and tells its client on the reserved error route.
pub(crate) fn report(core: &Core, id: ClientId, failure: Failure) {
    let p = &failure.payload;
    core.counters.error(p.kind);
    let route = p.route.as_deref().unwrap_or("-");
    match p.kind {
        ErrorKind::HandlerError => tracing::error!(
            client = %id, route, error = failure.log.as_deref().unwrap_or(""),
            "handler failed"
        ),
        kind => tracing::info!(
            client = %id, route, ?kind, message = %p.message, details = ?p.details,
            "message dropped"
        ),
    }
    let msg = Message::Text(p.encode().into());
    core.deliver_to([id], &msg, None);
}

/// Serves one upgraded connection until it ends, then cleans up: leaves every
/// room, then runs `on_disconnect` exactly once.
pub(crate) async fn run<U: Clone + Send + Sync + 'static, S: Socket>(
    runtime: Arc<Runtime<U>>,
    core: Arc<Core>,
    ws: Ws<S>,
    id: ClientId,
    outbox: Arc<Outbox>,
    data: U,
) {
    tracing::debug!("connected");
    let heartbeat = core
        .config
        .heartbeat
        .map(|every| (every, Box::pin(tokio::time::sleep(every))));
    let conn = Conn {
        core: core.clone(),
        id,
    };
    let mut session = Session {
        runtime: runtime.clone(),
        core: core.clone(),
        ws,
        outbox,
        conn: conn.clone(),
        data,
        pending: VecDeque::new(),
        unflushed: false,
        write_blocked: None,
        dispatch: None,
        phase: Phase::Open,
        heartbeat,
        last_seen: Instant::now(),
    };
    let end = std::future::poll_fn(|cx| session.poll_session(cx)).await;
    match &end {
        End::Failed(error) => tracing::debug!(%error, "connection failed"),
        other => tracing::debug!(end = ?other, "connection ended"),
    }
    let Session { data, outbox, .. } = session;
    outbox.shut();

    let rooms = core.unregister(id);
    if let Some(on_disconnect) = &runtime.on_disconnect {
        let run = AssertUnwindSafe(on_disconnect(conn, data, rooms)).catch_unwind();
        match run.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "on_disconnect failed"),
            Err(panic) => tracing::error!(
                panic = crate::server::panic_message(&panic),
                "on_disconnect panicked"
            ),
        }
    }
    tracing::debug!("disconnected");
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
