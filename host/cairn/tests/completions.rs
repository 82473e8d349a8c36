//! `cairn completions SHELL`: each shell's script names cairn's subcommands.

mod common;

use common::cairn;

#[test]
fn each_shells_script_names_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let output = cairn()
            .args(["completions", shell])
            .output()
            .expect("cairn runs");
        assert!(output.status.success(), "{shell}: {output:?}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(!script.trim().is_empty(), "{shell}: an empty script");
        for subcommand in ["deploy", "projections", "new", "completions"] {
            assert!(script.contains(subcommand), "{shell} lacks {subcommand}");
        }
    }
    let refused = cairn()
        .args(["completions", "cmd"])
        .output()
        .expect("cairn runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("bash"));
}
