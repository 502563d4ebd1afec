//! Server-to-client requests over real sockets: `ctx.ask` on a
//! `ClientRequest` route, answered by the typed client's `.on_request`
//! handler or by hand on the wire; timeouts, refusals, invalid answers, a
//! disconnect while the server waits, and who may answer.
mod common;

use std::time::Duration;

use futures_util::StreamExt;
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use zocket::testing::TestServer;
use zocket::{
    AskError, ClientId, ClientRequest, Config, Ctx, HandlerResult, Incoming, Outgoing,
    ServerHandle, Zocket,
};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize, Deserialize, Validate)]
struct Question {
    #[garde(length(min = 1))]
    text: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Validate)]
struct Answer {
    #[garde(skip)]
    yes: bool,
}
#[derive(Debug, Clone, Serialize, Deserialize, Validate)]
struct Outcome {
    #[garde(skip)]
    text: String,
}

/// The client asks the server to delete; the server asks the client to confirm.
struct Delete;
impl Incoming for Delete {
    const NAME: &'static str = "delete";
    type Payload = Question;
}
struct Confirm;
impl ClientRequest for Confirm {
    const NAME: &'static str = "confirm";
    type Payload = Question;
    type Response = Answer;
}
/// What came of the question, told to the client that asked for the delete.
struct OnOutcome;
impl Outgoing for OnOutcome {
    const NAME: &'static str = "onOutcome";
    type Payload = Outcome;
}
struct Ping;
impl Incoming for Ping {
    const NAME: &'static str = "ping";
    type Payload = ();
}
struct Pong;
impl Outgoing for Pong {
    const NAME: &'static str = "pong";
    type Payload = ();
}
/// Answers with the client's id on `onOutcome`.
struct WhoAmI;
impl Incoming for WhoAmI {
    const NAME: &'static str = "whoami";
    type Payload = ();
}
type Router = (Delete, (Confirm, (OnOutcome, (Ping, (Pong, (WhoAmI, ()))))));

/// How `ask` ended, in words the tests compare.
fn describe(result: &Result<Answer, AskError>) -> String {
    match result {
        Ok(a) => format!("answer: {}", if a.yes { "yes" } else { "no" }),
        Err(AskError::Timeout { .. }) => "timeout".into(),
        Err(AskError::Disconnected { .. }) => "disconnected".into(),
        Err(AskError::Refused { message, .. }) => format!("refused: {message}"),
        Err(AskError::InvalidAnswer { .. }) => "invalid answer".into(),
        Err(AskError::Invalid { .. }) => "invalid question".into(),
        Err(AskError::Undelivered { .. }) => "undelivered".into(),
        Err(e) => format!("other: {e}"),
    }
}

/// The app; every outcome of `ask` also goes to the returned channel.
fn app(config: Config) -> (Zocket<Router>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Zocket::<Router>::builder()
        .config(config)
        .on(Delete, move |q: Question, ctx: Ctx<Router>| {
            let tx = tx.clone();
            async move {
                let result = ctx.ask(Confirm, q).await;
                let text = describe(&result);
                let _ = tx.send(text.clone());
                ctx.reply(OnOutcome, Outcome { text })?;
                Ok(())
            }
        })
        .on(Ping, |_: (), ctx: Ctx<Router>| async move {
            ctx.reply(Pong, ())?;
            HandlerResult::Ok(())
        })
        .on(WhoAmI, |_: (), ctx: Ctx<Router>| async move {
            let text = ctx.id().to_string();
            ctx.reply(OnOutcome, Outcome { text })?;
            HandlerResult::Ok(())
        })
        .build()
        .expect("valid router");
    (app, rx)
}

struct Server {
    url: String,
    handle: ServerHandle<Router>,

    outcomes: mpsc::UnboundedReceiver<String>,
}

impl Server {
    async fn outcome(&mut self) -> String {
        tokio::time::timeout(WAIT, self.outcomes.recv())
            .await
            .expect("the ask ends within the wait")
            .expect("server alive")
    }
}

