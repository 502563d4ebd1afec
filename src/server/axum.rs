//! Mounting a zocket app on a route of an existing axum `Router` (feature `axum`).
//!
//! The route answers WebSocket upgrades with the same rules as the standalone
//! server (method, WebSocket headers, Origin allowlist, capacity, typed headers
//! from headers and query string, `on_connect`), the same JSON refusals, and
//! then serves the upgraded connection with zocket's connection loop. Plain
//! HTTP requests to the route get 426.

use std::net::SocketAddr;

use super::http::{Head, UPGRADE_REQUIRED};
use super::recovery::conclude;
use super::session;
use super::upgrade::{Upgraded, refusal_in_band, refuse_in_band, upgrade, websocket};
use crate::app::builder::Zocket;
use crate::engine::conn::Conn;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::routing::{MethodRouter, any};

impl<R, U> Zocket<R, U>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    /// An axum route serving this app. Mount it on any `Router<S>`; the
    /// router's state is untouched, so share state with zocket handlers by
    /// cloning it into them (it is usually an `Arc`).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # type AppRouter = ();
    /// use zocket::Zocket;
    ///
    /// let app = Zocket::<AppRouter>::builder().build()?;
    /// let router = axum::Router::new()
    ///     .route("/health", axum::routing::get(|| async { "ok" }))
    ///     .route("/ws", app.axum_route());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// axum::serve(listener, router).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// `ServerHandle::shutdown` closes the connections served this way too
    /// (with 1001); stopping axum's own listener is axum's business.
    pub fn axum_route<S>(&self) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let app = self.clone();
        any(move |request: Request| {
            let app = app.clone();
            async move { handle(app, request).await }
        })
    }
}

fn json(status: u16, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle<R, U>(app: Zocket<R, U>, mut request: Request) -> Response<Body>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    let head = Head {
        method: request.method().as_str().to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        headers: request
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.trim().to_owned())))
            .collect(),
    };
    if !head.header_has_token("upgrade", "websocket") {
        let mut r = json(426, UPGRADE_REQUIRED.to_vec());
        r.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return r;
    }
    let peer_addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let peer = peer_addr.map_or_else(|| "-".to_owned(), |p| p.to_string());
    let deadline = tokio::time::Instant::now() + app.hub.config.handshake_timeout;
    let upgraded = match upgrade(
        &app.hub,
        &app.handlers.on_connect,
        &head,
        peer_addr,
        deadline,
    )
    .await
    {
        Ok(ok) => ok,
        Err(refusal) => {
            let Some(accept) = refusal_in_band(&head) else {
                return json(refusal.status, refusal.body);
            };
            // The client asked to hear the refusal on the socket (browsers
            // cannot read a refused upgrade's status or body).
            let on_upgrade = hyper::upgrade::on(&mut request);
            let hub = app.hub.clone();
            tokio::spawn(async move {
                if let Ok(upgraded) = on_upgrade.await {
                    let socket = hyper_util::rt::TokioIo::new(upgraded);
                    let ws = websocket(socket, Vec::new(), &hub.config).await;
                    refuse_in_band(ws, &refusal).await;
                }
            });
            return switching_protocols(&accept);
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let Upgraded {
        registered,
        data,
        accept,
    } = upgraded;
    tokio::spawn(async move {
        let guard = app.hub.lifecycle.task_guard();
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket = hyper_util::rt::TokioIo::new(upgraded);
                let ws = websocket(socket, Vec::new(), &app.hub.config).await;
                session::run(
                    app.handlers.clone(),
                    app.hub.clone(),
                    ws,
                    registered,
                    data,
                    &peer,
                )
                .await;
            }
            Err(e) => {
                // The client vanished during the upgrade: its `on_connect`
                // succeeded, so `on_disconnect` runs (exactly once).
                tracing::debug!(error = %e, "upgrade did not complete");
                let conn = Conn {
                    hub: app.hub.clone(),
                    id: registered.id,
                };
                conclude(app.handlers.clone(), app.hub.clone(), conn, data, true).await;
            }
        }
        drop(guard);
    });
    switching_protocols(&accept)
}

/// The `101 Switching Protocols` answer with its `Sec-WebSocket-Accept`.
fn switching_protocols(accept: &str) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(v) = HeaderValue::from_str(accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    response
}
