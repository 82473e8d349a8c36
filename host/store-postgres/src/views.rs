//! [`Views`]: where read model views ([`cairn_store::ModelRead`], whose reads are synchronous)
//! run their queries. A view may be read from any thread, an async one included, so its
//! queries run on a small runtime of the store's own, with a pool of its own whose connections
//! that runtime drives, and the caller waits on a plain channel. Waiting there never needs the
//! caller's runtime to make progress, so it cannot deadlock it.

use std::future::Future;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use cairn_store::StorageError;

use crate::append::storage;

/// Connections held by open views at most; a view waits for one beyond that.
const VIEW_CONNECTIONS: usize = 16;

/// The views' runtime and pool.
pub(crate) struct Views {
    runtime: Option<tokio::runtime::Runtime>,
    pub(crate) pool: Pool,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views").finish_non_exhaustive()
    }
}

impl Views {
    pub(crate) fn new(config: tokio_postgres::Config) -> Result<Self, StorageError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cairn-pg-views")
            .enable_all()
            .build()
            .map_err(storage)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(VIEW_CONNECTIONS)
            .build()
            .map_err(storage)?;
        Ok(Self {
            runtime: Some(runtime),
            pool,
        })
    }

    /// Runs `work` on the views' runtime and waits for it, from any thread.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StorageError> {
        let runtime = self.runtime.as_ref().ok_or(StorageError::Closed)?;
        let (done, result) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = done.send(work.await);
        });
        result.recv().map_err(|_| StorageError::Closed)
    }

    /// Runs `work` on the views' runtime without waiting.
    pub(crate) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        if let Some(runtime) = &self.runtime {
            runtime.spawn(work);
        }
    }
}

impl Drop for Views {
    fn drop(&mut self) {
        self.pool.close();
        // Not waited for: a store may be dropped on an async thread.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
