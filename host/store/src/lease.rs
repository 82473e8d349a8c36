//! [`RunnerLease`]: which node runs the background runners (projections, reactors, consumer
//! groups, sinks) of a store several nodes share. Exactly one node holds it at a time; the
//! others serve commands, appends, reads and queries, and wait to take it over.
//!
//! A store only one process writes (the embedded redb store) grants it at once, for good. A
//! shared store (PostgreSQL) grants it to one node at a time and fences the rest: once a
//! node's lease is lost, the store refuses that node's read model writes, so a node that has
//! not noticed yet cannot commit a batch over its successor's.

use tokio::sync::watch;

/// The lease to run the background runners, held until dropped or lost.
#[derive(Debug)]
pub struct RunnerLease {
    lost: watch::Receiver<bool>,
    /// What keeps the lease (a session, a task), released when the lease is dropped.
    _keeper: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl RunnerLease {
    /// A lease no other node can hold: the store's only writer is this process.
    pub fn sole() -> Self {
        let (sender, lost) = watch::channel(false);
        // Kept with the lease, so the watch never closes and `lost` never resolves.
        Self {
            lost,
            _keeper: Some(Box::new(sender)),
        }
    }

    /// A lease kept by `keeper`, lost once `lost` turns true or its sender goes away.
    pub fn kept(lost: watch::Receiver<bool>, keeper: impl std::any::Any + Send + Sync) -> Self {
        Self {
            lost,
            _keeper: Some(Box::new(keeper)),
        }
    }

    /// Resolves when the lease is lost: the runners must stop, and the store refuses their
    /// writes from now on.
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|lost| *lost).await;
    }

    /// Whether the lease is still held, as far as this node knows.
    pub fn is_held(&self) -> bool {
        !*self.lost.borrow() && self.lost.has_changed().is_ok()
    }
}
