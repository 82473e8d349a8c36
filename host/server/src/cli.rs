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
    /// Options every command takes, before or after its name.
    #[command(flatten)]
    pub global: ClientArgs,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The command, with the global options given to it.
    pub fn into_command(self) -> Command {
        let mut command = self.command;
        let global = self.global;
        match &mut command {
            Command::Serve(args) => args.key.api_key = global.api_key,
            Command::Dev(args) => args.key.api_key = global.api_key,
            Command::Deploy(args) => args.client = global,
            Command::Undeploy(args) => args.client = global,
            Command::Send(args) => args.client = global,
            Command::Read(args) => args.client = global,
            Command::Streams(args) => args.client = global,
            Command::Stats(args) => args.client = global,
            Command::Tail(args) => args.client = global,
            Command::State(args) => args.client = global,
            Command::History(args) => args.client = global,
            Command::Query(args) => args.client = global,
            Command::Projections(args) => match &mut args.command {
                ProjectionsCommand::List { client }
                | ProjectionsCommand::Status { client, .. }
                | ProjectionsCommand::Pause { client, .. }
                | ProjectionsCommand::Resume { client, .. }
                | ProjectionsCommand::Reset { client, .. } => *client = global,
            },
            Command::Reactors(args) => match &mut args.command {
                ReactorsCommand::List { client }
                | ReactorsCommand::Status { client, .. }
                | ReactorsCommand::Parked { client, .. }
                | ReactorsCommand::Retry { client, .. }
                | ReactorsCommand::Discard { client, .. }
                | ReactorsCommand::Reset { client, .. } => *client = global,
            },
            Command::Groups(args) => match &mut args.command {
                GroupsCommand::List { client }
                | GroupsCommand::Status { client, .. }
                | GroupsCommand::Create { client, .. }
                | GroupsCommand::Delete { client, .. }
                | GroupsCommand::Parked { client, .. }
                | GroupsCommand::Replay { client, .. }
                | GroupsCommand::Discard { client, .. }
                | GroupsCommand::Reset { client, .. }
                | GroupsCommand::Resume { client, .. } => *client = global,
            },
            Command::Sinks(args) => match &mut args.command {
                SinksCommand::List { client }
                | SinksCommand::Status { client, .. }
                | SinksCommand::Create { client, .. }
                | SinksCommand::Delete { client, .. } => *client = global,
            },
            Command::Bench(args) => args.json = global.json,
            Command::Verify(args) => args.json = global.json,
            Command::Backup(args) => args.client = global,
            Command::Restore(args) => args.json = global.json,
            Command::Migrate(args) => args.json = global.json,
            Command::New(_) | Command::Completions(_) => {}
        }
        command
    }
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
    /// Remove a module: an aggregate's events stay, a projection's read models are dropped.
    Undeploy(UndeployArgs),
    /// Send a command to an aggregate.
    Send(SendArgs),
    /// Read a stream.
    Read(ReadArgs),
    /// List streams by name prefix or category, a page at a time.
    Streams(StreamsArgs),
    /// Follow the global log live, optionally filtered.
    Tail(TailArgs),
    /// Show an aggregate's current state, or its state at a version.
    State(StateArgs),
    /// Step through an aggregate's history: each event and what it changed in the state.
    History(HistoryArgs),
    /// Ask a projection a question.
    Query(QueryArgs),
    /// Show the projections and where each is.
    Projections(ProjectionsArgs),
    /// Show the reactors, their parked events, and retry, discard or reset.
    Reactors(ReactorsArgs),
    /// Make, list, inspect and reset consumer groups, and replay or discard their parked
    /// events.
    Groups(GroupsArgs),
    /// Make, list, inspect and remove sinks: groups the server runs itself, publishing to
    /// Kafka or to a webhook.
    Sinks(SinksArgs),
    /// Show the server's version, head, store size, rates and projections (the console's
    /// overview).
    Stats(StatsArgs),
    /// Run a standard workload and print its figures.
    Bench(BenchArgs),
    /// Check a stopped server's data directory offline and report every damaged record.
    Verify(VerifyArgs),
    /// Copy a running server's store, consistently and while it takes writes, into a new
    /// directory: `cairn.redb` and `backup.json` (its head, size and SHA-256).
    Backup(BackupArgs),
    /// Start a new data directory from a backup of `cairn backup`, after checking its SHA-256
    /// and every record of it.
    Restore(RestoreArgs),
    /// Copy a whole store into an empty one on another backend: a data directory's embedded
    /// store into PostgreSQL, or back. The copy is read back and checked section by section
    /// (counts, and a hash over the log and over each other table).
    Migrate(MigrateArgs),
    /// Make a new module crate (an aggregate or a projection) that builds and tests at once,
    /// and list it in the cairn.toml here.
    New(NewArgs),
    /// Print the completion script of a shell, such as `cairn completions bash >
    /// ~/.local/share/bash-completion/completions/cairn`.
    Completions(CompletionsArgs),
}

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// A new directory (or an empty one) to write the backup into.
    pub dir: PathBuf,
    #[arg(skip)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The directory `cairn backup` wrote.
    pub backup: PathBuf,
    /// The data directory to start; it must not hold a store yet.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of lines (the global `--json`).
    #[arg(skip)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The store to copy: a stopped server's data directory, or a PostgreSQL URL
    /// (`postgres://user@host:port/db`).
    #[arg(long, value_name = "DATA_DIR|URL")]
    pub from: String,
    /// Where to copy it: a data directory holding no store yet, or a PostgreSQL database with
    /// no cairn rows in it.
    #[arg(long, value_name = "DATA_DIR|URL")]
    pub to: String,
    /// Print one JSON object instead of lines (the global `--json`).
    #[arg(skip)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The data directory of a server that is not running.
    pub data: PathBuf,
    /// Print one JSON object instead of lines (the global `--json`).
    #[arg(skip)]
    pub json: bool,
}

