//! The chat example's command line: `--help` prints its usage, anything it
//! does not know is refused with exit code 2 (it does not start a server).
mod chat_process;
use chat_process::example_binary;

#[test]
fn help_prints_usage_and_unknown_arguments_exit_with_2() {
    let help = std::process::Command::new(example_binary("chat"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: chat"));
    for args in [&["--bogus"][..], &["serve", "now"], &["--contract"]] {
        let out = std::process::Command::new(example_binary("chat"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("usage: chat"),
            "{args:?}"
        );
    }
}
