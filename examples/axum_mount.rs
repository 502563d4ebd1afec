//! A zocket app mounted on a route of an existing axum app, sharing its state.
//!
//! ```text
//! cargo run --example axum_mount --features axum
//! # GET http://127.0.0.1:3002/visits, WebSocket ws://127.0.0.1:3002/ws
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerResult, Incoming, Outgoing, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Visit {
    #[garde(length(min = 1, max = 200))]
    page: String,
}
#[derive(Serialize, Deserialize, Validate)]
struct Count {
    #[garde(skip)]
    visits: u64,
}
struct Track;
impl Incoming for Track {
    const NAME: &'static str = "track";
    type Payload = Visit;
}
struct OnCount;
impl Outgoing for OnCount {
    const NAME: &'static str = "onCount";
    type Payload = Count;
}
type AppRouter = (Track, (OnCount, ()));

/// The axum app's state, shared with the zocket handlers.
#[derive(Clone, Default)]
struct Stats {
    visits: Arc<AtomicU64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stats = Stats::default();
    let for_zocket = stats.clone();
    let app = Zocket::<AppRouter>::builder()
        .on(Track, move |_v: Visit, ctx: Ctx<AppRouter>| {
            let stats = for_zocket.clone();
            async move {
                let visits = stats.visits.fetch_add(1, Ordering::Relaxed) + 1;
                ctx.send(OnCount, Count { visits })?.broadcast();
                HandlerResult::Ok(())
            }
        })
        .build()?;

    let router = axum::Router::new()
        .route(
            "/visits",
            axum::routing::get(|State(s): State<Stats>| async move {
                s.visits.load(Ordering::Relaxed).to_string()
            }),
        )
        .route("/ws", app.axum_route())
        .with_state(stats);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3002").await?;
    println!(
        "axum on http://{}/visits, zocket on ws://{}/ws",
        listener.local_addr()?,
        listener.local_addr()?
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(zocket::shutdown_signal())
        .await?;
    Ok(())
}
