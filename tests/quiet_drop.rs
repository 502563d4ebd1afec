//! A middleware or a handler can drop a message without telling its sender
//! (`Reject::quiet`): nothing goes out, the drop is counted by route.
use futures_util::{SinkExt, StreamExt};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use zocket::{
    Conn, Ctx, HandlerResult, Incoming, Middleware, MiddlewareExt, Outgoing, Reject, Zocket,
};

#[derive(Serialize, Deserialize, Validate)]
struct Typing {
    #[garde(length(min = 1))]
    room: String,
}
struct SetTyping;
impl Incoming for SetTyping {
    const NAME: &'static str = "typing";
    type Payload = Typing;
}
struct Shout;
impl Incoming for Shout {
    const NAME: &'static str = "shout";
    type Payload = Typing;
}
struct OnTyping;
impl Outgoing for OnTyping {
    const NAME: &'static str = "onTyping";
    type Payload = Typing;
}
type R = (SetTyping, (Shout, (OnTyping, ())));

/// Typing in a room you are not in means nothing: dropped without a word.
struct InRoomOrSilence;
impl Middleware<(), Typing> for InRoomOrSilence {
    type Out = ();
    async fn call(&self, data: (), payload: &Typing, conn: &Conn) -> Result<(), Reject> {
        if conn.in_room(&payload.room) {
            Ok(data)
        } else {
            Err(Reject::quiet("typing outside the room"))
        }
    }
}

async fn typing(t: Typing, ctx: Ctx<R>) -> HandlerResult {
    ctx.send(OnTyping, t)?.to([ctx.id()]);
    Ok(())
}

/// A handler can drop quietly too.
async fn shout(t: Typing, ctx: Ctx<R>) -> HandlerResult {
    if t.room == "quiet" {
        return Err(Reject::quiet("no shouting here").into());
    }
    ctx.join(&t.room)?;
    Ok(())
}

#[tokio::test]
async fn a_quiet_drop_sends_nothing_and_is_counted() {
    let app = Zocket::<R>::builder()
        .on(SetTyping, InRoomOrSilence.then(typing))
        .on(Shout, shout)
        .build()
        .unwrap();
    let handle = app.handle();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve_listener(listener));
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    let frames = [
        json!({"type": "typing", "payload": {"room": "lobby"}}), // not in the room: dropped
        json!({"type": "typing", "payload": {"room": "lobby"}, "rpcId": "r1"}), // upstream RPC: dropped too
        json!({"type": "shout", "payload": {"room": "quiet"}}), // the handler drops it
        json!({"type": "shout", "payload": {"room": "lobby"}}), // joins the lobby
        json!({"type": "typing", "payload": {"room": "lobby"}}), // now it goes through
    ];
    for frame in frames {
        ws.send(Message::text(frame.to_string())).await.unwrap();
    }
    // The first frame the client gets is the answer to the last message: nothing before it.
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
        .await
        .expect("an answer")
        .unwrap()
        .unwrap();
    let first: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(first["type"], "onTyping", "{first}");
    let metrics = handle.metrics();
    assert_eq!(metrics.dropped["typing"], 2);
    assert_eq!(metrics.dropped["shout"], 1);
    assert!(metrics.errors.is_empty(), "{:?}", metrics.errors);
    #[cfg(feature = "metrics")]
    {
        let text = handle.prometheus();
        assert!(
            text.contains("zocket_messages_dropped_total{route=\"typing\"} 2"),
            "{text}"
        );
    }
    handle.shutdown();
}
