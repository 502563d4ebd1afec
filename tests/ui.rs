//! Compile-time guarantees: each file in ui-tests/fail must fail to compile with
//! the committed .stderr; each in ui-tests/pass must compile and run.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui-tests/pass/*.rs");
    t.compile_fail("ui-tests/fail/*.rs");
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
