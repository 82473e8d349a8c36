//! Modules and aggregates over HTTP against the real server and the example modules: the
//! README quickstart, idempotent commands, expected versions, rejections, uploads that are
//! refused, a module that traps (an error reply, and the server keeps serving), settings from
//! cairn.toml reaching the runtime, auth, metrics and the API description.

mod common;

use cairn_server::settings::Settings;
use cairn_store::{SnapshotKey, StreamId, Version};
use common::server::{Server, assert_error};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_works() {
    let server = Server::start().await;
    let created = server
        .command(
            "customers",
            "c1",
            json!({"type": "Create", "data": {"name": "Ada", "email": "ada@example.com"}}),
        )
        .await;
    assert_eq!(created.0, 200, "{}", created.1);
    assert_eq!(created.1["stream"], "customers-c1");
    assert_eq!(created.1["version"], 1);
    assert_eq!(created.1["events"][0]["type"], "CustomerRegistered");
    assert_eq!(
        created.1["events"][0]["data"],
        json!({"name": "Ada", "email": "ada@example.com"})
    );
    assert_eq!(created.1["events"][0]["metadata"]["module"], "customers");

    let updated = server
        .command(
            "customers",
            "c1",
            json!({"type": "Update", "data": {"email": "ada@lovelace.org"}}),
        )
        .await;
    assert_eq!(updated.1["events"][0]["type"], "CustomerEmailChanged");
    assert_eq!(
        updated.1["events"][0]["data"],
        json!({"email": "ada@lovelace.org"})
    );
    let deleted = server
        .command("customers", "c1", json!({"type": "Delete"}))
        .await;
    assert_eq!(deleted.1["version"], 3);

    let stream = server.get("/v1/streams/customers-c1").await;
    let types: Vec<_> = stream.1["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            json!("CustomerRegistered"),
            json!("CustomerEmailChanged"),
            json!("CustomerDeleted")
        ]
    );
    let state = server.get("/v1/aggregates/customers/c1").await;
    assert_eq!(
        state,
        (
            200,
            json!({"stream": "customers-c1", "version": 3,
                     "state": {"status": "deleted", "name": "Ada", "email": "ada@lovelace.org"}})
        )
    );
    let deleted_customers = server
        .get("/v1/all?category=customers&type=CustomerDeleted")
        .await;
    assert_eq!(deleted_customers.1["events"][0]["stream"], "customers-c1");

    let again = server
        .command("customers", "c1", json!({"type": "Delete"}))
        .await;
    assert_error(&again, 422, "rejected");
    let bad_email = server
        .command(
            "customers",
            "c2",
            json!({"type": "Create", "data": {"name": "B", "email": "nope"}}),
        )
        .await;
    assert_error(&bad_email, 422, "rejected");
    assert!(
        bad_email.1["message"]
            .as_str()
            .expect("message")
            .contains("email"),
        "{}",
        bad_email.1
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_are_idempotent_by_key_and_check_expected_versions() {
    let server = Server::start().await;
    let open = json!({"type": "Open", "data": {"owner": "ada"}});
    assert_eq!(server.command("bank_account", "a1", open).await.0, 200);
    let deposit = || {
        server
            .http
            .post(server.url("/v1/aggregates/bank_account/a1/commands"))
            .header("idempotency-key", "deposit-42")
            .json(&json!({"type": "Deposit", "data": {"amount": 500}}))
    };
    let first = server.call(deposit()).await;
    assert_eq!(first.0, 200, "{}", first.1);
    let retry = server.call(deposit()).await;
    assert_eq!(
        retry, first,
        "a retry with the key gets the original result"
    );
    let state = server.get("/v1/aggregates/bank_account/a1").await;
    assert_eq!(
        state.1["version"], 2,
        "the deposit was appended once: {}",
        state.1
    );

    let stale = server
        .post(
            "/v1/aggregates/bank_account/a1/commands?expected_version=1",
            json!({"type": "Deposit", "data": {"amount": 1}}),
        )
        .await;
    assert_error(&stale, 409, "wrong_expected_version");
    assert_eq!(
        (stale.1["expected"].clone(), stale.1["actual"].clone()),
        (json!(1), json!(2))
    );
    let current = server
        .post(
            "/v1/aggregates/bank_account/a1/commands?expected_version=2",
            json!({"type": "Withdraw", "data": {"amount": 100}}),
        )
        .await;
    assert_eq!(current.0, 200, "{}", current.1);

    let overdraw = server
        .command(
            "bank_account",
            "a1",
            json!({"type": "Withdraw", "data": {"amount": 1000000}}),
        )
        .await;
    assert_error(&overdraw, 422, "rejected");
    let unknown = server
        .command("bank_account", "a1", json!({"type": "Launch", "data": {}}))
        .await;
    assert_error(&unknown, 422, "invalid_command");
    let shape = server
        .command("bank_account", "a1", json!({"kind": "Deposit"}))
        .await;
    assert_error(&shape, 422, "invalid_body");
    let no_module = server
        .command("ledger", "a1", json!({"type": "Open", "data": {}}))
        .await;
    assert_error(&no_module, 404, "unknown_module");
    assert_error(
        &server.get("/v1/aggregates/ledger/a1").await,
        404,
        "unknown_module",
    );
    let bad_key = server
        .call(
            server
                .http
                .post(server.url("/v1/aggregates/bank_account/a1/commands"))
                .header("idempotency-key", "")
                .json(&json!({"type": "Deposit", "data": {"amount": 1}})),
        )
        .await;
    assert_error(&bad_key, 400, "invalid_idempotency_key");

    let state = server.get("/v1/aggregates/bank_account/a1").await;
    assert_eq!(
        state.1["version"], 3,
        "refused commands appended nothing: {}",
        state.1
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_that_fails_is_an_error_reply_and_the_server_keeps_serving() {
    let server = Server::start().await;
    // The loop last: it puts the module on probation, where a call may pass its deadline
    // waiting for its turn (runtime `call_gate.rs`).
    for (command, code) in [
        ("Panic", "module_trapped"),
        ("Bomb", "module_out_of_memory"),
        ("Garbage", "module_bad_output"),
        ("Loop", "module_out_of_fuel"),
    ] {
        let reply = server
            .command("misbehaving", "m1", json!({"type": command, "data": {}}))
            .await;
        assert_eq!(reply.0, 500, "{command}: {}", reply.1);
        assert!(
            reply.1["error"] == code
                || (command == "Loop" && reply.1["error"] == "module_cpu_exceeded"),
            "{command}: {}",
            reply.1
        );
    }
    assert_eq!(
        server.get("/v1/streams/misbehaving-m1").await.1["version"],
        0,
        "nothing appended"
    );
    let fine = server
        .command(
            "customers",
            "c1",
            json!({"type": "Create", "data": {"name": "A", "email": "a@b.co"}}),
        )
        .await;
    assert_eq!(fine.0, 200, "the server keeps serving: {}", fine.1);
    let metrics = server.metrics().await;
    assert!(metrics.contains("cairn_module_traps_total"), "{metrics}");
    assert!(metrics.contains("module_trapped"), "{metrics}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_from_cairn_toml_reach_the_runtime() {
    // A snapshot every two events instead of every hundred.
    let settings = Settings::parse("[commands]\nsnapshot_every = 2\n").expect("valid");
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start_configured(dir, None, &["bank_account"], &settings).await;
    let open = json!({"type": "Open", "data": {"owner": "ada"}});
    assert_eq!(server.command("bank_account", "a1", open).await.0, 200);
    let deposit = json!({"type": "Deposit", "data": {"amount": 5}});
    assert_eq!(server.command("bank_account", "a1", deposit).await.0, 200);
    let node = server.node.as_ref().expect("running");
    // Snapshots are written after a command has answered; settling waits for them.
    node.command_path().settle().await;
    let hash = node
        .registry()
        .aggregate("bank_account")
        .expect("loaded")
        .hash()
        .clone();
    let snapshot = node
        .store()
        .get_snapshot(
            StreamId::new("bank_account-a1").expect("valid"),
            SnapshotKey::new(hash.as_str()).expect("valid"),
        )
        .await
        .expect("read")
        .expect("taken at the configured interval");
    assert_eq!(snapshot.version, Version::new(2));
    server.stop().await;

    // Too little fuel for any call: the command fails as out of fuel and appends nothing.
    let settings = Settings::parse("[limits]\nfuel_per_call = 1_000\n").expect("valid");
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start_configured(dir, None, &["bank_account"], &settings).await;
    let open = json!({"type": "Open", "data": {"owner": "ada"}});
    let reply = server.command("bank_account", "a1", open).await;
    assert_eq!(reply.0, 500, "{}", reply.1);
    assert_eq!(reply.1["error"], "module_out_of_fuel", "{}", reply.1);
    assert_eq!(
        server.get("/v1/streams/bank_account-a1").await.1["version"],
        0,
        "nothing appended"
    );
    server.stop().await;

    // Less memory than the module starts with: the upload is refused, saying so.
    let settings = Settings::parse("[limits]\nmemory_bytes = 65_536\n").expect("valid");
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start_configured(dir, None, &[], &settings).await;
    let reply = server
        .put_module(
            "bank_account",
            cairn_tests::guest("bank_account"),
            "application/wasm",
        )
        .await;
    assert_eq!(reply.0, 400, "{}", reply.1);
    assert_eq!(reply.1["error"], "module_exceeds_limits", "{}", reply.1);
    let message = reply.1["message"].as_str().unwrap_or_default();
    assert!(message.contains("exceeds the limit"), "{message}");
    assert_eq!(
        server.get("/v1/modules").await.1,
        json!({"modules": []}),
        "nothing kept"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_are_validated_and_versioned() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &[]).await;
    let wrong = server
        .put_module(
            "wrong",
            cairn_tests::guest("wrong-world"),
            "application/wasm",
        )
        .await;
    assert_error(&wrong, 400, "wrong_world");
    let garbage = server
        .put_module(
            "garbage",
            b"\0asm but not really".to_vec(),
            "application/wasm",
        )
        .await;
    assert_eq!(garbage.0, 400, "{}", garbage.1);
    assert!(
        garbage.1["message"].as_str().expect("message").len() > 20,
        "{}",
        garbage.1
    );
    let bad_import = server
        .put_module("bad", cairn_tests::guest("bad-import"), "application/wasm")
        .await;
    assert_error(&bad_import, 400, "bad_import");
    let json_type = server
        .put_module(
            "customers",
            cairn_tests::guest("customers"),
            "application/json",
        )
        .await;
    assert_error(&json_type, 415, "unsupported_media_type");
    let huge = server
        .put_module("huge", vec![0; 16 * 1024 * 1024 + 1], "application/wasm")
        .await;
    assert_error(&huge, 413, "body_too_large");
    assert_eq!(
        server.get("/v1/modules").await,
        (200, json!({"modules": []})),
        "nothing refused was kept"
    );

    let created = server
        .put_module(
            "customers",
            cairn_tests::guest("customers"),
            "application/wasm",
        )
        .await;
    assert_eq!(created.0, 201, "{}", created.1);
    assert_eq!(created.1["kind"], "aggregate");
    assert_eq!(created.1["version"], 1);
    assert_eq!(created.1["hash"].as_str().expect("hash").len(), 64);
    let same = server
        .put_module(
            "customers",
            cairn_tests::guest("customers"),
            "application/wasm",
        )
        .await;
    assert_eq!(
        same,
        (200, created.1.clone()),
        "the same bytes again change nothing"
    );
    let listed = server.get("/v1/modules").await;
    assert_eq!(listed.1["modules"], json!([created.1.clone()]));
    let got = server.get("/v1/modules/customers").await;
    assert_eq!(got.0, 200, "{}", got.1);
    let uploaded_at = got.1["versions"][0]["uploaded_at"]
        .as_u64()
        .unwrap_or_else(|| panic!("version 1 says when it was uploaded: {}", got.1));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    assert!(
        uploaded_at <= now_ms && now_ms - uploaded_at < 600_000,
        "uploaded at {uploaded_at}, now {now_ms}"
    );
    let mut described = created.1.clone();
    described["versions"] = json!([{
        "version": 1, "kind": "aggregate", "hash": created.1["hash"], "uploaded_at": uploaded_at,
    }]);
    assert_eq!(
        got,
        (200, described.clone()),
        "the module, with every version kept"
    );
    assert_error(
        &server.get("/v1/modules/nobody").await,
        404,
        "unknown_module",
    );

    // Restarted on the same directory, the module is back without an upload.
    let dir = server.stop().await;
    let server = Server::start_in(dir, None, &[]).await;
    assert_eq!(server.get("/v1/modules/customers").await, (200, described));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_guards_everything_but_health() {
    let server = Server::start_with(Some("s3cret")).await;
    assert_eq!(server.get("/healthz").await.0, 200);
    for path in [
        "/v1/streams/a-1",
        "/v1/all",
        "/v1/modules",
        "/metrics",
        "/openapi.json",
        "/v1/aggregates/customers/c1",
    ] {
        assert_error(&server.get(path).await, 401, "unauthorized");
        let wrong = server
            .call(server.http.get(server.url(path)).bearer_auth("guess"))
            .await;
        assert_error(&wrong, 401, "unauthorized");
    }
    let write = server
        .append("a-1", json!("any"), json!([{"type": "E", "data": {}}]))
        .await;
    assert_error(&write, 401, "unauthorized");
    let with_key = server
        .call(
            server
                .http
                .post(server.url("/v1/streams/a-1"))
                .bearer_auth("s3cret")
                .json(&json!({"events": [{"type": "E", "data": {}}]})),
        )
        .await;
    assert_eq!(with_key.0, 201, "{}", with_key.1);
    let read = server
        .call(
            server
                .http
                .get(server.url("/v1/streams/a-1"))
                .bearer_auth("s3cret"),
        )
        .await;
    assert_eq!(read.1["version"], 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_the_api_description_are_served() {
    let server = Server::start().await;
    server
        .append("m-1", json!("any"), json!([{"type": "E", "data": {}}]))
        .await;
    server
        .command(
            "customers",
            "c9",
            json!({"type": "Create", "data": {"name": "N", "email": "n@x.io"}}),
        )
        .await;
    let metrics = server.metrics().await;
    for name in [
        "cairn_appends_total",
        "cairn_append_seconds",
        "cairn_commands_total",
        "cairn_command_seconds",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    let (status, doc) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    for path in [
        "/v1/streams/{stream}",
        "/v1/all",
        "/v1/subscribe",
        "/v1/modules",
        "/v1/modules/{name}",
        "/v1/aggregates/{name}/{id}/commands",
        "/v1/aggregates/{name}/{id}",
        "/healthz",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not described");
    }
    assert!(doc["paths"]["/v1/streams/{stream}"]["post"]["responses"]["409"].is_object());
    let health = server.get("/healthz").await;
    assert_eq!(health.1["status"], "ok");
    assert_eq!(health.1["head"], 2);
    server.stop().await;
}

/// An `Idempotency-Key` is scoped to the aggregate it is sent to: one key sent to two
/// aggregates at the same moment is two commands, both applied, and a retry of either gets its
/// own original answer. The events' ids used to come from the key and the millisecond alone, so
/// two such commands in one millisecond collided and one got a 409.
#[tokio::test(flavor = "multi_thread")]
async fn one_idempotency_key_on_two_aggregates_at_once_is_two_commands() {
    let server = Server::start().await;
    let send = |id: String, key: String| {
        let (http, url) = (
            server.http.clone(),
            server.url(&format!("/v1/aggregates/bank_account/{id}/commands")),
        );
        async move {
            let reply = http
                .post(url)
                .header("idempotency-key", key)
                .json(&json!({"type": "Open", "data": {"owner": "Ada"}}))
                .send()
                .await
                .expect("the server answers");
            let status = reply.status().as_u16();
            (
                status,
                reply.json::<serde_json::Value>().await.expect("json"),
            )
        }
    };
    for n in 0..100 {
        let key = format!("shared-{n}");
        let (left, right) = tokio::join!(
            send(format!("left-{n}"), key.clone()),
            send(format!("right-{n}"), key.clone())
        );
        assert_eq!(left.0, 200, "pair {n}: {}", left.1);
        assert_eq!(right.0, 200, "pair {n}: {}", right.1);
        assert_ne!(
            left.1["events"][0]["id"], right.1["events"][0]["id"],
            "pair {n}: one event id on two aggregates"
        );
        let again = send(format!("left-{n}"), key).await;
        assert_eq!(again, left, "pair {n}: the retry got another answer");
    }
}

/// No aggregate can write into another's stream, and an aggregate's streams are exactly the
/// category named after its module. Before module names lost `-`, module `bank` with id
/// `account-i1` wrote stream `bank-account-i1`, which was module `bank-account`'s aggregate `i1`, and
/// every later command there failed to decode it.
#[tokio::test(flavor = "multi_thread")]
async fn one_module_cannot_write_into_anothers_streams_and_its_category_is_its_name() {
    let server = Server::start().await;
    let (status, body) = server
        .put_module("bank", cairn_tests::guest("customers"), "application/wasm")
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .command(
            "bank_account",
            "i1",
            json!({"type": "Open", "data": {"owner": "Ada"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .command(
            "bank",
            "account-i1",
            json!({"type": "Create", "data": {"name": "Mallory", "email": "m@example.com"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stream"], "bank-account-i1", "{body}");
    let (status, body) = server
        .command(
            "bank_account",
            "i1",
            json!({"type": "Deposit", "data": {"amount": 5}}),
        )
        .await;
    assert_eq!(status, 200, "the account was written into: {body}");
    let (_, state) = server.get("/v1/aggregates/bank_account/i1").await;
    assert_eq!(state["version"], 2, "{state}");
    assert_eq!(state["state"]["balance"], 5, "{state}");

    // The category is the module's name, ids with `-` included.
    let (status, body) = server
        .command(
            "bank_account",
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            json!({"type": "Open", "data": {"owner": "Bo"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, log) = server.get("/v1/all?category=bank_account").await;
    let streams: Vec<&str> = log["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["stream"].as_str().expect("a stream"))
        .collect();
    assert_eq!(
        streams,
        [
            "bank_account-i1",
            "bank_account-i1",
            "bank_account-1b4e28ba-2fa1-11d2-883f-0016d3cca427"
        ]
    );
    let (_, bank) = server.get("/v1/all?category=bank").await;
    assert_eq!(bank["events"].as_array().map(Vec::len), Some(1), "{bank}");
}
