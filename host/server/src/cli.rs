//! The command line (clap).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The address servers listen on and clients talk to by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7700";

/// cairn: an event store and a runtime for event-sourced domain logic.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server on a data directory.
    Serve(ServeArgs),
    /// Run a local dev server: build the modules in cairn.toml, load them, and hot-swap them
    /// when their sources change.
    Dev(DevArgs),
    /// Upload a module (a .wasm component), or build and upload every module of a cairn.toml.
    Deploy(DeployArgs),
    /// Send a command to an aggregate.
    Send(SendArgs),
    /// Read a stream.
    Read(ReadArgs),
    /// Follow the global log live, optionally filtered.
    Tail(TailArgs),
    /// Show an aggregate's current state.
    State(StateArgs),
    /// Ask a projection a question.
    Query(QueryArgs),
    /// Show the projections and where each is.
    Projections(ProjectionsArgs),
    /// Run a standard workload and print its figures.
    Bench(BenchArgs),
    /// Check a stopped server's data directory offline and report every damaged record.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The data directory of a server that is not running.
    pub data: PathBuf,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Who may call the API.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// Require `Authorization: Bearer <key>` on every route but /healthz. A blank key is
    /// refused.
    #[arg(long, env = "CAIRN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Allow listening on a non-loopback address without an API key.
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The data directory (created if missing).
    #[arg(long, default_value = "cairn-data")]
    pub data: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// A cairn.toml whose `[limits]`, `[commands]`, `[projections]` and `[http]` set what
    /// modules may use, how commands and projections run, and how connections are held (its
    /// modules are not built; deploy them). Defaults apply without it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// The project file that lists the modules (and may hold the settings of `cairn serve
    /// --config`).
    #[arg(long, default_value = "cairn.toml")]
    pub config: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Delete the dev store (`.cairn/` beside cairn.toml) before starting.
    #[arg(long)]
    pub clean: bool,
    /// Where cargo builds the modules (default: `target/cairn-dev` beside cairn.toml).
    #[arg(long)]
    pub target_dir: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// How a client reaches the server.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The server's URL.
    #[arg(long, env = "CAIRN_SERVER", default_value = "http://127.0.0.1:7700")]
    pub server: String,
    /// The API key, if the server needs one.
    #[arg(long, env = "CAIRN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print JSON for scripts instead of text for people.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// A component (`.wasm`), or a cairn.toml whose modules are built and uploaded.
    pub path: PathBuf,
    /// The module's name, for a .wasm file (default: the file's name, with `_` as `-`).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The aggregate module, such as `customers`.
    pub aggregate: String,
    /// The aggregate's id.
    pub id: String,
    /// The command as JSON: `{"type": "...", "data": {...}}`.
    pub command: String,
    /// Make the command idempotent: a retry with the same key appends nothing.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Fail with a conflict unless the aggregate is at exactly this version.
    #[arg(long)]
    pub expected_version: Option<u64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// The stream, such as `customers-c1`.
    pub stream: String,
    /// The first version to show.
    #[arg(long)]
    pub from: Option<u64>,
    /// The most events to show.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Newest first.
    #[arg(long)]
    pub backward: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// Only streams of this category (the part of the name before the first `-`).
    #[arg(long)]
    pub category: Option<String>,
    /// Only events of this type.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Start after this position (default: only new events).
    #[arg(long)]
    pub after: Option<u64>,
    /// Stop after this many events.
    #[arg(long)]
    pub count: Option<u64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// The aggregate module.
    pub aggregate: String,
    /// The aggregate's id.
    pub id: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The projection, such as `customer_directory`.
    pub projection: String,
    /// The request as JSON, such as '{"type": "count"}'.
    pub request: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct ProjectionsArgs {
    #[command(subcommand)]
    pub command: ProjectionsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Every projection: state, position, lag.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One projection in full, with its fault or the rebuild in progress.
    Status {
        /// The projection.
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop a projection between batches (queries are still answered).
    Pause {
        /// The projection.
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Resume a paused projection from its checkpoint.
    Resume {
        /// The projection.
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Rebuild a projection from position 0 beside the serving read model, which answers
    /// queries until the new one has caught up. Shows progress until it takes over.
    Reset {
        /// The projection.
        name: String,
        /// Return once the rebuild has started, without following it.
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Which workload to run.
    pub scenario: Scenario,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Multiply every workload's size by this (0.01 for a quick smoke run). Figures for
    /// BENCHMARKS.md are taken at 1.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Put the temporary database under this directory (it must be on the disk being
    /// measured). Defaults to the system's temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Run the workload on a busy host: a busy loop on every core and a disk writer that syncs
    /// large files, started and stopped by the bench (commands, http and projections). The
    /// run must still fail nothing and put no module on probation.
    #[arg(long)]
    pub pressure: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Scenario {
    /// The event store alone: durable appends and reads.
    Store,
    /// The WebAssembly runtime: folding, instantiation, loading with snapshots.
    Runtime,
    /// Durable commands in process: load, decide, append.
    Commands,
    /// The server over real HTTP: appends and commands from 64 connections.
    Http,
    /// Projections: replaying a million events into a read model, and lag behind live appends.
    Projections,
    /// The sandbox over HTTP: how fast a looping guest is stopped, and what 8 of them do to
    /// other commands.
    Sandbox,
}
