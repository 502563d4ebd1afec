//! The contract in TypeScript, checked by the TypeScript compiler and run by
//! Node: the chat example's generated module (types, route map, zod schemas)
//! with the typed client of clients/ts.
//!
//! - `tsc` accepts a program that uses every route correctly and rejects one
//!   file per misuse, each with an error naming the route or the field;
//! - the zod schemas accept and reject what the server's garde validation
//!   accepts and rejects, over a table of payloads;
//! - the client runs every chat route against the chat example.
//!
//! Needs Node (20 or later) and the pinned packages of clients/ts
//! (`npm install` there; `.ci/run` does it).
#![cfg(feature = "schema")]

mod chat_process;
mod proxy;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chat_process::{ChatProcess, example_binary, skip_or_fail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `node` and the TypeScript compiler, when installed.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let modules = Path::new(ROOT).join("clients/ts/node_modules");
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
    let packages = ["zod", "ws", "@types/node", "@types/ws"];
    (major >= 20 && tsc.exists() && packages.iter().all(|p| modules.join(p).exists()))
        .then_some((node, tsc))
}

/// A folder with the generated contract, the client, the test programs and
/// a link to the installed packages.
fn workspace(name: &str) -> PathBuf {
    let dir = Path::new(ROOT)
        .join("target/ts-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("misuse")).unwrap();
    std::os::unix::fs::symlink(
        Path::new(ROOT).join("clients/ts/node_modules"),
        dir.join("node_modules"),
    )
    .unwrap();
    std::fs::write(dir.join("package.json"), r#"{"type":"module"}"#).unwrap();
    std::fs::copy(
        Path::new(ROOT).join("clients/ts/src/index.ts"),
        dir.join("client.ts"),
    )
    .unwrap();
    let generated = Command::new(example_binary("chat"))
        .args(["--contract", "ts"])
        .output()
        .expect("the chat example prints its contract");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    std::fs::write(dir.join("contract.ts"), &generated.stdout).unwrap();
    for entry in std::fs::read_dir(Path::new(ROOT).join("tests/ts"))
        .unwrap()
        .chain(std::fs::read_dir(Path::new(ROOT).join("tests/ts/misuse")).unwrap())
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ts") {
            let rel = path.strip_prefix(Path::new(ROOT).join("tests/ts")).unwrap();
            std::fs::copy(&path, dir.join(rel)).unwrap();
        }
    }
    dir
}

/// Runs `tsc` with `files` in `dir`; `emit` writes JavaScript to `out/`.
fn tsc(node: &Path, tsc: &Path, dir: &Path, files: &[&str], emit: bool) -> (bool, String) {
    let config = json!({
        "compilerOptions": {
            "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
            "strict": true, "skipLibCheck": true, "lib": ["ES2022", "DOM"], "types": ["node"],
            "outDir": "out", "noEmit": !emit,
        },
        "files": files,
    });
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
            .filter(|file| file.ends_with(".ts"));
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
        return skip_or_fail(
            "Node 20+ with the packages of clients/ts (npm install in clients/ts)",
        );
    };
    let dir = workspace("types");
    // The correct program alone compiles.
    let (ok, output) = tsc(&node, &tsc_path, &dir, &["good.ts"], false);
    assert!(ok, "the correct program must type-check:\n{output}");

    // Each misuse fails, with an error that names what is wrong.
    let misuses: &[(&str, &[&str])] = &[
        (
            "misuse/send_outgoing.ts",
            &["\"chat.onMessage\"", "not assignable"],
        ),
        ("misuse/nested_outgoing.ts", &["'onJoin' does not exist"]),
        (
            "misuse/wrong_field_type.ts",
            &[
                "'number' is not assignable to type 'string'",
                "property 'text'",
            ],
        ),
        ("misuse/missing_field.ts", &["'\"text\"' is missing"]),
        (
            "misuse/listen_incoming.ts",
            &["\"chat.send\"", "not assignable"],
        ),
        (
            "misuse/wrong_answer_type.ts",
            &[
                "property 'rooms'",
                "'string[]' is not assignable to type 'number[]'",
            ],
        ),
        (
            "misuse/request_on_message_route.ts",
            &[
                "\"chat.join\"",
                "not assignable to parameter of type '\"chat.rooms\" | \"chat.who\"'",
            ],
        ),
    ];
    let files: Vec<&str> = misuses.iter().map(|(f, _)| *f).collect();
    let (ok, output) = tsc(&node, &tsc_path, &dir, &files, false);
    assert!(!ok, "the misuses must not compile:\n{output}");
    let errors = errors_by_file(&output);
    for (file, wanted) in misuses {
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
        .filter(|(f, _)| !files.contains(&f.as_str()))
        .collect();
    assert!(
        stray.is_empty(),
        "errors outside the misuse files: {stray:?}"
    );
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
        return skip_or_fail(
            "Node 20+ with the packages of clients/ts (npm install in clients/ts)",
        );
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

/// Compiles `tests/ts/<scenario>.ts`, runs it with node against a chat example
/// process started with `env`, and checks that it printed `passed`.
async fn run_scenario(scenario: &str, env: &[(&str, &str)], passed: &str) {
    let Some((node, tsc_path)) = tools() else {
        return skip_or_fail(
            "Node 20+ with the packages of clients/ts (npm install in clients/ts)",
        );
    };
    let dir = workspace(scenario);
    let (ok, output) = tsc(&node, &tsc_path, &dir, &[&format!("{scenario}.ts")], true);
    assert!(ok, "{output}");
    let chat = ChatProcess::start_with_env(env).await;
    let run = tokio::process::Command::new(&node)
        .arg(format!("out/{scenario}.js"))
        .arg(&chat.addr)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the scenario ends within a minute")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "scenario failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(passed));
}

#[tokio::test]
async fn the_typescript_client_runs_every_chat_route() {
    run_scenario("chat_scenario", &[], "ts client scenario passed").await;
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
async fn the_typescript_client_resumes_its_session_after_a_cut() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let Some((node, tsc_path)) = tools() else {
        return skip_or_fail(
            "Node 20+ with the packages of clients/ts (npm install in clients/ts)",
        );
    };
    let dir = workspace("recovery");
    let (ok, output) = tsc(&node, &tsc_path, &dir, &["recovery_scenario.ts"], true);
    assert!(ok, "{output}");
    let chat = ChatProcess::start_with_env(&[("RECOVERY_SECS", "60")]).await;
    let server: std::net::SocketAddr = chat.addr.parse().unwrap();
    let proxy = proxy::Proxy::start(server).await;
    let mut child = tokio::process::Command::new(&node)
        .arg("out/recovery_scenario.js")
        .arg(proxy.addr.to_string())
        .arg(&chat.addr)
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let run = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            println!("{line}");
            seen.push(line.clone());
            match line.as_str() {
                "CUT" => {
                    proxy.cut_and_pause();
                    // The server has noticed once its health check counts one connection.
                    loop {
                        let (_, body) = health(server).await;
                        if body.contains("\"connections\":1") {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    stdin.write_all(b"AWAY\n").await.unwrap();
                }
                "SENT" => proxy.resume(),
                "ts recovery scenario passed" => return,
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the scenario ends within a minute");
    let status = child.wait().await.unwrap();
    assert!(status.success(), "scenario failed:\n{}", seen.join("\n"));
}

/// `GET /health` of the chat example: (status, body).
async fn health(addr: std::net::SocketAddr) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
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
