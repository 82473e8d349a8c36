//! cairn-pg-cluster: a throwaway PostgreSQL cluster for cairn's tests and benches. It runs the
//! PostgreSQL of the machine (Debian's `postgresql` package): `initdb` into a temporary
//! directory, the server on 127.0.0.1 at a free port (and a Unix socket in that directory),
//! trust authentication for the `postgres` role, and on drop a fast shutdown and the directory
//! removed. Nothing is mocked: what runs is a real PostgreSQL.
//!
//! [`FaultyLink`] stands between a store and the cluster for tests of a database that stops
//! answering: it breaks at once, or after a number of statements.
//!
//! PostgreSQL refuses to run as root, so under root the cluster's programs run as the
//! `postgres` user (`runuser`), which owns the directory. The programs are found under
//! `CAIRN_PG_BIN` if set, else the newest `/usr/lib/postgresql/*/bin`, else on the `PATH`.
//!
//! ```no_run
//! let cluster = cairn_pg_cluster::Cluster::start(cairn_pg_cluster::Options::default())?;
//! let url = cluster.create_database("contract_1")?;
//! // postgres://postgres@127.0.0.1:PORT/contract_1
//! # Ok::<(), cairn_pg_cluster::ClusterError>(())
//! ```

mod link;

pub use link::FaultyLink;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Why a cluster could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL's programs were not found (looked in CAIRN_PG_BIN, /usr/lib/postgresql/*/bin \
         and the PATH): install them with `apt-get install -y postgresql`"
    )]
    NotInstalled,
    #[error("{program} failed: {detail}")]
    Failed { program: String, detail: String },
    #[error("the cluster did not accept connections within {0:?}; its log: {1}")]
    NotReady(Duration, String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How the cluster runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Whether commits are synced to disk. Off for tests, where the cluster's own durability is
    /// not under test and syncs cost most of the time; on for benches, which compare with
    /// other stores on the same disk.
    pub fsync: bool,
    /// The most connections it takes.
    pub max_connections: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            fsync: false,
            max_connections: 200,
        }
    }
}

/// A running cluster, stopped and removed when dropped.
#[derive(Debug)]
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    options: Options,
}

/// The newest of the directories in `root` that hold `initdb`.
fn newest_bin(root: &Path) -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Where PostgreSQL's programs are.
pub fn find_bin() -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os("CAIRN_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(bin) = newest_bin(Path::new("/usr/lib/postgresql")) {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .ok_or(ClusterError::NotInstalled)
}

