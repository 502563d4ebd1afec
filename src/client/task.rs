//! The client's connection task: connect, serve the session, and reconnect
//! with backoff until closed.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::oneshot;
use tungstenite::Message;

use super::error::ConnectError;
use super::handle::Client;
use super::policy::{Heartbeat, Reconnect, encode_component};
use super::shared::{ConnState, Credentials, Handle, Shared};

/// A cheap pseudo-random fraction in [0, 1) for jitter.
fn jitter_fraction(seed: u64) -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mut x = nanos ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

enum SessionEnd {
    /// Every client handle is gone, or `close()` was called.
    Stop,
    /// `reconnect()` was called.
    Reconnect,
    /// The connection broke.
    Lost,
}

/// What runs after every reconnection (see `ClientBuilder::on_reconnect`).
pub(crate) type Hook<R> = Arc<dyn Fn(&Client<R>) + Send + Sync>;

pub(crate) struct Task<R> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) handle: Weak<Handle>,
    pub(crate) alive: oneshot::Receiver<()>,
    pub(crate) request: tungstenite::handshake::client::Request,
    pub(crate) reconnect: Option<Reconnect>,
    pub(crate) connect_timeout: Duration,
    pub(crate) on_reconnect: Option<Hook<R>>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) heartbeat: Option<Heartbeat>,
    pub(crate) retry_refused: fn(u16) -> bool,
}

pub(crate) type FirstResult = oneshot::Sender<Result<(), ConnectError>>;

