//! [`Node`]: one cairn instance on a data directory: the event store, the module registry
//! (with its compiled-code cache), the command path, the projection runners, the reactors, the
//! consumer groups and the sinks.
//!
//! A data directory holds `store/cairn.redb` (events, snapshots, modules) and `compiled/`
//! (wasmtime's cache of machine code, safe to delete).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_groups::{GroupError, Groups};
use cairn_runtime::{CommandPath, Projections, Reactors, Registry};
use cairn_sinks::{SinkError, Sinks};
use cairn_store::{EventStore, RedbOptions, RedbStore};

use crate::settings::Settings;

/// The store and the runtime of one data directory.
#[derive(Debug)]
pub struct Node {
    store: RedbStore,
    shared: Arc<dyn EventStore>,
    command_path: Arc<CommandPath>,
    projections: Projections,
    reactors: Reactors,
    groups: Groups,
    sinks: Sinks,
    data_dir: PathBuf,
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
        let store = RedbStore::open(data_dir.join("store"), RedbOptions::default()).await?;
        let shared: Arc<dyn EventStore> = layer(Arc::new(store.clone()));
        let registry = Registry::open(
            Arc::clone(&shared),
            &data_dir.join("compiled"),
            settings.limits.clone(),
        )
        .await?;
        let registry = Arc::new(registry);
        let projections = Projections::start(
            Arc::clone(&shared),
            Arc::clone(&registry),
            settings.projections.clone(),
        );
        let command_path = Arc::new(CommandPath::new(
            Arc::clone(&registry),
            Arc::clone(&shared),
            settings.commands.clone(),
        ));
        let reactors = Reactors::start(
            Arc::clone(&shared),
            registry,
            Arc::clone(&command_path),
            settings.reactors.clone(),
        );
        let groups = Groups::start(Arc::clone(&shared)).await?;
        let sinks = Sinks::start(Arc::clone(&shared), groups.clone()).await?;
        declare(&groups, &sinks, settings).await?;
        Ok(Self {
            store,
            shared,
            command_path,
            projections,
            reactors,
            groups,
            sinks,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The embedded store itself, under any layer: what a backup copies.
    pub fn redb(&self) -> &RedbStore {
        &self.store
    }

    /// The event store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.shared
    }

    /// The command path (and, through it, the registry).
    pub fn command_path(&self) -> &Arc<CommandPath> {
        &self.command_path
    }

    /// The projection runners.
    pub fn projections(&self) -> &Projections {
        &self.projections
    }

    /// The reactors.
    pub fn reactors(&self) -> &Reactors {
        &self.reactors
    }

    /// The consumer groups.
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// The sinks.
    pub fn sinks(&self) -> &Sinks {
        &self.sinks
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
            store,
            shared,
            command_path,
            projections,
            reactors,
            groups,
            sinks,
            ..
        } = self;
        sinks.stop().await;
        groups.stop().await;
        reactors.stop().await;
        projections.stop().await;
        command_path.settle().await;
        drop(command_path);
        drop(shared);
        store.close().await;
    }
}

/// Makes the groups and sinks a cairn.toml declares, when they are missing. A group kept with
/// other settings stays as kept (said in the log); a sink whose target changed takes the new
/// one.
async fn declare(groups: &Groups, sinks: &Sinks, settings: &Settings) -> anyhow::Result<()> {
    for group in &settings.groups {
        match groups.create(&group.name, group.config.clone()).await {
            Ok(_) => {}
            Err(GroupError::Exists(name)) => tracing::warn!(
                group = %name,
                "cairn.toml declares this group with other settings than the kept ones; the kept ones stay (delete the group to make it anew)"
            ),
            Err(error) => anyhow::bail!("group {}: {error}", group.name),
        }
    }
    for sink in &settings.sinks {
        match sinks.ensure(sink.clone()).await {
            Ok(()) => {}
            Err(SinkError::Exists(name)) => tracing::warn!(
                sink = %name,
                "cairn.toml declares this sink with other group settings than the kept ones; the kept ones stay (delete the sink to make it anew)"
            ),
            Err(error) => anyhow::bail!("sink {}: {error}", sink.name),
        }
    }
    Ok(())
}