/// Who may call the API.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// Require `Authorization: Bearer <key>` on every route but /healthz: the global
    /// `--api-key`. A blank key is refused.
    #[arg(skip)]
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
    /// Keep the events in this PostgreSQL database (`postgres://user@host:port/db`), shared
    /// with other nodes, instead of the data directory's embedded store; overrides `[store]
    /// url` of the config. The data directory then holds only compiled code.
    #[arg(long, env = "CAIRN_STORE", value_name = "URL")]
    pub store: Option<String>,
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

/// How a client reaches the server: options of every command, given before or after its
/// name (`cairn --server URL state ...` or `cairn state ... --server URL`).
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The server's URL (`http://` is assumed when it names no scheme).
    #[arg(
        long,
        global = true,
        env = "CAIRN_SERVER",
        hide_env_values = true,
        default_value = DEFAULT_SERVER
    )]
    pub server: String,
    /// The API key: the one a client sends, and the one `serve` and `dev` require on every
    /// route but /healthz (a blank key is refused).
    #[arg(long, global = true, env = "CAIRN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The server a client talks to by default.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7700";

impl Default for ClientArgs {
    fn default() -> Self {
        Self {
            server: DEFAULT_SERVER.to_owned(),
            api_key: None,
            json: false,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// A component (`.wasm`), or a cairn.toml whose modules are built and uploaded.
    pub path: PathBuf,
    /// The module's name, for a .wasm file (default: the file's name without `.wasm`).
    #[arg(long)]
    pub name: Option<String>,
    /// Install nothing: print what each aggregate or upcaster would do to the history it would
    /// serve (its streams replayed, its recorded commands decided again), and what each
    /// projection makes of the log (and how it answers --queries), and exit non-zero when
    /// anything differs or fails.
    #[arg(long)]
    pub plan: bool,
    /// With --plan: a JSON file of the queries to compare for projections, from each
    /// projection's name to an array of requests (`{"customer_directory": [{"type":
    /// "count"}]}`).
    #[arg(long, requires = "plan")]
    pub queries: Option<PathBuf>,
    /// With --plan: exit zero even when the plan finds changes.
    #[arg(long, requires = "plan")]
    pub accept_changes: bool,
    /// With --plan: at most this many streams and commands, spread over the history.
    #[arg(long, requires = "plan")]
    pub sample: Option<usize>,
    /// For a reactor's .wasm file: build it from after this position with an empty state, as
    /// `cairn reactors reset --from` does (0 replays the whole log; commands already executed
    /// are answered by their keys). Without it, a new reactor starts at the head and a new
    /// version goes on from the checkpoint.
    #[arg(long, conflicts_with = "plan")]
    pub from: Option<u64>,
    #[arg(skip)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct UndeployArgs {
    /// The module to remove, such as `customer_directory`.
    pub name: String,
    #[arg(skip)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The aggregate module, such as `customers`.
    pub aggregate: String,
    /// The aggregate's id.
    pub id: String,
    /// The command as JSON: `{"type": "...", "data": {...}}`; `-` reads it from standard
    /// input, and `@FILE` from a file (for commands too large for an argument).
    pub command: String,
    /// Make the command idempotent: a retry with the same key appends nothing.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Fail with a conflict unless the aggregate is at exactly this version.
    #[arg(long)]
    pub expected_version: Option<u64>,
    #[arg(skip)]
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
    /// The events as stored, not read through the upcasters.
    #[arg(long)]
    pub raw: bool,
    #[arg(skip)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[arg(skip)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct StreamsArgs {
    /// Only streams whose names begin with this.
    #[arg(long, conflicts_with = "category")]
    pub prefix: Option<String>,
    /// Only streams of this category (the part of the name before the first `-`).
    #[arg(long)]
    pub category: Option<String>,
    /// The streams after this name.
    #[arg(long, conflicts_with = "before")]
    pub after: Option<String>,
    /// The streams before this name, nearest first.
    #[arg(long)]
    pub before: Option<String>,
    /// The most streams to list (default 100, at most 1,000).
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(skip)]
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
    /// Show each event's data whole (by default data over 200 bytes is cut short).
    #[arg(long)]
    pub full: bool,
    /// The events as stored, not read through the upcasters.
    #[arg(long)]
    pub raw: bool,
    #[arg(skip)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// The aggregate module.
    pub aggregate: String,
    /// The aggregate's id.
    pub id: String,
    /// The state at this version instead (0: before the first event).
    #[arg(long)]
    pub at: Option<u64>,
    /// With --at: compute it with the installed module version, not the one that wrote the
    /// event at that version.
    #[arg(long, requires = "at")]
    pub current: bool,
    #[arg(skip)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The aggregate module.
    pub aggregate: String,
    /// The aggregate's id.
    pub id: String,
    /// Only the step to this version, and the whole state there.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub at: Option<u64>,
    /// The first version (default 1).
    #[arg(long)]
    pub from: Option<u64>,
    /// The last version (default the aggregate's version).
    #[arg(long)]
    pub to: Option<u64>,
    /// Compute every state with the installed module version, not the one that wrote each
    /// event.
    #[arg(long)]
    pub current: bool,
    /// Show each event's data whole, however long.
    #[arg(long)]
    pub full: bool,
    #[arg(skip)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The projection, such as `customer_directory`.
    pub projection: String,
    /// The request as JSON, such as '{"type": "count"}'.
    pub request: String,
    #[arg(skip)]
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
        #[arg(skip)]
        client: ClientArgs,
    },
    /// One projection in full, with its fault or the rebuild in progress.
    Status {
        /// The projection.
        name: String,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Stop a projection between batches (queries are still answered).
    Pause {
        /// The projection.
        name: String,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Resume a paused projection from its checkpoint.
    Resume {
        /// The projection.
        name: String,
        #[arg(skip)]
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
        #[arg(skip)]
        client: ClientArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct ReactorsArgs {
    #[command(subcommand)]
    pub command: ReactorsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReactorsCommand {
    /// Every reactor: state, position, lag, parked events, intents issued and executed.
    List {
        #[arg(skip)]
        client: ClientArgs,
    },
    /// One reactor in full, with its last error and the stall alarm.
    Status {
        /// The reactor.
        name: String,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// The events a reactor parked, a page at a time: where, why, and how many tries.
    Parked {
        /// The reactor.
        name: String,
        /// Parked events after this position.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// The most to show.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Retry the event parked at a position, or every parked event with --all.
    Retry {
        /// The reactor.
        name: String,
        /// The parked event's position.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        position: Option<u64>,
        /// Retry every parked event, in log order.
        #[arg(long)]
        all: bool,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Discard the event parked at a position: the reactor will not react to it.
    Discard {
        /// The reactor.
        name: String,
        /// The parked event's position.
        position: u64,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Replay a reactor from a position with an empty state. Commands its intents sent before
    /// are answered by their keys, not executed again.
    Reset {
        /// The reactor.
        name: String,
        /// React again to the events after this position.
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(skip)]
        client: ClientArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct GroupsArgs {
    #[command(subcommand)]
    pub command: GroupsCommand,
}

/// Which parked events a replay or a discard takes.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ParkedSelection {
    /// The parked events at these positions.
    pub positions: Vec<u64>,
    /// The first N parked events, in log order.
    #[arg(long, value_name = "N")]
    pub first: Option<u64>,
    /// Every parked event, a page at a time.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// Every group: state, checkpoint, lag, in flight, parked, members.
    List {
        #[arg(skip)]
        client: ClientArgs,
    },
    /// One group in full: its config, members, counts and the stall alarm.
    Status {
        /// The group.
        name: String,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Make a group over the global log.
    Create {
        /// The group: lowercase letters, digits, `_`, `-`, `.`.
        name: String,
        /// Only events of this category (repeat for several).
        #[arg(long = "category", value_name = "CATEGORY")]
        categories: Vec<String>,
        /// Only events of this type (repeat for several).
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// Where it starts: `begin` (the default), `end`, or after a position.
        #[arg(long, default_value = "begin", conflicts_with = "start_time")]
        start: String,
        /// Start at the first event recorded at or after this time (ms since the Unix epoch).
        #[arg(long, value_name = "MS")]
        start_time: Option<u64>,
        /// What order is kept by: `stream` (the default), `category`, or `metadata:FIELD`.
        #[arg(long, default_value = "stream")]
        key: String,
        /// How long a delivery may go unacknowledged, in ms.
        #[arg(long, value_name = "MS")]
        ack_timeout_ms: Option<u64>,
        /// Retries before the `--on-exhausted` policy applies.
        #[arg(long)]
        max_retries: Option<u32>,
        /// `park` (the default), `skip` or `stop`.
        #[arg(long)]
        on_exhausted: Option<String>,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Remove a group, with its checkpoint and parked events.
    Delete {
        /// The group.
        name: String,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// A group's parked events, a page at a time: where, why, how many tries.
    Parked {
        /// The group.
        name: String,
        /// Parked events after this position.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// The most to show.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Deliver parked events once more, each in its key's order.
    Replay {
        /// The group.
        name: String,
        #[command(flatten)]
        selection: ParkedSelection,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Discard parked events.
    Discard {
        /// The group.
        name: String,
        #[command(flatten)]
        selection: ParkedSelection,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Start a group again from a position or a time: acknowledgements and parked events are
    /// dropped.
    Reset {
        /// The group.
        name: String,
        /// `begin`, `end`, or after a position.
        #[arg(long, conflicts_with = "time", required_unless_present = "time")]
        to: Option<String>,
        /// The first event recorded at or after this time (ms since the Unix epoch).
        #[arg(long, value_name = "MS")]
        time: Option<u64>,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Resume a group a member stopped.
    Resume {
        /// The group.
        name: String,
        #[arg(skip)]
        client: ClientArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct SinksArgs {
    #[command(subcommand)]
    pub command: SinksCommand,
}

#[derive(Debug, Subcommand)]
pub enum SinksCommand {
    /// Every sink: its target, state, what it published, its lag and parked events.
    List {
        #[arg(skip)]
        client: ClientArgs,
    },
    /// One sink in full.
    Status {
        /// The sink.
        name: String,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Make a sink. Its parked events are managed with `cairn groups ... sink.NAME`.
    Create {
        /// The sink: lowercase letters, digits, `_`, `-`, `.`.
        name: String,
        /// Publish to Kafka brokers (`host:port[,host:port]`), to the topic `--topic`.
        #[arg(long, requires = "topic", conflicts_with = "webhook")]
        kafka: Option<String>,
        /// The Kafka topic.
        #[arg(long)]
        topic: Option<String>,
        /// POST each event to this URL.
        #[arg(long, required_unless_present = "kafka")]
        webhook: Option<String>,
        /// Only events of this category (repeat for several).
        #[arg(long = "category", value_name = "CATEGORY")]
        categories: Vec<String>,
        /// Only events of this type (repeat for several).
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// Where it starts: `begin` (the default), `end`, or after a position.
        #[arg(long, default_value = "begin")]
        start: String,
        #[arg(skip)]
        client: ClientArgs,
    },
    /// Remove a sink and its group.
    Delete {
        /// The sink.
        name: String,
        #[arg(skip)]
        client: ClientArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Which workload to run.
    pub scenario: Scenario,
    /// Print one JSON object instead of a table (the global `--json`).
    #[arg(skip)]
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
    /// Run `http` on PostgreSQL instead: two nodes on a throwaway cluster (Debian's
    /// PostgreSQL, fsync on), beside a hand-built PostgreSQL event store driven by pgbench
    /// with the same clients, and a read of the log from PostgreSQL.
    #[arg(long)]
    pub postgres: bool,
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
    /// A plan of a new build of an aggregate over 100,000 events and 10,000 recorded commands.
    Plan,
    /// What the console's pages ask of the server, with 1,000,000 streams in the store.
    Ui,
    /// Reactors: events turned into commands per second, and the time from an event's append
    /// to its command being durable, idle and with 64 clients writing.
    Reactors,
    /// Consumer groups over HTTP: delivery to 4 members, the time from append to delivery when
    /// live, and a Kafka sink to a local tansu broker.
    Groups,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    #[command(subcommand)]
    pub module: NewModule,
}

/// The kinds of module `cairn new` makes.
#[derive(Debug, Subcommand)]
pub enum NewModule {
    /// An aggregate: it decides commands into events, and folds its events into its state.
    Aggregate {
        #[command(flatten)]
        args: NewCrateArgs,
    },
    /// A projection: it folds events into a read model, and answers queries from it.
    Projection {
        #[command(flatten)]
        args: NewCrateArgs,
        /// The aggregate whose events it reads (its subscription's category). Without it, it
        /// reads every event of a type it names.
        #[arg(long, value_name = "AGGREGATE")]
        of: Option<String>,
    },
    /// A reactor: it reacts to an aggregate's events with commands, each executed once.
    Reactor {
        #[command(flatten)]
        args: NewCrateArgs,
        /// The aggregate whose events it reacts to, and to which it sends commands.
        #[arg(long, value_name = "AGGREGATE")]
        of: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct NewCrateArgs {
    /// The module's name: a lower-case letter, then lower-case letters, digits and `_`, such
    /// as `shop_cart`. The crate is named after it.
    pub name: String,
    /// The crate's directory, which must not exist (default: NAME, here).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A checkout of cairn (or its guest-sdk directory) whose SDK the crate depends on, by
    /// path. Default: the checkout found from here up, else the one cairn was built from,
    /// else cairn's git repository.
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
    /// The module's language: a Rust crate, or a TypeScript package (`ts`, with the checkout's
    /// `guest-sdk-ts`; aggregates and projections).
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
}

/// The languages `cairn new` writes modules in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Rust,
    #[value(name = "ts")]
    TypeScript,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        for line in [
            &[
                "cairn",
                "--server",
                "127.0.0.1:9",
                "--json",
                "state",
                "customers",
                "c1",
            ][..],
            &[
                "cairn",
                "state",
                "customers",
                "c1",
                "--server",
                "127.0.0.1:9",
                "--json",
            ][..],
        ] {
            match Cli::try_parse_from(line).expect("parses").into_command() {
                Command::State(args) => {
                    assert_eq!(args.client.server, "127.0.0.1:9", "{line:?}");
                    assert!(args.client.json, "{line:?}");
                }
                other => panic!("{other:?}"),
            }
        }
        match Cli::try_parse_from(["cairn", "--api-key", "k", "serve"])
            .expect("parses")
            .into_command()
        {
            Command::Serve(args) => assert_eq!(args.key.api_key.as_deref(), Some("k")),
            other => panic!("{other:?}"),
        }
        match Cli::try_parse_from(["cairn", "projections", "list", "--server", "h:1"])
            .expect("parses")
            .into_command()
        {
            Command::Projections(ProjectionsArgs {
                command: ProjectionsCommand::List { client },
            }) => assert_eq!(client.server, "h:1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn help_never_shows_an_environment_value() {
        let mut command = Cli::command();
        command.build();
        let help = command
            .find_subcommand_mut("state")
            .expect("state")
            .render_long_help()
            .to_string();
        assert!(help.contains("[env: CAIRN_SERVER]"), "{help}");
        assert!(!help.contains("CAIRN_SERVER="), "{help}");
    }
}
