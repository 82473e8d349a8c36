//! The threads reactors run on: a runtime of their own. A reactor's turn is a chain of short
//! waits (a view of its model, a call on a blocking thread, a commit, the commands); on the
//! server's runtime each of them waits again for a worker behind every request in flight, so a
//! busy edge would stretch the time from an event to its command by as many waits as the chain
//! has. On threads of their own, reactors wait only for a core, and a reactor catching up does
//! not take the edge's workers either.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

/// The reactors' runtime, shut down (without waiting) when dropped.
pub(crate) struct ReactorThreads {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl ReactorThreads {
    /// A runtime of `workers` threads; if one cannot be made, the caller's runtime, with a
    /// warning.
    pub(crate) fn start(workers: usize) -> Self {
        match Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("cairn-reactor")
            .enable_all()
            .build()
        {
            Ok(runtime) => Self {
                handle: runtime.handle().clone(),
                runtime: Some(runtime),
            },
            Err(error) => {
                tracing::warn!(%error, "reactors run on the server's threads: a runtime of their own could not be made");
                Self {
                    runtime: None,
                    handle: Handle::current(),
                }
            }
        }
    }

    /// Runs `task` on the reactors' threads.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(task)
    }
}

impl Drop for ReactorThreads {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Dropped on an async thread, a runtime must not wait for its own threads.
            runtime.shutdown_background();
        }
    }
}
