//! Modules written in TypeScript through the real `cairn` binary, as an author uses them:
//!
//! - `cairn serve`: the TypeScript `bank_account` uploaded beside the TypeScript and the Rust
//!   balances projections; commands decided, a rejection with the module's words, a command
//!   that does not decode; both projections answer alike over the TypeScript aggregate's
//!   events; and after a restart the state and the projections are there, the modules loaded
//!   from the compiled cache (nothing compiled again), and commands go on.
//! - `cairn dev` on a cairn.toml with a TypeScript aggregate and a Rust projection: both built
//!   and loaded, the Rust projection folding the TypeScript aggregate's events, and a change to
//!   the TypeScript source hot-swapped in while the events stay.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    KillOnDrop, bank_command, client, copy_example, copy_typescript_example, get_json, head, serve,
    signal, upload,
};
use serde_json::{Value, json};

/// What projection `name` answers to `request`, once it has reached `head`.
async fn ask(http: &reqwest::Client, url: &str, name: &str, head: u64, request: Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = get_json(http, format!("{url}/v1/projections/{name}")).await;
        if status["position"].as_u64() == Some(head) {
            break;
        }
        assert!(Instant::now() < deadline, "{name} stalls: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = http
        .post(format!("{url}/v1/projections/{name}/query"))
        .json(&request)
        .send()
        .await
        .expect("answered");
    assert_eq!(reply.status(), 200);
    reply.json().await.expect("JSON")
}

/// The files of the compiled-code cache under `data`.
fn cached(data: &Path) -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| match entry.file_type() {
                    Ok(kind) if kind.is_dir() => count(&entry.path()),
                    Ok(_) => 1,
                    Err(_) => 0,
                })
                .sum()
        })
    }
    count(&data.join("compiled"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_aggregate_and_projection_serve_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    let (server, url) = serve(&data);
    let mut server = KillOnDrop::new(server);
    upload(&http, &url, "bank_account", "ts-bank-account").await;
    upload(&http, &url, "ts_account_balances", "ts-account-balances").await;
    upload(&http, &url, "account_balances", "account_balances").await;

    for (n, owner) in ["Ada", "Grace", "Edsger"].iter().enumerate() {
        let account = format!("a{n}");
        let (status, body) = bank_command(
            &http,
            &url,
            &account,
            json!({"type": "Open", "data": {"owner": owner}}),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        for amount in [100, 250] {
            let deposit = json!({"type": "Deposit", "data": {"amount": amount * (n + 1)}});
            assert_eq!(
                bank_command(&http, &url, &account, deposit, None).await.0,
                200
            );
        }
    }
    let (status, body) = bank_command(
        &http,
        &url,
        "a0",
        json!({"type": "Withdraw", "data": {"amount": 1000}}),
        None,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "rejected", "{body}");
    assert!(
        body["message"].as_str().is_some_and(
            |m| m.contains("insufficient funds: the balance is 350, the withdrawal 1000")
        ),
        "{body}"
    );
    let (status, body) = bank_command(
        &http,
        &url,
        "a0",
        json!({"type": "Deposit", "data": {"amount": "lots"}}),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (422, &json!("invalid_command")),
        "{body}"
    );
    let (status, _) = bank_command(
        &http,
        &url,
        "a0",
        json!({"type": "Withdraw", "data": {"amount": 50}}),
        None,
    )
    .await;
    assert_eq!(status, 200);

    let state = get_json(&http, format!("{url}/v1/aggregates/bank_account/a0")).await;
    assert_eq!(
        state["state"],
        json!({"owner": "Ada", "balance": 300}),
        "{state}"
    );
    let at = head(&http, &url).await;
    let question = json!({"type": "top", "n": 3});
    let from_typescript = ask(&http, &url, "ts_account_balances", at, question.clone()).await;
    let from_rust = ask(&http, &url, "account_balances", at, question.clone()).await;
    assert_eq!(from_typescript, from_rust, "the two projections disagree");
    let total = json!({"type": "total_deposits"});
    assert_eq!(
        ask(&http, &url, "ts_account_balances", at, total.clone()).await["total_deposits"],
        2_100
    );

    // A restart: the modules come back from the compiled cache, and everything is there.
    let compiled = cached(&data);
    assert!(compiled >= 3, "{compiled} files in the compiled cache");
    let child = server.take();
    signal(&child, "-TERM");
    let mut child = child;
    child.wait().expect("the server exits");
    let (server, url) = serve(&data);
    let _server = KillOnDrop::new(server);
    assert_eq!(
        get_json(&http, format!("{url}/v1/aggregates/bank_account/a0")).await["state"],
        json!({"owner": "Ada", "balance": 300})
    );
    assert_eq!(
        ask(&http, &url, "ts_account_balances", at, question.clone()).await,
        from_typescript
    );
    let (status, body) = bank_command(
        &http,
        &url,
        "a2",
        json!({"type": "Withdraw", "data": {"amount": 1050}}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = bank_command(
        &http,
        &url,
        "a2",
        json!({"type": "Withdraw", "data": {"amount": 1}}),
        None,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        cached(&data),
        compiled,
        "a restart compiled something again"
    );
}

#[test]
fn cairn_dev_builds_a_typescript_aggregate_beside_a_rust_projection_and_hot_swaps_it() {
    let project = tempfile::tempdir().expect("temp dir");
    let module = copy_typescript_example(project.path(), "ts-bank-account", "bank_account");
    copy_example(project.path(), "account_balances");
    std::fs::write(
        project.path().join("cairn.toml"),
        "[[module]]\nname = \"bank_account\"\npath = \"bank_account\"\n\n\
         [[module]]\nname = \"account_balances\"\npath = \"account_balances\"\n",
    )
    .expect("write cairn.toml");
    let target_dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dev-loop-guests");
    let mut dev = common::cairn()
        .args(["dev", "--listen", "127.0.0.1:0", "--config"])
        .arg(project.path().join("cairn.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cairn dev starts");
    let mut output = common::Output::of(&mut dev);
    let dev = KillOnDrop::new(dev);
    output.wait_for("bank_account v1 loaded", Duration::from_secs(900));
    output.wait_for("account_balances v1 loaded", Duration::from_secs(900));
    let api = output.wait_for("API", Duration::from_secs(60));
    let server = api.split_whitespace().last().expect("a URL").to_owned();
    output.wait_for("watching", Duration::from_secs(10));

    let open = r#"{"type": "Open", "data": {"owner": "Ada"}}"#;
    let (ok, out, err) = client(&server, &["send", "bank_account", "a1", open]);
    assert!(ok, "{out}{err}");
    let deposit = r#"{"type": "Deposit", "data": {"amount": 70}}"#;
    let (ok, _, err) = client(&server, &["send", "bank_account", "a1", deposit]);
    assert!(ok, "{err}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out, _) = client(
            &server,
            &["query", "account_balances", r#"{"type": "total_deposits"}"#],
        );
        if ok && out.contains("70") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Rust projection never folded: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A change to the TypeScript source is built and swapped in; the events stay.
    let source = module.join("src/index.ts");
    let code = std::fs::read_to_string(&source).expect("read");
    let changed = code.replace("insufficient funds", "not enough money");
    assert_ne!(changed, code);
    std::fs::write(&source, changed).expect("write");
    output.wait_for("bank_account v2 loaded", Duration::from_secs(600));
    let withdraw = r#"{"type": "Withdraw", "data": {"amount": 100}}"#;
    let (ok, out, err) = client(&server, &["send", "bank_account", "a1", withdraw]);
    assert!(!ok, "{out}");
    assert!(err.contains("not enough money: the balance is 70"), "{err}");
    drop(dev);
}
