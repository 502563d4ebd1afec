//! [`Ask`]: a question to one client on a [`ClientRequest`] route, awaited
//! for its typed answer.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use tungstenite::Utf8Bytes;

use crate::engine::asks::Answer;
use crate::engine::hub::Hub;
use crate::protocol::client_id::ClientId;
use crate::protocol::error::{AskError, PayloadError};
use crate::protocol::route::marker_name;
use crate::protocol::route::{AsJson, ClientRequest, Decode, Encode};
use crate::protocol::router::{Contains, wire_name};
use crate::protocol::wire;

/// A question to one client, made by [`Ctx::ask`](crate::Ctx::ask) or
/// [`ServerHandle::ask`](crate::ServerHandle::ask). Nothing is sent until it
/// is awaited; awaiting sends it and waits for the client's answer, at most
/// [`Config::ask_timeout`](crate::Config::ask_timeout) (30 s by default) or
/// what [`Ask::timeout`] sets.
///
/// The answer is deserialized and validated as the route's `Response`
/// before it is returned. The question fails with
/// [`AskError::Disconnected`] as soon as the client's connection ends (a
/// handler that asked keeps running for up to
/// [`Config::close_timeout`](crate::Config::close_timeout) after its
/// connection ended, so it sees that error and can act on it).
#[must_use = "a question is sent when it is awaited"]
pub struct Ask<X: ClientRequest> {
    hub: Arc<Hub>,
    client: ClientId,
    route: String,
    payload: Result<Box<RawValue>, AskError>,
    timeout: Duration,
    _route: PhantomData<fn() -> X>,
}

impl<X: ClientRequest> Ask<X> {
    /// Validates and serializes the question for route `X` of router `R`.
    pub(crate) fn new<R, I>(hub: Arc<Hub>, client: ClientId, payload: X::Payload) -> Self
    where
        X::Payload: Encode,
        R: Contains<X, I>,
    {
        let route = wire_name::<R, X, I>(marker_name!(X));
        let payload = match payload.check_sent() {
            Err(report) => Err(AskError::Invalid {
                route: route.clone(),
                report,
            }),
            Ok(()) => serde_json::value::to_raw_value(&AsJson(&payload)).map_err(|source| {
                AskError::Serialize {
                    route: route.clone(),
                    source,
                }
            }),
        };
        Ask {
            timeout: hub.config.ask_timeout,
            hub,
            client,
            route,
            payload,
            _route: PhantomData,
        }
    }

    /// Waits at most `timeout` for the answer (instead of the configured
    /// [`ask_timeout`](crate::Config::ask_timeout)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn run(self) -> Result<X::Response, AskError>
    where
        X::Response: Decode,
    {
        let Ask {
            hub,
            client,
            route,
            payload,
            timeout,
            ..
        } = self;
        let payload = payload?;
        let (id, answer) = hub.asks.open(client);
        let text = match wire::encode_request(&route, &*payload, id) {
            Ok(text) => Utf8Bytes::from(text),
            Err(source) => {
                hub.asks.forget(client, id);
                return Err(AskError::Serialize { route, source });
            }
        };
        let queued = hub.deliver_to([client], &text, &[]);
        hub.counters.message_out(&route, queued);
        if queued == 0 {
            hub.asks.forget(client, id);
            return Err(AskError::Undelivered { route });
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(Answer::Reply(raw))) => PayloadError::accept::<X::Response>(&raw)
                .map_err(|source| AskError::InvalidAnswer { route, source }),
            Ok(Ok(Answer::Refused(message))) => Err(AskError::Refused { route, message }),
            Ok(Err(_)) => Err(AskError::Disconnected { route }),
            Err(_) => {
                hub.asks.forget(client, id);
                Err(AskError::Timeout { route, timeout })
            }
        }
    }
}

impl<X: ClientRequest> IntoFuture for Ask<X>
where
    X::Response: Decode,
{
    type Output = Result<X::Response, AskError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
