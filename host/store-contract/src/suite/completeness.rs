//! The macro runs the whole suite: every `pub fn` and `pub async fn` of the suite's modules is
//! listed in [`contract_suite!`](crate::contract_suite) under its module, and nothing else is.

use std::collections::BTreeSet;
use std::path::Path;

/// Files of the crate that are not suite modules: the crate root, the harness, what tests
/// share, and the macro itself.
const NOT_SUITE: [&str; 4] = ["lib.rs", "backend.rs", "fixtures.rs", "suite.rs"];

/// `(module path, function)` for every public function of the suite's sources.
fn suite_functions() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeSet::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the crate's sources are readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                if path != src.join("suite") {
                    dirs.push(path);
                }
                continue;
            }
            let relative = path.strip_prefix(&src).expect("under src");
            if NOT_SUITE.iter().any(|file| relative == Path::new(file)) {
                continue;
            }
            let module = module_path(relative);
            let text = std::fs::read_to_string(&path).expect("a source file is readable");
            for line in text.lines().map(str::trim_start) {
                let rest = line
                    .strip_prefix("pub async fn ")
                    .or_else(|| line.strip_prefix("pub fn "));
                if let Some(rest) = rest {
                    found.insert((module.clone(), identifier(rest)));
                }
            }
        }
    }
    found
}

/// `event_log/races.rs` is `event_log::races`; `model/mod.rs` is `model`.
fn module_path(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts.join("::")
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The words and brackets of `text`: identifiers, and `@ { } [ ] $` each on its own.
fn tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphabetic() || c == '_' {
            let mut word = c.to_string();
            while let Some(&next) = chars.peek() {
                if !(next.is_ascii_alphanumeric() || next == '_') {
                    break;
                }
                word.push(next);
                chars.next();
            }
            tokens.push(word);
        } else if "@{}[]$".contains(c) {
            tokens.push(c.to_string());
        }
    }
    tokens
}

/// `(module path, function)` for every test the macro lists: after `@async` or `@sync`, a
/// module and either `[names]` or `{ module [names] ... }`. The macro's own rules, where a
/// `$` follows, are skipped.
fn listed_functions() -> BTreeSet<(String, String)> {
    let tokens = tokens(include_str!("../suite.rs"));
    let mut listed = BTreeSet::new();
    let mut at = 0;
    let names = |at: &mut usize, module: &str, listed: &mut BTreeSet<(String, String)>| {
        assert_eq!(tokens[*at], "[", "a list of tests after {module}");
        *at += 1;
        while tokens[*at] != "]" {
            listed.insert((module.to_owned(), tokens[*at].clone()));
            *at += 1;
        }
        *at += 1;
    };
    while at + 2 < tokens.len() {
        let is_list = tokens[at] == "@"
            && (tokens[at + 1] == "async" || tokens[at + 1] == "sync")
            && tokens[at + 2] != "$";
        if !is_list {
            at += 1;
            continue;
        }
        let module = tokens[at + 2].clone();
        at += 3;
        if tokens[at] == "{" {
            at += 1;
            while tokens[at] != "}" {
                let sub = format!("{module}::{}", tokens[at]);
                at += 1;
                names(&mut at, &sub, &mut listed);
            }
        } else {
            names(&mut at, &module, &mut listed);
        }
    }
    listed
}

#[test]
fn the_macro_lists_every_suite_function_and_nothing_else() {
    let found = suite_functions();
    let listed = listed_functions();
    assert!(
        found.len() >= 30,
        "too few suite functions found: {found:?}"
    );
    let missing: Vec<_> = found.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "suite functions contract_suite! does not run: {missing:?}"
    );
    let stray: Vec<_> = listed.difference(&found).collect();
    assert!(
        stray.is_empty(),
        "contract_suite! lists functions the suite does not have: {stray:?}"
    );
}
