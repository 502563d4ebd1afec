//! The accept loop: from a TCP listener to one task per connection, and the
//! graceful shutdown that ends it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, ToSocketAddrs};

use super::frames::Frames;
use super::http::{HeadRead, Refusal, plain_http, read_head, respond};
use super::recovery::conclude;
use super::session;
use super::socket::{Socket, Ws};
use super::upgrade::{Upgraded, refusal_in_band, refuse_in_band, upgrade, websocket};
use crate::app::builder::Zocket;
use crate::engine::conn::Conn;
use crate::engine::dispatch::Handlers;
use crate::engine::hub::Hub;
use crate::engine::lifecycle::{Lifecycle, PendingGuard, PendingRefused, TaskGuard};

impl<R, U> Zocket<R, U>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    /// Binds `addr` and serves until [`ServerHandle::shutdown`](crate::ServerHandle::shutdown).
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub async fn serve(self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_listener(listener).await
    }

    /// Serves on an existing listener (for example one bound to port 0) until
    /// [`ServerHandle::shutdown`](crate::ServerHandle::shutdown).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for fatal listener errors.
    pub async fn serve_listener(self, listener: TcpListener) -> io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// Serves until `signal` completes or the handle asks for shutdown, then
    /// shuts down gracefully: stops accepting, closes every socket with 1001,
    /// runs every `on_disconnect`, and returns (after at most the configured
    /// shutdown timeout).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for fatal listener errors.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let service = Service {
            hub: self.hub,
            frames: self.handlers.clone(),
            handlers: self.handlers,
        };
        service.run(listener, signal).await
    }
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM; pass it to
/// [`Zocket::serve_with_shutdown`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// What the accept loop serves: the hub, `on_connect` (from `handlers`), and
/// what each session does with its frames.
pub(crate) struct Service<U, F> {
    pub(crate) hub: Arc<Hub>,
    pub(crate) handlers: Arc<Handlers<U>>,
    pub(crate) frames: Arc<F>,
}

impl<U, F> Clone for Service<U, F> {
    fn clone(&self) -> Self {
        Service {
            hub: self.hub.clone(),
            handlers: self.handlers.clone(),
            frames: self.frames.clone(),
        }
    }
}

