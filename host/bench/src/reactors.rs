//! `cairn bench reactors`: how fast a reactor turns events into commands, against how fast the
//! same commands go when clients send them, and how long an event waits for its command.
//!
//! The reactor is the `relay-reactor` test guest: each `Pinged { account }` event of a `source`
//! stream becomes one `Deposit` to that `bank_account`, with no state of its own.
//! - Throughput: 20,000 events are appended first, then the reactors start, and the time until
//!   every event has been reacted to and every command is durable gives events per second. The
//!   same deposits sent by 64 clients straight to the command path, on the same host in the
//!   same run, give the rate it is held to (at least half).
//! - Latency: events appended one at a time, 10 ms apart; for each, the time from its append
//!   being acknowledged to the reactor's command being durable (the command's event is in the
//!   log), with the store otherwise idle, and then with 64 clients appending meanwhile.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_runtime::{CommandConfig, CommandPath, ReactorConfig, Reactors};
use cairn_server::guests;
use cairn_store::{
    AllRead, EventStore, EventType, ExpectedVersion, Json, NewEvent, Position, StreamId,
};
use hdrhistogram::Histogram;

use super::bank::{BankHost, Progress, open_accounts};
use super::report::{Figure, Report, Target};
use super::scaled;

const ACCOUNTS: usize = 1_000;
const EVENTS: usize = 20_000;
const CLIENTS: usize = 64;
const SAMPLES: usize = 500;

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let progress = Progress(progress);
    let host = BankHost::start(dir, progress).await?;
    progress.say("building relay-reactor for wasm32-wasip2");
    host.registry
        .upload("relay", guests::build("relay-reactor")?)
        .await?;
    let commands = Arc::new(CommandPath::new(
        Arc::clone(&host.registry),
        Arc::clone(&host.shared),
        CommandConfig::default(),
    ));
    progress.say(&format!("opening {ACCOUNTS} accounts"));
    open_accounts(Arc::clone(&host.shared), ACCOUNTS, CLIENTS).await?;

    let events = scaled(EVENTS, scale);
    progress.say(&format!(
        "appending {events} Pinged events before the reactor starts"
    ));
    append_pings(&host.shared, events).await?;
    let reactors = Reactors::start(
        Arc::clone(&host.shared),
        Arc::clone(&host.registry),
        Arc::clone(&commands),
        ReactorConfig::default(),
    );
    let started = Instant::now();
    settle(&reactors, events as u64).await?;
    let reacted_per_s = events as f64 / started.elapsed().as_secs_f64();

    progress.say(&format!(
        "the same deposits from {CLIENTS} clients, straight to the command path"
    ));
    let per_client = scaled(EVENTS / CLIENTS, scale);
    let direct =
        super::commands::send_commands(&commands, 0..ACCOUNTS, scaled(20, scale), per_client)
            .await?;
    let commands_per_s = direct.per_second(1);

    progress.say(&format!("{SAMPLES} events one at a time, the store idle"));
    let idle = latencies(&host.shared, SAMPLES, false).await?;
    progress.say(&format!(
        "{SAMPLES} events one at a time, {CLIENTS} clients appending"
    ));
    let busy = latencies(&host.shared, SAMPLES, true).await?;

    let throughput = format!("{events} events, each one Deposit to one of {ACCOUNTS} accounts");
    let figures = vec![
        Figure {
            key: "reactions_per_s",
            value: reacted_per_s,
            unit: "events/s",
            workload: throughput.clone(),
            target: None,
        },
        Figure {
            key: "reactions_commands_per_s",
            value: commands_per_s,
            unit: "commands/s",
            workload: format!(
                "{} Deposit/Withdraw commands from {CLIENTS} clients straight to the command path, same host and run",
                direct.operations
            ),
            target: None,
        },
        Figure {
            key: "reactions_to_commands",
            value: reacted_per_s / commands_per_s,
            unit: "ratio",
            workload: "reactions_per_s / reactions_commands_per_s".into(),
            target: Some(Target::AtLeast(0.5)),
        },
        Figure {
            key: "reaction_idle_p99_ms",
            value: quantile_ms(&idle, 0.99),
            unit: "ms",
            workload: format!(
                "{SAMPLES} events 10 ms apart, append acknowledged to command durable, the store idle"
            ),
            target: Some(Target::AtMost(50.0)),
        },
        Figure {
            key: "reaction_idle_p50_ms",
            value: quantile_ms(&idle, 0.5),
            unit: "ms",
            workload: "the same".into(),
            target: None,
        },
        Figure {
            key: "reaction_busy_p99_ms",
            value: quantile_ms(&busy, 0.99),
            unit: "ms",
            workload: format!(
                "{SAMPLES} events 10 ms apart, with {CLIENTS} clients appending to other streams"
            ),
            target: Some(Target::AtMost(50.0)),
        },
        Figure {
            key: "reaction_busy_p50_ms",
            value: quantile_ms(&busy, 0.5),
            unit: "ms",
            workload: "the same".into(),
            target: None,
        },
        super::report::probations(
            "reactions_probations",
            host.registry.probation("relay").map_or(0, |p| p.started),
            "relay",
        ),
    ];
    reactors.stop().await;
    commands.settle().await;
    drop(commands);
    host.stop().await;
    Ok(Report {
        scenario: "reactors",
        scale,
        figures,
    })
}

