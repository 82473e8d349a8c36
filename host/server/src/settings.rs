//! [`CairnToml`]: a cairn.toml, read in one place and deserialised in one type: its
//! `[[module]]` entries (for `project.rs`), and [`Settings`], what a node's runtime may use,
//! from its `[limits]`, `[commands]`, `[projections]`, `[reactors]`, `[http]` and `[store]` sections and
//! the `[[groups]]` and `[[sinks]]` it makes at start. Each
//! section is the configuration it sets (`cairn_runtime::Limits`, `CommandConfig`,
//! `RunnerConfig`, `ReactorConfig`, `HttpConfig`), with serde's defaults, and checks itself. Every key is optional; a key left out
//! keeps its default; an unknown key is refused.
//!
//! ```toml
//! [limits]                    # what one call into a module may use
//! fuel_per_call = 50_000_000  # about one unit per WebAssembly instruction
//! fuel_per_event = 200_000    # extra fuel for each event an `evolve` folds
//! fuel_yield_interval = 100_000
//! cpu_ms_per_call = 250       # CPU time one call may use (its work, never its waits)
//! backstop_secs = 30          # wall-clock backstop of one call; reaching it is the host's fault
//! memory_bytes = 67_108_864   # linear memory of one instance (64 MiB)
//! stack_bytes = 524_288
//! table_elements = 20_000
//! concurrent_instances = 256
//! output_bytes = 65_536       # of a call's stdout and of its stderr, kept for the log
//! compile_functions = 100_000 # the most functions an uploaded module may have to compile
//! compile_code_bytes = 16_777_216  # the most bytes of code it may have to compile
//! concurrent_compilations = 1 # modules compiled at once; other uploads wait their turn
//!
//! [commands]
//! snapshot_every = 100        # take a snapshot when a stream passes a multiple of this
//! max_retries = 16            # after losing a race with another writer
//! fold_batch = 1_000          # events one `evolve` call folds while loading
//! cache_entries = 10_000      # aggregate states kept in memory
//!
//! [projections]
//! batch = 2_000               # the most events one `apply` call takes
//! batch_bytes = 4_194_304     # the most bytes of events one `apply` call takes
//! scan_limit = 100_000        # the most log positions one read examines
//!
//! [reactors]
//! batch = 256                 # the most events one commit of a reactor's reactions covers
//! stall_after_ms = 30_000     # head moved, checkpoint did not, this long: reported stalled
//! retries = 3                 # tries after the first, of an event a reactor fails on
//! backoff_ms = 100            # the first retry's wait, doubled for each next one
//! max_backoff_ms = 5_000
//! on_failure = "park"         # then: park, skip or stop
//! # [reactors.policy.transfers] sets one reactor's retries, backoff and on_failure
//!
//! [[groups]]                  # a consumer group, made at start if missing (see README)
//! name = "billing"
//! filter = { categories = ["bank_account"] }
//!
//! [store]                     # without it, the data directory's embedded store
//! url = "postgres://cairn@127.0.0.1:5432/cairn"  # a PostgreSQL several nodes share
//!
//! [[sinks]]                   # a sink, made at start; its target updated if it changed
//! name = "accounts"
//! kafka = { brokers = "127.0.0.1:9092", topic = "accounts" }
//! filter = { categories = ["bank_account"] }
//!
//! [http]                      # connections (see http/edge/)
//! header_timeout_ms = 10_000  # a request head must arrive whole within this of its first byte
//! body_timeout_ms = 60_000    # a body must arrive whole within this of its head (else 408)
//! idle_timeout_ms = 60_000    # a keep-alive connection with no request is closed after this
//! write_stall_timeout_ms = 30_000 # a client that takes nothing sent for this long is dropped
//! shutdown_grace_ms = 10_000  # at shutdown, requests in flight get this long to finish
//! max_connections = 10_000    # at most; never more than the descriptor limit less 32
//! max_uri_bytes = 8_192       # a longer request target is a 414 `uri_too_long`
//! max_header_bytes = 65_536   # more header bytes are a 431 `headers_too_large`
//! ```
//!
//! A value the runtime cannot run with (a zero budget, a memory past 4 GiB) is refused when the
//! file is read, with the key named, rather than failing later on the first command. A key that
//! changed meaning is refused with the keys that replace it.

use std::path::{Path, PathBuf};

use cairn_runtime::setting::InvalidSetting;
use cairn_runtime::{CommandConfig, Limits, ReactorConfig, RunnerConfig};
use serde::Deserialize;

