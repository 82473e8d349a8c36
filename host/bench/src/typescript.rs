//! The TypeScript `bank_account` (`examples/ts-bank-account`) in `cairn bench runtime`, beside
//! the Rust one: how long its build and its compile at upload take, whether a restart compiles
//! it again (it must not: the compiled code is cached), how fast a fresh instance starts, and
//! how fast it folds.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cairn_runtime::{CallInput, Limits, Registry};
use cairn_server::guests;
use cairn_store::{EventStore, RedbOptions, RedbStore};
use hdrhistogram::Histogram;

use super::bank::Progress;
use super::report::{Figure, Target};
use super::scaled;

const BATCH: usize = 1_000;

/// Files under `dir`, at any depth.
fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|entry| match entry.file_type() {
                Ok(kind) if kind.is_dir() => files(&entry.path()),
                Ok(_) => 1,
                Err(_) => 0,
            })
            .sum()
    })
}

pub(crate) async fn runtime_figures(
    dir: &Path,
    scale: f64,
    progress: Progress,
) -> anyhow::Result<Vec<Figure>> {
    let dir = dir.join("typescript");
    progress.say("TypeScript: building ts-bank-account (esbuild, componentize-js)");
    // Once unmeasured: the first build of a checkout installs the SDK's packages.
    guests::build("ts-bank-account")?;
    let began = Instant::now();
    let bytes = guests::build("ts-bank-account")?;
    let build_s = began.elapsed().as_secs_f64();
    let size_mib = bytes.len() as f64 / (1024.0 * 1024.0);

    let store = RedbStore::open(dir.join("data"), RedbOptions::default()).await?;
    let shared: Arc<dyn EventStore> = Arc::new(store.clone());
    let cache = dir.join("cache");
    let registry = Registry::open(Arc::clone(&shared), &cache, Limits::default()).await?;
    progress.say("TypeScript: uploading (compiling)");
    let began = Instant::now();
    registry.upload("bank_account", bytes).await?;
    let compile_s = began.elapsed().as_secs_f64();
    drop(registry);
    let cached = files(&cache);
    progress.say("TypeScript: a restart (loading from the compiled cache)");
    let began = Instant::now();
    let registry = Registry::open(Arc::clone(&shared), &cache, Limits::default()).await?;
    let restart_ms = began.elapsed().as_secs_f64() * 1_000.0;
    let compiled_again = files(&cache).saturating_sub(cached);
    let module = registry
        .aggregate("bank_account")
        .ok_or_else(|| anyhow::anyhow!("the TypeScript bank_account did not come back"))?;
    let input = CallInput {
        time_ms: 1_700_000_000_000,
        seed: [1; 32],
    };

    progress.say("TypeScript: fresh instances");
    let calls = scaled(1_000, scale).max(20);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    for _ in 0..10 {
        module.init(input).await?;
    }
    for _ in 0..calls {
        let began = Instant::now();
        module.init(input).await?;
        latency.saturating_record(began.elapsed().as_nanos() as u64);
    }

    progress.say("TypeScript: folding deposits in batches");
    let batches = scaled(50, scale).max(2);
    let batch: Vec<(String, String)> = (0..BATCH)
        .map(|i| {
            (
                "Deposited".to_owned(),
                format!(r#"{{"amount":{}}}"#, i % 100 + 1),
            )
        })
        .collect();
    let opened = vec![("Opened".to_owned(), r#"{"owner":"bench"}"#.to_owned())];
    let mut state = module
        .evolve(module.init(input).await?, opened, input)
        .await?;
    let began = Instant::now();
    for _ in 0..batches {
        state = module.evolve(state, batch.clone(), input).await?;
    }
    let fold_per_s = (batches * BATCH) as f64 / began.elapsed().as_secs_f64();
    drop((module, registry, shared));
    store.close().await;

    Ok(vec![
        Figure {
            key: "ts_component_mib",
            value: size_mib,
            unit: "MiB",
            workload: "the TypeScript bank_account's component (StarlingMonkey and the module)"
                .into(),
            target: Some(Target::AtMost(16.0)),
        },
        Figure {
            key: "ts_build_s",
            value: build_s,
            unit: "s",
            workload: "build the TypeScript bank_account: esbuild, then componentize-js".into(),
            target: None,
        },
        Figure {
            key: "ts_upload_compile_s",
            value: compile_s,
            unit: "s",
            workload: "upload the TypeScript bank_account: check and compile it".into(),
            target: None,
        },
        Figure {
            key: "ts_restart_load_ms",
            value: restart_ms,
            unit: "ms",
            workload: "a restart: the registry opened again, the module loaded from the store \
                       and the compiled cache"
                .into(),
            target: None,
        },
        Figure {
            key: "ts_restart_compiled",
            value: compiled_again as f64,
            unit: "files",
            workload: "what the restart added to the compiled cache (0: nothing compiled again)"
                .into(),
            target: Some(Target::AtMost(0.0)),
        },
        Figure {
            key: "ts_instantiate_p50_us",
            value: latency.value_at_quantile(0.5) as f64 / 1_000.0,
            unit: "µs",
            workload: format!(
                "{calls} calls of init to the TypeScript bank_account, each in a fresh instance"
            ),
            target: None,
        },
        Figure {
            key: "ts_fold_events_per_s",
            value: fold_per_s,
            unit: "events/s",
            workload: format!(
                "fold {} events through the TypeScript bank_account in batches of {BATCH}",
                batches * BATCH
            ),
            target: None,
        },
    ])
}
