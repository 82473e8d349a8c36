//! The example projections through the runtime's projection calls and the store's read
//! models: a batch's writes commit with its checkpoint, queries read the committed model, a
//! refusal names its event and commits nothing, and a checkpoint cannot be committed twice.
//! These tests drive the calls by hand, except the last, which runs the real runner in tiny
//! batches (each applied while the one before is still being committed) against a fold in
//! one batch; `http_projections.rs` runs the runner through the server.

mod common;

use std::sync::Arc;

use cairn_runtime::{
    ApplyBatch, ApplyError, LoadError, LoadedProjection, Projections, RunState, RunnerConfig,
};
use cairn_store::{
    AllRead, EventLog, EventStore, ExpectedVersion, Json, ModelCommit, ModelError, Position,
    ReadModelName, ReadModels,
};
use common::Host;
use serde_json::{Value, json};

async fn command(host: &Host, id: &str, command: Value) {
    let command = common::command(
        command["type"].as_str().expect("type"),
        &command["data"].to_string(),
    );
    host.command_path
        .execute("customers", id, command)
        .await
        .unwrap_or_else(|e| panic!("command on {id}: {e}"));
}

/// Applies every admitted event after the model's checkpoint in one batch, and commits.
async fn catch_up(
    host: &Host,
    projection: &Arc<LoadedProjection>,
    model: &ReadModelName,
) -> Result<u64, ApplyError> {
    let view = host.store.read_model(model).expect("view");
    let after = view.checkpoint().unwrap_or(Position::START);
    let slice = host
        .store
        .read_all(AllRead::after(after))
        .await
        .expect("read");
    let events: Vec<_> = slice
        .events
        .into_iter()
        .filter(|e| projection.filter().admits(e))
        .collect();
    let writes = projection.apply(view, ApplyBatch::new(events)).await?;
    host.store
        .commit_model(ModelCommit {
            model: model.clone(),
            writes: writes.into(),
            checkpoint: slice.scanned_to,
        })
        .await
        .expect("commits");
    Ok(slice.scanned_to.get())
}

