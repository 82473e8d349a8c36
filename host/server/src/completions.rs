//! `cairn completions SHELL`: the shell's completion script for cairn (clap_complete), printed
//! on stdout. Install it where the shell looks:
//!
//! ```sh
//! cairn completions bash > ~/.local/share/bash-completion/completions/cairn
//! cairn completions zsh > ~/.zfunc/_cairn     # with `fpath+=~/.zfunc` before `compinit`
//! cairn completions fish > ~/.config/fish/completions/cairn.fish
//! ```

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

/// Prints the script.
pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    print!("{}", script(args.shell));
    Ok(())
}

/// The completion script of `shell` for every command and option of cairn.
pub fn script(shell: clap_complete::Shell) -> String {
    let mut command = <Cli as CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "cairn", &mut script);
    String::from_utf8_lossy(&script).into_owned()
}
