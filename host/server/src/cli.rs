//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// cairn: an event store and a runtime for event-sourced domain logic.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a standard workload and print its figures.
    Bench(BenchArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Which workload to run.
    pub(crate) scenario: Scenario,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Multiply every workload's size by this (0.01 for a quick smoke run). Figures for
    /// BENCHMARKS.md are taken at 1.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) scale: f64,
    /// Put the temporary database under this directory (it must be on the disk being
    /// measured). Defaults to the system's temporary directory.
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Scenario {
    /// The event store alone: durable appends and reads.
    Store,
    /// The WebAssembly runtime: folding, instantiation, loading with snapshots.
    Runtime,
    /// Durable commands in process: load, decide, append.
    Commands,
}
