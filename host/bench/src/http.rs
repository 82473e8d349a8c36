//! `cairn bench http`: the real server on 127.0.0.1, driven over HTTP from the same process by
//! 64 connections: single-event appends, then commands on `bank_account` over 10,000 accounts.

use std::path::Path;
use std::sync::Arc;

use super::bank::open_accounts;
use super::load::{LoadResult, drive};
use super::report::{Figure, Report, Target};
use super::scaled;
use super::served::Served;
use cairn_server::guests;

const CONNECTIONS: usize = 64;
const ACCOUNTS: usize = 10_000;

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let say = |what: &str| {
        if progress {
            eprintln!("… {what}");
        }
    };
    say("building bank_account for wasm32-wasip2");
    let module = guests::build("bank_account")?;
    let served = Served::start(dir, vec![("bank_account", module)]).await?;
    let (node, base) = (&served.node, served.base().to_owned());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()?;

    say(&format!(
        "{CONNECTIONS} connections appending one event each"
    ));
    let per_connection = scaled(500, scale);
    let appends = drive(CONNECTIONS, per_connection, {
        let client = client.clone();
        let base = base.clone();
        move |connection, n| {
            let client = client.clone();
            let url = format!("{base}/v1/streams/bench-{connection}-{}", n % 100);
            async move {
                let reply = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(r#"{"events":[{"type":"Pinged","data":{"n":1}}]}"#)
                    .send()
                    .await?;
                anyhow::ensure!(reply.status() == 201, "append answered {}", reply.status());
                Ok(())
            }
        }
    })
    .await?;

    let accounts = scaled(ACCOUNTS, scale).max(CONNECTIONS);
    say(&format!("opening {accounts} accounts"));
    open_accounts(Arc::clone(node.store()), accounts, CONNECTIONS).await?;
    for account in 0..accounts {
        node.command_path()
            .version("bank_account", &account.to_string())
            .await?;
    }

    say(&format!("{CONNECTIONS} connections sending commands"));
    let per_connection = scaled(500, scale);
    let commands = drive(CONNECTIONS, per_connection, {
        let client = client.clone();
        let base = base.clone();
        move |_, n| {
            let client = client.clone();
            let account = fastrand::usize(..accounts);
            let url = format!("{base}/v1/aggregates/bank_account/{account}/commands");
            let body = if n % 2 == 0 {
                r#"{"type":"Deposit","data":{"amount":7}}"#
            } else {
                r#"{"type":"Withdraw","data":{"amount":5}}"#
            };
            async move {
                let reply = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(reply.status() == 200, "command answered {}", reply.status());
                Ok(())
            }
        }
    })
    .await?;

    let probations = node
        .registry()
        .probation("bank_account")
        .map_or(0, |p| p.started);
    served.stop().await?;
    let append_work = format!(
        "{} single-event appends over HTTP, {CONNECTIONS} connections",
        appends.operations
    );
    let command_work = format!(
        "{} commands (Deposit, Withdraw) over HTTP, {CONNECTIONS} connections, {accounts} accounts",
        commands.operations
    );
    let mut figures = load_figures(
        [
            "http_appends_64_per_s",
            "http_appends_64_p50_ms",
            "http_appends_64_p99_ms",
        ],
        &appends,
        &append_work,
        15_000.0,
    );
    figures.extend(load_figures(
        [
            "http_commands_64_per_s",
            "http_commands_64_p50_ms",
            "http_commands_64_p99_ms",
        ],
        &commands,
        &command_work,
        12_000.0,
    ));
    figures.push(super::report::probations(
        "http_probations",
        probations,
        "bank_account",
    ));
    Ok(Report {
        scenario: "http",
        scale,
        figures,
    })
}

/// Rate (target `rate`), p50, and p99 (target 10 ms) of one load, under `keys` in that order.
fn load_figures(
    keys: [&'static str; 3],
    result: &LoadResult,
    workload: &str,
    rate: f64,
) -> Vec<Figure> {
    let [per_s, p50, p99] = keys;
    vec![
        Figure {
            key: per_s,
            value: result.per_second(1),
            unit: "requests/s",
            workload: workload.to_owned(),
            target: Some(Target::AtLeast(rate)),
        },
        Figure {
            key: p50,
            value: result.quantile_ms(0.5),
            unit: "ms",
            workload: workload.to_owned(),
            target: None,
        },
        Figure {
            key: p99,
            value: result.quantile_ms(0.99),
            unit: "ms",
            workload: workload.to_owned(),
            target: Some(Target::AtMost(10.0)),
        },
    ]
}
