//! The contract across the border: the JSON document and fingerprint of a
//! router, and the drift check over real sockets (strict: HTTP 409 naming the
//! routes that differ; default: a logged warning, accepted).
#![cfg(feature = "schema")]

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{http, upgrade_request};
use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use zocket::contract::{Contract, ContractCheck};
use zocket::error::ConnectError;
use zocket::{Client, Ctx, HandlerResult, Incoming, Namespace, Outgoing, Scope, Zocket};

const WAIT: Duration = Duration::from_secs(10);

struct ChatNs;
impl Namespace for ChatNs {
    const NAME: &'static str = "chat";
}

#[derive(Debug, Serialize, Deserialize, Validate, JsonSchema)]
struct Text {
    #[garde(length(chars, min = 1, max = 100))]
    text: String,
}

#[derive(Deserialize, Validate, JsonSchema)]
struct Hello {
    #[garde(length(chars, min = 1, max = 32))]
    name: String,
    /// Must stay empty: the contract parameters are zocket's, not the app's.
    #[serde(rename = "zocket-contract", default)]
    #[garde(skip)]
    leaked: Option<String>,
}

struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Text;
}
struct OnPost;
impl Outgoing for OnPost {
    const NAME: &'static str = "onPost";
    type Payload = Text;
}
type Api = (Scope<ChatNs, (Post, (OnPost, ()))>, ());

/// The same API a release later: `chat.post` gained a field.
mod next {
    use super::*;

    /// (A distinct name: one contract cannot hold two types named `Text`.)
    #[derive(Serialize, Deserialize, Validate, JsonSchema)]
    pub(crate) struct MoodText {
        #[garde(length(chars, min = 1, max = 100))]
        pub(crate) text: String,
        #[garde(skip)]
        pub(crate) mood: u8,
    }
    pub(crate) struct Post;
    impl Incoming for Post {
        const NAME: &'static str = "post";
        type Payload = MoodText;
    }
    pub(crate) type Api = (Scope<ChatNs, (Post, (super::OnPost, ()))>, ());
}

/// `Api` with its routes listed in the other order.
type Reordered = (Scope<ChatNs, (OnPost, (Post, ()))>, ());

fn contract() -> Contract {
    Contract::of::<Api, _>().with_handshake::<Hello>()
}

#[test]
fn the_json_document_lists_every_route_with_its_schema() {
    let doc = contract().to_json();
    let routes = doc["routes"].as_array().unwrap();
    let names: Vec<(&str, &str)> = routes
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["direction"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [("chat.onPost", "outgoing"), ("chat.post", "incoming")]
    );
    assert_eq!(routes[1]["payload"], json!({"$ref": "#/$defs/Text"}));
    // garde's rules became JSON Schema keywords.
    let text = &doc["$defs"]["Text"]["properties"]["text"];
    assert_eq!(
        (text["minLength"].as_u64(), text["maxLength"].as_u64()),
        (Some(1), Some(100))
    );
    assert_eq!(doc["handshake"], json!({"$ref": "#/$defs/Hello"}));
    assert_eq!(doc["$defs"]["Hello"]["required"], json!(["name"]));
    assert_eq!(doc["errorRoute"]["name"], "$zocket.error");
    assert_eq!(doc["replyRoute"], "$zocket.reply");
    assert_eq!(doc["fingerprint"].as_str().unwrap().len(), 16);
    assert!(
        routes
            .iter()
            .all(|r| r["hash"].as_str().unwrap().len() == 8)
    );
}

#[test]
fn the_fingerprint_ignores_route_order_and_sees_one_changed_field() {
    let a = contract().identity();
    let b = Contract::of::<Reordered, _>()
        .with_handshake::<Hello>()
        .identity();
    assert_eq!(
        a, b,
        "the order of routes in the router is not part of the contract"
    );
    assert_eq!(
        a.fingerprint(),
        contract().fingerprint(),
        "stable between calls"
    );
    let changed = Contract::of::<next::Api, _>()
        .with_handshake::<Hello>()
        .identity();
    assert_ne!(a.fingerprint(), changed.fingerprint());
    let differing: Vec<&String> = a
        .routes()
        .keys()
        .filter(|k| a.routes()[*k] != changed.routes()[*k])
        .collect();
    assert_eq!(
        differing,
        ["chat.post"],
        "only the changed route's hash moves"
    );
    let no_handshake = Contract::of::<Api, _>().identity();
    assert_ne!(
        a.fingerprint(),
        no_handshake.fingerprint(),
        "the handshake type is part of it"
    );
    assert!(!no_handshake.routes().contains_key("$handshake"));
    assert_eq!(
        Contract::of::<Api, _>()
            .with_handshake::<()>()
            .fingerprint(),
        no_handshake.fingerprint(),
        "`()` means no handshake data"
    );
}

