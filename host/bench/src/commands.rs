//! `cairn bench commands`: durable commands in process (load, decide, append) on
//! `bank_account`, from 64 concurrent clients over 10,000 accounts, with the command log as it
//! is by default; then what the command log costs, in alternating runs without it and with it.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use cairn_runtime::{Command, CommandConfig, CommandLogging, CommandPath};
use cairn_store::{CommandType, Json};

use super::bank::{BankHost, Progress, open_accounts};
use super::load::{LoadResult, drive_after_warmup};
use super::report::{Figure, Report, Target};
use super::scaled;

const ACCOUNTS: usize = 10_000;
const CLIENTS: usize = 64;
/// Commands each client sends before any is measured. The clients start in the same instant
/// and at first move in lockstep, each command waiting for one group commit of all of them;
/// this many lets them fall into their steady rhythm first, so the start does not set the p99
/// (docs/performance.md, `cairn bench commands`).
const WARMUP_PER_CLIENT: usize = 100;
/// Commands each client sends that are measured: 384,000 in all. Over this many, 1% of the run
/// is long enough that one slow fsync stretch of the disk does not decide the p99 alone
/// (docs/performance.md, "Where the tail comes from").
const MEASURED_PER_CLIENT: usize = 6_000;

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let progress = Progress(progress);
    let host = BankHost::start(dir, progress).await?;
    let path = |log| {
        Arc::new(CommandPath::new(
            Arc::clone(&host.registry),
            Arc::clone(&host.shared),
            CommandConfig {
                log,
                ..CommandConfig::default()
            },
        ))
    };
    // The default: every accepted command kept with its events.
    let aggregates = path(CommandLogging::Accepted);
    let unlogged = path(CommandLogging::Off);

    let accounts = scaled(ACCOUNTS, scale).max(CLIENTS);
    progress.say(&format!("opening {accounts} accounts"));
    open_accounts(Arc::clone(&host.shared), accounts, CLIENTS).await?;
    progress.say("loading every account once (the cache holds them all)");
    load_accounts(&aggregates, 0..accounts).await?;

    let warmup = scaled(WARMUP_PER_CLIENT, scale);
    progress.say(&format!(
        "{CLIENTS} clients sending commands ({warmup} each before measuring)"
    ));
    let per_client = scaled(MEASURED_PER_CLIENT, scale);
    let result = send_commands(&aggregates, 0..accounts, warmup, per_client).await?;
    let workload = format!(
        "{} commands (Deposit, Withdraw), {CLIENTS} clients, {accounts} accounts, after {} unmeasured",
        CLIENTS * per_client,
        CLIENTS * warmup
    );
    let mut figures = vec![
        Figure {
            key: "commands_64_per_s",
            value: result.per_second(1),
            unit: "commands/s",
            workload: workload.clone(),
            target: Some(Target::AtLeast(20_000.0)),
        },
        Figure {
            key: "commands_64_p50_ms",
            value: result.quantile_ms(0.5),
            unit: "ms",
            workload: workload.clone(),
            target: None,
        },
        Figure {
            key: "commands_64_p99_ms",
            value: result.quantile_ms(0.99),
            unit: "ms",
            workload,
            target: Some(Target::AtMost(5.0)),
        },
    ];
    progress.say(&format!(
        "the command log's cost: {LOG_ROUNDS} rounds of commands without it, then with it"
    ));
    figures.extend(log_cost(&aggregates, &unlogged, accounts, scale).await?);
    for path in [&aggregates, &unlogged] {
        path.settle().await;
    }
    figures.push(super::report::probations(
        "commands_probations",
        host.registry
            .probation("bank_account")
            .map_or(0, |p| p.started),
        "bank_account",
    ));
    drop((aggregates, unlogged));
    host.stop().await;
    let rust_per_s = result.per_second(1);
    figures.extend(typescript(dir, scale, progress, rust_per_s).await?);
    Ok(Report {
        scenario: "commands",
        scale,
        figures,
    })
}

