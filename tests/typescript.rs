//! The contract in TypeScript, checked by the TypeScript compiler and run by
//! Node: the chat example's generated module (types, route map, zod schemas)
//! with the typed client, the npm package `zocket-rs` of clients/ts.
//!
//! - the package packs, installs from its tarball into a fresh project, type-checks
//!   and runs there; publint and attw find nothing;
//! - `tsc` (strict, `exactOptionalPropertyTypes`, `noUncheckedIndexedAccess`)
//!   accepts a program that uses every route correctly and rejects one file
//!   per misuse, each with an error naming the route or the field;
//! - the zod schemas accept and reject what the server's garde validation
//!   accepts and rejects, over a table of payloads;
//! - the client runs every chat route against the chat example, and its
//!   behaviours (requests at most once, refusals, liveness, restarts,
//!   recovery, re-authentication) hold against it.
//!
//! Needs Node (20 or later) and the pinned packages of clients/ts
//! (`npm install` there; `.ci/run` does it).
#![cfg(feature = "schema")]

mod chat_process;
mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use chat_process::{ChatProcess, example_binary, skip_or_fail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const NEEDS: &str = "Node 20+ with the packages of clients/ts (npm install in clients/ts)";

fn package_dir() -> PathBuf {
    Path::new(ROOT).join("clients/ts")
}

/// `node` and the TypeScript compiler, when installed; the package is built
/// (`tsc -p clients/ts`, once per test run) before they are handed out.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let modules = package_dir().join("node_modules");
    let tsc = modules.join("typescript/bin/tsc");
    let node = PathBuf::from(std::env::var_os("NODE").unwrap_or_else(|| "node".into()));
    let version = Command::new(&node).arg("--version").output().ok()?;
    let major: u32 = String::from_utf8_lossy(&version.stdout)
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()?;
    let packages = [
        "zod",
        "ws",
        "@types/node",
        "@types/ws",
        "publint",
        "@arethetypeswrong/cli",
        "react",
        "react-dom",
        "@testing-library/react",
        "jsdom",
        "esbuild",
    ];
    if major < 20 || !tsc.exists() || !packages.iter().all(|p| modules.join(p).exists()) {
        return None;
    }
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = Command::new(&node)
            .arg(&tsc)
            .args(["-p", "."])
            .current_dir(package_dir())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stdout).into_owned())
        }
    });
    if let Err(e) = built {
        panic!("the package clients/ts does not build:\n{e}");
    }
    Some((node, tsc))
}

/// The chat example's generated TypeScript module.
fn generated_contract() -> Vec<u8> {
    let generated = Command::new(example_binary("chat"))
        .args(["--contract", "ts"])
        .output()
        .expect("the chat example prints its contract");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    generated.stdout
}