async fn start(config: Config) -> Server {
    let (app, outcomes) = app(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = app.handle();
    tokio::spawn(app.serve_listener(listener));
    Server {
        url,
        handle,
        outcomes,
    }
}

fn question(text: &str) -> serde_json::Value {
    json!({"text": text})
}

#[tokio::test]
async fn the_typed_client_answers_with_its_handler() {
    let mut server = start(Config::default()).await;
    let client = zocket::Client::<Router>::connect(&server.url)
        .on_request(Confirm, |q: Question| async move {
            Ok::<_, String>(Answer {
                yes: q.text == "delete all?",
            })
        })
        .await
        .expect("connects");
    let mut outcomes = client.stream(OnOutcome);
    client
        .send(
            Delete,
            Question {
                text: "delete all?".into(),
            },
        )
        .unwrap();
    assert_eq!(server.outcome().await, "answer: yes");
    let told = tokio::time::timeout(WAIT, outcomes.next()).await.unwrap();
    assert_eq!(told.unwrap().text, "answer: yes");
    client
        .send(
            Delete,
            Question {
                text: "something else".into(),
            },
        )
        .unwrap();
    assert_eq!(server.outcome().await, "answer: no");
    client.close().await;
}

#[tokio::test]
async fn a_refusing_handler_reaches_ask_as_refused() {
    let mut server = start(Config::default()).await;
    let client = zocket::Client::<Router>::connect(&server.url)
        .on_request(
            Confirm,
            |_: Question| async move { Err::<Answer, _>("not now") },
        )
        .await
        .expect("connects");
    client.send(Delete, Question { text: "x".into() }).unwrap();
    assert_eq!(server.outcome().await, "refused: not now");
    client.close().await;
}

#[tokio::test]
async fn on_the_wire_a_question_is_a_message_with_an_id() {
    let mut server = start(Config::default()).await;
    let mut c = common::Client::connect_url(&server.url).await;
    c.send("delete", question("sure?")).await;
    let q = c.recv().await;
    assert_eq!(q["type"], "confirm", "{q}");
    assert_eq!(q["payload"], question("sure?"));
    let id = q["id"].as_u64().expect("a numeric id");
    c.send_raw(&json!({"type": "$zocket.reply", "id": id, "payload": {"yes": true}}).to_string())
        .await;
    assert_eq!(server.outcome().await, "answer: yes");
    assert_eq!(c.expect("onOutcome").await["text"], "answer: yes");

    // A refusal is a `$zocket.error` carrying the id.
    c.send("delete", question("again?")).await;
    let id = c.recv().await["id"].as_u64().unwrap();
    c.send_raw(
        &json!({"type": "$zocket.error",
                "payload": {"kind": "rejected", "message": "no thanks", "id": id}})
        .to_string(),
    )
    .await;
    assert_eq!(server.outcome().await, "refused: no thanks");
    c.expect("onOutcome").await;

    // An answer that is not the route's response type is not returned.
    c.send("delete", question("typed?")).await;
    let id = c.recv().await["id"].as_u64().unwrap();
    c.send_raw(
        &json!({"type": "$zocket.reply", "id": id, "payload": {"yes": "maybe"}}).to_string(),
    )
    .await;
    assert_eq!(server.outcome().await, "invalid answer");
    c.expect("onOutcome").await;

    // Without an id it is no answer: refused as a route no client may send.
    c.send_raw(r#"{"type":"$zocket.reply","payload":{"yes":true}}"#)
        .await;
    assert_eq!(
        c.expect_error("unknown_route").await["route"],
        "$zocket.reply"
    );
}

#[tokio::test]
async fn an_unanswered_question_times_out_and_a_late_answer_is_dropped() {
    let mut server = start(Config::default().ask_timeout(Duration::from_millis(300))).await;
    let mut c = common::Client::connect_url(&server.url).await;
    c.send("delete", question("anyone?")).await;
    let id = c.recv().await["id"].as_u64().unwrap();
    assert_eq!(server.outcome().await, "timeout");
    assert_eq!(c.expect("onOutcome").await["text"], "timeout");
    // Answering now changes nothing and costs the client nothing.
    c.send_raw(&json!({"type": "$zocket.reply", "id": id, "payload": {"yes": true}}).to_string())
        .await;
    c.send("ping", json!(null)).await;
    c.expect("pong").await;
}

#[tokio::test]
async fn a_disconnect_ends_the_wait_at_once() {
    // An hour's timeout: only the disconnect can end this ask within the wait.
    let server = start(Config::default().ask_timeout(Duration::from_secs(3600))).await;
    let mut c = common::Client::connect_url(&server.url).await;
    c.send("whoami", json!(null)).await;
    let id: ClientId = c.expect("onOutcome").await["text"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let handle = server.handle.clone();
    let ask = tokio::spawn(async move {
        handle
            .ask(
                id,
                Confirm,
                Question {
                    text: "still there?".into(),
                },
            )
            .await
    });
    assert_eq!(c.recv().await["type"], "confirm");
    drop(c); // no answer, no close frame: the TCP connection just ends
    let result = tokio::time::timeout(WAIT, ask)
        .await
        .expect("the ask ends within the wait")
        .unwrap();
    assert_eq!(describe(&result), "disconnected");
}

#[tokio::test]
async fn a_handler_waiting_for_an_answer_hears_of_the_disconnect() {
    // An hour's timeout: only the disconnect can end this ask within the wait.
    let mut server = start(Config::default().ask_timeout(Duration::from_secs(3600))).await;
    let mut c = common::Client::connect_url(&server.url).await;
    c.send("delete", question("still there?")).await;
    assert_eq!(c.recv().await["type"], "confirm");
    drop(c); // no answer, no close frame
    assert_eq!(server.outcome().await, "disconnected");
}

#[tokio::test]
async fn only_the_asked_client_can_answer() {
    let mut server = start(Config::default()).await;
    let mut asked = common::Client::connect_url(&server.url).await;
    let mut other = common::Client::connect_url(&server.url).await;
    asked.send("delete", question("mine?")).await;
    let id = asked.recv().await["id"].as_u64().unwrap();
    // Another client answers the same id: ignored.
    other
        .send_raw(
            &json!({"type": "$zocket.reply", "id": id, "payload": {"yes": false}}).to_string(),
        )
        .await;
    other.send("ping", json!(null)).await;
    other.expect("pong").await;
    asked
        .send_raw(&json!({"type": "$zocket.reply", "id": id, "payload": {"yes": true}}).to_string())
        .await;
    assert_eq!(server.outcome().await, "answer: yes");
}

#[tokio::test]
async fn messages_sent_before_the_answer_wait_for_the_handler_in_order() {
    let mut server = start(Config::default()).await;
    let mut c = common::Client::connect_url(&server.url).await;
    c.send("delete", question("order?")).await;
    let id = c.recv().await["id"].as_u64().unwrap();
    // Sent before the answer, while the delete handler waits for it: the
    // connection reads on, takes the answer, and handles `ping` afterwards.
    c.send("ping", json!(null)).await;
    c.send("ping", json!(null)).await;
    c.send_raw(&json!({"type": "$zocket.reply", "id": id, "payload": {"yes": true}}).to_string())
        .await;
    assert_eq!(c.expect("onOutcome").await["text"], "answer: yes");
    c.expect("pong").await;
    c.expect("pong").await;
    assert_eq!(server.outcome().await, "answer: yes");
}

#[tokio::test]
async fn the_server_handle_asks_from_outside_handlers() {
    let (app, _outcomes) = app(Config::default());
    let server = TestServer::new(app);
    let mut c = server.connect([("name", "a")]).await.expect("accepted");
    c.send(WhoAmI, ()).await;
    let id: ClientId = c.expect(OnOutcome).await.text.parse().unwrap();
    let handle = server.handle();
    let ask = tokio::spawn(async move {
        handle
            .ask(
                id,
                Confirm,
                Question {
                    text: "from outside".into(),
                },
            )
            .timeout(WAIT)
            .await
    });
    let q = c.expect_question(Confirm).await;
    assert_eq!(q.payload.text, "from outside");
    c.answer(&q, Answer { yes: true }).await;
    let answer = ask.await.unwrap().expect("answered");
    assert!(answer.yes);

    // An invalid question is refused before anything is sent.
    let err = server
        .handle()
        .ask(
            id,
            Confirm,
            Question {
                text: String::new(),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AskError::Invalid { ref route, .. } if route == "confirm"),
        "{err}"
    );
    c.expect_nothing().await;

    // A client that is not connected here: undelivered, at once.
    c.close().await;
    let err = server
        .handle()
        .ask(id, Confirm, Question { text: "x".into() })
        .await
        .unwrap_err();
    assert!(matches!(err, AskError::Undelivered { .. }), "{err}");
}

#[tokio::test]
async fn the_kit_client_refuses_and_the_server_hears_it() {
    let (app, mut outcomes) = app(Config::default());
    let server = TestServer::new(app);
    let mut c = server.connect([("name", "a")]).await.expect("accepted");
    c.send(Delete, Question { text: "q".into() }).await;
    let q = c.expect_question(Confirm).await;
    c.refuse(&q, "kit says no").await;
    assert_eq!(c.expect(OnOutcome).await.text, "refused: kit says no");
    assert_eq!(outcomes.recv().await.unwrap(), "refused: kit says no");
}