impl<U: Send + Sync + 'static, F: Frames<U>> Service<U, F> {
    /// Accepts sockets until `signal` or a shutdown, then waits for every
    /// connection to finish (at most the shutdown timeout).
    pub(crate) async fn run(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let hub = self.hub.clone();
        hub.start_adapter();
        let mut stop = hub.lifecycle.watch();
        let mut signal = std::pin::pin!(signal);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "zocket listening");
        }
        let mut refused = 0u64;
        loop {
            tokio::select! {
                () = &mut signal => { hub.begin_shutdown(); break; }
                () = Lifecycle::stopped(&mut stop) => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Handshakes have their own budget, in all and per
                        // address, so that a flood of sockets that never send a
                        // request (from one host or many) cannot take the
                        // slots honest connects need; every socket counts
                        // towards the total the limits allow.
                        let config = &hub.config;
                        let open = hub.lifecycle.task_count();
                        let admitted = if open >= config.max_connections + config.max_pending_handshakes {
                            Err(PendingRefused::Total)
                        } else {
                            hub.lifecycle.try_pending(
                                peer.ip(),
                                config.max_pending_handshakes,
                                config.max_pending_handshakes_per_ip,
                            )
                        };
                        let pending = match admitted {
                            Ok(pending) => pending,
                            Err(why) => {
                                refused += 1;
                                if refused == 1 || refused.is_multiple_of(1000) {
                                    tracing::warn!(%peer, open, refused, ?why, "too many sockets in their handshake: dropping a new one");
                                }
                                continue;
                            }
                        };
                        let _ = stream.set_nodelay(true);
                        let guard = hub.lifecycle.task_guard();
                        let task = self.clone().socket(stream, Some(peer), Some(pending), guard);
                        tokio::spawn(task);
                    }
                    Err(e) => {
                        // Out of file descriptors and similar: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        drop(listener);
        let timeout = hub.config.shutdown_timeout;
        if tokio::time::timeout(timeout, hub.lifecycle.idle())
            .await
            .is_err()
        {
            tracing::warn!(
                ?timeout,
                "shutdown timeout: some connections did not finish closing"
            );
        }
        tracing::info!("zocket stopped");
        Ok(())
    }

    /// Serves one accepted socket (TCP, or an in-memory pipe of the test
    /// kit): the HTTP handshake (counted as pending until it ends), then the
    /// session; `running` counts it as a running connection for shutdown.
    ///
    /// Not an `async fn`: an `async fn` stores its arguments twice (captured,
    /// then rebound) for the whole life of the connection's task.
    #[allow(
        clippy::manual_async_fn,
        reason = "see above: the size of every connection's task"
    )]
    pub(crate) fn socket<S: Socket>(
        self,
        stream: S,
        peer: Option<SocketAddr>,
        pending: Option<PendingGuard>,
        running: TaskGuard,
    ) -> impl Future<Output = ()> + Send + 'static {
        async move {
            // Counts this connection as running until the task ends.
            let _running = running;
            // The handshake's state (request head, buffers) lives in its own
            // allocation, freed before the long-lived connection phase starts.
            let started = self.hub.counters.start();
            let handshake = Box::pin(self.handshake(stream, peer, pending));
            let upgraded = handshake.await;
            self.hub.counters.handshake_done(started);
            let Some((ws, upgraded)) = upgraded else {
                return;
            };
            // Built in a block so that what only the start needs (the peer's
            // name, the rest of the handshake's answer) is freed before the
            // connection's long life begins.
            let connection = {
                let peer = peer.map_or_else(|| "in-memory".to_owned(), |p| p.to_string());
                let Upgraded {
                    registered, data, ..
                } = upgraded;
                session::run(self.frames, self.hub, ws, registered, data, &peer)
            };
            connection.await;
        }
    }
    /// Reads the upgrade request and answers it: a WebSocket ready to serve,
    /// or `None` once the socket got its HTTP answer (or went away).
    ///
    /// `pending` counts the socket as in its handshake; it is dropped with
    /// this future's own allocation, so the long-lived session does not carry
    /// it (nor anything else of the handshake's).
    async fn handshake<S: Socket>(
        &self,
        mut stream: S,
        peer: Option<SocketAddr>,
        pending: Option<PendingGuard>,
    ) -> Option<(Ws<S>, Upgraded<U>)> {
        let _pending = pending;
        let hub = &self.hub;
        let config = &hub.config;
        let deadline = tokio::time::Instant::now() + config.handshake_timeout;
        let mut stop = hub.lifecycle.watch();
        let read = tokio::select! {
            r = tokio::time::timeout_at(deadline, read_head(&mut stream, config.max_handshake_size)) => r,
            () = Lifecycle::stopped(&mut stop) => return None,
        };
        let (head, rest) = match read {
            Err(_) => {
                tracing::debug!(?peer, "handshake timed out");
                return None;
            }
            Ok(HeadRead::Hangup) => return None,
            Ok(HeadRead::Refuse(refusal)) => {
                respond(stream, refusal.http()).await;
                return None;
            }
            Ok(HeadRead::Ready(head, rest)) => (head, rest),
        };

        let answer = if !head.header_has_token("upgrade", "websocket") {
            plain_http(hub, &head)
        } else if config.path.as_ref().is_some_and(|path| head.path != *path) {
            Refusal::new(404, "Not found", None).http()
        } else {
            match upgrade(hub, &self.handlers.on_connect, &head, peer, deadline).await {
                Ok(upgraded) => {
                    drop(head);
                    let response = format!(
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                        upgraded.accept
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        // The client vanished during the upgrade. Its `on_connect`
                        // succeeded, so its end runs as for any dropped connection:
                        // `on_disconnect` exactly once (or the session is kept
                        // for its window when recovery is on).
                        let Upgraded {
                            registered, data, ..
                        } = upgraded;
                        let conn = Conn {
                            hub: hub.clone(),
                            id: registered.id,
                        };
                        Box::pin(conclude(self.frames.clone(), hub.clone(), conn, data, true))
                            .await;
                        return None;
                    }
                    let ws = websocket(stream, rest, config).await;
                    return Some((ws, upgraded));
                }
                Err(refusal) => {
                    if let Some(accept) = refusal_in_band(&head) {
                        let response = format!(
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                        );
                        if stream.write_all(response.as_bytes()).await.is_ok() {
                            let ws = websocket(stream, rest, config).await;
                            refuse_in_band(ws, &refusal).await;
                        }
                        return None;
                    }
                    refusal.http()
                }
            }
        };
        respond(stream, answer).await;
        None
    }
}
