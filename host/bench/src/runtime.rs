//! `cairn bench runtime`: the WebAssembly runtime with the `bank_account` example: folding,
//! fresh instances, loads from snapshots, and stepping through an account's history; and the
//! TypeScript `bank_account` beside it (`typescript.rs`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cairn_runtime::{
    CallInput, CommandConfig, CommandPath, HistoryRead, MAX_HISTORY_STEPS, ModuleChoice,
};
use cairn_store::{EventLog, EventType, ExpectedVersion, Json, NewEvent, RedbStore, Version};
use hdrhistogram::Histogram;

use super::bank::{BankHost, Progress};
use super::report::{Figure, Report, Target};
use super::scaled;

const BATCH: usize = 1_000;

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let progress = Progress(progress);
    let host = BankHost::start(dir, progress).await?;
    let (store, shared, registry) = (&host.store, &host.shared, &host.registry);
    let module = registry
        .aggregate("bank_account")
        .ok_or_else(|| anyhow::anyhow!("bank_account did not load"))?;
    let input = CallInput {
        time_ms: 1_700_000_000_000,
        seed: [1; 32],
    };
    let mut figures = Vec::new();

    progress.say("folding deposits in batches");
    let batches = scaled(300, scale);
    let batch: Vec<(String, String)> = (0..BATCH)
        .map(|i| {
            (
                "Deposited".to_owned(),
                format!(r#"{{"amount":{}}}"#, i % 100 + 1),
            )
        })
        .collect();
    let prepared: Vec<Vec<(String, String)>> = (0..batches).map(|_| batch.clone()).collect();
    let opened = vec![("Opened".to_owned(), r#"{"owner":"bench"}"#.to_owned())];
    let mut state = module
        .evolve(module.init(input).await?, opened, input)
        .await?;
    let began = Instant::now();
    for events in prepared {
        state = module.evolve(state, events, input).await?;
    }
    let elapsed = began.elapsed();
    figures.push(Figure {
        key: "fold_events_per_s",
        value: (batches * BATCH) as f64 / elapsed.as_secs_f64(),
        unit: "events/s",
        workload: format!(
            "fold {} events through bank_account in batches of {BATCH}",
            batches * BATCH
        ),
        target: Some(Target::AtLeast(1_000_000.0)),
    });

    progress.say("fresh instances");
    let calls = scaled(5_000, scale);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for _ in 0..100 {
        module.init(input).await?;
    }
    for _ in 0..calls {
        let began = Instant::now();
        module.init(input).await?;
        latency.saturating_record(began.elapsed().as_nanos() as u64);
    }
    figures.push(Figure {
        key: "instantiate_p50_us",
        value: latency.value_at_quantile(0.5) as f64 / 1_000.0,
        unit: "µs",
        workload: format!(
            "{calls} calls of init, each in a fresh store and instance (after 100 warm-up calls)"
        ),
        target: Some(Target::AtMost(25.0)),
    });
    figures.push(Figure {
        key: "instantiate_p99_us",
        value: latency.value_at_quantile(0.99) as f64 / 1_000.0,
        unit: "µs",
        workload: "the same".into(),
        target: None,
    });

    let length = scaled(100_000, scale);
    progress.say(&format!("writing two {length}-event accounts"));
    for account in ["load-a", "load-b"] {
        append_deposits(store, account, length).await?;
    }
    // A cache of one, alternating two accounts: every load misses the cache.
    let config = CommandConfig {
        cache_entries: std::num::NonZeroUsize::MIN,
        ..CommandConfig::default()
    };
    let aggregates = CommandPath::new(Arc::clone(registry), Arc::clone(shared), config);
    progress.say("first loads (folding everything, leaving snapshots)");
    for account in ["load-a", "load-b"] {
        aggregates.version("bank_account", account).await?;
        // Events after the snapshot, as a live aggregate has.
        append_more(store, account, 50).await?;
    }
    progress.say("loads from snapshots");
    let loads = scaled(1_000, scale).max(100);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for n in 0..loads {
        let account = if n % 2 == 0 { "load-a" } else { "load-b" };
        let began = Instant::now();
        let version = aggregates.version("bank_account", account).await?;
        latency.saturating_record(began.elapsed().as_micros() as u64);
        anyhow::ensure!(
            version.get() == length as u64 + 50,
            "loaded version {version}"
        );
    }
    figures.push(Figure {
        key: "load_100k_p99_ms",
        value: latency.value_at_quantile(0.99) as f64 / 1_000.0,
        unit: "ms",
        workload: format!(
            "{loads} uncached loads of a {length}-event account: snapshot + 50 newer events"
        ),
        target: Some(Target::AtMost(2.0)),
    });
    figures.push(Figure {
        key: "load_100k_p50_ms",
        value: latency.value_at_quantile(0.5) as f64 / 1_000.0,
        unit: "ms",
        workload: "the same".into(),
        target: None,
    });
    figures.extend(history(store, &aggregates, scale, progress).await?);
    aggregates.settle().await;
    drop(aggregates);
    host.stop().await;
    figures.extend(super::typescript::runtime_figures(dir, scale, progress).await?);
    Ok(Report {
        scenario: "runtime",
        scale,
        figures,
    })
}

/// Time travel: every state of a 10,000-event account, in one history read of 10,000 steps
/// (the most one read returns), a few times.
async fn history(
    store: &RedbStore,
    aggregates: &CommandPath,
    scale: f64,
    progress: Progress,
) -> anyhow::Result<Vec<Figure>> {
    let length = scaled(10_000, scale).max(10);
    progress.say(&format!("stepping through a {length}-event account"));
    append_deposits(store, "history", length).await?;
    let read = HistoryRead {
        from: Version::new(1),
        to: None,
        limit: MAX_HISTORY_STEPS,
        module: ModuleChoice::AsRecorded,
    };
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for _ in 0..HISTORY_READS {
        let began = Instant::now();
        let history = aggregates.history("bank_account", "history", &read).await?;
        latency.saturating_record(began.elapsed().as_micros() as u64);
        anyhow::ensure!(
            history.steps.len() == length && history.failure.is_none(),
            "a history of {} steps, failure {:?}",
            history.steps.len(),
            history.failure
        );
    }
    let workload =
        format!("{HISTORY_READS} history reads of every state of a {length}-event account");
    Ok(vec![
        Figure {
            key: "history_10k_steps_p50_ms",
            value: latency.value_at_quantile(0.5) as f64 / 1_000.0,
            unit: "ms",
            workload: workload.clone(),
            target: Some(Target::AtMost(500.0)),
        },
        Figure {
            key: "history_10k_steps_max_ms",
            value: latency.max() as f64 / 1_000.0,
            unit: "ms",
            workload,
            target: None,
        },
    ])
}

/// How many times the history bench reads the whole history.
const HISTORY_READS: usize = 5;

/// Opens `account` and deposits into it until it has `length` events.
async fn append_deposits(store: &RedbStore, account: &str, length: usize) -> anyhow::Result<()> {
    let stream = CommandPath::stream_of("bank_account", account)?;
    let opened = NewEvent::new(
        EventType::new("Opened")?,
        Json::parse(r#"{"owner":"bench"}"#)?,
    );
    store
        .append(stream.clone(), ExpectedVersion::NoStream, vec![opened])
        .await?;
    append_more(store, account, length - 1).await
}

async fn append_more(store: &RedbStore, account: &str, count: usize) -> anyhow::Result<()> {
    let stream = CommandPath::stream_of("bank_account", account)?;
    let deposited = EventType::new("Deposited")?;
    let mut left = count;
    while left > 0 {
        let n = left.min(1_000);
        let events = (0..n)
            .map(|_| {
                Ok(NewEvent::new(
                    deposited.clone(),
                    Json::parse(r#"{"amount":1}"#)?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        store
            .append(stream.clone(), ExpectedVersion::Any, events)
            .await?;
        left -= n;
    }
    Ok(())
}
