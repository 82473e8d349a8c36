//! cairn-bench: `cairn bench <scenario>`, standard workloads with figures a person can read,
//! or one JSON object with `--json`. The `cairn` binary links it; the figures it prints are the
//! ones BENCHMARKS.md records. The benches that load modules build the repository's examples
//! (`cairn_server::guests`), so they run from a checkout of cairn and say so elsewhere.
//!
//! Layout:
//! - `load.rs`: runs many concurrent workers and records each operation's latency. With
//!   `--pressure`, the workload runs beside a busy host (`pressure.rs`, also used by the tests that serve under
//!   pressure).
//! - `report.rs`: figures, their targets, and how they are printed; `machine.rs`, the CPU,
//!   cores and disk they were measured on, probed before the run.
//! - `store.rs`, `runtime.rs`, `commands.rs`, `http.rs`, `projections.rs`, `sandbox.rs`,
//!   `plan.rs`, `ui.rs`, `reactors.rs`, `groups.rs`: the scenarios;
//!   `bank.rs`, what the runtime ones share; `served.rs`, the server the HTTP ones drive;
//!   `postgres.rs`, `http --postgres`: two nodes on PostgreSQL beside a hand-built peer.
//! - `typescript.rs`: the TypeScript `bank_account` in `runtime` (build, compile, restart,
//!   instances, folds); `commands.rs` sends it commands too.

mod bank;
mod commands;
mod groups;
mod http;
mod load;
mod machine;
mod plan;
mod postgres;
mod projections;
mod reactors;
mod report;
mod runtime;
mod sandbox;
mod served;
mod store;
mod typescript;
mod ui;

pub mod pressure;

use cairn_server::cli::{BenchArgs, Scenario};
use pressure::Pressure;
use report::PressuredReport;

/// Runs the scenario `args` names and prints its figures.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.scale > 0.0 && args.scale.is_finite(),
        "--scale must be a positive number, not {}",
        args.scale
    );
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-")
        .tempdir_in(&parent)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot make a temporary directory in {}: {e}",
                parent.display()
            )
        })?;
    let machine = machine::Machine::probe(dir.path())?;
    anyhow::ensure!(
        !args.postgres || matches!(args.scenario, Scenario::Http),
        "--postgres applies to the http scenario"
    );
    let pressure = if args.pressure {
        anyhow::ensure!(
            matches!(
                args.scenario,
                Scenario::Commands | Scenario::Http | Scenario::Projections
            ),
            "--pressure applies to the commands, http and projections scenarios"
        );
        if !args.json {
            println!("starting the pressure: a busy loop on every core and a disk writer");
        }
        Some(Pressure::start(dir.path())?)
    } else {
        None
    };
    let report = match args.scenario {
        Scenario::Store => store::run(dir.path(), args.scale, !args.json).await?,
        Scenario::Runtime => runtime::run(dir.path(), args.scale, !args.json).await?,
        Scenario::Commands => commands::run(dir.path(), args.scale, !args.json).await?,
        Scenario::Http if args.postgres => {
            postgres::run(dir.path(), args.scale, !args.json).await?
        }
        Scenario::Http => http::run(dir.path(), args.scale, !args.json).await?,
        Scenario::Projections => projections::run(dir.path(), args.scale, !args.json).await?,
        Scenario::Sandbox => sandbox::run(dir.path(), args.scale, !args.json).await?,
        Scenario::Plan => plan::run(dir.path(), args.scale, !args.json).await?,
        Scenario::Ui => ui::run(dir.path(), args.scale, !args.json).await?,
        Scenario::Reactors => reactors::run(dir.path(), args.scale, !args.json).await?,
        Scenario::Groups => groups::run(dir.path(), args.scale, !args.json).await?,
    };
    let report = PressuredReport::new(report, machine, pressure.map(Pressure::stop));
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}

/// `n` scaled by `scale`, at least 1.
fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}
