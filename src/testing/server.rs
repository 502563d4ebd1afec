//! [`TestServer`]: an app served over in-memory connections.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::DuplexStream;

use super::client::{self, Dropped, Refused, TestClient};
use crate::app::builder::Zocket;
use crate::app::handle::ServerHandle;
use crate::engine::dispatch::Handlers;
use crate::engine::hub::Hub;
use crate::server::listener::Service;

/// Bytes an in-memory connection buffers in each direction.
const PIPE: usize = 256 * 1024;

/// Runs an app for tests, over in-memory connections.
///
/// ```
/// # use garde::Validate; use serde::{Deserialize, Serialize};
/// use zocket::testing::TestServer;
/// use zocket::{Ctx, ErrorKind, HandlerResult, Incoming, Outgoing, Zocket};
///
/// #[derive(Debug, Serialize, Deserialize, Validate)]
/// struct Text { #[garde(length(min = 1))] text: String }
/// struct Post;
/// impl Incoming for Post { const NAME: &'static str = "post"; type Payload = Text; }
/// struct OnPost;
/// impl Outgoing for OnPost { const NAME: &'static str = "onPost"; type Payload = Text; }
/// type Api = (Post, (OnPost, ()));
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let app = Zocket::<Api>::builder()
///     .on(Post, |t: Text, ctx: Ctx<Api>| async move {
///         ctx.send(OnPost, t)?.broadcast();
///         HandlerResult::Ok(())
///     })
///     .build()
///     .unwrap();
/// let server = TestServer::new(app);
/// let mut alice = server.connect([("name", "alice")]).await.unwrap();
/// let mut bob = server.connect([("name", "bob")]).await.unwrap();
/// alice.send(Post, Text { text: "hi".into() }).await;
/// assert_eq!(bob.expect(OnPost).await.text, "hi");
/// assert_eq!(alice.expect(OnPost).await.text, "hi");
/// alice.send(Post, Text { text: "".into() }).await; // invalid: never reaches the handler
/// alice.expect_error(ErrorKind::ValidationFailed).await;
/// bob.expect_nothing().await;
/// # });
/// ```
pub struct TestServer<R, U = ()> {
    service: Service<U, Handlers<U>>,
    handle: ServerHandle<R>,
    quiet: Duration,
}

impl<R, U> TestServer<R, U>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    /// Runs `app` (with its configuration and adapter) for in-memory clients.
    pub fn new(app: Zocket<R, U>) -> Self {
        let handle = app.handle();
        let hub: Arc<Hub> = app.hub.clone();
        hub.start_adapter();
        TestServer {
            service: Service {
                hub,
                frames: app.handlers.clone(),
                handlers: app.handlers,
            },
            handle,
            quiet: Duration::from_millis(100),
        }
    }

    /// How long [`TestClient::expect_nothing`] listens (default 100 ms; in
    /// virtual time under `tokio::time::pause()`).
    pub fn quiet_period(mut self, quiet: Duration) -> Self {
        self.quiet = quiet;
        self
    }

    /// The server's handle: send from outside handlers, list rooms, metrics.
    pub fn handle(&self) -> ServerHandle<R> {
        self.handle.clone()
    }

    /// Opens a connection with this handshake data (sent as query
    /// parameters, as browsers and Zocket clients do). The handshake goes
    /// through the same checks as over TCP (headers type, `on_connect`).
    ///
    /// # Errors
    ///
    /// [`Refused`] with the HTTP status and JSON body when the server refuses.
    pub async fn connect<I, K, V>(&self, handshake: I) -> Result<TestClient<R>, Refused>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let query: Vec<(String, String)> = handshake
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        self.open(query, &[]).await
    }

    /// Opens a connection whose handshake carries real HTTP headers too.
    ///
    /// # Errors
    ///
    /// [`Refused`] when the server refuses.
    pub async fn connect_with_headers(
        &self,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<TestClient<R>, Refused> {
        let query = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.open(query, headers).await
    }

    pub(crate) async fn open(
        &self,
        query: Vec<(String, String)>,
        headers: &[(&str, &str)],
    ) -> Result<TestClient<R>, Refused> {
        let (ours, theirs) = tokio::io::duplex(PIPE);
        self.serve(theirs);
        client::handshake(ours, &self.path(), query, headers, self.quiet).await
    }

    /// Reconnects a dropped client with its session token and last offset,
    /// as the real clients do; the new connection's
    /// [`TestClient::recovered`] says whether the session was resumed.
    ///
    /// # Errors
    ///
    /// [`Refused`] when the handshake is refused.
    pub async fn resume(&self, dropped: Dropped<R>) -> Result<TestClient<R>, Refused> {
        self.open(dropped.resume_query(), &[]).await
    }

    fn path(&self) -> String {
        self.service
            .hub
            .config
            .path
            .clone()
            .unwrap_or_else(|| "/".to_owned())
    }

    /// Serves the server end of one in-memory connection, as the accept loop
    /// serves a socket (counted as a running connection for shutdown).
    fn serve(&self, stream: DuplexStream) {
        let guard = self.service.hub.lifecycle.task_guard();
        tokio::spawn(self.service.clone().socket(stream, None, None, guard));
    }

    /// Shuts down as the real server does (every connection closed with
    /// 1001, every `on_disconnect` run) and waits until it is done.
    pub async fn shutdown(self) {
        let hub = &self.service.hub;
        hub.begin_shutdown();
        let _ = tokio::time::timeout(hub.config.shutdown_timeout, hub.lifecycle.idle()).await;
    }
}
