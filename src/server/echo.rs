//! The conformance echo server: zocket's real handshake, connection loop and
//! limits, with every text and binary frame written back verbatim instead of
//! dispatched. The Autobahn suite runs against it (`examples/autobahn_echo.rs`);
//! it is a test tool, not for applications.

use std::future::Future;
use std::io;
use std::sync::Arc;

use tokio::net::TcpListener;
use tungstenite::Message;

use super::frames::{Dispatch, Frames, OnData};
use super::listener::Service;
use crate::app::builder::Zocket;
use crate::engine::config::Config;
use crate::engine::conn::Conn;

/// Writes every data frame back.
struct Echo;

impl Frames<()> for Echo {
    fn on_data(self: &Arc<Self>, msg: Message, _: &Conn, _: &()) -> OnData<()> {
        OnData::Write(msg)
    }
    fn on_disconnect(&self, _: Conn, _: (), _: Vec<String>) -> Option<Dispatch> {
        None
    }
    fn on_recover(&self, _: &Conn, _: &()) -> Option<Dispatch> {
        None
    }
}

/// Serves the conformance echo server on `listener` with `config` until
/// `signal` completes, then shuts down gracefully.
///
/// # Errors
///
/// None today; the `Result` leaves room for fatal listener errors.
#[doc(hidden)]
pub async fn serve_conformance_echo(
    listener: TcpListener,
    config: Config,
    signal: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let app = Zocket::<()>::builder()
        .config(config)
        .build()
        .map_err(io::Error::other)?;
    let service = Service {
        hub: app.hub,
        handlers: app.handlers,
        frames: Arc::new(Echo),
    };
    service.run(listener, signal).await
}
