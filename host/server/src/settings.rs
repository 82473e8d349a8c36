//! [`Settings`]: what a node's runtime may use, read from the `[limits]`, `[commands]`,
//! `[projections]` and `[http]` sections of a cairn.toml. Every key is optional; a key left out
//! keeps its default.
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
//! file is read, with the key named, rather than failing later on the first command.

use std::num::NonZeroUsize;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use cairn_runtime::{CommandConfig, Limits, RunnerConfig};
use cairn_store::MAX_EVENTS_PER_APPEND;

use crate::http::{HttpConfig, MAX_HEADER_BYTES_LIMIT, MAX_URI_BYTES_LIMIT};
use serde::Deserialize;

/// The most linear memory a 32-bit WebAssembly instance can address.
const MAX_MEMORY_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The most events one `evolve` or `apply` call may be given, so one call stays short.
const MAX_BATCH: u64 = MAX_EVENTS_PER_APPEND as u64 * 100;

/// The runtime's limits, the command path's behaviour, the projection runners' batches and
/// the HTTP edge's timeouts and caps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub limits: Limits,
    pub commands: CommandConfig,
    pub projections: RunnerConfig,
    pub http: HttpConfig,
}

/// cairn.toml as this module reads it: the sections that hold settings, as written, and the
/// modules, which `project.rs` reads.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(default, rename = "module")]
    _modules: Vec<toml::Value>,
    #[serde(default)]
    limits: LimitsSection,
    #[serde(default)]
    commands: CommandsSection,
    #[serde(default)]
    projections: ProjectionsSection,
    #[serde(default)]
    http: HttpSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    fuel_per_call: Option<u64>,
    fuel_per_event: Option<u64>,
    fuel_yield_interval: Option<u64>,
    cpu_ms_per_call: Option<u64>,
    backstop_secs: Option<u64>,
    /// A key that changed meaning (it was a wall-clock deadline that blamed the module): it is
    /// refused, with the keys that replace it named.
    deadline_ms: Option<toml::Value>,
    memory_bytes: Option<u64>,
    stack_bytes: Option<u64>,
    table_elements: Option<u64>,
    concurrent_instances: Option<u64>,
    output_bytes: Option<u64>,
    compile_functions: Option<u64>,
    compile_code_bytes: Option<u64>,
    concurrent_compilations: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandsSection {
    snapshot_every: Option<u64>,
    max_retries: Option<u64>,
    fold_batch: Option<u64>,
    cache_entries: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectionsSection {
    batch: Option<u64>,
    batch_bytes: Option<u64>,
    scan_limit: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    header_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    write_stall_timeout_ms: Option<u64>,
    shutdown_grace_ms: Option<u64>,
    max_connections: Option<u64>,
    max_uri_bytes: Option<u64>,
    max_header_bytes: Option<u64>,
}

impl Settings {
    /// Reads the settings of the cairn.toml at `file`; its `[[module]]` entries are not
    /// looked at.
    pub fn load(file: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        Self::parse_file(&text, file)
    }

    /// The settings of `text`, the contents of `file`; errors name the file.
    pub fn parse_file(text: &str, file: &Path) -> anyhow::Result<Self> {
        Self::parse(text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
    }

    /// The settings a cairn.toml's text gives, on top of the defaults, checked.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: SettingsFile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("not a valid cairn.toml: {e}"))?;
        file.resolve()
    }
}

impl SettingsFile {
    fn resolve(self) -> anyhow::Result<Settings> {
        Ok(Settings {
            limits: self.limits.resolve()?,
            commands: self.commands.resolve()?,
            projections: self.projections.resolve()?,
            http: self.http.resolve()?,
        })
    }
}

/// Any value from `min` up.
const fn from(min: u64) -> RangeInclusive<u64> {
    min..=u64::MAX
}

impl LimitsSection {
    fn resolve(self) -> anyhow::Result<Limits> {
        let mut to = Limits::default();
        set(
            &mut to.fuel_per_call,
            self.fuel_per_call,
            "limits.fuel_per_call",
            from(1),
        )?;
        set(
            &mut to.fuel_per_event,
            self.fuel_per_event,
            "limits.fuel_per_event",
            from(0),
        )?;
        set(
            &mut to.fuel_yield_interval,
            self.fuel_yield_interval,
            "limits.fuel_yield_interval",
            from(1),
        )?;
        if self.deadline_ms.is_some() {
            anyhow::bail!(
                "limits.deadline_ms is no longer read: a module is now limited by the CPU time \
                 its call uses (limits.cpu_ms_per_call, default 250), and a call that takes too \
                 long in wall time only because the host is busy is the host's fault \
                 (limits.backstop_secs, default 30). Replace deadline_ms with either"
            );
        }
        if let Some(ms) = self.cpu_ms_per_call {
            check(ms, from(1), "limits.cpu_ms_per_call")?;
            to.cpu_per_call = Duration::from_millis(ms);
        }
        if let Some(secs) = self.backstop_secs {
            check(secs, from(1), "limits.backstop_secs")?;
            to.backstop = Duration::from_secs(secs);
        }
        // At least one WebAssembly page: an instance with less cannot hold anything.
        set(
            &mut to.memory_bytes,
            self.memory_bytes,
            "limits.memory_bytes",
            65_536..=MAX_MEMORY_BYTES,
        )?;
        set(
            &mut to.stack_bytes,
            self.stack_bytes,
            "limits.stack_bytes",
            from(4_096),
        )?;
        set(
            &mut to.table_elements,
            self.table_elements,
            "limits.table_elements",
            from(1),
        )?;
        set(
            &mut to.concurrent_instances,
            self.concurrent_instances,
            "limits.concurrent_instances",
            from(1),
        )?;
        set(
            &mut to.output_bytes,
            self.output_bytes,
            "limits.output_bytes",
            from(0),
        )?;
        set(
            &mut to.compile_budget.functions,
            self.compile_functions,
            "limits.compile_functions",
            from(1),
        )?;
        set(
            &mut to.compile_budget.code_bytes,
            self.compile_code_bytes,
            "limits.compile_code_bytes",
            from(1),
        )?;
        set(
            &mut to.concurrent_compilations,
            self.concurrent_compilations,
            "limits.concurrent_compilations",
            from(1),
        )?;
        Ok(to)
    }
}

impl CommandsSection {
    fn resolve(self) -> anyhow::Result<CommandConfig> {
        let mut to = CommandConfig::default();
        set(
            &mut to.snapshot_every,
            self.snapshot_every,
            "commands.snapshot_every",
            from(1),
        )?;
        set(
            &mut to.max_retries,
            self.max_retries,
            "commands.max_retries",
            from(0),
        )?;
        set(
            &mut to.fold_batch,
            self.fold_batch,
            "commands.fold_batch",
            1..=MAX_BATCH,
        )?;
        let mut entries = to.cache_entries.get();
        set(
            &mut entries,
            self.cache_entries,
            "commands.cache_entries",
            from(1),
        )?;
        to.cache_entries = NonZeroUsize::new(entries).unwrap_or(NonZeroUsize::MIN);
        Ok(to)
    }
}

impl ProjectionsSection {
    fn resolve(self) -> anyhow::Result<RunnerConfig> {
        let mut to = RunnerConfig::default();
        set(
            &mut to.batch,
            self.batch,
            "projections.batch",
            1..=MAX_BATCH,
        )?;
        set(
            &mut to.batch_bytes,
            self.batch_bytes,
            "projections.batch_bytes",
            from(1),
        )?;
        set(
            &mut to.scan_limit,
            self.scan_limit,
            "projections.scan_limit",
            from(1),
        )?;
        anyhow::ensure!(
            to.scan_limit >= to.batch,
            "projections.scan_limit is {}; a read must be able to examine at least a batch \
             (projections.batch is {})",
            to.scan_limit,
            to.batch
        );
        Ok(to)
    }
}

impl HttpSection {
    fn resolve(self) -> anyhow::Result<HttpConfig> {
        let mut to = HttpConfig::default();
        for (field, value, key, min) in [
            (
                &mut to.header_timeout,
                self.header_timeout_ms,
                "http.header_timeout_ms",
                1,
            ),
            (
                &mut to.body_timeout,
                self.body_timeout_ms,
                "http.body_timeout_ms",
                1,
            ),
            (
                &mut to.idle_timeout,
                self.idle_timeout_ms,
                "http.idle_timeout_ms",
                1,
            ),
            (
                &mut to.write_stall_timeout,
                self.write_stall_timeout_ms,
                "http.write_stall_timeout_ms",
                1,
            ),
            (
                &mut to.shutdown_grace,
                self.shutdown_grace_ms,
                "http.shutdown_grace_ms",
                0,
            ),
        ] {
            if let Some(ms) = value {
                check(ms, from(min), key)?;
                *field = Duration::from_millis(ms);
            }
        }
        if let Some(max) = self.max_connections {
            check(max, from(1), "http.max_connections")?;
            to.max_connections = Some(max);
        }
        set(
            &mut to.max_uri_bytes,
            self.max_uri_bytes,
            "http.max_uri_bytes",
            64..=MAX_URI_BYTES_LIMIT,
        )?;
        set(
            &mut to.max_header_bytes,
            self.max_header_bytes,
            "http.max_header_bytes",
            1_024..=MAX_HEADER_BYTES_LIMIT,
        )?;
        Ok(to)
    }
}

/// Sets `field` to `value`, if given, once it is within `bounds` and fits the field's type.
fn set<T: TryFrom<u64>>(
    field: &mut T,
    value: Option<u64>,
    key: &str,
    bounds: RangeInclusive<u64>,
) -> anyhow::Result<()> {
    if let Some(value) = value {
        check(value, bounds, key)?;
        *field = T::try_from(value)
            .map_err(|_| anyhow::anyhow!("{key} is {value}, which is too large"))?;
    }
    Ok(())
}

/// Refuses `value` for `key` unless it is within `bounds`, saying which bound it crossed.
fn check(value: u64, bounds: RangeInclusive<u64>, key: &str) -> anyhow::Result<()> {
    let (min, max) = (*bounds.start(), *bounds.end());
    anyhow::ensure!(value >= min, "{key} is {value}; it must be at least {min}");
    anyhow::ensure!(value <= max, "{key} is {value}; it must be at most {max}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Settings> {
        Settings::parse(text)
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
            ("[commands]\ncache_entries = 0\n", "commands.cache_entries"),
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
                "too large",
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
