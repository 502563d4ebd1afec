//! Runs the chat example as a separate process on a free port.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ChatProcess {
    pub addr: String,
    child: Child,
}

/// `cargo test` builds the examples next to the test binaries' `deps/` folder.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} not built; run the tests with `cargo test`, which builds the examples",
        path.display()
    );
    path
}

impl ChatProcess {
    pub async fn start() -> ChatProcess {
        Self::start_with_env(&[]).await
    }

    /// Starts it with extra environment variables (e.g. `RECOVERY_SECS`).
    pub async fn start_with_env(env: &[(&str, &str)]) -> ChatProcess {
        Self::start_on(0, env).await
    }

    /// Starts it on `port` (0: any free one) with extra environment variables.
    pub async fn start_on(port: u16, env: &[(&str, &str)]) -> ChatProcess {
        let mut child = Command::new(example_binary("chat"))
            .envs(env.iter().copied())
            .env("PORT", port.to_string())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the chat example");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix("chat: open http://") {
                    return rest.split('/').next().unwrap().to_owned();
                }
            }
            panic!("the chat example exited before listening");
        })
        .await
        .expect("the chat example starts listening");
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ChatProcess { addr, child }
    }

    /// Sends `signal` (`"STOP"`, `"CONT"`, ...) to the process with `kill`.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the chat example is running");
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Waits (at most 30 s) for the process to exit, after a signal that ends it.
    pub async fn wait_exit(&mut self) {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the chat example exits")
            .expect("wait for the chat example");
    }

    /// Kills the process with SIGKILL: no goodbye to anyone.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill the chat example");
    }
}

/// Whether a missing tool must fail the run (CI) or may be skipped (a
/// developer's machine without it).
pub fn skip_or_fail(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required when CI is set (.ci/run installs it)");
    }
    eprintln!("\n***** SKIPPED: {what} is not installed; run .ci/run to install it *****\n");
}