use crate::http::HttpConfig;

/// The runtime's limits, the command path's behaviour, the projection runners' batches and
/// the HTTP edge's timeouts and caps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub limits: Limits,
    pub commands: CommandConfig,
    pub projections: RunnerConfig,
    pub reactors: ReactorConfig,
    pub http: HttpConfig,
    /// `[[groups]]`: consumer groups made at start if missing.
    pub groups: Vec<cairn_groups::NamedGroup>,
    /// `[[sinks]]`: sinks made at start if missing, their targets updated if changed.
    pub sinks: Vec<cairn_sinks::SinkConfig>,
    /// `[store]`: where the events are kept.
    pub store: StoreConfig,
}

/// `[store]`: the embedded redb store in the data directory (the default), or a PostgreSQL
/// database that several nodes share (`url = "postgres://user@host/db"`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// A PostgreSQL connection URL. Without it, the data directory's redb store is used.
    pub url: Option<String>,
}

impl StoreConfig {
    /// Refuses a URL that is not PostgreSQL's, naming what is accepted.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.url.as_deref() {
            None => Ok(()),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(())
            }
            Some(_) => anyhow::bail!(
                "url: only PostgreSQL is supported besides the embedded store: give a \
                 `postgres://user@host:port/database` URL, or leave `url` out for the data \
                 directory's own store"
            ),
        }
    }
}

/// cairn.toml: its modules (`project.rs` makes a project of them) and its settings sections,
/// each deserialised straight into the configuration it sets, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CairnToml {
    #[serde(default, rename = "module")]
    pub modules: Vec<ModuleEntry>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub commands: CommandConfig,
    #[serde(default)]
    pub projections: RunnerConfig,
    #[serde(default)]
    pub reactors: ReactorConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub groups: Vec<cairn_groups::NamedGroup>,
    #[serde(default)]
    pub sinks: Vec<cairn_sinks::SinkConfig>,
    #[serde(default)]
    pub store: StoreConfig,
}

/// A `[[module]]` entry: a module's name and its crate, relative to the file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleEntry {
    pub name: String,
    pub path: PathBuf,
}

/// Keys that changed meaning: a file that still has one is refused with what replaced it.
const RETIRED_KEYS: [(&str, &str, &str); 1] = [(
    "limits",
    "deadline_ms",
    "a module is now limited by the CPU time its call uses (limits.cpu_ms_per_call, default \
     250), and a call that takes too long in wall time only because the host is busy is the \
     host's fault (limits.backstop_secs, default 30). Replace deadline_ms with either",
)];

impl CairnToml {
    /// Reads the cairn.toml at `file`: the one place the file is read. Errors name the file.
    pub fn load(file: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {}: {e}. A cairn.toml lists the modules to build:\n\n\
                 [[module]]\nname = \"customers\"\npath = \"examples/customers\"\n",
                file.display()
            )
        })?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
    }

    /// The file whose text is `text`, each section checked.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("not a valid cairn.toml: {e}"))?;
        for (section, key, why) in RETIRED_KEYS {
            if table
                .get(section)
                .and_then(toml::Value::as_table)
                .is_some_and(|t| t.contains_key(key))
            {
                anyhow::bail!("{section}.{key} is no longer read: {why}");
            }
        }
        let file: Self =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("not a valid cairn.toml: {e}"))?;
        let in_section =
            |section: &'static str| move |e: InvalidSetting| anyhow::anyhow!("{section}.{e}");
        file.limits.check().map_err(in_section("limits"))?;
        file.commands.check().map_err(in_section("commands"))?;
        file.projections
            .check()
            .map_err(in_section("projections"))?;
        file.reactors.check().map_err(in_section("reactors"))?;
        file.http.check().map_err(in_section("http"))?;
        for group in &file.groups {
            group
                .config
                .check()
                .map_err(|e| anyhow::anyhow!("groups: {}: {e}", group.name))?;
        }
        file.store
            .check()
            .map_err(|e| anyhow::anyhow!("store.{e}"))?;
        for sink in &file.sinks {
            sink.check()
                .map_err(|e| anyhow::anyhow!("sinks: {}: {e}", sink.name))?;
        }
        Ok(file)
    }

    /// Its modules, and its settings.
    pub fn into_parts(self) -> (Vec<ModuleEntry>, Settings) {
        let Self {
            modules,
            limits,
            commands,
            projections,
            reactors,
            http,
            groups,
            sinks,
            store,
        } = self;
        (
            modules,
            Settings {
                limits,
                commands,
                projections,
                reactors,
                http,
                groups,
                sinks,
                store,
            },
        )
    }
}

