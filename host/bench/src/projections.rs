//! `cairn bench projections`: `customer_directory` replaying a million `customers` events into
//! its persisted read model, then following live appends at a fixed rate.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_runtime::{CommandPath, Limits, Projections, Registry, RunState, RunnerConfig};
use cairn_store::{EventStore, EventType, ExpectedVersion, Json, NewEvent, RedbOptions, RedbStore};
use hdrhistogram::Histogram;

use super::bank::Progress;
use super::load::drive;
use super::report::{Figure, Report, Target};
use super::scaled;
use cairn_server::guests;

const PROJECTION: &str = "customer_directory";
/// Events per customer in the history: created, updated twice, then deleted or updated.
const EVENTS_PER_CUSTOMER: usize = 4;
const WRITERS: usize = 32;
/// The live phase's append rate.
const LIVE_APPENDS_PER_S: usize = 5_000;

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let progress = Progress(progress);
    progress.say("building customer_directory for wasm32-wasip2");
    let bytes = guests::build(PROJECTION)?;
    let store = RedbStore::open(dir.join("data"), RedbOptions::default()).await?;
    let shared: Arc<dyn EventStore> = Arc::new(store.clone());

    let events = scaled(1_000_000, scale);
    let customers = events.div_ceil(EVENTS_PER_CUSTOMER);
    progress.say(&format!(
        "writing {} events ({customers} customers)",
        customers * EVENTS_PER_CUSTOMER
    ));
    write_history(Arc::clone(&shared), customers).await?;
    let head = shared.head().get();

    let registry =
        Arc::new(Registry::open(Arc::clone(&shared), &dir.join("cache"), Limits::default()).await?);
    registry.upload(PROJECTION, bytes).await?;
    progress.say(&format!("replaying {head} events into a new read model"));
    let began = Instant::now();
    let projections = Projections::start(
        Arc::clone(&shared),
        Arc::clone(&registry),
        RunnerConfig::default(),
    );
    loop {
        let status = projections.status(PROJECTION).await?;
        if let Some(status) = &status {
            anyhow::ensure!(
                status.serving.state != RunState::Faulted,
                "the projection faulted: {:?}",
                status.serving.fault
            );
            if status.serving.position >= head {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let replay = began.elapsed();
    let counted = projections
        .query(PROJECTION, Json::parse(r#"{"type":"count"}"#)?)
        .await?;
    let expected = format!(
        r#"{{"active":{},"deleted":{}}}"#,
        customers - customers.div_ceil(2),
        customers.div_ceil(2)
    );
    anyhow::ensure!(
        counted.as_str() == expected,
        "the replayed directory counts {counted}, not {expected}"
    );

    let seconds = scaled(10, scale).max(2);
    progress.say(&format!(
        "{LIVE_APPENDS_PER_S} appends/s for {seconds} s while the projection follows"
    ));
    let lag = live_lag(&shared, &projections, customers, seconds).await?;
    let probations = registry.probation(PROJECTION).map_or(0, |p| p.started);
    projections.stop().await;
    drop(registry);
    drop(shared);
    store.close().await;

    Ok(Report {
        scenario: "projections",
        scale,
        figures: vec![
            Figure {
                key: "replay_events_per_s",
                value: head as f64 / replay.as_secs_f64(),
                unit: "events/s",
                workload: format!(
                    "{head} customers events replayed through {PROJECTION} into a new, persisted \
                     read model (from the runner's start to live)"
                ),
                target: Some(Target::AtLeast(250_000.0)),
            },
            Figure {
                key: "live_lag_p50_ms",
                value: lag.value_at_quantile(0.5) as f64 / 1_000.0,
                unit: "ms",
                workload: format!(
                    "{LIVE_APPENDS_PER_S} appends/s for {seconds} s: from each append's \
                     acknowledgement to the projection's commit of it"
                ),
                target: None,
            },
            Figure {
                key: "live_lag_p99_ms",
                value: lag.value_at_quantile(0.99) as f64 / 1_000.0,
                unit: "ms",
                workload: "the same".into(),
                target: Some(Target::AtMost(100.0)),
            },
            super::report::probations("projection_probations", probations, PROJECTION),
        ],
    })
}

fn event(event_type: &str, data: String) -> anyhow::Result<NewEvent> {
    Ok(NewEvent::new(
        EventType::new(event_type)?,
        Json::parse(&data)?,
    ))
}

/// Customers `0..customers`, each registered and its email changed twice; even ones are then
/// deleted, odd ones change their email again. One append per customer, from concurrent writers.
async fn write_history(store: Arc<dyn EventStore>, customers: usize) -> anyhow::Result<()> {
    drive(WRITERS, customers.div_ceil(WRITERS), move |writer, n| {
        let store = Arc::clone(&store);
        async move {
            let id = n * WRITERS + writer;
            if id >= customers {
                return Ok(());
            }
            let stream = CommandPath::stream_of("customers", &format!("c{id}"))?;
            let email = |round: usize| format!(r#"{{"email":"c{id}.{round}@example.com"}}"#);
            let last = if id.is_multiple_of(2) {
                event("CustomerDeleted", "null".into())?
            } else {
                event("CustomerEmailChanged", email(3))?
            };
            let events = vec![
                event(
                    "CustomerRegistered",
                    format!(r#"{{"name":"Customer {id}","email":"c{id}.0@example.com"}}"#),
                )?,
                event("CustomerEmailChanged", email(1))?,
                event("CustomerEmailChanged", email(2))?,
                last,
            ];
            store
                .append(stream, ExpectedVersion::NoStream, events)
                .await?;
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// Appends new customers at [`LIVE_APPENDS_PER_S`] for `seconds`, and records, for each, the
/// time from its acknowledgement until the projection's status shows it committed.
async fn live_lag(
    store: &Arc<dyn EventStore>,
    projections: &Projections,
    first_id: usize,
    seconds: usize,
) -> anyhow::Result<Histogram<u64>> {
    let (acks, mut acked) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let total = LIVE_APPENDS_PER_S * seconds;
    // Every millisecond, the appends due by then.
    let writer = {
        let store = Arc::clone(store);
        tokio::spawn(async move {
            let began = Instant::now();
            let mut ticker = tokio::time::interval(Duration::from_millis(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut sent = 0;
            let mut appends = Vec::new();
            while sent < total {
                ticker.tick().await;
                let due = (began.elapsed().as_secs_f64() * LIVE_APPENDS_PER_S as f64) as usize;
                for n in sent..due.min(total) {
                    let store = Arc::clone(&store);
                    let acks = acks.clone();
                    appends.push(tokio::spawn(async move {
                        let id = first_id + n;
                        let stream = CommandPath::stream_of("customers", &format!("c{id}"))?;
                        let created = event(
                            "CustomerRegistered",
                            format!(r#"{{"name":"Live {id}","email":"c{id}@example.com"}}"#),
                        )?;
                        let outcome = store
                            .append(stream, ExpectedVersion::NoStream, vec![created])
                            .await?;
                        let _ = acks.send((outcome.last_position.get(), Instant::now()));
                        Ok::<_, anyhow::Error>(())
                    }));
                }
                sent = sent.max(due.min(total));
            }
            for append in appends {
                append.await??;
            }
            Ok::<_, anyhow::Error>(())
        })
    };

    let mut lag = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    // Acknowledged appends the projection has not shown yet, by position.
    let mut waiting: std::collections::BTreeMap<u64, Instant> = std::collections::BTreeMap::new();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(seconds as u64 + 60);
    while seen < total {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the projection did not keep up: {seen} of {total} appends seen"
        );
        while let Ok((position, at)) = acked.try_recv() {
            waiting.insert(position, at);
        }
        let status = projections
            .status(PROJECTION)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the projection is gone"))?;
        anyhow::ensure!(
            status.serving.state != RunState::Faulted,
            "the projection faulted: {:?}",
            status.serving.fault
        );
        let now = Instant::now();
        let still = waiting.split_off(&(status.serving.position + 1));
        for at in std::mem::replace(&mut waiting, still).into_values() {
            lag.saturating_record(now.saturating_duration_since(at).as_micros() as u64);
            seen += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    writer.await??;
    Ok(lag)
}
