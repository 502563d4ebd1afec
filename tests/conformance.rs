//! The protocol conformance kit (tests/conformance/, PROTOCOL.md §12) against
//! its reference server, the chat example, in the six configurations CI runs:
//! every scenario that the configuration allows passes, the ones that need
//! another configuration are skipped and say so (recovery off, binary frames
//! refused), every scenario runs in at least one configuration, and every rule
//! PROTOCOL.md tags has scenarios that exist and check it.
mod chat_process;
use chat_process::{ChatProcess, skip_or_fail};
use std::path::PathBuf;
use std::time::Duration;

/// (environment of the chat example, the features to tell the kit).
const CONFIGURATIONS: [(&[(&str, &str)], &str); 6] = [
    (
        &[
            ("BANNED_NAMES", "root"),
            ("STRICT_CONTRACT", "1"),
            ("ALLOWED_ORIGINS", "http://good.example"),
            ("HEARTBEAT_SECS", "1"),
        ],
        "binary_as_text,banned,strict_contract,origins,heartbeat",
    ),
    (&[("RECOVERY_SECS", "60")], "binary_as_text,recovery"),
    (&[("SESSION_SECS", "2")], "binary_as_text,session"),
    (&[("CHAT_PASSWORD", "secret")], "binary_as_text,password"),
    (
        &[("MAX_CONNECTIONS", "2"), ("STRICT_CONTRACT", "1")],
        "binary_as_text,full,strict_contract",
    ),
    (&[("BINARY_AS_TEXT", "0")], ""),
];

fn kit() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/run.py")
}

fn python() -> Option<&'static str> {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some("python3")
}

/// Runs the kit with `args`; its output and whether it succeeded.
async fn run_kit(args: &[&str]) -> (String, bool) {
    let run = tokio::process::Command::new(python().unwrap())
        .arg(kit())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the kit finishes within four minutes")
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

/// Starts the chat example in configuration `i`, runs every scenario against
/// it, and returns the kit's output (after asserting it passed).
async fn configuration(i: usize) -> String {
    let (env, features) = CONFIGURATIONS[i];
    let chat = ChatProcess::start_with_env(env).await;
    let url = format!("ws://{}/ws", chat.addr);
    let (out, ok) = run_kit(&["--url", &url, "--features", features]).await;
    println!("{out}");
    assert!(
        ok,
        "the kit failed against the chat example with {env:?}:\n{out}"
    );
    let summary = out.lines().rev().find(|l| l.contains(" passed, ")).unwrap();
    let passed: usize = summary.split_whitespace().next().unwrap().parse().unwrap();
    assert!(passed > 0, "{summary}");
    out
}

#[tokio::test]
async fn kit_passes_with_the_handshake_switches_and_a_heartbeat() {
    if python().is_none() {
        return skip_or_fail("python3");
    }
    let out = configuration(0).await;
    // Recovery is off here: its scenarios are skipped, and say why.
    assert!(out.contains("SKIP recovery_resume_after_a_drop (rule V3): needs recovery"));
    assert!(out.contains("PASS recovery_off_sends_no_welcome_or_offsets"));
    assert!(out.contains("PASS refusal_in_band_accepted_starts_with_a_welcome"));
    assert!(out.contains("PASS message_binary_utf8_is_read_as_text"));
}

#[tokio::test]
async fn kit_passes_with_recovery_on() {
    if python().is_none() {
        return skip_or_fail("python3");
    }
    let out = configuration(1).await;
    assert!(out.contains("PASS recovery_resume_after_a_drop"));
    assert!(out.contains("PASS recovery_bad_offset_is_a_fresh_session"));
    assert!(
        out.contains("SKIP recovery_off_sends_no_welcome_or_offsets (rule V9): needs !recovery")
    );
}

#[tokio::test]
async fn kit_passes_with_expiring_sessions() {
    if python().is_none() {
        return skip_or_fail("python3");
    }
    let out = configuration(2).await;
    assert!(out.contains("PASS expiry_is_warned_then_closed_4001"));
    assert!(out.contains("PASS reauth_refused_is_closed_4003"));
}

#[tokio::test]
async fn kit_passes_with_a_password() {
    if python().is_none() {
        return skip_or_fail("python3");
    }
    let out = configuration(3).await;
    assert!(out.contains("PASS handshake_wrong_password_is_401"));
    assert!(out.contains("PASS refusal_in_band_unauthorized"));
}

#[tokio::test]
async fn kit_passes_with_a_full_server() {
    if python().is_none() {
        return skip_or_fail("python3");
    }
    let out = configuration(4).await;
    assert!(out.contains("PASS handshake_server_full_is_503"));
    assert!(out.contains("PASS refusal_in_band_server_full"));
}

#[tokio::test]
async fn kit_passes_with_binary_frames_refused() {
    if python().is_none() {
        return skip_or_fail("python3");
    }
    let out = configuration(5).await;
    // binary_as_text(false): the rule's other half runs, the first is skipped.
    assert!(out.contains("PASS message_binary_refused_when_configured"));
    assert!(
        out.contains("SKIP message_binary_utf8_is_read_as_text (rule M5): needs binary_as_text")
    );
}

#[tokio::test]
async fn every_rule_has_scenarios_and_every_scenario_a_configuration() {
    if python().is_none() {
        return skip_or_fail("python3");
    }
    let (out, ok) = run_kit(&["--check-rules", "PROTOCOL.md"]).await;
    println!("{out}");
    assert!(ok, "rules and scenarios disagree:\n{out}");
    let scenarios: usize = out
        .split(" scenarios")
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the kit counts its scenarios");
    assert!(scenarios >= 60, "{out}");
    let sets: Vec<&str> = CONFIGURATIONS.iter().map(|(_, f)| *f).collect();
    let (out, ok) = run_kit(&["--coverage", &sets.join(";")]).await;
    println!("{out}");
    assert!(ok, "scenarios that no configuration runs:\n{out}");
}
