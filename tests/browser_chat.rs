//! End to end in a real browser: the chat example's page, opened in two
//! headless Chromium browser contexts, driven over the Chrome DevTools Protocol
//! (JSON over a WebSocket, so the test needs nothing but tokio-tungstenite).
mod chat_process;
use chat_process::{ChatProcess, skip_or_fail};

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);

/// Headless Chromium with its DevTools endpoint.
struct Browser {
    _child: Child,
    _profile: TempDir,
    endpoint: String,
}

/// A profile directory removed on drop.
struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    async fn launch(binary: &Path) -> Browser {
        // One profile per browser: tests in this binary run at the same time.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile =
            std::env::temp_dir().join(format!("zocket-chromium-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&profile).unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromium");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let endpoint = tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(at) = line.find("ws://")
                    && line.contains("DevTools listening")
                {
                    return line[at..].trim().to_owned();
                }
            }
            panic!("chromium exited before opening DevTools");
        })
        .await
        .expect("chromium starts");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Browser {
            _child: child,
            _profile: TempDir(profile),
            endpoint,
        }
    }
}

/// A minimal Chrome DevTools Protocol client.
struct Cdp {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    events: VecDeque<Value>,
}

impl Cdp {
    async fn connect(endpoint: &str) -> Cdp {
        let (ws, _) = tokio_tungstenite::connect_async(endpoint)
            .await
            .expect("devtools");
        Cdp {
            ws,
            next_id: 0,
            events: VecDeque::new(),
        }
    }

    async fn read(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("devtools answers within the wait")
                .expect("devtools open")
                .expect("devtools frame");
            if let Message::Text(t) = msg {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        loop {
            let v = self.read().await;
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method} failed: {v}");
                return v["result"].clone();
            }
            self.events.push_back(v);
        }
    }

    async fn event(&mut self, session: &str, method: &str) -> Value {
        if let Some(i) = self
            .events
            .iter()
            .position(|e| e["method"] == method && e["sessionId"] == session)
        {
            return self.events.remove(i).unwrap();
        }
        loop {
            let v = self.read().await;
            if v["method"] == method && v["sessionId"] == session {
                return v;
            }
            self.events.push_back(v);
        }
    }
}

/// One chat page in its own browser context (its own cookies and storage).
struct Page {
    session: String,
    target: String,
}

/// Resolves when `pred` holds, watching the DOM for changes (no polling).
const HELPERS: &str = r#"
window.waitFor = (what, pred) => new Promise((resolve, reject) => {
  if (pred()) return resolve(true);
  const obs = new MutationObserver(() => { if (pred()) { obs.disconnect(); resolve(true); } });
  obs.observe(document.body, { subtree: true, childList: true, characterData: true });
  setTimeout(() => { obs.disconnect(); reject(new Error("timed out waiting for " + what + "; page: " + document.body.innerText)); }, 15000);
});
// Through the native setter, so frameworks that track the value (React) see the change.
window.setValue = (id, value) => {
  const el = document.getElementById(id);
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(el, value);
  el.dispatchEvent(new Event("input", { bubbles: true }));
};
true
"#;

impl Page {
    async fn open(cdp: &mut Cdp, url: &str) -> Page {
        let ctx = cdp
            .call(None, "Target.createBrowserContext", json!({}))
            .await;
        let target = cdp
            .call(
                None,
                "Target.createTarget",
                json!({"url": "about:blank", "browserContextId": ctx["browserContextId"]}),
            )
            .await["targetId"]
            .as_str()
            .unwrap()
            .to_owned();
        let session = cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await["sessionId"]
            .as_str()
            .unwrap()
            .to_owned();
        cdp.call(Some(&session), "Page.enable", json!({})).await;
        cdp.call(Some(&session), "Page.navigate", json!({"url": url}))
            .await;
        cdp.event(&session, "Page.loadEventFired").await;
        let page = Page { session, target };
        page.eval(cdp, HELPERS).await;
        page
    }

