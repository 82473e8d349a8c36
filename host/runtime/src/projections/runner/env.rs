//! [`RunnerEnv`]: what every generation runs against: the store, and how the runner reads it.

use std::sync::Arc;

use cairn_store::{EventStore, ModelRead, ReadModelName, StorageError};

use crate::setting::{InvalidSetting, MAX_EVENTS_PER_CALL, at_least, number, within};

/// The store the generations read the log from and commit their models to, and the runner's
/// configuration. Shared by every generation of every projection.
pub(super) struct RunnerEnv {
    pub(super) store: Arc<dyn EventStore>,
    pub(super) config: RunnerConfig,
}

impl RunnerEnv {
    /// A view of `model` as committed, opened on a blocking thread (it reads redb).
    pub(super) async fn open_view(
        &self,
        model: &ReadModelName,
    ) -> Result<Box<dyn ModelRead>, StorageError> {
        let store = Arc::clone(&self.store);
        let model = model.clone();
        tokio::task::spawn_blocking(move || store.read_model(&model))
            .await
            .map_err(StorageError::backend)?
    }
}

/// How a runner reads the log (the `[projections]` section of cairn.toml, keys as the fields).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunnerConfig {
    /// The most events one `apply` call takes.
    pub batch: usize,
    /// The most bytes of events (data, metadata, stream and type) one `apply` call takes,
    /// after its first event: the events are copied into the module's memory.
    pub batch_bytes: usize,
    /// The most log positions one read examines.
    pub scan_limit: usize,
}

impl RunnerConfig {
    /// Refuses a value the runners cannot run with, naming its key.
    pub fn check(&self) -> Result<(), InvalidSetting> {
        within("batch", number(self.batch), 1..=MAX_EVENTS_PER_CALL)?;
        at_least("batch_bytes", number(self.batch_bytes), 1)?;
        at_least("scan_limit", number(self.scan_limit), 1)?;
        if self.scan_limit < self.batch {
            return Err(InvalidSetting {
                key: "scan_limit",
                value: number(self.scan_limit),
                rule: format!(
                    "a read must be able to examine at least a batch (batch is {})",
                    self.batch
                ),
            });
        }
        Ok(())
    }
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch: 2_000,
            batch_bytes: 4 * 1024 * 1024,
            scan_limit: 100_000,
        }
    }
}