async fn query(
    host: &Host,
    projection: &Arc<LoadedProjection>,
    model: &ReadModelName,
    request: Value,
) -> Value {
    let view = host.store.read_model(model).expect("view");
    let answer = projection
        .query(view, Json::from_value(&request).expect("json"))
        .await
        .expect("the call runs")
        .expect("the query is answered");
    answer.to_value().expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn customer_directory_answers_from_committed_batches() {
    let host = Host::start().await;
    host.upload("customers", "customers").await;
    let directory = host
        .registry()
        .compile_projection(
            "customer_directory",
            cairn_tests::guest("customer_directory"),
        )
        .await
        .expect("compiles");
    assert_eq!(directory.filter().categories, ["customers"]);
    let model = ReadModelName::new("customer_directory#1").expect("name");

    for (id, name) in [("c1", "Ada"), ("c2", "Bob"), ("c3", "Cy")] {
        command(
            &host,
            id,
            json!({"type": "Create", "data": {"name": name, "email": format!("{id}@example.com")}}),
        )
        .await;
    }
    // Events of other categories are filtered out before the module sees them.
    host.store
        .append(
            cairn_store::StreamId::new("orders-1").expect("name"),
            ExpectedVersion::Any,
            vec![common::new_event("Placed", "{}")],
        )
        .await
        .expect("append");
    command(&host, "c2", json!({"type": "Delete"})).await;
    let checkpoint = catch_up(&host, &directory, &model).await.expect("applies");
    assert_eq!(checkpoint, 5);

    assert_eq!(
        query(&host, &directory, &model, json!({"type": "count"})).await,
        json!({"active": 2, "deleted": 1})
    );
    let deleted = query(
        &host,
        &directory,
        &model,
        json!({"type": "list", "status": "deleted"}),
    )
    .await;
    assert_eq!(deleted["customers"][0]["id"], "c2");
    assert_eq!(deleted["next"], Value::Null);
    let page = query(
        &host,
        &directory,
        &model,
        json!({"type": "list", "status": "active", "limit": 1}),
    )
    .await;
    assert_eq!(
        (page["customers"][0]["id"].clone(), page["next"].clone()),
        (json!("c1"), json!("c1"))
    );

    // Live: a later batch moves the model on from its checkpoint.
    command(
        &host,
        "c1",
        json!({"type": "Update", "data": {"email": "ada@lovelace.org"}}),
    )
    .await;
    assert_eq!(
        catch_up(&host, &directory, &model).await.expect("applies"),
        6
    );
    let found = query(
        &host,
        &directory,
        &model,
        json!({"type": "by_email", "email": "ada@lovelace.org"}),
    )
    .await;
    assert_eq!(found["id"], "c1");

    // The same checkpoint cannot be committed twice.
    let again = host
        .store
        .commit_model(ModelCommit {
            model: model.clone(),
            writes: Vec::new().into(),
            checkpoint: Position::new(6),
        })
        .await
        .expect_err("not ahead");
    assert!(
        matches!(again, ModelError::CheckpointNotAhead { .. }),
        "{again:?}"
    );

    let refused = directory
        .query(
            host.store.read_model(&model).expect("view"),
            Json::parse(r#"{"type":"everything"}"#).expect("json"),
        )
        .await
        .expect("the call runs");
    assert!(refused.expect_err("refused").contains("unknown variant"));
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_event_names_its_index_and_nothing_is_committed() {
    let host = Host::start().await;
    let balances = host
        .registry()
        .compile_projection("account_balances", cairn_tests::guest("account_balances"))
        .await
        .expect("compiles");
    let model = ReadModelName::new("account_balances#1").expect("name");
    let stream = cairn_store::StreamId::new("bank_account-7").expect("name");
    host.store
        .append(
            stream,
            ExpectedVersion::Any,
            vec![
                common::new_event("Opened", r#"{"owner":"ada"}"#),
                common::new_event("Deposited", r#"{"amount":500}"#),
            ],
        )
        .await
        .expect("append");
    assert_eq!(
        catch_up(&host, &balances, &model).await.expect("applies"),
        2
    );
    host.store
        .append(
            cairn_store::StreamId::new("bank_account-8").expect("name"),
            ExpectedVersion::Any,
            vec![common::new_event("Deposited", r#"{"amount":1}"#)],
        )
        .await
        .expect("append");
    let refused = catch_up(&host, &balances, &model)
        .await
        .expect_err("refused");
    assert!(
        matches!(&refused, ApplyError::Refused { index: 0, position: 3, event_type, message }
            if event_type == "Deposited" && message.contains("before it was opened")),
        "{refused:?}"
    );
    let view = host.store.read_model(&model).expect("view");
    assert_eq!(
        view.checkpoint(),
        Some(Position::new(2)),
        "the refused batch committed nothing"
    );
    assert_eq!(
        query(&host, &balances, &model, json!({"type": "total_deposits"})).await,
        json!({"total_deposits": 500})
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_keeps_its_kind_and_compile_projection_refuses_aggregates() {
    let host = Host::start().await;
    host.upload("customers", "customers").await;
    let refused = host
        .registry()
        .upload("customers", cairn_tests::guest("customer_directory"))
        .await
        .expect_err("refused");
    assert!(refused.to_string().contains("keeps its kind"), "{refused}");
    let uploaded = host
        .registry()
        .upload(
            "customer_directory",
            cairn_tests::guest("customer_directory"),
        )
        .await
        .expect("a projection uploads");
    assert_eq!(uploaded.kind, cairn_runtime::ModuleKind::Projection);
    assert!(host.registry().projection("customer_directory").is_some());
    let aggregate = host
        .registry()
        .compile_projection("customers", cairn_tests::guest("customers"))
        .await
        .expect_err("an aggregate is not a projection");
    assert!(
        matches!(aggregate, LoadError::WrongWorld { .. }),
        "{aggregate:?}"
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runner_in_tiny_batches_builds_the_model_one_batch_would() {
    let host = Host::start().await;
    host.upload("customers", "customers").await;
    for round in 0..3 {
        for n in 0..12 {
            let id = format!("c{n}");
            let email = format!("c{n}.{round}@example.com");
            let data = json!({"name": format!("N{n}"), "email": email});
            let kind = if round == 0 { "Create" } else { "Update" };
            command(&host, &id, json!({"type": kind, "data": data})).await;
            if round == 2 && n % 3 == 0 {
                command(&host, &id, json!({"type": "Delete"})).await;
            }
        }
    }
    host.upload("customer_directory", "customer_directory")
        .await;
    let head = host.store.head().get();

    // Batches of at most three events and 150 bytes (so often one), and reads that stop
    // after five positions.
    let shared: Arc<dyn EventStore> = Arc::new(host.store.clone());
    let projections = Projections::start(
        shared,
        Arc::clone(host.command_path.registry()),
        RunnerConfig {
            batch: 3,
            batch_bytes: 150,
            scan_limit: 5,
        },
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        let status = projections
            .status("customer_directory")
            .await
            .expect("the status reads");
        if let Some(status) = status.filter(|s| s.serving.position == head) {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "never caught up");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(status.serving.state, RunState::Live);
    projections.stop().await;

    let reference = ReadModelName::new("reference").expect("name");
    let projection = host
        .registry()
        .projection("customer_directory")
        .expect("loaded");
    catch_up(&host, &projection, &reference)
        .await
        .expect("applies");
    let everything = |model: &str| {
        let view = host
            .store
            .read_model(&ReadModelName::new(model).expect("name"))
            .expect("view");
        (
            view.checkpoint(),
            view.scan(b"", None, 100_000).expect("scan"),
        )
    };
    let (checkpoint, built) = everything(&status.serving.model);
    assert_eq!(checkpoint, Some(Position::new(head)));
    assert_eq!(built, everything("reference").1);
    assert_eq!(
        query(&host, &projection, &reference, json!({"type": "count"})).await,
        json!({"active": 8, "deleted": 4})
    );
}