impl Settings {
    /// Reads the settings of the cairn.toml at `file`; its `[[module]]` entries are not
    /// looked at.
    pub fn load(file: &Path) -> anyhow::Result<Self> {
        Ok(CairnToml::load(file)?.into_parts().1)
    }

    /// The settings a cairn.toml's text gives, on top of the defaults, checked.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(CairnToml::parse(text)?.into_parts().1)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(text: &str) -> anyhow::Result<Settings> {
        Settings::parse(text)
    }

    #[test]
    fn reactors_take_a_default_policy_and_one_of_their_own() {
        let settings = parse(
            "[reactors]\nretries = 5\non_failure = \"skip\"\n\
             [reactors.policy.transfers]\non_failure = \"stop\"\nbackoff_ms = 10\n",
        )
        .expect("valid");
        let other = settings.reactors.policy_of("other");
        assert_eq!(
            (other.retries, other.on_failure),
            (5, cairn_groups::Exhausted::Skip)
        );
        let own = settings.reactors.policy_of("transfers");
        assert_eq!(
            (own.on_failure, own.backoff_ms),
            (cairn_groups::Exhausted::Stop, 10)
        );
        let refused = parse("[reactors]\non_failure = \"retry\"\n").expect_err("unknown policy");
        assert!(refused.to_string().contains("on_failure"), "{refused}");
        let refused = parse("[reactors]\nbackoff_ms = 9000\n").expect_err("past the ceiling");
        assert!(
            refused.to_string().contains("reactors.backoff_ms"),
            "{refused}"
        );
    }

    #[test]
    fn groups_and_sinks_are_read_and_checked() {
        let settings = parse(
            "[[groups]]\nname = \"billing\"\nstart = \"end\"\n\
             [[sinks]]\nname = \"hook\"\nwebhook = { url = \"http://127.0.0.1:1/in\" }\n",
        )
        .expect("valid");
        assert_eq!(settings.groups[0].name, "billing");
        assert_eq!(settings.groups[0].config.start, cairn_groups::Start::End);
        assert_eq!(settings.sinks[0].kind(), "webhook");
        let refused = parse("[[groups]]\nname = \"g\"\ncolour = 1\n").expect_err("unknown key");
        assert!(refused.to_string().contains("colour"), "{refused}");
        let refused =
            parse("[[groups]]\nname = \"g\"\nack_timeout_ms = 1\n").expect_err("too short");
        assert!(refused.to_string().contains("ack_timeout_ms"), "{refused}");
        let refused = parse("[[sinks]]\nname = \"s\"\n").expect_err("no target");
        assert!(refused.to_string().contains("target"), "{refused}");
    }

    #[test]
    fn keys_left_out_keep_their_defaults() {
        let settings = parse("").expect("empty is fine");
        assert_eq!(settings.limits.memory_bytes, Limits::default().memory_bytes);
        assert_eq!(settings.commands.snapshot_every, 100);

        let settings = parse(
            "[limits]\nmemory_bytes = 16_777_216\ncpu_ms_per_call = 200\nbackstop_secs = 5\n\
             [commands]\nsnapshot_every = 25\ncache_entries = 5\n\
             [projections]\nbatch = 300\n",
        )
        .expect("valid");
        assert_eq!(settings.limits.memory_bytes, 16 * 1024 * 1024);
        assert_eq!(settings.limits.cpu_per_call, Duration::from_millis(200));
        assert_eq!(settings.limits.backstop, Duration::from_secs(5));
        assert_eq!(settings.limits.stack_bytes, Limits::default().stack_bytes);
        assert_eq!(settings.commands.snapshot_every, 25);
        assert_eq!(settings.commands.cache_entries.get(), 5);
        assert_eq!(settings.commands.max_retries, 16);
        assert_eq!(settings.projections.batch, 300);
        assert_eq!(
            settings.projections.scan_limit,
            RunnerConfig::default().scan_limit
        );
    }

    #[test]
    fn refuses_values_the_runtime_cannot_run_with() {
        for (text, says) in [
            ("[limits]\nfuel_per_call = 0\n", "limits.fuel_per_call is 0"),
            ("[limits]\nmemory_bytes = 1024\n", "at least 65536"),
            (
                "[limits]\nmemory_bytes = 8_589_934_592\n",
                "at most 4294967296",
            ),
            ("[limits]\ncpu_ms_per_call = 0\n", "limits.cpu_ms_per_call"),
            ("[limits]\nbackstop_secs = 0\n", "limits.backstop_secs"),
            (
                "[commands]\nsnapshot_every = 0\n",
                "commands.snapshot_every",
            ),
            ("[commands]\ncache_entries = 0\n", "cache_entries"),
            ("[commands]\nfold_batch = 0\n", "commands.fold_batch"),
            ("[projections]\nbatch = 0\n", "projections.batch"),
            (
                "[projections]\nbatch = 1_000_000\n",
                "it must be at most 100000",
            ),
            (
                "[commands]\nfold_batch = 1_000_000\n",
                "commands.fold_batch is 1000000",
            ),
            (
                "[projections]\nbatch = 500\nscan_limit = 100\n",
                "projections.scan_limit is 100; a read must be able to examine at least a batch",
            ),
            (
                "[limits]\nconcurrent_instances = 5_000_000_000\n",
                "concurrent_instances",
            ),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn refuses_a_key_that_changed_meaning_and_names_the_keys_that_replace_it() {
        let err = parse("[limits]\ndeadline_ms = 50\n").expect_err("a renamed key");
        let said = err.to_string();
        assert!(
            said.contains("deadline_ms")
                && said.contains("limits.cpu_ms_per_call")
                && said.contains("limits.backstop_secs"),
            "{said}"
        );
    }

    #[test]
    fn reads_the_http_section() {
        let settings = parse(
            "[http]\nheader_timeout_ms = 500\nidle_timeout_ms = 2_000\nshutdown_grace_ms = 0\n\
             max_connections = 8\nmax_uri_bytes = 1_024\n",
        )
        .expect("valid");
        assert_eq!(settings.http.header_timeout, Duration::from_millis(500));
        assert_eq!(settings.http.idle_timeout, Duration::from_secs(2));
        assert_eq!(settings.http.shutdown_grace, Duration::ZERO);
        assert_eq!(settings.http.max_connections, Some(8));
        assert_eq!(settings.http.max_uri_bytes, 1_024);
        assert_eq!(
            settings.http.body_timeout,
            HttpConfig::default().body_timeout
        );
        for (text, says) in [
            (
                "[http]\nheader_timeout_ms = 0\n",
                "http.header_timeout_ms is 0",
            ),
            ("[http]\nmax_connections = 0\n", "http.max_connections is 0"),
            ("[http]\nmax_uri_bytes = 100_000\n", "at most 32768"),
            ("[http]\nmax_header_bytes = 10\n", "at least 1024"),
            ("[http]\nkeepalive = 1\n", "unknown field `keepalive`"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn refuses_keys_it_does_not_know() {
        let err = parse("[limits]\nmemory = 5\n").expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `memory`"), "{err}");
        let err = parse("[limits]\nmemory_bytes = -1\n").expect_err("negative");
        assert!(err.to_string().contains("memory_bytes"), "{err}");
    }

    #[test]
    fn the_store_section_takes_a_postgres_url_and_nothing_else() {
        assert_eq!(parse("").expect("empty").store.url, None);
        let url = "postgres://cairn@127.0.0.1:5432/cairn";
        let settings = parse(&format!("[store]\nurl = \"{url}\"\n")).expect("valid");
        assert_eq!(settings.store.url.as_deref(), Some(url));
        let err = parse("[store]\nurl = \"mysql://x@y/z\"\n").expect_err("not postgres");
        assert!(
            err.to_string().contains("store.url: only PostgreSQL"),
            "{err}"
        );
        let err = parse("[store]\npath = \"x\"\n").expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `path`"), "{err}");
    }

    #[test]
    fn load_reads_a_project_file_with_modules() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("cairn.toml");
        std::fs::write(
            &file,
            "[[module]]\nname = \"m\"\npath = \"m\"\n\n[commands]\nsnapshot_every = 7\n",
        )
        .expect("write");
        let settings = Settings::load(&file).expect("loads");
        assert_eq!(settings.commands.snapshot_every, 7);
        std::fs::write(&file, "[commands]\nsnapshot_every = 0\n").expect("write");
        let err = Settings::load(&file).expect_err("zero");
        assert!(
            err.to_string()
                .contains("cairn.toml: commands.snapshot_every"),
            "{err}"
        );
    }
}
