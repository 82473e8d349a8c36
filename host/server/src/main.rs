//! cairn: an event store and a runtime for event-sourced domain logic, in one binary.
//!
//! Layout:
//! - `cli.rs`: the command line (clap).
//! - `bench/`: `cairn bench <scenario>`, the standard workloads whose figures go in
//!   BENCHMARKS.md.
//! - `guests.rs`: building this repository's example modules for `wasm32-wasip2`.

mod bench;
mod cli;
mod guests;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        cli::Command::Bench(args) => runtime.block_on(bench::run(args)),
    }
}