/// The uid and gid of `user`, from `/etc/passwd`.
fn ids_of(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&user))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
            .flatten()
    })
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A port on 127.0.0.1 that nothing listened on a moment ago.
fn free_port() -> Result<u16, ClusterError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Cluster {
    /// Makes and starts a cluster.
    pub fn start(options: Options) -> Result<Self, ClusterError> {
        let bin = find_bin()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new().prefix("cairn-pg-").tempdir()?;
        if as_postgres {
            let (uid, gid) = ids_of("postgres").ok_or_else(|| ClusterError::Failed {
                program: "runuser".into(),
                detail: "running as root, and there is no `postgres` user to run PostgreSQL as"
                    .into(),
            })?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let cluster = Self {
            dir,
            bin,
            port: free_port()?,
            as_postgres,
            options,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data().to_string_lossy(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        cluster.pg_ctl_start()?;
        cluster.watch_owner()?;
        Ok(cluster)
    }

    /// Starts a watcher that stops the cluster and removes its directory once this process
    /// has ended, however it ended: a cluster kept in a `static` is never dropped, and a test
    /// that panics or is killed drops nothing, but neither leaves a server running or its
    /// data on the disk.
    fn watch_owner(&self) -> Result<(), ClusterError> {
        let pg_ctl = self.bin.join("pg_ctl");
        let runner = if self.as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {owner} 2>/dev/null; do sleep 1; done; \
             {runner}'{pg_ctl}' stop -m immediate -D '{data}' >/dev/null 2>&1; rm -rf '{dir}'",
            owner = std::process::id(),
            pg_ctl = pg_ctl.display(),
            data = self.data().display(),
            dir = self.dir.path().display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        Ok(())
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Runs one of PostgreSQL's programs (as `postgres` under root); fails on a bad exit.
    fn run(&self, program: &str, args: &[&str]) -> Result<Output, ClusterError> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        let output = command.args(args).current_dir(self.dir.path()).output()?;
        if !output.status.success() {
            return Err(ClusterError::Failed {
                program: program.to_owned(),
                detail: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            });
        }
        Ok(output)
    }

    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        let settings = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c synchronous_commit={} \
             -c full_page_writes={} -c max_connections={}",
            self.port,
            self.dir.path().display(),
            on(self.options.fsync),
            on(self.options.fsync),
            on(self.options.fsync),
            self.options.max_connections,
        );
        self.run(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                &self.data().to_string_lossy(),
                "-l",
                &self.log().to_string_lossy(),
                "-o",
                &settings,
            ],
        )
        .map_err(|error| match error {
            ClusterError::Failed { .. } => ClusterError::NotReady(
                Duration::from_secs(60),
                std::fs::read_to_string(self.log()).unwrap_or_default(),
            ),
            other => other,
        })?;
        Ok(())
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` on it, as the `postgres` role.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs one of PostgreSQL's client programs against the cluster, as the `postgres` role.
    fn run_client(&self, program: &str, args: &[&str]) -> Result<Output, ClusterError> {
        let port = self.port.to_string();
        let mut all = vec!["-h", "127.0.0.1", "-p", &port, "-U", "postgres"];
        all.extend_from_slice(args);
        self.run(program, &all)
    }

    /// Makes database `name` and gives its URL.
    pub fn create_database(&self, name: &str) -> Result<String, ClusterError> {
        self.run_client("createdb", &[name])?;
        Ok(self.url(name))
    }

    /// Makes database `name` as a copy of database `template` (which nobody may be connected
    /// to), and gives its URL.
    pub fn create_database_from(&self, name: &str, template: &str) -> Result<String, ClusterError> {
        self.run_client("createdb", &["-T", template, name])?;
        Ok(self.url(name))
    }

    /// Drops database `name`, ending the sessions connected to it.
    pub fn drop_database(&self, name: &str) -> Result<(), ClusterError> {
        self.run_client("dropdb", &["--force", "--if-exists", name])
            .map(drop)
    }

    /// Runs `pgbench` against database `database` with the custom script `script` (its text)
    /// and `args` (such as `-c 64 -j 2 -t 500`), without vacuuming first; gives what it
    /// printed.
    pub fn pgbench(
        &self,
        database: &str,
        script: &str,
        args: &[&str],
    ) -> Result<String, ClusterError> {
        let file = self.dir.path().join(format!("{database}-script.sql"));
        std::fs::write(&file, script)?;
        let file = file.to_string_lossy().into_owned();
        let mut all = vec!["-n", "-f", &file];
        all.extend_from_slice(args);
        all.push(database);
        let output = self.run_client("pgbench", &all)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs `statements` in database `database` with `psql`, stopping at the first error.
    pub fn psql(&self, database: &str, statements: &str) -> Result<(), ClusterError> {
        self.run_client(
            "psql",
            &[
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-d",
                database,
                "-c",
                statements,
            ],
        )
        .map(drop)
    }

    /// Stops it (a fast shutdown: sessions are ended, what was committed stays).
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.run(
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-m",
                "fast",
                "-D",
                &self.data().to_string_lossy(),
            ],
        )
        .map(drop)
    }

    /// Starts it again after [`Cluster::stop`], on the same port and data.
    pub fn restart(&self) -> Result<(), ClusterError> {
        self.pg_ctl_start()
    }
}

fn on(flag: bool) -> &'static str {
    if flag { "on" } else { "off" }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-m",
                "immediate",
                "-D",
                &self.data().to_string_lossy(),
            ],
        );
    }
}
