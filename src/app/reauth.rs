//! Long-lived credentials on the builder: [`Builder::on_reauth`] (fresh
//! credentials on `$zocket.auth` without reconnecting) and
//! [`Builder::expires`] (warn, then close, when they run out).

use std::future::Future;
use std::sync::Arc;

use crate::app::builder::Builder;
use crate::app::headers::{Headers, parse_headers};
use crate::engine::dispatch::ConnectRefusal;
use crate::protocol::client_id::ClientId;
use crate::protocol::error::Reject;

impl<R, U, S, A> Builder<R, U, S, A>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    /// Lets clients re-authenticate without reconnecting: a client sends new
    /// handshake values (a fresh token) on the reserved route `$zocket.auth`;
    /// they are validated into `H` (the same rules as the handshake's query
    /// parameters) and `f` gets them with the connection's id and its data
    /// now, and returns its new data or a [`Reject`]. On success the data is
    /// replaced between two messages: the message being handled finishes
    /// with the old data, the next one sees the new (middleware included),
    /// and the client gets `$zocket.reply`. On failure the client gets
    /// `$zocket.error` and the connection is closed with code 4003.
    ///
    /// Usually called after [`on_connect`](Builder::on_connect), whose data
    /// it replaces. Called before it, `f` sees data `()` and returns `()`:
    /// it then checks the new credentials and keeps the data `on_connect`
    /// made (the order never drops it).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use garde::Validate; use serde::Deserialize;
    /// use zocket::{Reject, Zocket};
    ///
    /// #[derive(Deserialize, Validate)]
    /// struct Token {
    ///     #[garde(length(min = 1))]
    ///     token: String,
    /// }
    /// #[derive(Clone)]
    /// struct User { name: String, expires_in: Duration }
    ///
    /// fn verify(token: &str) -> Result<User, Reject> {
    ///     // Check the signature, read the claims...
    ///     Ok(User { name: token.to_owned(), expires_in: Duration::from_secs(300) })
    /// }
    ///
    /// let app = Zocket::<()>::builder()
    ///     .on_connect(|t: Token, _id| async move { verify(&t.token) })
    ///     .on_reauth(|t: Token, _id, _old: User| async move { verify(&t.token) })
    ///     .expires(|user: &User| Some(user.expires_in))
    ///     .build()
    ///     .unwrap();
    /// # let _ = app;
    /// ```
    pub fn on_reauth<H, F, Fut>(mut self, f: F) -> Self
    where
        H: Headers,
        F: Fn(H, ClientId, U) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, Reject>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.on_reauth = Some(Arc::new(move |map, id, data| {
            let f = f.clone();
            Box::pin(async move {
                let headers = parse_headers::<H>(map).map_err(ConnectRefusal::InvalidHeaders)?;
                f(headers, id, data).await.map_err(ConnectRefusal::Rejected)
            })
        }));
        self
    }

    /// When a connection's credentials expire, read from its data (for
    /// example the `exp` of the token `on_connect` checked); `None`: never.
    /// Asked after `on_connect` and after every re-authentication. Before
    /// the expiry the client is warned on `$zocket.expiring`
    /// ([`Config::expiry_warning`](crate::Config::expiry_warning) ahead, or half the time left if that is
    /// shorter) so it can send new credentials (`$zocket.auth`, see
    /// [`on_reauth`](Builder::on_reauth)); at the expiry a connection that
    /// did not is closed with code 4001. Called before `on_connect`, `f`
    /// sees data `()`: the same expiry for every connection.
    pub fn expires<F>(mut self, f: F) -> Self
    where
        F: Fn(&U) -> Option<std::time::Duration> + Send + Sync + 'static,
    {
        self.expiry = Some(Arc::new(f));
        self
    }
}
