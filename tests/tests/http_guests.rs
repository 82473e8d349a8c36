//! Misbehaving guests over HTTP, under concurrent load: a loop, a memory bomb, a panic, stack
//! overflows and garbage output, many at once, beside well-behaved `bank-account` commands.
//! Each misbehaving command gets its documented 500 code with nothing appended, the others all
//! succeed with nothing lost, and the server keeps serving. (How fast a loop is stopped, and
//! what the load does to other commands' latency, are figures for `cairn bench`, not tests.)
//!
//! The loops go to their own copy of the module (`looper`), and only there: a loop puts its
//! module on probation, where a call may pass its deadline waiting for its turn, and the other
//! misbehaviours must each get their own code. The server runs with a deadline of a second, not
//! 50 ms, so that on a loaded 2-core machine no call but a loop passes it while eight loops
//! share the CPU (a call that did would put its module on probation too).

mod common;

use cairn::settings::Settings;
use common::server::{Server, assert_error};
use serde_json::{Value, json};

/// What a loop may get.
const LOOP_CODES: &[&str] = &["module_out_of_fuel", "module_deadline_exceeded"];

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
    let settings = Settings::parse("[limits]\ndeadline_ms = 1_000\n").expect("valid");
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start_configured(dir, None, &["bank-account"], &settings).await;
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
        let base = server.url(&format!("/v1/aggregates/bank-account/b{client}/commands"));
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
            .get(&format!("/v1/aggregates/bank-account/b{client}"))
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
    // The module on probation serves too: its calls run when the CPU is free, and one that
    // waits past its deadline gets its code.
    let served = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        for n in 0.. {
            let (status, body) = server
                .command(
                    "looper",
                    &format!("fine-{n}"),
                    json!({"type": "Fine", "data": {}}),
                )
                .await;
            if status == 200 {
                return;
            }
            assert_eq!(body["error"], "module_deadline_exceeded", "{body}");
        }
    })
    .await;
    assert!(served.is_ok(), "the module on probation never served");
    server.stop().await;
}
