//! The dispatch fast path reads `{"type":..,"payload":..}` with the payload
//! as the rest of the text; when a field follows the payload it reads the
//! message again in full. That second reading is safe because only a
//! failure to decode (before any middleware or handler) is read again: a
//! middleware and a handler run once per message, whatever the envelope.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zocket::testing::TestServer;
use zocket::{
    Conn, Ctx, ErrorKind, HandlerError, HandlerResult, Incoming, Middleware, MiddlewareExt, Reject,
    Request, Zocket,
};

#[derive(Serialize, Deserialize, Validate)]
struct Num {
    #[garde(range(max = 100))]
    n: u32,
}
struct Add;
impl Incoming for Add {
    const NAME: &'static str = "add";
    type Payload = Num;
}
struct Double;
impl Request for Double {
    const NAME: &'static str = "double";
    type Payload = Num;
    type Response = Num;
}
type R = (Add, (Double, ()));

/// Counts its calls; refuses 13 (a middleware refusal is final, not re-read).
#[derive(Clone)]
struct Count(Arc<AtomicUsize>);
impl Middleware<(), Num> for Count {
    type Out = ();
    async fn call(&self, _: (), p: &Num, _: &Conn) -> Result<(), Reject> {
        self.0.fetch_add(1, Ordering::SeqCst);
        if p.n == 13 {
            Err(Reject::new("unlucky"))
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn middleware_and_handler_run_once_whatever_follows_the_payload() {
    let (middleware, handler) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let ran = handler.clone();
    let counted = handler.clone();
    let app = Zocket::<R>::builder()
        .on(
            Add,
            Count(middleware.clone()).then(move |_: Num, _: Ctx<R>| {
                ran.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) as HandlerResult }
            }),
        )
        .on_request(
            Double,
            Count(middleware.clone()).then(move |x: Num, _: Ctx<R>| {
                counted.fetch_add(1, Ordering::SeqCst);
                async move { Ok::<_, HandlerError>(Num { n: x.n * 2 }) }
            }),
        )
        .build()
        .unwrap();
    let server = TestServer::new(app);
    let mut c = server.connect([("x", "y")]).await.unwrap();
    // A field after the payload: the fast path's guess fails to decode, the
    // message is read in full, and everything runs once.
    c.send_raw(r#"{"type":"add","payload":{"n":1},"extra":true}"#)
        .await;
    c.send_raw(r#"{"type":"double","payload":{"n":2},"id":"a"}"#)
        .await;
    let reply = c.next_json().await;
    assert_eq!(
        reply,
        json!({"type": "$zocket.reply", "id": "a", "payload": {"n": 4}})
    );
    assert_eq!(
        (
            middleware.load(Ordering::SeqCst),
            handler.load(Ordering::SeqCst)
        ),
        (2, 2)
    );
    // Refused by the middleware, with a field after the payload: reported
    // once, the middleware asked once, the handler never.
    c.send_raw(r#"{"type":"add","payload":{"n":13},"extra":1}"#)
        .await;
    assert_eq!(c.expect_error(ErrorKind::Rejected).await.message, "unlucky");
    // Invalid (fails validation, after decoding) with a field after it: final too.
    c.send_raw(r#"{"type":"add","payload":{"n":500},"extra":1}"#)
        .await;
    c.expect_error(ErrorKind::ValidationFailed).await;
    // Undecodable in full: one `invalid_payload`, nothing ran.
    c.send_raw(r#"{"type":"add","payload":{"n":"x"},"extra":1}"#)
        .await;
    c.expect_error(ErrorKind::InvalidPayload).await;
    c.expect_nothing().await;
    assert_eq!(
        (
            middleware.load(Ordering::SeqCst),
            handler.load(Ordering::SeqCst)
        ),
        (3, 2)
    );
    assert_eq!(server.handle().metrics().messages_in["add"], 4);
}
