//! [`Node`]: one cairn instance on a data directory: the event store, the module registry
//! (with its compiled-code cache), the command path, the projection runners, the reactors, the
//! consumer groups and the sinks.
//!
//! On a store several nodes share, the runners run on one node at a time (`runners.rs`).
//!
//! A data directory holds `store/cairn.redb` (events, snapshots, modules) and `compiled/`
//! (wasmtime's cache of machine code, safe to delete). With `[store] url` set, the store is a
//! PostgreSQL database instead, shared with other nodes, and the data directory holds only
//! `compiled/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_groups::Groups;
use cairn_runtime::{CommandPath, Projections, Reactors, Registry};
use cairn_sinks::Sinks;
use cairn_store::{EventStore, RedbOptions, RedbStore};
use cairn_store_postgres::PostgresStore;

use crate::runners::{Lead, Parts, Seat};
use crate::settings::Settings;

/// The store a node opened.
#[derive(Debug)]
enum Backend {
    /// The data directory's own redb file.
    Embedded(RedbStore),
    /// A PostgreSQL database, with where it is (without a password) for people to read.
    Postgres { store: PostgresStore, at: String },
}

/// The store and the runtime of one data directory.
#[derive(Debug)]
pub struct Node {
    backend: Backend,
    shared: Arc<dyn EventStore>,
    command_path: Arc<CommandPath>,
    /// The runners this node has now.
    seat: Seat,
    /// On a shared store: the task running the runners here while this node holds the lease.
    lead: Option<Lead>,
    /// Loads the modules other nodes keep, on a shared store.
    _catching_up: Option<ModuleFollower>,
    data_dir: PathBuf,
}

/// The task loading what other nodes change in the modules, stopped when dropped.
#[derive(Debug)]
struct ModuleFollower(tokio::task::JoinHandle<()>);

impl Drop for ModuleFollower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Loads the modules the store keeps each time `changes` moves, so an upload on another node
/// is served here within moments of its notification.
async fn catch_up(registry: Arc<Registry>, mut changes: tokio::sync::watch::Receiver<u64>) {
    while changes.changed().await.is_ok() {
        if let Err(error) = registry.catch_up().await {
            tracing::warn!(%error, "loading the modules other nodes changed failed; trying at the next change");
        }
    }
}

impl Node {
    /// Opens (or creates) the data directory and loads the modules kept in it, to run with
    /// `settings`.
    pub async fn open(data_dir: &Path, settings: &Settings) -> anyhow::Result<Self> {
        Self::open_layered(data_dir, settings, |store| store).await
    }

    /// [`Node::open`], with `layer` put over the store: the registry, the command path, the
    /// projections and the HTTP API all go through what it returns. For instrumentation, and
    /// for tests that make the storage fail.
    pub async fn open_layered(
        data_dir: &Path,
        settings: &Settings,
        layer: impl FnOnce(Arc<dyn EventStore>) -> Arc<dyn EventStore>,
    ) -> anyhow::Result<Self> {
        let (backend, opened): (Backend, Arc<dyn EventStore>) = match &settings.store.url {
            None => {
                let store = RedbStore::open(data_dir.join("store"), RedbOptions::default()).await?;
                (Backend::Embedded(store.clone()), Arc::new(store))
            }
            Some(url) => {
                let store = PostgresStore::open(url)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot open the store at {}: {e}", safe(url)))?;
                let at = format!("PostgreSQL {}", safe(url));
                (
                    Backend::Postgres {
                        store: store.clone(),
                        at,
                    },
                    Arc::new(store),
                )
            }
        };
        let module_changes = opened.watch_modules();
        let shared: Arc<dyn EventStore> = layer(opened);
        let registry = Registry::open(
            Arc::clone(&shared),
            &data_dir.join("compiled"),
            settings.limits.clone(),
        )
        .await?;
        let registry = Arc::new(registry);
        let catching_up = module_changes
            .map(|changes| ModuleFollower(tokio::spawn(catch_up(Arc::clone(&registry), changes))));
        let command_path = Arc::new(CommandPath::new(
            Arc::clone(&registry),
            Arc::clone(&shared),
            settings.commands.clone(),
        ));
        let parts = Parts {
            store: Arc::clone(&shared),
            registry,
            command_path: Arc::clone(&command_path),
            settings: settings.clone(),
        };
        // On a shared store the runners run where the runner lease is (`runners.rs`).
        let (seat, lead) = if shared.is_shared() {
            let seat = Seat::new(parts.dormant());
            let lead = Lead::start(parts, seat.clone());
            (seat, Some(lead))
        } else {
            (Seat::new(parts.running().await?), None)
        };
        Ok(Self {
            backend,
            shared,
            command_path,
            seat,
            lead,
            _catching_up: catching_up,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The embedded store itself, under any layer: what a backup copies. `None` on
    /// PostgreSQL, whose backups are the database's own (`pg_dump`, base backups).
    pub fn redb(&self) -> Option<&RedbStore> {
        match &self.backend {
            Backend::Embedded(store) => Some(store),
            Backend::Postgres { .. } => None,
        }
    }

    /// Where the store is, for people: the data directory, or the database (no password).
    pub fn describe_store(&self) -> String {
        match &self.backend {
            Backend::Embedded(_) => self.data_dir.display().to_string(),
            Backend::Postgres { at, .. } => at.clone(),
        }
    }

    /// The event store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.shared
    }

    /// The command path (and, through it, the registry).
    pub fn command_path(&self) -> &Arc<CommandPath> {
        &self.command_path
    }

    /// The projection runners (dormant ones while another node runs them).
    pub fn projections(&self) -> Projections {
        self.seat.current().projections
    }

    /// The reactors (dormant ones while another node runs them).
    pub fn reactors(&self) -> Reactors {
        self.seat.current().reactors
    }

    /// The consumer groups (dormant ones while another node runs them).
    pub fn groups(&self) -> Groups {
        self.seat.current().groups
    }

    /// The sinks (dormant ones while another node runs them).
    pub fn sinks(&self) -> Sinks {
        self.seat.current().sinks
    }

    /// Where the node keeps its runners, which change as a shared store's runner lease comes
    /// and goes.
    pub fn seat(&self) -> &Seat {
        &self.seat
    }

    /// The module registry.
    pub fn registry(&self) -> &Arc<Registry> {
        self.command_path.registry()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Finishes the writes already queued, then closes the store. Call it after the HTTP server
    /// has stopped taking requests; every append acknowledged before is already durable.
    pub async fn close(self) {
        let Self {
            backend,
            shared,
            command_path,
            seat,
            lead,
            ..
        } = self;
        if let Some(lead) = lead {
            lead.stop().await;
        }
        seat.current().stop().await;
        command_path.settle().await;
        drop(command_path);
        drop(shared);
        match backend {
            Backend::Embedded(store) => store.close().await,
            Backend::Postgres { store, .. } => store.close().await,
        }
    }
}

/// `url` without its password, to print: `postgres://user:secret@host/db` as
/// `postgres://user:***@host/db`.
pub(crate) fn safe(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, place)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{place}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn a_printed_url_hides_its_password() {
        assert_eq!(
            safe("postgres://cairn:s3cr@t@db:5432/cairn"),
            "postgres://cairn:***@db:5432/cairn"
        );
        assert_eq!(
            safe("postgres://cairn@db/cairn"),
            "postgres://cairn@db/cairn"
        );
        assert_eq!(
            safe("postgres:///cairn?host=/tmp"),
            "postgres:///cairn?host=/tmp"
        );
    }
}
