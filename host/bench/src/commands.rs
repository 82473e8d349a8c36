//! `cairn bench commands`: durable commands in process (load, decide, append) on
//! `bank_account`, from 64 concurrent clients over 10,000 accounts.

use std::path::Path;
use std::sync::Arc;

use cairn_runtime::{Command, CommandConfig, CommandPath};
use cairn_store::Json;

use super::bank::{BankHost, Progress, open_accounts};
use super::load::drive_after_warmup;
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
    let aggregates = Arc::new(CommandPath::new(
        Arc::clone(&host.registry),
        Arc::clone(&host.shared),
        CommandConfig::default(),
    ));

    let accounts = scaled(ACCOUNTS, scale).max(CLIENTS);
    progress.say(&format!("opening {accounts} accounts"));
    open_accounts(Arc::clone(&host.shared), accounts, CLIENTS).await?;
    progress.say("loading every account once (the cache holds them all)");
    for account in 0..accounts {
        aggregates
            .version("bank_account", &account.to_string())
            .await?;
    }

    let warmup = scaled(WARMUP_PER_CLIENT, scale);
    progress.say(&format!(
        "{CLIENTS} clients sending commands ({warmup} each before measuring)"
    ));
    let per_client = scaled(MEASURED_PER_CLIENT, scale);
    let result = drive_after_warmup(CLIENTS, warmup, per_client, {
        let aggregates = Arc::clone(&aggregates);
        move |_, n| {
            let aggregates = Arc::clone(&aggregates);
            async move {
                let account = fastrand::usize(..accounts).to_string();
                let (command_type, data) = if n % 2 == 0 {
                    ("Deposit", r#"{"amount":7}"#)
                } else {
                    ("Withdraw", r#"{"amount":5}"#)
                };
                let command = Command {
                    command_type: command_type.into(),
                    data: Json::parse(data)?,
                    expected_version: None,
                    idempotency_key: None,
                };
                aggregates
                    .execute("bank_account", &account, command)
                    .await?;
                Ok(())
            }
        }
    })
    .await?;
    let workload = format!(
        "{} commands (Deposit, Withdraw), {CLIENTS} clients, {accounts} accounts, after {} unmeasured",
        CLIENTS * per_client,
        CLIENTS * warmup
    );
    let figures = vec![
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
    aggregates.settle().await;
    let mut figures = figures;
    figures.push(super::report::probations(
        "commands_probations",
        host.registry
            .probation("bank_account")
            .map_or(0, |p| p.started),
        "bank_account",
    ));
    drop(aggregates);
    host.stop().await;
    Ok(Report {
        scenario: "commands",
        scale,
        figures,
    })
}
