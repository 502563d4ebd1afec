//! Compile-time guarantees: each file in ui-tests/fail must fail to compile with
//! the committed .stderr; each in ui-tests/pass must compile and run.

/// The rustc the `.stderr` files were written with (`ui-tests/rustc-version`).
/// Compiler messages change between releases, so the compile-fail cases are
/// checked with that compiler only: upgrading it is a deliberate commit that
/// updates the file and the `.stderr` files (`TRYBUILD=overwrite`) together.
fn pinned_rustc() -> (String, String) {
    let pinned = std::fs::read_to_string("ui-tests/rustc-version")
        .expect("ui-tests/rustc-version names the pinned compiler")
        .trim()
        .to_owned();
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .expect("rustc --version");
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let here = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (pinned, here)
}

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    // What must compile compiles with any compiler.
    t.pass("ui-tests/pass/*.rs");
    let (pinned, here) = pinned_rustc();
    if pinned == here {
        t.compile_fail("ui-tests/fail/*.rs");
    } else if std::env::var_os("CI").is_some() {
        panic!(
            "CI checks the ui-tests with rustc {pinned} (ui-tests/rustc-version); this machine has {here}"
        );
    } else {
        eprintln!(
            "\n***** SKIPPED: the compile-fail ui-tests' messages are pinned to rustc {pinned}; \
             this is {here}. They run in CI; to move the pin, update ui-tests/rustc-version \
             and the .stderr files (TRYBUILD=overwrite) in one commit. *****\n"
        );
    }
}

/// Every quote in the debugging guide still appears in the .stderr it cites, so
/// the guide cannot drift from what rustc prints.
#[test]
fn debugging_guide_quotes_real_compiler_output() {
    let guide = std::fs::read_to_string("src/docs/debugging_type_errors.md").unwrap();
    let mut checked = 0;
    for block in guide.split("```text\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let mut lines = block.lines();
        let Some(source) = lines.next().and_then(|l| l.strip_prefix("// ")) else {
            continue;
        };
        let stderr = std::fs::read_to_string(source)
            .unwrap_or_else(|e| panic!("the guide cites {source}: {e}"));
        for line in lines.filter(|l| !l.trim().is_empty()) {
            assert!(
                stderr.contains(line),
                "the guide quotes a line that {source} no longer has:\n{line}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} quoted lines found");
}

/// No `help:` line of any compile-fail case is longer than 400 characters:
/// help that spells out a whole router type (kilobytes of nested tuples)
/// is noise, and a message that needs it is reworded.
#[test]
fn no_help_line_is_longer_than_400_characters() {
    let mut checked = 0;
    for entry in std::fs::read_dir("ui-tests/fail").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "stderr") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| l.contains("help:")) {
            assert!(
                line.chars().count() <= 400,
                "{}: a help line of {} characters:\n{line}",
                path.display(),
                line.chars().count()
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} help lines found");
}
