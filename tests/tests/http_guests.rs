//! Misbehaving guests over HTTP, under concurrent load: a loop, a memory bomb, a panic, stack
//! overflows and garbage output, many at once, beside well-behaved `bank_account` commands.
//! Each misbehaving command gets its documented 500 code with nothing appended, the others all
//! succeed with nothing lost, and the server keeps serving. (How fast a loop is stopped, and
//! what the load does to other commands' latency, are figures for `cairn bench`, not tests.)
//!
//! The loops go to their own copy of the module (`looper`), and only there: a loop puts its
//! module on probation, and the other misbehaviours must each get their own code. The server
//! runs with its default limits: a call is blamed only for the fuel and CPU it uses, so eight
//! loops sharing two cores put no other module on probation, and a good call waiting behind
//! them is served when its turn comes.

mod common;

use cairn_server::settings::Settings;
use common::server::{Server, assert_error};
use serde_json::{Value, json};

/// What a loop may get.
const LOOP_CODES: &[&str] = &["module_out_of_fuel", "module_cpu_exceeded"];

/// Each other misbehaving command and the code it gets.
const ROGUES: [(&str, &[&str]); 5] = [
    ("Bomb", &["module_out_of_memory"]),
    ("Panic", &["module_trapped"]),
    ("Recurse", &["module_stack_overflow"]),
    ("Smash", &["module_trapped"]),
    ("Garbage", &["module_bad_output"]),
];

#[tokio::test(flavor = "multi_thread")]
async fn misbehaving_guests_under_load_fail_alone_and_the_rest_is_served() {
    let settings = Settings::parse("").expect("valid");
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start_configured(dir, None, &["bank_account"], &settings).await;
    for name in ["rogue", "looper"] {
        let (status, body) = server
            .put_module(name, cairn_tests::guest("misbehaving"), "application/wasm")
            .await;
        assert_eq!(status, 201, "{body}");
    }

    let mut tasks = Vec::new();
    // 8 loops at once on `looper`, and every other kind of failure, three times each, on `rogue`.
    let loops = std::iter::repeat_n(("looper", "Loop", LOOP_CODES), 8);
    let others = ROGUES
        .iter()
        .cycle()
        .take(ROGUES.len() * 3)
        .map(|&(command, codes)| ("rogue", command, codes));
    for (n, (module, command, codes)) in loops.chain(others).enumerate() {
        let http = server.http.clone();
        let url = server.url(&format!("/v1/aggregates/{module}/r{n}/commands"));
        tasks.push(tokio::spawn(async move {
            let reply = http
                .post(url)
                .json(&json!({"type": command, "data": {}}))
                .send()
                .await
                .expect("the server answers");
            let status = reply.status().as_u16();
            let body: Value = reply.json().await.expect("JSON");
            assert_eq!(status, 500, "{command}: {body}");
            assert!(
                codes.contains(&body["error"].as_str().unwrap_or_default()),
                "{command}: {body}"
            );
            0u64
        }));
    }
    // Meanwhile, 8 clients of a well-behaved module.
    for client in 0..8 {
        let http = server.http.clone();
        let base = server.url(&format!("/v1/aggregates/bank_account/b{client}/commands"));
        tasks.push(tokio::spawn(async move {
            let open = http
                .post(&base)
                .json(&json!({"type": "Open", "data": {"owner": "o"}}))
                .send()
                .await
                .expect("answers");
            assert_eq!(open.status(), 200);
            for _ in 0..25 {
                let reply = http
                    .post(&base)
                    .json(&json!({"type": "Deposit", "data": {"amount": 4}}))
                    .send()
                    .await
                    .expect("answers");
                assert_eq!(reply.status(), 200);
            }
            100
        }));
    }
    let mut deposited = 0;
    for task in tasks {
        deposited += task.await.expect("a client failed");
    }
    assert_eq!(deposited, 800);

    for client in 0..8 {
        let (status, state) = server
            .get(&format!("/v1/aggregates/bank_account/b{client}"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(state["state"]["balance"], 100, "{state}");
    }
    for category in ["rogue", "looper"] {
        let (_, failed) = server.get(&format!("/v1/all?category={category}")).await;
        assert_eq!(
            failed["events"],
            json!([]),
            "no failed command appended anything"
        );
    }
    let (_, all) = server.get("/v1/all?limit=1").await;
    assert_eq!(all["head"], 8 * 26, "every good command's event, once");
    // Still serving, the bad module included.
    let (status, body) = server
        .command("rogue", "fine", json!({"type": "Fine", "data": {}}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_error(
        &server
            .command("rogue", "again", json!({"type": "Panic", "data": {}}))
            .await,
        500,
        "module_trapped",
    );
    // The module on probation serves too: its good calls wait for their turn and run.
    for n in 0..3 {
        let (status, body) = server
            .command(
                "looper",
                &format!("fine-{n}"),
                json!({"type": "Fine", "data": {}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    server.stop().await;
}
