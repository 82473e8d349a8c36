//! `/metrics` after a known workload, scraped from the real server: every append counted
//! (over HTTP and by commands), commands by outcome, module calls counted where they are made,
//! the state cache, the store's commits, a projection's position, lag, state and events
//! applied, live subscribers, and a `# HELP` line for every metric.
//!
//! Metrics are kept per process, so this file holds one test: its numbers are its own.

mod common;

use std::time::{Duration, Instant};

use common::server::Server;
use serde_json::json;

/// The value of the sample of `name` whose labels include every one of `labels`, or `None`.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = match series.split_once('{') {
            Some((metric, rest)) => (metric, rest),
            None => (series, ""),
        };
        let matches = metric == name
            && labels
                .iter()
                .all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")));
        if matches { value.parse().ok() } else { None }
    })
}

#[track_caller]
fn value(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(metrics, name, labels)
        .unwrap_or_else(|| panic!("no sample of {name} with {labels:?} in:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_known_workload_count_what_happened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &["customers", "customer_directory"]).await;
    let create =
        |name: &str| json!({"type": "Create", "data": {"name": name, "email": "x@example.com"}});

    // Three accepted commands (three events), one rejected, and two appends of three events.
    for (id, command) in [
        ("c1", create("Ada")),
        ("c2", create("Grace")),
        (
            "c1",
            json!({"type": "Update", "data": {"email": "ada@lovelace.org"}}),
        ),
    ] {
        let (status, body) = server.command("customers", id, command).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = server.command("customers", "c1", create("Ada")).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = server
        .append(
            "misc-1",
            json!("any"),
            json!([{"type": "Noted", "data": {}}, {"type": "Noted", "data": {}}]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .append(
            "misc-2",
            json!("any"),
            json!([{"type": "Noted", "data": {}}]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    server
        .wait_for_projection("customer_directory", "caught up", |status| {
            status["state"] == "live" && status["position"] == 6
        })
        .await;

    // A live subscriber, counted while it is connected.
    let subscription = server
        .http
        .get(server.url("/v1/subscribe"))
        .send()
        .await
        .expect("subscribes");
    assert_eq!(subscription.status(), 200);
    let metrics = server.metrics().await;
    assert_eq!(value(&metrics, "cairn_subscribers", &[]), 1.0);

    // Appends: all six events, whichever way they came; two HTTP appends.
    assert_eq!(value(&metrics, "cairn_appended_events_total", &[]), 6.0);
    assert_eq!(
        value(&metrics, "cairn_appends_total", &[("outcome", "ok")]),
        2.0
    );
    assert_eq!(value(&metrics, "cairn_log_head", &[]), 6.0);

    // Commands by outcome, and the module calls made for them.
    let customers = ("module", "customers");
    assert_eq!(
        value(
            &metrics,
            "cairn_commands_total",
            &[customers, ("outcome", "ok")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &metrics,
            "cairn_commands_total",
            &[customers, ("outcome", "rejected")]
        ),
        1.0
    );
    // Each command is decided at least once (again, if the state it was decided on was
    // overtaken before its append).
    assert!(
        value(
            &metrics,
            "cairn_module_calls_total",
            &[customers, ("call", "decide")]
        ) >= 4.0
    );
    assert!(
        value(
            &metrics,
            "cairn_module_calls_total",
            &[("module", "customer_directory"), ("call", "apply")]
        ) >= 1.0
    );
    assert_eq!(
        sample(&metrics, "cairn_module_traps_total", &[customers]),
        None
    );
    assert_eq!(
        sample(&metrics, "cairn_host_faults_total", &[customers]),
        None
    );

    // The state cache: the first command on each aggregate misses, later ones hit.
    let hits = value(&metrics, "cairn_state_cache_hits_total", &[]);
    let misses = value(&metrics, "cairn_state_cache_misses_total", &[]);
    assert!(misses >= 2.0 && hits >= 2.0, "hits {hits}, misses {misses}");

    // The store's commits: at least one per append and command, each of at least one
    // operation, none failed.
    let commits = value(&metrics, "cairn_store_commit_seconds_count", &[]);
    assert!(commits >= 5.0, "{commits} commits");
    assert!(value(&metrics, "cairn_store_commit_operations_count", &[]) >= 5.0);
    assert_eq!(
        sample(&metrics, "cairn_store_commit_failures_total", &[]),
        None
    );

    // The projection: where it stands, its lag, its state, the events it applied (the three
    // of its category), its batches.
    let directory = ("projection", "customer_directory");
    assert_eq!(
        value(&metrics, "cairn_projection_position", &[directory]),
        6.0
    );
    assert_eq!(
        value(&metrics, "cairn_projection_lag_events", &[directory]),
        0.0
    );
    assert_eq!(
        value(
            &metrics,
            "cairn_projection_state",
            &[directory, ("state", "live")]
        ),
        1.0
    );
    for other in ["catching_up", "paused", "faulted"] {
        assert_eq!(
            value(
                &metrics,
                "cairn_projection_state",
                &[directory, ("state", other)]
            ),
            0.0,
            "{other}"
        );
    }
    assert_eq!(
        value(
            &metrics,
            "cairn_projection_events_applied_total",
            &[directory]
        ),
        3.0
    );
    assert!(
        value(
            &metrics,
            "cairn_projection_batch_seconds_count",
            &[directory]
        ) >= 1.0
    );
    assert_eq!(
        sample(&metrics, "cairn_projection_faults_total", &[directory]),
        None
    );

    // Every metric has its help.
    let families: Vec<&str> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    assert!(families.len() >= 15, "{families:?}");
    for family in families {
        assert!(
            metrics.contains(&format!("# HELP {family} ")),
            "{family} has no # HELP line:\n{metrics}"
        );
    }

    // A removed projection leaves no gauge behind.
    let (status, body) = server
        .call(
            server
                .http
                .delete(server.url("/v1/modules/customer_directory")),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let metrics = server.metrics().await;
    assert_eq!(
        sample(&metrics, "cairn_projection_position", &[directory]),
        None
    );
    assert_eq!(
        sample(
            &metrics,
            "cairn_projection_state",
            &[directory, ("state", "live")]
        ),
        None
    );

    // The subscriber gone, it is no longer counted.
    drop(subscription);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = server.metrics().await;
        if value(&metrics, "cairn_subscribers", &[]) == 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the subscriber is still counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}