/// A folder with the generated contract, the test programs, and a
/// `node_modules` holding the built package `zocket-rs` (clients/ts, through
/// its `exports`) beside the installed packages.
fn workspace(name: &str) -> PathBuf {
    let dir = Path::new(ROOT)
        .join("target/ts-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("misuse")).unwrap();
    std::fs::create_dir_all(dir.join("node_modules")).unwrap();
    for entry in std::fs::read_dir(package_dir().join("node_modules")).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(
            entry.path(),
            dir.join("node_modules").join(entry.file_name()),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink(package_dir(), dir.join("node_modules/zocket-rs")).unwrap();
    std::fs::write(dir.join("package.json"), r#"{"type":"module"}"#).unwrap();
    std::fs::write(dir.join("contract.ts"), generated_contract()).unwrap();
    for entry in std::fs::read_dir(Path::new(ROOT).join("tests/ts"))
        .unwrap()
        .chain(std::fs::read_dir(Path::new(ROOT).join("tests/ts/misuse")).unwrap())
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ts" || e == "tsx") {
            let rel = path.strip_prefix(Path::new(ROOT).join("tests/ts")).unwrap();
            std::fs::copy(&path, dir.join(rel)).unwrap();
        }
    }
    dir
}

/// The compiler options every TypeScript program here is checked with: the
/// strictest a front end is likely to use.
fn compiler_options(emit: bool) -> Value {
    json!({
        "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
        "strict": true, "exactOptionalPropertyTypes": true, "noUncheckedIndexedAccess": true,
        "skipLibCheck": true, "lib": ["ES2022", "DOM"], "types": ["node"], "jsx": "react-jsx",
        "outDir": "out", "noEmit": !emit,
    })
}

/// Runs `tsc` with `files` in `dir`; `emit` writes JavaScript to `out/`.
fn tsc(node: &Path, tsc: &Path, dir: &Path, files: &[&str], emit: bool) -> (bool, String) {
    let config = json!({ "compilerOptions": compiler_options(emit), "files": files });
    std::fs::write(dir.join("tsconfig.json"), config.to_string()).unwrap();
    let out = Command::new(node)
        .arg(tsc)
        .args(["-p", ".", "--pretty", "true"])
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .output()
        .expect("tsc runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), strip_ansi(&text))
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `tsc`'s errors grouped by file: each error with its related information.
fn errors_by_file(output: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in output.lines() {
        let header = line
            .split_once(" - error TS")
            .and_then(|(loc, _)| loc.split(':').next())
            .filter(|file| file.ends_with(".ts") || file.ends_with(".tsx"));
        match header {
            Some(file) => out.push((file.to_owned(), format!("{line}\n"))),
            None => {
                if let Some((_, text)) = out.last_mut() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    out
}

#[test]
fn tsc_accepts_the_right_use_and_names_the_route_or_field_of_every_misuse() {
    let Some((node, tsc_path)) = tools() else {
        return skip_or_fail(NEEDS);
    };
    let dir = workspace("types");
    // The correct program (and the generated module) alone compile.
    let (ok, output) = tsc(&node, &tsc_path, &dir, &["good.ts", "contract.ts"], false);
    assert!(ok, "the correct program must type-check:\n{output}");

    // Each misuse fails, with an error that names what is wrong.
    let misuses: &[(&str, &[&str])] = &[
        ("send_outgoing", &["\"chat.onMessage\"", "not assignable"]),
        ("send_unknown_route", &["\"chat.sned\"", "not assignable"]),
        ("nested_outgoing", &["'onJoin' does not exist"]),
        (
            "nested_wrong_payload",
            &["'rom' does not exist in type 'Room'"],
        ),
        (
            "wrong_field_type",
            &[
                "'number' is not assignable to type 'string'",
                "property 'text'",
            ],
        ),
        ("missing_field", &["'\"text\"' is missing"]),
        ("listen_incoming", &["\"chat.send\"", "not assignable"]),
        (
            "listener_wrong_payload",
            &["'\"typing\"' is missing in type 'ChatMessage'"],
        ),
        (
            "wrong_answer_type",
            &[
                "property 'rooms'",
                "'string[]' is not assignable to type 'number[]'",
            ],
        ),
        (
            "nested_request_wrong_answer",
            &["'WhoIsHere' is not assignable to type 'number'"],
        ),
        (
            "request_on_message_route",
            &[
                "\"chat.join\"",
                "not assignable to parameter of type '\"chat.poke\" | \"chat.rooms\" | \"chat.topic\" | \"chat.who\"'",
            ],
        ),
        ("request_option_misspelled", &["'timout' does not exist"]),
        ("headers_misspelled", &["'nmae' does not exist"]),
        (
            "headers_function_wrong_type",
            &[
                "property '\"name\"'",
                "'number' is not assignable to type 'string'",
            ],
        ),
        ("headers_missing", &["Property 'headers' is missing"]),
        (
            "headers_explicit_type_wrong",
            &["'number' is not assignable to type 'string'", "password: 7"],
        ),
        (
            "error_kind_misspelled",
            &["'ErrorKind' and '\"validaton_failed\"' have no overlap"],
        ),
        (
            "error_details_field",
            &["'field' does not exist on type 'Issue'"],
        ),
        (
            "question_unknown_route",
            &[
                "\"chat.pokd\"",
                "not assignable to parameter of type '\"chat.poked\"'",
            ],
        ),
        (
            "question_wrong_answer",
            &["'number' is not assignable to type 'string'", "reply: 5"],
        ),
        (
            "question_on_request_route",
            &[
                "\"chat.rooms\"",
                "not assignable to parameter of type '\"chat.poked\"'",
            ],
        ),
        (
            "state_misspelled",
            &["'ConnectionState' and '\"opened\"' have no overlap"],
        ),
        (
            "close_refusal_unchecked",
            &["'info.refusal' is possibly 'undefined'"],
        ),
        (
            "wrong_socket_class",
            &["'DateConstructor' is not assignable to type 'WebSocketClass'"],
        ),
        ("contract_missing", &["Property 'contract' is missing"]),
        (
            "route_error_reason_misspelled",
            &["'\"notAMember\" | \"unchanged\"' and '\"roomFull\"' have no overlap"],
        ),
        (
            "react_misspelled_route",
            &["\"chat.onMesage\"", "not assignable to parameter of type"],
        ),
        (
            "react_wrong_request_payload",
            &["'rom' does not exist in type 'Room'"],
        ),
        (
            "react_provider_without_headers",
            &["Property 'headers' is missing"],
        ),
    ];
    let files: Vec<String> = misuses
        .iter()
        .map(|(f, _)| {
            if f.starts_with("react_") {
                format!("misuse/{f}.tsx")
            } else {
                format!("misuse/{f}.ts")
            }
        })
        .collect();
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    let (ok, output) = tsc(&node, &tsc_path, &dir, &names, false);
    assert!(!ok, "the misuses must not compile:\n{output}");
    let errors = errors_by_file(&output);
    for ((_, wanted), file) in misuses.iter().zip(&names) {
        let text: String = errors
            .iter()
            .filter(|(f, _)| f == file)
            .map(|(_, t)| t.as_str())
            .collect();
        assert!(
            !text.is_empty(),
            "{file} compiled without error; tsc said:\n{output}"
        );
        for w in *wanted {
            assert!(text.contains(w), "{file}: expected `{w}` in:\n{text}");
        }
    }
    let stray: Vec<&(String, String)> = errors
        .iter()
        .filter(|(f, _)| !names.contains(&f.as_str()))
        .collect();
    assert!(
        stray.is_empty(),
        "errors outside the misuse files: {stray:?}"
    );
    // Every misuse file in tests/ts/misuse is in the list (none is left unchecked).
    let on_disk = std::fs::read_dir(Path::new(ROOT).join("tests/ts/misuse"))
        .unwrap()
        .count();
    assert_eq!(on_disk, misuses.len(), "a misuse file is not in the list");
}

/// The chat example's page loads the built package from a committed copy
/// (so `cargo run --example chat` needs no npm step); it must be the build of
/// clients/ts as it is now.
#[test]
fn the_chat_pages_copy_of_the_client_is_the_built_package() {
    if tools().is_none() {
        return skip_or_fail(NEEDS);
    }
    let copy = Path::new(ROOT).join("examples/chat/web/zocket-rs");
    for file in ["index.js", "client.js", "types.js"] {
        let built = std::fs::read(package_dir().join("dist").join(file)).unwrap();
        let committed = std::fs::read(copy.join(file)).unwrap_or_default();
        assert!(
            built == committed,
            "examples/chat/web/zocket-rs/{file} is not the built package: run scripts/update-chat-client.sh"
        );
    }
    // What the page imports is all there: only relative imports between the copies.
    let entries: Vec<String> = std::fs::read_dir(&copy)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 3, "{entries:?}");
}

/// Payloads for the chat example's incoming routes and handshake, with what
/// both validators must say (true: valid).
fn table() -> Vec<(&'static str, Value, bool)> {
    let long = |n: usize| "x".repeat(n);
    vec![
        ("chat.join", json!({"room": "lobby"}), true),
        ("chat.join", json!({"room": ""}), false),
        ("chat.join", json!({"room": long(64)}), true),
        ("chat.join", json!({"room": long(65)}), false),
        // 64 characters of 2 bytes each, and of 4 bytes (2 UTF-16 units) each: counted as characters.
        ("chat.join", json!({"room": "é".repeat(64)}), true),
        ("chat.join", json!({"room": "😀".repeat(64)}), true),
        ("chat.join", json!({"room": "😀".repeat(65)}), false),
        ("chat.join", json!({"room": 5}), false),
        ("chat.join", json!({}), false),
        ("chat.join", json!(null), false),
        ("chat.join", json!({"room": "lobby", "extra": true}), true),
        ("chat.leave", json!({"room": "lobby"}), true),
        ("chat.leave", json!({"room": long(65)}), false),
        ("chat.send", json!({"room": "lobby", "text": "hi"}), true),
        ("chat.send", json!({"room": "lobby", "text": ""}), false),
        (
            "chat.send",
            json!({"room": "lobby", "text": long(2000)}),
            true,
        ),
        (
            "chat.send",
            json!({"room": "lobby", "text": long(2001)}),
            false,
        ),
        ("chat.send", json!({"room": "lobby"}), false),
        ("chat.send", json!({"room": "", "text": "hi"}), false),
        ("chat.send", json!({"room": "lobby", "text": ["hi"]}), false),
        (
            "chat.typing",
            json!({"room": "lobby", "typing": true}),
            true,
        ),
        (
            "chat.typing",
            json!({"room": "lobby", "typing": "yes"}),
            false,
        ),
        ("chat.typing", json!({"room": "lobby"}), false),
        ("chat.rooms", json!(null), true),
        ("chat.rooms", json!({"room": "lobby"}), false),
        ("$handshake", json!({"name": "alice"}), true),
        ("$handshake", json!({"name": ""}), false),
        ("$handshake", json!({"name": long(32)}), true),
        ("$handshake", json!({"name": long(33)}), false),
        ("$handshake", json!({}), false),
    ]
}

/// What the server (garde, serde) says of each case: a message is invalid when
/// it draws `invalid_payload` or `validation_failed`; a handshake when it is
/// refused with 400.
async fn server_verdicts(addr: &str, cases: &[(&str, Value, bool)]) -> Vec<bool> {
    let url = format!("ws://{addr}/ws?name=tester");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let mut verdicts = Vec::new();
    for (i, (route, payload, _)) in cases.iter().enumerate() {
        if *route == "$handshake" {
            let name = payload.get("name").and_then(Value::as_str);
            let query = name.map_or(String::new(), |n| format!("?name={}", percent(n)));
            let verdict = tokio_tungstenite::connect_async(format!("ws://{addr}/ws{query}")).await;
            verdicts.push(match verdict {
                Ok(_) => true,
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 400 => false,
                Err(other) => panic!("handshake case {i}: {other}"),
            });
            continue;
        }
        let frame = json!({"type": route, "payload": payload});
        ws.send(Message::text(frame.to_string())).await.unwrap();
        // A request after it: its answer comes after any error about the case.
        let barrier = format!("b{i}");
        ws.send(Message::text(
            json!({"type": "chat.rooms", "payload": null, "id": barrier}).to_string(),
        ))
        .await
        .unwrap();
        let mut valid = true;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .expect("an answer within the wait")
                .expect("open")
                .unwrap();
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] == "$zocket.reply" && v["id"] == barrier.as_str() {
                break;
            }
            if v["type"] == "$zocket.error" && v["payload"]["id"].is_null() {
                let kind = v["payload"]["kind"].as_str().unwrap_or_default();
                if kind == "invalid_payload" || kind == "validation_failed" {
                    valid = false;
                }
            }
        }
        // The request case itself answers on the reply route with its own error.
        if *route == "chat.rooms" {
            let frame = json!({"type": route, "payload": payload, "id": format!("r{i}")});
            ws.send(Message::text(frame.to_string())).await.unwrap();
            loop {
                let Message::Text(text) = ws.next().await.unwrap().unwrap() else {
                    continue;
                };
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["type"] == "$zocket.reply" && v["id"] == format!("r{i}") {
                    valid = true;
                    break;
                }
                if v["type"] == "$zocket.error" && v["payload"]["id"] == format!("r{i}") {
                    valid = false;
                    break;
                }
            }
        }
        verdicts.push(valid);
    }
    verdicts
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn zod_rejects_what_garde_rejects() {
    let Some((node, tsc_path)) = tools() else {
        return skip_or_fail(NEEDS);
    };
    let dir = workspace("zod");
    let (ok, output) = tsc(&node, &tsc_path, &dir, &["zod_table.ts"], true);
    assert!(ok, "{output}");
    let cases = table();
    let input: Vec<Value> = cases
        .iter()
        .map(|(r, p, _)| json!({"route": r, "payload": p}))
        .collect();
    std::fs::write(
        dir.join("cases.json"),
        serde_json::to_string(&input).unwrap(),
    )
    .unwrap();
    let out = Command::new(&node)
        .args(["out/zod_table.js", "cases.json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zod: Vec<bool> = serde_json::from_slice(&out.stdout).expect("a JSON list of verdicts");

    let chat = ChatProcess::start().await;
    let garde = server_verdicts(&chat.addr, &cases).await;
    let mut wrong = Vec::new();
    for (i, (route, payload, expected)) in cases.iter().enumerate() {
        if zod[i] != *expected || garde[i] != *expected {
            let shown: String = payload.to_string().chars().take(60).collect();
            wrong.push(format!(
                "{route} {shown}: expected {expected}, zod {}, server {}",
                zod[i], garde[i]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "zod and the server disagree:\n{}",
        wrong.join("\n")
    );
}

/// A compiled scenario `tests/ts/<name>.ts` running in node, talking with
/// the test over its stdin and stdout.
struct Scenario {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    errors: Option<tokio::task::JoinHandle<String>>,
    seen: Vec<String>,
}

impl Scenario {
    /// Compiles and starts `name` with `args`; `None` when Node is missing (skipped).
    async fn start(name: &str, args: &[&str]) -> Option<Scenario> {
        let Some((node, tsc_path)) = tools() else {
            skip_or_fail(NEEDS);
            return None;
        };
        let dir = workspace(name);
        let source = if dir.join(format!("{name}.tsx")).exists() {
            format!("{name}.tsx")
        } else {
            format!("{name}.ts")
        };
        let (ok, output) = tsc(&node, &tsc_path, &dir, &[&source], true);
        assert!(ok, "{output}");
        let mut child = tokio::process::Command::new(&node)
            .arg(format!("out/{name}.js"))
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        // Its stderr, read as it comes so the pipe never fills.
        let stderr = child.stderr.take().unwrap();
        let errors = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text).await;
            text
        });
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Some(Scenario {
            child,
            stdin,
            lines,
            errors: Some(errors),
            seen: Vec::new(),
        })
    }

    /// The next line the scenario prints (echoed), within a minute.
    async fn line(&mut self) -> Option<String> {
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the scenario said nothing for a minute:\n{}",
                    self.seen.join("\n")
                )
            })
            .unwrap();
        if let Some(l) = &line {
            println!("{l}");
            self.seen.push(l.clone());
        }
        line
    }

    /// Reads lines until `word`, failing if the scenario ends first.
    async fn expect(&mut self, word: &str) {
        while let Some(line) = self.line().await {
            if line == word {
                return;
            }
        }
        self.fail(&format!("ended before printing {word}")).await;
    }

    async fn say(&mut self, word: &str) {
        self.stdin
            .write_all(format!("{word}\n").as_bytes())
            .await
            .unwrap();
    }

    /// Reads to the end: the scenario must print `passed` and exit with 0.
    async fn finish(mut self, passed: &str) -> Vec<String> {
        while self.line().await.is_some() {}
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the scenario exits")
            .unwrap();
        let stderr = self.stderr().await;
        assert!(
            status.success() && self.seen.iter().any(|l| l == passed),
            "scenario failed:\n{}\n{stderr}",
            self.seen.join("\n")
        );
        self.seen
    }

    async fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill().await;
        let stderr = self.stderr().await;
        panic!("scenario {why}:\n{}\n{stderr}", self.seen.join("\n"));
    }

    async fn stderr(&mut self) -> String {
        match self.errors.take() {
            Some(task) => tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => String::new(),
        }
    }
}

/// Runs a scenario that needs nothing but a chat example started with `env`.
async fn run_scenario(scenario: &str, env: &[(&str, &str)], passed: &str) {
    let chat = ChatProcess::start_with_env(env).await;
    if let Some(s) = Scenario::start(scenario, &[&chat.addr]).await {
        s.finish(passed).await;
    }
}

#[tokio::test]
async fn the_typescript_client_runs_every_chat_route_and_answers_server_questions() {
    run_scenario("chat_scenario", &[], "ts client scenario passed").await;
}

#[tokio::test]
async fn react_hooks_subscribe_with_the_component_call_the_latest_handler_and_show_refusals() {
    run_scenario(
        "react_hooks",
        &[("BANNED_NAMES", "root")],
        "ts react hooks passed",
    )
    .await;
}

#[tokio::test]
async fn the_typescript_client_refreshes_expiring_credentials_in_place() {
    run_scenario(
        "reauth_scenario",
        &[("SESSION_SECS", "2")],
        "ts reauth scenario passed",
    )
    .await;
}

#[tokio::test]
async fn refusals_reach_the_typescript_client_with_status_and_reason_and_only_503_is_retried() {
    run_scenario(
        "refusal_scenario",
        &[
            ("CHAT_PASSWORD", "pw"),
            ("BANNED_NAMES", "root"),
            ("STRICT_CONTRACT", "1"),
            ("MAX_CONNECTIONS", "2"),
        ],
        "ts refusal scenario passed",
    )
    .await;
}

/// The counter `zocket_messages_in` of `route`, from the chat example's `/metrics`.
async fn messages_in(addr: std::net::SocketAddr, route: &str) -> u64 {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let label = format!("route=\"{route}\"");
    body.lines()
        .filter(|l| l.starts_with("zocket_messages_in") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

#[tokio::test]
async fn requests_made_while_disconnected_run_exactly_once_or_fail_and_never_run() {
    // A free port with nothing listening: the client starts disconnected.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let Some(mut s) = Scenario::start("requests_scenario", &[&addr]).await else {
        return;
    };
    s.expect("WAITING").await;
    let chat = ChatProcess::start_on(port, &[]).await;
    let seen = s.finish("ts requests scenario passed").await;
    let server: std::net::SocketAddr = chat.addr.parse().unwrap();
    for line in seen.iter().filter_map(|l| l.strip_prefix("COUNT ")) {
        let (route, n) = line.split_once(' ').unwrap();
        let counted = messages_in(server, route).await;
        assert_eq!(
            counted,
            n.parse::<u64>().unwrap(),
            "the server ran {route} {counted} times, the client counted {n}"
        );
    }
}

#[tokio::test]
async fn a_silent_server_is_noticed_by_the_ping_and_the_client_comes_back_after_it() {
    let chat = ChatProcess::start().await;
    let Some(mut s) = Scenario::start("liveness_scenario", &[&chat.addr, "500", "1500"]).await
    else {
        return;
    };
    s.expect("STOP").await;
    chat.signal("STOP");
    s.say("STOPPED").await;
    s.expect("CONT").await;
    chat.signal("CONT");
    s.say("CONTINUED").await;
    s.finish("ts liveness scenario passed").await;
}

#[tokio::test]
async fn the_typescript_client_keeps_trying_through_a_restart_until_the_next_server_is_up() {
    let mut chat = ChatProcess::start().await;
    let port: u16 = chat.addr.rsplit(':').next().unwrap().parse().unwrap();
    let Some(mut s) = Scenario::start("restart_scenario", &[&chat.addr]).await else {
        return;
    };
    s.expect("RESTART").await;
    chat.signal("TERM");
    chat.wait_exit().await;
    let _next = ChatProcess::start_on(port, &[]).await;
    s.say("UP").await;
    s.finish("ts restart scenario passed").await;
}

#[tokio::test]
async fn the_typescript_client_resumes_its_session_after_a_cut() {
    let chat = ChatProcess::start_with_env(&[("RECOVERY_SECS", "60")]).await;
    let server: std::net::SocketAddr = chat.addr.parse().unwrap();
    let proxy = proxy::Proxy::start(server).await;
    let Some(mut s) =
        Scenario::start("recovery_scenario", &[&proxy.addr.to_string(), &chat.addr]).await
    else {
        return;
    };
    s.expect("CUT").await;
    proxy.cut_and_pause();
    s.say("CUTDONE").await;
    // The server has noticed once its health check counts one connection.
    loop {
        let (_, body) = get(server, "/health").await;
        if body.contains("\"connections\":1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.say("AWAY").await;
    s.expect("SENT").await;
    proxy.resume();
    s.finish("ts recovery scenario passed").await;
}

/// Packs the package, installs the tarball into a fresh project (as a user
/// does), type-checks a program there with the strictest options, and runs
/// it against the chat example; publint and attw check the package.
#[tokio::test]
async fn the_package_packs_installs_from_its_tarball_type_checks_and_runs() {
    let Some((node, _)) = tools() else {
        return skip_or_fail(NEEDS);
    };
    // npm's standard output (its messages go to standard error).
    let npm = |dir: &Path, args: &[&str]| {
        let out = Command::new("npm")
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .output()
            .expect("npm runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "npm {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let dir = Path::new(ROOT)
        .join("target/ts-tests")
        .join(format!("pack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The checks of the package's shape.
    let lint = npm(
        &package_dir(),
        &["exec", "--no", "--", "publint", "--strict"],
    );
    assert!(lint.contains("All good"), "publint:\n{lint}");
    npm(
        &package_dir(),
        &[
            "exec",
            "--no",
            "--",
            "attw",
            "--pack",
            ".",
            "--profile",
            "esm-only",
        ],
    );
    // What `npm pack` puts in the tarball: the built ESM, its declarations, the sources they map to.
    let packed = npm(
        &package_dir(),
        &[
            "pack",
            "--json",
            "--pack-destination",
            dir.to_str().unwrap(),
        ],
    );
    let start = packed.find('[').expect("npm pack --json");
    let report: Value = serde_json::from_str(&packed[start..]).unwrap();
    let tarball = dir.join(report[0]["filename"].as_str().unwrap());
    let files: Vec<&str> = report[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    for needed in [
        "package.json",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/client.js",
        "dist/react.js",
        "dist/react.d.ts",
    ] {
        assert!(
            files.contains(&needed),
            "{needed} is not in the tarball: {files:?}"
        );
    }
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("node_modules") || f.ends_with(".tgz")),
        "{files:?}"
    );
    // The built client loads in a browser without a bundler: only relative imports
    // (the React hooks import `react`, their peer dependency).
    for file in files
        .iter()
        .filter(|f| f.starts_with("dist/") && f.ends_with(".js") && **f != "dist/react.js")
    {
        let text = std::fs::read_to_string(package_dir().join(file)).unwrap();
        for line in text
            .lines()
            .filter(|l| l.starts_with("import ") || l.starts_with("export "))
        {
            if let Some((_, from)) = line.split_once(" from \"") {
                assert!(
                    from.starts_with("./") && from.contains(".js\""),
                    "{file}: bare import `{line}`"
                );
            }
        }
    }
    // A fresh project that installs the tarball, with the versions clients/ts pins.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(package_dir().join("package.json")).unwrap())
            .unwrap();
    let pin = |name: &str| {
        manifest["devDependencies"][name]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let project = dir.join("app");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("package.json"),
        json!({
            "name": "zocket-rs-smoke", "private": true, "type": "module",
            "dependencies": {
                "zocket-rs": format!("file:{}", tarball.display()),
                "zod": pin("zod"), "ws": pin("ws"),
                "@types/ws": pin("@types/ws"), "@types/node": pin("@types/node"),
                "typescript": pin("typescript"),
            }
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        project.join(".npmrc"),
        "package-lock=false\nfund=false\naudit=false\n",
    )
    .unwrap();
    npm(
        &project,
        &["install", "--prefer-offline", "--no-audit", "--no-fund"],
    );
    assert!(
        project
            .join("node_modules/zocket-rs/dist/index.js")
            .exists()
    );
    std::fs::write(project.join("contract.ts"), generated_contract()).unwrap();
    std::fs::copy(
        Path::new(ROOT).join("tests/ts/installed.ts"),
        project.join("installed.ts"),
    )
    .unwrap();
    let (ok, output) = tsc(
        &node,
        &project.join("node_modules/typescript/bin/tsc"),
        &project,
        &["installed.ts"],
        true,
    );
    assert!(ok, "the installed package does not type-check:\n{output}");
    let chat = ChatProcess::start().await;
    let run = tokio::process::Command::new(&node)
        .args(["out/installed.js", &chat.addr])
        .current_dir(&project)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the program ends within a minute")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("installed package works"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `GET path` of the chat example: (status, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default(),
    )
}