/// The same commands to the TypeScript `bank_account` (`examples/ts-bank-account`), fewer of
/// them, and how far behind the Rust module's `rust_per_s` it is.
async fn typescript(
    dir: &Path,
    scale: f64,
    progress: Progress,
    rust_per_s: f64,
) -> anyhow::Result<Vec<Figure>> {
    let host = BankHost::start_with(&dir.join("typescript"), progress, "ts-bank-account").await?;
    let path = Arc::new(CommandPath::new(
        Arc::clone(&host.registry),
        Arc::clone(&host.shared),
        CommandConfig::default(),
    ));
    let accounts = scaled(ACCOUNTS, scale).max(CLIENTS);
    progress.say(&format!("TypeScript: opening {accounts} accounts"));
    open_accounts(Arc::clone(&host.shared), accounts, CLIENTS).await?;
    load_accounts(&path, 0..accounts).await?;
    let warmup = scaled(WARMUP_PER_CLIENT, scale);
    let per_client = scaled(MEASURED_PER_CLIENT / 6, scale);
    progress.say(&format!(
        "TypeScript: {CLIENTS} clients sending commands ({warmup} each before measuring)"
    ));
    let result = send_commands(&path, 0..accounts, warmup, per_client).await?;
    path.settle().await;
    let probations = host
        .registry
        .probation("bank_account")
        .map_or(0, |p| p.started);
    drop(path);
    host.stop().await;
    let per_s = result.per_second(1);
    let workload = format!(
        "{} commands (Deposit, Withdraw) to the TypeScript bank_account, {CLIENTS} clients, \
         {accounts} accounts, after {} unmeasured",
        CLIENTS * per_client,
        CLIENTS * warmup
    );
    Ok(vec![
        Figure {
            key: "ts_commands_64_per_s",
            value: per_s,
            unit: "commands/s",
            workload: workload.clone(),
            target: None,
        },
        Figure {
            key: "ts_commands_64_p99_ms",
            value: result.quantile_ms(0.99),
            unit: "ms",
            workload,
            target: None,
        },
        Figure {
            key: "rust_over_ts_commands",
            value: rust_per_s / per_s,
            unit: "×",
            workload: "the Rust bank_account's commands/s over the TypeScript one's".into(),
            target: Some(Target::AtMost(4.0)),
        },
        super::report::probations("ts_commands_probations", probations, "bank_account"),
    ])
}

/// Loads `accounts` into `path`'s cache.
async fn load_accounts(path: &CommandPath, accounts: Range<usize>) -> anyhow::Result<()> {
    for account in accounts {
        path.version("bank_account", &account.to_string()).await?;
    }
    Ok(())
}

/// Rounds of the log's cost, each a run without the command log and then one with it, so
/// that a drift of the disk or of a neighbour over the runs falls on both alike. Each path
/// sends to its own half of the accounts, so neither finds the states it cached made stale
/// by the other.
const LOG_ROUNDS: usize = 4;
/// Commands each client sends in one run of a round.
const LOG_ROUND_PER_CLIENT: usize = 1_000;

/// The rate of commands without the command log and with it, each over all its runs, and how
/// much slower the log makes them.
async fn log_cost(
    logged: &Arc<CommandPath>,
    unlogged: &Arc<CommandPath>,
    accounts: usize,
    scale: f64,
) -> anyhow::Result<Vec<Figure>> {
    let per_client = scaled(LOG_ROUND_PER_CLIENT, scale);
    let warmup = scaled(WARMUP_PER_CLIENT, scale);
    let half = accounts / 2;
    load_accounts(unlogged, 0..half).await?;
    let (mut off, mut on) = ((0u64, 0f64), (0u64, 0f64));
    for _ in 0..LOG_ROUNDS {
        for (path, accounts, total) in [
            (unlogged, 0..half, &mut off),
            (logged, half..accounts, &mut on),
        ] {
            let result = send_commands(path, accounts, warmup, per_client).await?;
            total.0 += result.operations;
            total.1 += result.elapsed.as_secs_f64();
        }
    }
    let (off, on) = (off.0 as f64 / off.1, on.0 as f64 / on.1);
    let workload = format!(
        "{LOG_ROUNDS} rounds of {} commands without the log, then {} with it ({CLIENTS} clients, \
         {half} accounts each)",
        CLIENTS * per_client,
        CLIENTS * per_client
    );
    Ok(vec![
        Figure {
            key: "commands_64_log_off_per_s",
            value: off,
            unit: "commands/s",
            workload: workload.clone(),
            target: None,
        },
        Figure {
            key: "commands_64_log_on_per_s",
            value: on,
            unit: "commands/s",
            workload: workload.clone(),
            target: None,
        },
        Figure {
            key: "command_log_cost_pct",
            value: (off - on) / off * 100.0,
            unit: "% fewer commands/s",
            workload,
            target: Some(Target::AtMost(10.0)),
        },
    ])
}

/// Deposits and withdrawals to random `accounts` from [`CLIENTS`] clients through `path`: each
/// client sends `warmup` commands, then `per_client` measured ones.
pub(crate) async fn send_commands(
    path: &Arc<CommandPath>,
    accounts: Range<usize>,
    warmup: usize,
    per_client: usize,
) -> anyhow::Result<LoadResult> {
    drive_after_warmup(CLIENTS, warmup, per_client, {
        let path = Arc::clone(path);
        move |_, n| {
            let path = Arc::clone(&path);
            let accounts = accounts.clone();
            async move {
                let account = fastrand::usize(accounts).to_string();
                let (command_type, data) = if n % 2 == 0 {
                    ("Deposit", r#"{"amount":7}"#)
                } else {
                    ("Withdraw", r#"{"amount":5}"#)
                };
                let command = Command {
                    command_type: CommandType::new(command_type)?,
                    data: Json::parse(data)?,
                    expected_version: None,
                    idempotency_key: None,
                };
                path.execute("bank_account", &account, command).await?;
                Ok(())
            }
        }
    })
    .await
}
