//! Interop with a client nobody here wrote: Python's `websockets` package drives
//! the chat example through a scripted scenario (tests/interop/chat_scenario.py).
mod chat_process;
use chat_process::{ChatProcess, skip_or_fail};
use std::path::PathBuf;
use std::time::Duration;

fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let python = std::env::var_os("ZOCKET_PYTHON").map_or(venv, PathBuf::from);
    let has_websockets = std::process::Command::new(&python)
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success());
    has_websockets.then_some(python)
}

#[tokio::test]
async fn python_websockets_client_runs_the_chat_scenario() {
    let Some(python) = python() else {
        return skip_or_fail("Python with the `websockets` package (.venv/bin/python)");
    };
    let chat = ChatProcess::start().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/chat_scenario.py");
    let run = tokio::process::Command::new(python)
        .arg(script)
        .arg(&chat.addr)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the scenario finishes within a minute")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "scenario failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("interop scenario passed"));
}
