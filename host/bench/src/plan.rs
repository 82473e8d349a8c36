//! `cairn bench plan`: a plan (`CommandPath::plan`) of a new build of `bank_account` over
//! 100,000 events in 10,000 streams and 10,000 recorded commands, against the fold rate of the
//! same module measured in the same run.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cairn_runtime::{CallInput, Command, CommandConfig, CommandPath, PlanOptions, PlanProgress};
use cairn_store::{CommandType, EventLog, EventType, ExpectedVersion, Json, NewEvent};

use super::bank::{BankHost, Progress};
use super::report::{Figure, Report, Target};
use super::scaled;

const ACCOUNTS: usize = 10_000;
/// Events appended directly to each account before its one command.
const EVENTS_BEFORE: usize = 9;
/// How many times a plan may take, over folding its events once at the measured fold rate.
const TARGET_MULTIPLE: f64 = 10.0;

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let progress = Progress(progress);
    let host = BankHost::start(dir, progress).await?;
    let aggregates = Arc::new(CommandPath::new(
        Arc::clone(&host.registry),
        Arc::clone(&host.shared),
        CommandConfig::default(),
    ));
    let accounts = scaled(ACCOUNTS, scale).max(10);
    progress.say(&format!(
        "writing {accounts} accounts of {EVENTS_BEFORE} events, then one command each"
    ));
    write_history(&host, &aggregates, accounts).await?;
    let events = accounts * (EVENTS_BEFORE + 1);

    progress.say("the fold rate of bank_account");
    let fold_rate = fold_rate(&host).await?;

    progress.say("planning a new build of bank_account over the whole history");
    let candidate = cairn_guest_build::rebuilt(cairn_server::guests::build("bank_account")?);
    let began = Instant::now();
    let report = aggregates
        .plan(
            "bank_account",
            candidate,
            PlanOptions::default(),
            &PlanProgress::default(),
        )
        .await?;
    let took = began.elapsed().as_secs_f64();
    anyhow::ensure!(
        !report.changes && report.replay.events == events as u64,
        "the plan of an identical build found changes, or missed events: {report:?}"
    );
    let once = events as f64 / fold_rate;
    let workload = format!(
        "a plan of a new build of bank_account: {events} events in {accounts} streams \
         replayed by both versions, {} recorded commands decided again",
        report.redecide.commands
    );
    aggregates.settle().await;
    drop(aggregates);
    host.stop().await;
    Ok(Report {
        scenario: "plan",
        scale,
        figures: vec![
            Figure {
                key: "plan_100k_ms",
                value: took * 1_000.0,
                unit: "ms",
                workload: workload.clone(),
                target: None,
            },
            Figure {
                key: "plan_fold_rate_events_per_s",
                value: fold_rate,
                unit: "events/s",
                workload: "bank_account folding Deposited events in batches of 1,000, in this run"
                    .to_owned(),
                target: None,
            },
            Figure {
                key: "plan_over_one_fold_x",
                value: took / once,
                unit: "×",
                workload: format!(
                    "the plan's time over folding its {events} events once at that rate"
                ),
                target: Some(Target::AtMost(TARGET_MULTIPLE)),
            },
        ],
    })
}

/// `accounts` accounts, each with `EVENTS_BEFORE` events appended directly and then one
/// command through the command path (which the command log keeps), from 64 clients.
async fn write_history(
    host: &BankHost,
    aggregates: &Arc<CommandPath>,
    accounts: usize,
) -> anyhow::Result<()> {
    let opened = Json::parse(r#"{"owner":"bench"}"#)?;
    let deposited = Json::parse(r#"{"amount":10}"#)?;
    for account in 0..accounts {
        let stream = CommandPath::stream_of("bank_account", &account.to_string())?;
        let mut events = vec![NewEvent::new(EventType::new("Opened")?, opened.clone())];
        for _ in 1..EVENTS_BEFORE {
            events.push(NewEvent::new(
                EventType::new("Deposited")?,
                deposited.clone(),
            ));
        }
        host.store
            .append(stream, ExpectedVersion::NoStream, events)
            .await?;
    }
    const CLIENTS: usize = 64;
    super::load::drive(CLIENTS, accounts.div_ceil(CLIENTS), {
        let aggregates = Arc::clone(aggregates);
        move |client, n| {
            let aggregates = Arc::clone(&aggregates);
            async move {
                let account = n * CLIENTS + client;
                if account >= accounts {
                    return Ok(());
                }
                let command = Command {
                    command_type: CommandType::new("Deposit")?,
                    data: Json::parse(r#"{"amount":7}"#)?,
                    expected_version: None,
                    idempotency_key: None,
                };
                aggregates
                    .execute("bank_account", &account.to_string(), command)
                    .await?;
                Ok(())
            }
        }
    })
    .await?;
    Ok(())
}

/// Events per second `bank_account` folds in batches of 1,000.
async fn fold_rate(host: &BankHost) -> anyhow::Result<f64> {
    let module = host
        .registry
        .aggregate("bank_account")
        .ok_or_else(|| anyhow::anyhow!("bank_account did not load"))?;
    let input = CallInput {
        time_ms: 1_700_000_000_000,
        seed: [1; 32],
    };
    let batch: Vec<(String, String)> = (0..1_000)
        .map(|_| ("Deposited".to_owned(), r#"{"amount":1}"#.to_owned()))
        .collect();
    let mut state = module.init(input).await?;
    let began = Instant::now();
    let batches = 100;
    for _ in 0..batches {
        state = module.evolve(state, batch.clone(), input).await?;
    }
    Ok((batches * batch.len()) as f64 / began.elapsed().as_secs_f64())
}