    async fn eval(&self, cdp: &mut Cdp, expression: &str) -> Value {
        let r = cdp
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expression} threw: {r}"
        );
        r["result"]["value"].clone()
    }

    async fn wait_text(&self, cdp: &mut Cdp, id: &str, needle: &str) {
        let js = format!(
            "waitFor({what:?}, () => document.getElementById({id:?}).textContent.includes({needle:?}))",
            what = format!("#{id} to contain {needle:?}"),
        );
        self.eval(cdp, &js).await;
    }

    async fn set(&self, cdp: &mut Cdp, id: &str, value: &str) {
        self.eval(cdp, &format!("setValue({id:?}, {value:?})"))
            .await;
    }

    async fn click(&self, cdp: &mut Cdp, id: &str) {
        self.eval(
            cdp,
            &format!("document.getElementById({id:?}).click(); true"),
        )
        .await;
    }

    async fn connect_as(&self, cdp: &mut Cdp, name: &str) {
        self.set(cdp, "name", name).await;
        self.click(cdp, "connect").await;
        self.wait_text(cdp, "status", "connected").await;
        let status = self
            .eval(cdp, "document.getElementById('status').textContent")
            .await;
        assert_eq!(status, "connected");
    }
}

fn chromium() -> Option<std::path::PathBuf> {
    let path: std::path::PathBuf =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), Into::into);
    path.exists().then_some(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_and_see_server_errors() {
    let Some(binary) = chromium() else {
        return skip_or_fail("Chromium (/usr/bin/chromium)");
    };
    let chat = ChatProcess::start().await;
    let url = format!("http://{}/", chat.addr);
    let browser = Browser::launch(&binary).await;
    let mut cdp = Cdp::connect(&browser.endpoint).await;

    let alice = Page::open(&mut cdp, &url).await;
    let bob = Page::open(&mut cdp, &url).await;
    alice.connect_as(&mut cdp, "alice").await;
    bob.connect_as(&mut cdp, "bob").await;

    // Both join the lobby; alice sees bob arrive.
    alice.click(&mut cdp, "join").await;
    alice.wait_text(&mut cdp, "members", "alice").await;
    alice.wait_text(&mut cdp, "online", "alice").await;
    bob.click(&mut cdp, "join").await;
    alice.wait_text(&mut cdp, "members", "bob").await;
    // Presence: bob comes online on alice's page (and sees both on his own).
    alice.wait_text(&mut cdp, "online", "bob").await;
    bob.wait_text(&mut cdp, "online", "alice").await;
    alice
        .wait_text(&mut cdp, "messages", "bob joined lobby")
        .await;

    // Typing shows up on the other side.
    bob.set(&mut cdp, "text", "hello from bob").await;
    alice.wait_text(&mut cdp, "typing", "bob typing").await;

    // bob sends; alice's page shows it.
    bob.click(&mut cdp, "send").await;
    alice
        .wait_text(&mut cdp, "messages", "[lobby] bob: hello from bob")
        .await;
    bob.wait_text(&mut cdp, "messages", "[lobby] bob: hello from bob")
        .await;

    // An invalid message shows the server's error on the sender's page.
    alice.set(&mut cdp, "text", "").await;
    alice.click(&mut cdp, "send").await;
    alice
        .wait_text(&mut cdp, "errors", "validation_failed")
        .await;
    // So does a message to a room alice has not joined (the middleware refuses it).
    alice.set(&mut cdp, "room", "elsewhere").await;
    alice
        .eval(
            &mut cdp,
            "document.getElementById('text').value = 'sneaky'; true",
        )
        .await;
    alice.click(&mut cdp, "send").await;
    alice.wait_text(&mut cdp, "errors", "rejected").await;
    let bob_messages = bob
        .eval(&mut cdp, "document.getElementById('messages').textContent")
        .await;
    assert!(!bob_messages.as_str().unwrap().contains("sneaky"));

    // bob closes his tab: alice sees him leave.
    cdp.call(None, "Target.closeTarget", json!({"targetId": bob.target}))
        .await;
    alice
        .wait_text(&mut cdp, "messages", "bob left lobby")
        .await;
    // ...and goes offline on her page.
    alice
        .eval(
            &mut cdp,
            "waitFor('bob to go offline in the lobby', () => !online.get('lobby').has('bob'))",
        )
        .await;
    // (alice's page shows the room in its input, "elsewhere" by now; the lobby's list:)
    let online = alice
        .eval(&mut cdp, "[...online.get('lobby').keys()].join(',')")
        .await;
    assert_eq!(online, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_a_refusal_and_reconnects_after_a_restart() {
    let Some(binary) = chromium() else {
        return skip_or_fail("Chromium (/usr/bin/chromium)");
    };
    let env = [("BANNED_NAMES", "root")];
    let mut chat = ChatProcess::start_with_env(&env).await;
    let port: u16 = chat.addr.rsplit(':').next().unwrap().parse().unwrap();
    let url = format!("http://{}/", chat.addr);
    let browser = Browser::launch(&binary).await;
    let mut cdp = Cdp::connect(&browser.endpoint).await;

    // A name the server refuses: the page says why (the browser alone could not read it).
    let mallory = Page::open(&mut cdp, &url).await;
    mallory.set(&mut cdp, "name", "root").await;
    mallory.click(&mut cdp, "connect").await;
    mallory.wait_text(&mut cdp, "status", "refused").await;
    mallory
        .wait_text(
            &mut cdp,
            "errors",
            "refused (403): the name \"root\" is not allowed here",
        )
        .await;
    // An invalid name: the field and the rule.
    mallory.set(&mut cdp, "name", &"x".repeat(33)).await;
    mallory.click(&mut cdp, "connect").await;
    mallory
        .wait_text(&mut cdp, "errors", "refused (400): Invalid headers - name:")
        .await;

    // alice chats, the server restarts on the same port, she is back by herself.
    let alice = Page::open(&mut cdp, &url).await;
    alice.connect_as(&mut cdp, "alice").await;
    alice.click(&mut cdp, "join").await;
    alice.wait_text(&mut cdp, "members", "alice").await;
    chat.signal("TERM");
    chat.wait_exit().await;
    alice.wait_text(&mut cdp, "errors", "reconnecting").await;
    let _next = ChatProcess::start_on(port, &env).await;
    alice.wait_text(&mut cdp, "status", "connected").await;
    // Her page joined the lobby again on the new server: she can talk there.
    alice
        .wait_text(&mut cdp, "messages", "alice joined lobby")
        .await;
    alice.set(&mut cdp, "text", "after the restart").await;
    alice.click(&mut cdp, "send").await;
    alice
        .wait_text(&mut cdp, "messages", "[lobby] alice: after the restart")
        .await;
}

/// Node and the pinned packages of clients/ts (built), when installed.
fn node_tools() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("clients/ts/node_modules");
    let ok = ["typescript", "esbuild", "react", "react-dom", "zod"]
        .iter()
        .all(|p| modules.join(p).exists());
    let node = std::path::PathBuf::from("node");
    if !ok
        || std::process::Command::new(&node)
            .arg("--version")
            .output()
            .is_err()
    {
        return None;
    }
    Some((node, modules))
}

/// Runs `node args..` in `dir`, failing with its output.
fn node_run(node: &Path, dir: &Path, args: &[&str]) {
    let out = std::process::Command::new(node)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "node {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Serves the files of `dir` over HTTP on 127.0.0.1 (GET only, `/` is index.html).
async fn serve_dir(dir: std::path::PathBuf) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let dir = dir.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head
                    .split(' ')
                    .nth(1)
                    .unwrap_or("/")
                    .split('?')
                    .next()
                    .unwrap_or("/");
                let file = if path == "/" {
                    "index.html"
                } else {
                    path.trim_start_matches('/')
                };
                let (status, body, kind) = match std::fs::read(dir.join(file)) {
                    Ok(body) if !file.contains("..") => {
                        let kind = if file.ends_with(".js") {
                            "text/javascript"
                        } else {
                            "text/html"
                        };
                        ("200 OK", body, kind)
                    }
                    _ => ("404 Not Found", b"not found".to_vec(), "text/plain"),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_react_example_bundled_renders_messages_from_another_client() {
    let Some(binary) = chromium() else {
        return skip_or_fail("Chromium (/usr/bin/chromium)");
    };
    let Some((node, modules)) = node_tools() else {
        return skip_or_fail(
            "Node 20+ with the packages of clients/ts (npm install in clients/ts)",
        );
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The package, built; a project that has it installed beside React, zod and esbuild.
    node_run(
        &node,
        &root.join("clients/ts"),
        &["node_modules/typescript/bin/tsc", "-p", "."],
    );
    let dir = root
        .join("target/react-chat")
        .join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("node_modules")).unwrap();
    for entry in std::fs::read_dir(&modules).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(
            entry.path(),
            dir.join("node_modules").join(entry.file_name()),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink(root.join("clients/ts"), dir.join("node_modules/zocket-rs"))
        .unwrap();
    std::fs::write(dir.join("package.json"), r#"{"type":"module"}"#).unwrap();
    for file in [
        "App.tsx",
        "main.tsx",
        "build.mjs",
        "index.html",
        "contract.ts",
    ] {
        std::fs::copy(root.join("examples/react-chat").join(file), dir.join(file)).unwrap();
    }
    // Type-checked as strictly as the other TypeScript, then bundled with the pinned esbuild.
    std::fs::write(
        dir.join("tsconfig.json"),
        json!({"compilerOptions": {
            "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
            "strict": true, "exactOptionalPropertyTypes": true, "noUncheckedIndexedAccess": true,
            "skipLibCheck": true, "lib": ["ES2022", "DOM"], "types": [], "jsx": "react-jsx", "noEmit": true,
        }, "files": ["main.tsx"]})
        .to_string(),
    )
    .unwrap();
    node_run(&node, &dir, &["node_modules/typescript/bin/tsc", "-p", "."]);
    node_run(&node, &dir, &["build.mjs", "dist"]);
    std::fs::copy(dir.join("index.html"), dir.join("dist/index.html")).unwrap();
    let site = serve_dir(dir.join("dist")).await;

    let chat = ChatProcess::start().await;
    let browser = Browser::launch(&binary).await;
    let mut cdp = Cdp::connect(&browser.endpoint).await;
    let carol = Page::open(
        &mut cdp,
        &format!("http://{site}/?name=carol&server=ws://{}/ws", chat.addr),
    )
    .await;
    carol.wait_text(&mut cdp, "status", "open").await;
    carol.wait_text(&mut cdp, "online", "carol").await;

    // A second client, outside the browser, talks in the lobby.
    let (mut dave, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?name=dave", chat.addr))
            .await
            .unwrap();
    for frame in [
        json!({"type": "chat.join", "payload": {"room": "lobby"}}),
        json!({"type": "chat.send", "payload": {"room": "lobby", "text": "hello from dave"}}),
    ] {
        dave.send(Message::text(frame.to_string())).await.unwrap();
    }
    carol.wait_text(&mut cdp, "messages", "dave joined").await;
    carol
        .wait_text(&mut cdp, "messages", "dave: hello from dave")
        .await;
    carol.wait_text(&mut cdp, "online", "carol, dave").await;
    // And carol's own message, typed into the React form.
    carol.set(&mut cdp, "text", "hi dave").await;
    carol.click(&mut cdp, "send").await;
    carol
        .wait_text(&mut cdp, "messages", "carol: hi dave")
        .await;
}