impl<R: 'static> Task<R> {
    fn stopping(&mut self) -> bool {
        self.shared.close_requested.load(Ordering::SeqCst)
            || !matches!(
                self.alive.try_recv(),
                Err(oneshot::error::TryRecvError::Empty)
            )
    }

    pub(crate) async fn run(mut self, first: FirstResult) {
        let mut first = Some(first);
        let mut failures = 0u32;
        let mut opened_before = false;
        while !self.stopping() {
            // With a session from a server with recovery on, ask to resume it.
            let resume = self.shared.resume_query();
            let mut request = match &resume {
                Some(query) => with_query(&self.request, query),
                None => self.request.clone(),
            };
            // Fresh credentials for every attempt.
            if let Some(credentials) = &self.credentials {
                match credentials().await {
                    Ok(pairs) => {
                        if !pairs.is_empty() {
                            let query: Vec<String> = pairs
                                .iter()
                                .map(|(k, v)| {
                                    format!("{}={}", encode_component(k), encode_component(v))
                                })
                                .collect();
                            request = with_query(&request, &query.join("&"));
                        }
                    }
                    Err(e) => {
                        if let Some(tx) = first.take() {
                            let _ = tx.send(Err(ConnectError::Credentials(e)));
                            break;
                        }
                        tracing::warn!(error = %e, "the credentials provider failed; retrying with the backoff");
                        if !self.back_off(&mut failures).await {
                            break;
                        }
                        continue;
                    }
                }
            }
            let attempt = tokio::time::timeout(
                self.connect_timeout,
                tokio_tungstenite::connect_async(request),
            )
            .await;
            match attempt {
                Ok(Ok((mut ws, _))) => {
                    self.shared.recovered.store(false, Ordering::SeqCst);
                    if resume.is_some() {
                        // The greeting comes first and says whether the session
                        // was resumed; read it before the reconnect hook runs,
                        // so the hook can tell (`Client::recovered`).
                        if let Ok(Some(Ok(Message::Text(text)))) =
                            tokio::time::timeout(self.connect_timeout, ws.next()).await
                        {
                            self.shared.dispatch(text.as_str());
                        }
                    }
                    failures = 0;
                    self.shared
                        .reconnect_requested
                        .store(false, Ordering::SeqCst);
                    self.shared.state.send_replace(ConnState::Open);
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Ok(()));
                    }
                    if opened_before
                        && let (Some(hook), Some(handle)) =
                            (&self.on_reconnect, self.handle.upgrade())
                    {
                        // What the hook sends goes out before older buffered
                        // messages: those may depend on it (a room re-joined).
                        let before = self.shared.outbox().len();
                        hook(&Client {
                            handle,
                            _router: PhantomData,
                        });
                        let mut outbox = self.shared.outbox();
                        let added = outbox.len().saturating_sub(before);
                        outbox.rotate_right(added);
                    }
                    opened_before = true;
                    match self.session(ws).await {
                        SessionEnd::Stop => break,
                        SessionEnd::Reconnect => continue,
                        SessionEnd::Lost => tracing::info!("connection lost"),
                    }
                }
                Ok(Err(tungstenite::Error::Http(response))) => {
                    let status = response.status().as_u16();
                    let body = response
                        .body()
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    if let Some(tx) = first.take() {
                        tracing::warn!(status, %body, "server refused the connection");
                        let _ = tx.send(Err(ConnectError::Refused { status, body }));
                        break;
                    }
                    if !(self.retry_refused)(status) {
                        tracing::warn!(status, %body, "server refused the reconnection; a retry cannot fix it: stopping");
                        *crate::util::lock_unpoisoned(&self.shared.refusal) =
                            Some(super::error::Refusal { status, body });
                        break;
                    }
                    tracing::warn!(status, %body, "server refused the reconnection; retrying with the backoff");
                }
                Ok(Err(e)) => {
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Err(ConnectError::Io(e)));
                        break;
                    }
                    tracing::debug!(error = %e, "reconnect attempt failed");
                }
                Err(_) => {
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Err(ConnectError::Timeout));
                        break;
                    }
                }
            }
            // Lost, or a reconnection attempt failed: back off.
            if !self.back_off(&mut failures).await {
                break;
            }
        }
        self.shared.state.send_replace(ConnState::Closed);
        // Nobody will answer now: waiting requests end with `Closed`.
        self.shared.pending().clear();
    }

    /// Waits before the next attempt (one more failure in a row); `false`
    /// when the client should stop instead (no reconnection, out of
    /// retries, or every handle gone).
    async fn back_off(&mut self, failures: &mut u32) -> bool {
        let Some(schedule) = self.reconnect else {
            return false;
        };
        *failures += 1;
        if schedule.max_retries.is_some_and(|max| *failures > max) {
            tracing::warn!(failures = *failures, "giving up reconnecting");
            return false;
        }
        self.shared
            .state
            .send_replace(ConnState::Reconnecting { attempt: *failures });
        let full = schedule.delay(*failures);
        let delay = full / 2 + full.mul_f64(0.5 * jitter_fraction(u64::from(*failures)));
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = self.shared.wake.notified() => true,
            _ = &mut self.alive => false,
        }
    }

    async fn session(
        &mut self,
        ws: tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ) -> SessionEnd {
        let (mut sink, mut stream) = ws.split();
        // The client's own liveness check: anything heard from the server
        // counts; silence for the timeout means the connection is gone.
        let mut last_heard = tokio::time::Instant::now();
        let mut pings = self.heartbeat.map(|h| {
            let mut every = tokio::time::interval_at(last_heard + h.every, h.every);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            (every, h.timeout)
        });
        loop {
            // Flush what is buffered, oldest first; on failure put it back.
            let batch: Vec<String> = {
                let mut outbox = self.shared.outbox();
                let n = outbox.len().min(64);
                outbox.drain(..n).collect()
            };
            if !batch.is_empty() {
                let mut sent = 0;
                let mut failed = false;
                for text in &batch {
                    if sink.feed(Message::text(text.as_str())).await.is_err() {
                        failed = true;
                        break;
                    }
                    sent += 1;
                }
                if !failed && sink.flush().await.is_err() {
                    failed = true;
                    sent = 0;
                }
                if failed {
                    let mut outbox = self.shared.outbox();
                    for text in batch.into_iter().skip(sent).rev() {
                        outbox.push_front(text);
                    }
                    return SessionEnd::Lost;
                }
                if !self.shared.outbox().is_empty() {
                    continue;
                }
            }
            tokio::select! {
                biased;
                _ = &mut self.alive => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(None))).await;
                    return SessionEnd::Stop;
                }
                () = self.shared.wake.notified() => {
                    if self.shared.close_requested.load(Ordering::SeqCst) {
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(None))).await;
                        // Wait (briefly) for the server's close reply.
                        let _ = tokio::time::timeout(Duration::from_secs(1), async {
                            while let Some(Ok(_)) = stream.next().await {}
                        }).await;
                        return SessionEnd::Stop;
                    }
                    if self.shared.reconnect_requested.swap(false, Ordering::SeqCst) {
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(None))).await;
                        return SessionEnd::Reconnect;
                    }
                }
                () = self.shared.outbox_ready.notified() => {}
                timeout = next_ping(&mut pings) => {
                    if last_heard.elapsed() >= timeout {
                        tracing::warn!(silent = ?last_heard.elapsed(), "the server stopped answering; reconnecting");
                        return SessionEnd::Lost;
                    }
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        return SessionEnd::Lost;
                    }
                }
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        last_heard = tokio::time::Instant::now();
                        self.shared.dispatch(text.as_str());
                    }
                    Some(Ok(Message::Close(frame))) => {
                        tracing::info!(?frame, "server closed the connection");
                        // Let tungstenite answer the close, then treat it as lost.
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.flush()).await;
                        return SessionEnd::Lost;
                    }
                    Some(Ok(_)) => last_heard = tokio::time::Instant::now(),
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "read failed");
                        return SessionEnd::Lost;
                    }
                    None => return SessionEnd::Lost,
                },
            }
        }
    }
}

/// Waits for the next heartbeat tick (forever without a heartbeat); gives
/// the silence timeout.
async fn next_ping(pings: &mut Option<(tokio::time::Interval, Duration)>) -> Duration {
    match pings {
        Some((every, timeout)) => {
            every.tick().await;
            *timeout
        }
        None => std::future::pending().await,
    }
}

/// `request` with `query` appended to its URL.
fn with_query(
    request: &tungstenite::handshake::client::Request,
    query: &str,
) -> tungstenite::handshake::client::Request {
    let mut out = request.clone();
    let uri = request.uri().to_string();
    let sep = if uri.contains('?') { '&' } else { '?' };
    if let Ok(uri) = format!("{uri}{sep}{query}").parse() {
        *out.uri_mut() = uri;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_a_fraction() {
        for i in 0..1000 {
            let f = jitter_fraction(i);
            assert!((0.0..1.0).contains(&f));
        }
    }
}
