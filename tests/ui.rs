//! Compile-time guarantees: each file in ui-tests/fail must fail to compile with
//! the committed .stderr; each in ui-tests/pass must compile and run.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui-tests/pass/*.rs");
    t.compile_fail("ui-tests/fail/*.rs");
}
