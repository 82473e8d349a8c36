//! `cairn new` as an author meets it: an aggregate, a projection and a reactor made in a
//! project of their own, listed in its cairn.toml; their own given/when/then tests run with
//! cargo; each built for wasm32-wasip2 (through `cairn_guest_build`, with the crates' own
//! `.cargo/config.toml`), deployed to `cairn serve` with `cairn deploy`, then a command sent,
//! the projection asked, and the reactor's command seen in the aggregate's state.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{cairn, client, kill, serve};

/// What an outer cargo sets for its own build that must not reach the crates' own.
const OUTER_BUILD_ENV: [&str; 7] = [
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
];

/// Runs `cairn new ARGS` in `dir`; returns what it printed.
fn cairn_new(dir: &Path, args: &[&str]) -> String {
    let output = cairn()
        .current_dir(dir)
        .arg("new")
        .args(args)
        .output()
        .expect("cairn runs");
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(output.status.success(), "cairn new {args:?}: {out}{err}");
    out
}

/// Runs the crate's own tests, as its author would, with `target_dir` for cargo.
fn cargo_test(dir: &Path, target_dir: &Path) -> String {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for var in OUTER_BUILD_ENV {
        cargo.env_remove(var);
    }
    let output = cargo
        .current_dir(dir)
        .args(["test", "--target-dir"])
        .arg(target_dir)
        .output()
        .expect("cargo runs");
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "cargo test in {}: {out}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Asks `projection` `request` until its answer satisfies `check`.
fn wait_for_answer(
    server: &str,
    projection: &str,
    request: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out, err) = client(server, &["query", projection, request, "--json"]);
        if ok {
            let answer: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
            if check(&answer) {
                return answer;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{projection} never answered {request} as expected: {out}{err}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_new_aggregate_and_projection_test_build_deploy_and_answer() {
    let project = tempfile::tempdir().expect("temp dir");
    let toml = project.path().join("cairn.toml");
    std::fs::write(&toml, "# The modules of this project.\n").expect("write cairn.toml");

    let made = cairn_new(project.path(), &["aggregate", "shop_cart"]);
    assert!(made.contains("made the aggregate `shop_cart`"), "{made}");
    assert!(
        made.contains("added to cairn.toml:\n  [[module]]\n  name = \"shop_cart\""),
        "{made}"
    );
    let made = cairn_new(
        project.path(),
        &[
            "projection",
            "cart_titles",
            "--of",
            "shop_cart",
            "--dir",
            "cart-titles",
        ],
    );
    assert!(made.contains("cairn query cart_titles"), "{made}");
    let made = cairn_new(
        project.path(),
        &["reactor", "cart_numbers", "--of", "shop_cart"],
    );
    assert!(
        made.contains("cairn reactors status cart_numbers"),
        "{made}"
    );
    let listed = cairn_server::project::Project::load(&toml).expect("cairn.toml lists them");
    let names: Vec<&str> = listed.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["shop_cart", "cart_titles", "cart_numbers"]);
    let refused = cairn()
        .current_dir(project.path())
        .args(["new", "aggregate", "shop_cart", "--dir", "again"])
        .output()
        .expect("cairn runs");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already lists a module `shop_cart`"),
        "{refused:?}"
    );

    // Their own tests pass as made.
    let target_dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("new-module");
    let aggregate = project.path().join("shop_cart");
    let projection = project.path().join("cart-titles");
    let reactor = project.path().join("cart_numbers");
    for dir in [&aggregate, &projection, &reactor] {
        let tested = cargo_test(dir, &target_dir);
        assert!(tested.contains("test result: ok. 2 passed"), "{tested}");
    }

    // Built as cairn builds a module, deployed, and used.
    let built = |dir: &Path, name: &str| {
        cairn_guest_build::GuestBuild::crate_at(dir, &target_dir)
            .run()
            .unwrap_or_else(|e| panic!("{name} builds for wasm32-wasip2: {e}"))
            .component(name)
    };
    let aggregate_wasm = built(&aggregate, "shop_cart");
    let projection_wasm = built(&projection, "cart_titles");
    let data = tempfile::tempdir().expect("temp dir");
    let (server_process, server) = serve(data.path());
    for (wasm, kind) in [
        (&aggregate_wasm, "aggregate"),
        (&projection_wasm, "projection"),
    ] {
        let (ok, out, err) = client(&server, &["deploy", wasm.to_str().expect("utf-8")]);
        assert!(ok, "{err}");
        assert!(out.contains(&format!("{kind} version 1")), "{out}");
    }

    let create = r#"{"type": "Create", "data": {"title": "First"}}"#;
    let (ok, out, err) = client(&server, &["send", "shop_cart", "1", create]);
    assert!(ok, "{err}");
    assert!(out.contains("shop_cart-1 is at version 1"), "{out}");
    let (ok, _, err) = client(&server, &["send", "shop_cart", "1", create]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let rename = r#"{"type": "Rename", "data": {"title": "Second"}}"#;
    let (ok, _, err) = client(&server, &["send", "shop_cart", "1", rename]);
    assert!(ok, "{err}");
    let (ok, out, err) = client(&server, &["state", "shop_cart", "1", "--json"]);
    assert!(ok, "{err}");
    let state: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(state["state"]["title"], "Second", "{state}");

    wait_for_answer(&server, "cart_titles", r#"{"type": "count"}"#, |a| {
        a["created"] == 1
    });
    let title = wait_for_answer(
        &server,
        "cart_titles",
        r#"{"type": "title", "stream": "shop_cart-1"}"#,
        |a| a["title"] == "Second",
    );
    assert_eq!(title, serde_json::json!({"title": "Second"}));

    // The reactor numbers what is created from its upload on.
    let reactor_wasm = built(&reactor, "cart_numbers");
    let (ok, out, err) = client(&server, &["deploy", reactor_wasm.to_str().expect("utf-8")]);
    assert!(ok, "{err}");
    assert!(out.contains("reactor version 1"), "{out}");
    let create = r#"{"type": "Create", "data": {"title": "Third"}}"#;
    let (ok, _, err) = client(&server, &["send", "shop_cart", "2", create]);
    assert!(ok, "{err}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out, err) = client(&server, &["state", "shop_cart", "2", "--json"]);
        assert!(ok, "{err}");
        let state: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
        if state["state"]["title"] == "Third #1" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reactor never renamed it: {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(server_process);
}
