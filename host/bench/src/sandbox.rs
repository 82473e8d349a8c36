//! `cairn bench sandbox`: how fast the sandbox stops a looping guest (in wall time, and in the
//! CPU it burns before fuel stops it), and what looping guests do to everyone else, over HTTP. The test guest `misbehaving` (as `rogue`) loops on `Loop`;
//! `bank_account` serves 8 clients depositing into 1,000 accounts.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::bank::open_accounts;
use super::load::drive;
use super::report::{Figure, Report, Target};
use super::scaled;
use super::served::Served;
use cairn_server::guests;

const CLIENTS: usize = 8;
const LOOPS: usize = 8;
const ACCOUNTS: usize = 1_000;

pub(crate) async fn run(dir: &Path, scale: f64, progress: bool) -> anyhow::Result<Report> {
    let say = |what: &str| {
        if progress {
            eprintln!("… {what}");
        }
    };
    say("building bank_account and the misbehaving test guest for wasm32-wasip2");
    let bank = guests::build("bank_account")?;
    let rogue = guests::build("misbehaving")?;
    let served = Served::start(dir, vec![("bank_account", bank), ("rogue", rogue)]).await?;
    let (node, base) = (&served.node, served.base().to_owned());
    let client = reqwest::Client::new();
    open_accounts(Arc::clone(node.store()), ACCOUNTS, CLIENTS).await?;
    for account in 0..ACCOUNTS {
        node.command_path()
            .version("bank_account", &account.to_string())
            .await?;
    }
    let per_client = scaled(4_000, scale);
    let deposits = |client: reqwest::Client, base: String| {
        move |_, _| {
            let client = client.clone();
            let url = format!(
                "{base}/v1/aggregates/bank_account/{}/commands",
                fastrand::usize(..ACCOUNTS)
            );
            async move {
                let reply = client
                    .post(url)
                    .json(&serde_json::json!({"type": "Deposit", "data": {"amount": 1}}))
                    .send()
                    .await?;
                anyhow::ensure!(
                    reply.status() == 200,
                    "a deposit answered {}",
                    reply.status()
                );
                Ok(())
            }
        }
    };

    say(&format!("{CLIENTS} clients depositing, alone"));
    let alone = drive(CLIENTS, per_client, deposits(client.clone(), base.clone())).await?;

    say("looping commands, one at a time");
    let mut stopped_after = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let loops_alone = scaled(50, scale).max(5);
    let cpu_before = process_cpu();
    for n in 0..loops_alone {
        stopped_after.saturating_record(loop_once(&client, &base, n).await?.as_micros() as u64);
    }
    let cpu_per_loop = process_cpu().saturating_sub(cpu_before) / loops_alone as u32;

    say(&format!(
        "{CLIENTS} clients depositing while {LOOPS} looping commands run at all times"
    ));
    let looping = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let loops: Vec<_> = (0..LOOPS)
        .map(|worker| {
            let client = client.clone();
            let base = base.clone();
            let looping = Arc::clone(&looping);
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut n = 1_000 * (worker + 1);
                while looping.load(std::sync::atomic::Ordering::Relaxed) {
                    times.push(loop_once(&client, &base, n).await?);
                    n += 1;
                }
                Ok::<_, anyhow::Error>(times)
            })
        })
        .collect();
    let loaded = drive(CLIENTS, per_client, deposits(client.clone(), base.clone())).await?;
    looping.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut stopped_under_load = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in loops {
        for time in task.await?? {
            stopped_under_load.saturating_record(time.as_micros() as u64);
        }
    }

    served.stop().await?;

    let baseline = alone.quantile_ms(0.99);
    let with_loops = loaded.quantile_ms(0.99);
    let workload = format!(
        "{CLIENTS} clients, {} Deposit commands each over HTTP, {ACCOUNTS} accounts",
        per_client
    );
    Ok(Report {
        scenario: "sandbox",
        scale,
        figures: vec![
            Figure {
                key: "loop_stopped_p99_ms",
                value: stopped_after.value_at_quantile(0.99) as f64 / 1_000.0,
                unit: "ms",
                workload: format!(
                    "{} looping commands one at a time: from sending to the 500 reply",
                    stopped_after.len()
                ),
                // Wall time says how busy the host was, not what the module did: fuel stops a
                // loop (every reply is checked to say so), and its CPU is the figure below.
                target: None,
            },
            Figure {
                key: "loop_stopped_cpu_ms",
                value: cpu_per_loop.as_secs_f64() * 1_000.0,
                unit: "ms",
                workload: format!(
                    "CPU time of the whole process per looping command, one at a time (every \
                     one stopped by fuel; the CPU limit is {} ms)",
                    cairn_runtime::Limits::default().cpu_per_call.as_millis()
                ),
                target: None,
            },
            Figure {
                key: "loop_stopped_under_load_p99_ms",
                value: stopped_under_load.value_at_quantile(0.99) as f64 / 1_000.0,
                unit: "ms",
                workload: format!(
                    "{} looping commands, {LOOPS} at a time, beside the deposits: from sending \
                     to the reply, a wait for their turn on probation included",
                    stopped_under_load.len()
                ),
                target: None,
            },
            Figure {
                key: "commands_p99_ms",
                value: baseline,
                unit: "ms",
                workload: workload.clone(),
                target: None,
            },
            Figure {
                key: "commands_with_8_loops_p99_ms",
                value: with_loops,
                unit: "ms",
                workload: format!("the same, while {LOOPS} looping commands run at all times"),
                target: None,
            },
            Figure {
                key: "commands_p99_ratio_with_8_loops",
                value: with_loops / baseline,
                unit: "×",
                workload: "the p99 with the loops over the p99 alone".into(),
                target: Some(Target::AtMost(2.0)),
            },
        ],
    })
}

/// Sends one looping command; returns how long until the sandbox stopped it and replied.
/// Fuel must be what stopped it: it is deterministic, and the CPU limit is only a bound for
/// work that burns no fuel.
async fn loop_once(client: &reqwest::Client, base: &str, n: usize) -> anyhow::Result<Duration> {
    let began = Instant::now();
    let reply = client
        .post(format!("{base}/v1/aggregates/rogue/loop-{n}/commands"))
        .json(&serde_json::json!({"type": "Loop", "data": {}}))
        .send()
        .await?;
    let took = began.elapsed();
    let status = reply.status();
    let body: serde_json::Value = reply.json().await?;
    anyhow::ensure!(
        status == 500 && body["error"] == "module_out_of_fuel",
        "a looping command answered {status} {body}, not module_out_of_fuel"
    );
    Ok(took)
}

/// The CPU time this process has used, on every thread.
#[cfg(target_os = "linux")]
fn process_cpu() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

#[cfg(not(target_os = "linux"))]
fn process_cpu() -> Duration {
    Duration::ZERO
}