fn ping(account: usize) -> anyhow::Result<NewEvent> {
    Ok(NewEvent::new(
        EventType::new("Pinged")?,
        Json::parse(&format!(r#"{{"account":"{account}"}}"#))?,
    ))
}

/// Appends `events` pings, 100 to an append, to streams `source-0`, `source-1`, ...
async fn append_pings(store: &Arc<dyn EventStore>, events: usize) -> anyhow::Result<()> {
    let mut account = 0;
    for batch in 0..events.div_ceil(100) {
        let mut pings = Vec::new();
        for _ in 0..100.min(events - batch * 100) {
            pings.push(ping(account % ACCOUNTS)?);
            account += 1;
        }
        store
            .append(
                StreamId::new(&format!("source-{batch}"))?,
                ExpectedVersion::NoStream,
                pings,
            )
            .await?;
    }
    Ok(())
}

/// Waits until the relay has executed `intents` intents and has nothing left to do.
async fn settle(reactors: &Reactors, intents: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let status = reactors
            .status("relay")
            .ok_or_else(|| anyhow::anyhow!("the relay is not running"))?;
        if status.intents_executed >= intents
            && status.intents_executed == status.intents_issued
            && status.lag == 0
        {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the relay never caught up: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The latency of `samples` pings appended one at a time: from the append's acknowledgement to
/// the relay's deposit being in the log. With `busy`, 64 clients append to other streams
/// meanwhile.
async fn latencies(
    store: &Arc<dyn EventStore>,
    samples: usize,
    busy: bool,
) -> anyhow::Result<Histogram<u64>> {
    let acknowledged: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let durable: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = tokio::spawn(watch_deposits(
        Arc::clone(store),
        Arc::clone(&durable),
        Arc::clone(&done),
    ));
    let writers: Vec<_> = (0..if busy { CLIENTS } else { 0 })
        .map(|client| {
            let (store, done) = (Arc::clone(store), Arc::clone(&done));
            tokio::spawn(async move {
                let stream = StreamId::new(&format!("noise-{client}"))?;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let event = NewEvent::new(EventType::new("Noise")?, Json::parse("{}")?);
                    store
                        .append(stream.clone(), ExpectedVersion::Any, vec![event])
                        .await?;
                }
                Ok::<_, anyhow::Error>(())
            })
        })
        .collect();
    for sample in 0..samples {
        let event = ping(sample % ACCOUNTS)?;
        let id = event.id.to_string();
        store
            .append(
                StreamId::new(&format!("source-sample{busy}-{sample}"))?,
                ExpectedVersion::NoStream,
                vec![event],
            )
            .await?;
        acknowledged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, Instant::now());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while durable
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .len()
        < samples
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the relay's deposits never all arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await??;
    }
    watcher.abort();
    let mut latency = Histogram::new_with_bounds(1, 60_000_000, 3)?;
    let acknowledged = acknowledged
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let durable = durable
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (id, at) in acknowledged.iter() {
        if let Some(done) = durable.get(id) {
            latency.saturating_record(done.saturating_duration_since(*at).as_micros() as u64);
        }
    }
    Ok(latency)
}

/// Notes when each deposit the relay caused reaches the log, by the id of the event it reacted
/// to.
async fn watch_deposits(
    store: Arc<dyn EventStore>,
    durable: Arc<Mutex<HashMap<String, Instant>>>,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<()> {
    let mut head = store.watch_head();
    let mut after = store.head();
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        head.wait_past(after).await?;
        let now = Instant::now();
        let slice = store
            .read_all(AllRead::after(after).category("bank_account"))
            .await?;
        for event in &slice.events {
            let metadata: serde_json::Value = serde_json::from_str(event.metadata.as_str())?;
            if let Some(cause) = metadata["causation_id"].as_str() {
                durable
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(cause.to_owned())
                    .or_insert(now);
            }
        }
        after = Position::new(slice.scanned_to.get().max(after.get()));
    }
    Ok(())
}

fn quantile_ms(histogram: &Histogram<u64>, q: f64) -> f64 {
    histogram.value_at_quantile(q) as f64 / 1_000.0
}