/// Every log line the servers of this test binary write.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .init();
        buffer
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);
impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn serve(check: ContractCheck) -> SocketAddr {
    let _ = logs();
    let app = Zocket::<Api>::builder()
        .contract::<Hello, _>(check)
        .on_connect(|hello: Hello, _| async move {
            match hello.leaked {
                None => Ok(hello.name),
                Some(_) => Err(zocket::Reject::forbidden("zocket-contract reached the app")),
            }
        })
        .on(Post, |t: Text, ctx: Ctx<Api, String>| async move {
            ctx.send(OnPost, t)?.to([ctx.id()]);
            HandlerResult::Ok(())
        })
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve_listener(listener));
    addr
}

async fn echo_works(client: &Client<Api>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _sub = client.on(OnPost, move |t: Text| {
        let _ = tx.send(t.text);
    });
    client.send(Post, Text { text: "hi".into() }).unwrap();
    let got = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("echo within the wait");
    assert_eq!(got.as_deref(), Some("hi"));
}

#[tokio::test]
async fn a_strict_server_refuses_a_drifted_client_with_409_naming_the_route() {
    let addr = serve(ContractCheck::Strict).await;
    let url = format!("ws://{addr}/");
    let drifted = Contract::of::<next::Api, _>()
        .with_handshake::<Hello>()
        .identity();
    let refused = Client::<Api>::connect(&url)
        .header("name", "alice")
        .contract(&drifted)
        .no_reconnect()
        .await;
    let Err(ConnectError::Refused { status, body }) = refused else {
        panic!("a drifted client is refused, got {:?}", refused.map(|_| ()));
    };
    assert_eq!(status, 409);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "Contract mismatch");
    assert_eq!(body["server"], contract().fingerprint());
    assert_eq!(body["client"], drifted.fingerprint());
    assert_eq!(
        body["routes"],
        json!([{"route": "chat.post", "change": "changed"}])
    );

    // The same contract connects; the parameters do not reach the app's headers.
    let client = Client::<Api>::connect(&url)
        .header("name", "alice")
        .contract(&contract().identity())
        .no_reconnect()
        .await
        .expect("a client of the same contract connects");
    echo_works(&client).await;
    client.close().await;

    // No fingerprint at all (a plain Zocket client, a browser): accepted.
    let plain = Client::<Api>::connect(&url)
        .header("name", "bob")
        .no_reconnect()
        .await;
    plain
        .expect("a client that sends no fingerprint connects")
        .close()
        .await;
}

#[tokio::test]
async fn without_route_hashes_the_409_still_comes_with_an_empty_list() {
    let addr = serve(ContractCheck::Strict).await;
    let request = upgrade_request("/?name=a&zocket-contract=0123456789abcdef", "");
    let (status, body) = http(addr, &request).await;
    assert_eq!(status, 409, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["client"], "0123456789abcdef");
    assert_eq!(body["routes"], json!([]));
}

#[tokio::test]
async fn by_default_a_drifted_client_is_accepted_with_a_logged_warning() {
    let addr = serve(ContractCheck::Warn).await;
    let drifted = Contract::of::<next::Api, _>()
        .with_handshake::<Hello>()
        .identity();
    let client = Client::<Api>::connect(format!("ws://{addr}/"))
        .header("name", "carol")
        .contract(&drifted)
        .no_reconnect()
        .await
        .expect("accepted by default");
    echo_works(&client).await;
    client.close().await;
    let logs = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    let line = logs
        .lines()
        .find(|l| l.contains("(accepted;") && l.contains(drifted.fingerprint()))
        .unwrap_or_else(|| panic!("a warning about the drifted client in:\n{logs}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("chat.post"),
        "the warning names the route: {line}"
    );
}

#[test]
fn a_stale_or_missing_typescript_file_fails_the_check_with_the_command_that_fixes_it() {
    let dir = std::env::temp_dir().join(format!("zocket-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("web/contract.ts");
    let c = contract();
    // Missing.
    let missing = std::panic::catch_unwind(|| c.assert_typescript(&path)).unwrap_err();
    let text = missing.downcast_ref::<String>().unwrap();
    assert!(
        text.contains("is missing") && text.contains("ZOCKET_UPDATE_CONTRACT=1 cargo test"),
        "{text}"
    );
    // Written (folders made), then nothing to write, then the check passes.
    assert!(c.write_typescript(&path).unwrap());
    assert!(!c.write_typescript(&path).unwrap());
    c.assert_typescript(&path);
    // A stale file: the first line that differs is named.
    let stale = c
        .typescript()
        .replacen("export type", "export type Old = 1;\nexport type", 1);
    std::fs::write(&path, stale).unwrap();
    let failed = std::panic::catch_unwind(|| c.assert_typescript(&path)).unwrap_err();
    let text = failed.downcast_ref::<String>().unwrap();
    assert!(
        text.contains("is stale: line") && text.contains("export type Old = 1;"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
