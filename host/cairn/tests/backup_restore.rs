//! `cairn backup` and `cairn restore`, as an operator runs them: a backup of a real server
//! taken while clients append, restored into a new data directory that a second server then
//! serves. The restored log is the source's first events, byte for byte; a backup that was
//! changed, or a data directory that holds a store, is refused with nothing made.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{KillOnDrop, cairn, client, log, serve};
use serde_json::{Value, json};

/// Runs `cairn` with `args`; (success, stdout, stderr).
fn run(args: &[&str], data: Option<&Path>) -> (bool, String, String) {
    let mut command = cairn();
    command.args(args);
    if let Some(data) = data {
        command.arg("--data").arg(data);
    }
    let output = command.output().expect("cairn runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_into_a_server_of_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let http = reqwest::Client::new();
    let (source, url) = serve(&dir.path().join("source"));
    let mut source = KillOnDrop::new(source);
    common::upload(&http, &url, "bank_account", "bank_account").await;
    let (ok, _, err) = client(
        &url,
        &[
            "send",
            "bank_account",
            "ada",
            r#"{"type":"Open","data":{"owner":"Ada"}}"#,
        ],
    );
    assert!(ok, "{err}");

    // Four clients append while the backup is taken.
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (http, url, writing) = (http.clone(), url.clone(), Arc::clone(&writing));
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while writing.load(Ordering::Relaxed) || n < 20 {
                let reply = http
                    .post(format!("{url}/v1/streams/load-{writer}"))
                    .json(&json!({"expected_version": "any",
                                  "events": [{"type": "Loaded", "data": {"n": n}}]}))
                    .send()
                    .await
                    .expect("the append is answered");
                assert_eq!(reply.status(), 201);
                n += 1;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let backup = dir.path().join("backup");
    let (ok, out, err) = {
        let (url, backup) = (url.clone(), backup.clone());
        tokio::task::spawn_blocking(move || {
            client(
                &url,
                &["--json", "backup", backup.to_str().expect("a path")],
            )
        })
        .await
        .expect("the backup ran")
    };
    assert!(ok, "{out}{err}");
    writing.store(false, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("the writer ran");
    }
    let manifest: Value = serde_json::from_str(out.trim()).expect("JSON");
    let head = manifest["head"].as_u64().expect("a head");
    let source_head = http
        .get(format!("{url}/v1/stats"))
        .send()
        .await
        .expect("stats")
        .json::<Value>()
        .await
        .expect("JSON")["head"]
        .as_u64()
        .expect("a head");
    assert!(
        head > 2 && source_head > head,
        "writes went on: {head} of {source_head}"
    );
    let expected = log(&http, &url, head).await;

    // A second backup into the same directory is refused.
    let (ok, _, err) = client(&url, &["backup", backup.to_str().expect("a path")]);
    assert!(!ok && err.contains("holds a backup already"), "{err}");

    // A copy changed by one byte is refused, and its data directory is not made.
    let tampered = dir.path().join("tampered");
    std::fs::create_dir_all(&tampered).expect("mkdir");
    for file in ["cairn.redb", "backup.json"] {
        std::fs::copy(backup.join(file), tampered.join(file)).expect("copy");
    }
    let mut bytes = std::fs::read(tampered.join("cairn.redb")).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(tampered.join("cairn.redb"), bytes).expect("write");
    let refused = dir.path().join("refused");
    let (ok, _, err) = run(
        &["restore", tampered.to_str().expect("a path")],
        Some(&refused),
    );
    assert!(
        !ok && err.contains("not the file its backup.json names"),
        "{err}"
    );
    assert!(!refused.join("store/cairn.redb").exists());

    // Restored, checked, and served by a server of its own.
    let restored = dir.path().join("restored");
    let (ok, out, err) = run(
        &["restore", backup.to_str().expect("a path")],
        Some(&restored),
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("every record checked"), "{out}");
    let (ok, _, err) = run(
        &["restore", backup.to_str().expect("a path")],
        Some(&restored),
    );
    assert!(!ok && err.contains("holds a store already"), "{err}");
    let (ok, out, err) = run(&["verify", restored.to_str().expect("a path")], None);
    assert!(ok, "{out}{err}");

    let (copy, copy_url) = serve(&restored);
    let _copy = KillOnDrop::new(copy);
    assert_eq!(
        log(&http, &copy_url, head).await,
        expected,
        "the restored log is the source's first {head} events"
    );
    let (ok, out, err) = client(&copy_url, &["state", "bank_account", "ada", "--json"]);
    assert!(ok, "{err}");
    let state: Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(state["state"]["owner"], "Ada", "{state}");
    // It takes writes of its own, on from the backup's head.
    let reply: Value = http
        .post(format!("{copy_url}/v1/streams/after-restore"))
        .json(
            &json!({"expected_version": "no_stream", "events": [{"type": "Restored", "data": {}}]}),
        )
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(reply["first_position"], head + 1, "{reply}");
    source.take().kill().expect("stopped");
}
