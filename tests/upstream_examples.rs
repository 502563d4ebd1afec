//! The five examples of upstream Zocket's docs, ported (examples/upstream/):
//! each runs its demo (a real server on 127.0.0.1 and its clients, asserting
//! what they receive) and says what it should; and their line counts against
//! the TypeScript originals are what the guide's table says, each at most 1.3x
//! on the server side or with the reason written next to the example.
mod chat_process;
use std::time::Duration;

use chat_process::example_binary;

/// Runs `upstream_<name> --demo` to its end (at most a minute) and returns its stdout.
fn demo(name: &str) -> String {
    let child = std::process::Command::new(example_binary(&format!("upstream_{name}")))
        .arg("--demo")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
            panic!("upstream_{name} --demo did not end within a minute");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "upstream_{name} --demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn assert_lines(out: &str, expected: &[&str]) {
    for line in expected {
        assert!(
            out.lines().any(|l| l == *line),
            "missing {line:?} in:\n{out}"
        );
    }
}

#[test]
fn ping_pong_answers_the_sender_and_greets_by_header() {
    let out = demo("ping_pong");
    assert_lines(
        &out,
        &["Connected!", "Received: pong: Hello!", "Disconnected"],
    );
    assert!(
        out.contains("✅ Alice connected") && out.contains("❌ Alice disconnected"),
        "{out}"
    );
}

#[test]
fn chat_rooms_reach_members_only() {
    let out = demo("chat_rooms");
    assert_lines(
        &out,
        &[
            "Bob: Alice joined general",
            "Bob: [general] Alice: hi all",
            "🚫 Alice tried to send message to random without joining",
        ],
    );
    assert!(!out.contains("nobody hears this"), "{out}");
    assert!(
        out.contains("❌ Bob") && out.contains("disconnected from rooms: general"),
        "{out}"
    );
}

#[test]
fn private_messages_reach_their_target_only() {
    let out = demo("private_messaging");
    assert_lines(
        &out,
        &[
            "Bob: private from Alice: only for you, Bob",
            "Carol: private from Carol: a note to self",
        ],
    );
    assert!(!out.contains("Carol: private from Alice"), "{out}");
    assert!(out.contains("Alice: my client ID: "), "{out}");
}

#[test]
fn notifications_are_refused_to_members_and_reach_everyone() {
    let out = demo("notifications");
    assert_lines(
        &out,
        &[
            "member: refused: Forbidden",
            "admin: ℹ️ System maintenance in 5 minutes",
            "member: ℹ️ System maintenance in 5 minutes",
        ],
    );
    assert!(!out.contains("members cannot do this"), "{out}");
}

#[test]
fn the_game_assigns_sides_and_streams_frames() {
    let out = demo("game");
    assert_lines(
        &out,
        &["Player1: assigned to Left", "Player2: assigned to Right"],
    );
    assert!(out.contains("30 frames: ball at"), "{out}");
}

/// (example, TypeScript server lines, TypeScript client lines): non-blank,
/// non-comment lines of the code blocks of upstream Zocket's docs pages.
const UPSTREAM: [(&str, usize, usize); 5] = [
    ("ping_pong", 40, 16),
    ("chat_rooms", 100, 15),
    ("private_messaging", 47, 16),
    ("notifications", 51, 24),
    ("game", 79, 24),
];

/// Non-blank, non-comment lines per `// ---- section ----` of an example.
fn sections(source: &str) -> std::collections::HashMap<String, usize> {
    let mut out = std::collections::HashMap::new();
    let mut current: Option<String> = None;
    for line in source.lines().map(str::trim) {
        if let Some(name) = line
            .strip_prefix("// ---- ")
            .and_then(|l| l.strip_suffix(" ----"))
        {
            current = Some(name.to_owned());
        } else if let Some(section) = &current
            && !line.is_empty()
            && !line.starts_with("//")
        {
            *out.entry(section.clone()).or_default() += 1;
        }
    }
    out
}

#[test]
fn line_counts_match_the_guide_and_stay_within_1_3x_or_say_why() {
    let guide = std::fs::read_to_string("src/docs/from_typescript.md").unwrap();
    for (name, ts_server, ts_client) in UPSTREAM {
        let source = std::fs::read_to_string(format!("examples/upstream/{name}.rs")).unwrap();
        let lines = sections(&source);
        let (server, client) = (lines["server"], lines["client"]);
        let ratio = server as f64 / ts_server as f64;
        println!(
            "{name}: server {server} lines ({ratio:.2}x of {ts_server}), client {client} ({ts_client})"
        );
        let row = format!(
            "| {name} | {ts_server} | {server} | {ratio:.2}x | {ts_client} | {client} | {:.2}x |",
            client as f64 / ts_client as f64
        );
        assert!(
            guide.contains(&row),
            "the guide's table lacks the row\n{row}"
        );
        assert!(
            ratio <= 1.3 || source.contains("//! Longer than the TypeScript"),
            "{name}: {ratio:.2}x the TypeScript server lines, and no reason next to it"
        );
    }
}
