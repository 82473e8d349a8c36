//! The runner lease ([`cairn_store::RunnerLease`]) on PostgreSQL: a session-level advisory
//! lock, [`LEASE_LOCK`], held on a connection of its own, and a fence against a node that lost
//! it without noticing.
//!
//! - **Taking it:** a node asks for the lock every [`RETRY_EVERY`] until it gets it, then
//!   moves `runner_lease.epoch` on by one and keeps the new epoch as its fence.
//! - **Keeping it:** the lock lives as long as the session. A keeper task asks the session
//!   something every [`KEEP_EVERY`]; when that fails or takes longer than [`KEEP_TIMEOUT`]
//!   (the database restarted, the link broke), the lease is reported lost and the session
//!   dropped. A node killed outright loses its session, and with it the lock, when PostgreSQL
//!   sees the connection close; another node takes it within about [`RETRY_EVERY`].
//! - **The fence:** every read model write of a node that took the lease
//!   (`read_models.rs`) first reads the `runner_lease` row `FOR SHARE` and is refused unless
//!   the epoch is still its own. A successor moves the epoch on only after such a write has
//!   committed (its update waits for the share lock), and every write after that is refused:
//!   of two nodes that both believe they run a projection, only the one holding the lease can
//!   commit a batch, and the other cannot commit over what its successor restored.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use cairn_store::{RunnerLease, StorageError};
use tokio_postgres::NoTls;

use crate::append::storage;
use crate::store::PostgresStore;

/// The advisory lock whose holder runs the runners.
pub(crate) const LEASE_LOCK: i64 = 0x6361_6972_6e5f_726e; // "cairn_rn"
/// How often a node that does not hold the lease asks for it.
pub(crate) const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How often the holder checks that its session is alive.
const KEEP_EVERY: Duration = Duration::from_secs(1);
/// How long that check may take before the lease counts as lost.
const KEEP_TIMEOUT: Duration = Duration::from_secs(3);

/// The epoch of the lease this node took last (0: it never took one, and writes unfenced).
#[derive(Clone, Debug, Default)]
pub(crate) struct Fence(Arc<AtomicI64>);

impl Fence {
    /// The epoch this node's read model writes must find, if it ever took the lease.
    pub(crate) fn epoch(&self) -> Option<i64> {
        Some(self.0.load(Ordering::SeqCst)).filter(|epoch| *epoch > 0)
    }
}

/// The task driving the lease's connection, aborted when dropped: a bid that fails, or a
/// keeper that ends, closes the session (and with it any lock it held).
struct Session(tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>);

impl Drop for Session {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Aborts the keeper when the lease is dropped, which drops its session and the lock.
struct Keeper(tokio::task::JoinHandle<()>);

impl Drop for Keeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PostgresStore {
    /// Waits until this node holds the runner lease; see the module's docs.
    pub(crate) async fn acquire_lease(&self) -> Result<RunnerLease, StorageError> {
        // Each step is bounded, so a link that hangs fails this bid, and the caller bids again.
        let timed_out = |_| storage("the runner lease's session did not answer in time");
        let (client, connection) = tokio::time::timeout(KEEP_TIMEOUT, self.config.connect(NoTls))
            .await
            .map_err(timed_out)?
            .map_err(storage)?;
        let session = Session(tokio::spawn(connection));
        loop {
            let ask = client.query_one("SELECT pg_try_advisory_lock($1)", &[&LEASE_LOCK]);
            let granted: bool = tokio::time::timeout(KEEP_TIMEOUT, ask)
                .await
                .map_err(timed_out)?
                .map_err(storage)?
                .get(0);
            if granted {
                break;
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
        let take = client.query_one(
            "UPDATE runner_lease SET epoch = epoch + 1 RETURNING epoch",
            &[],
        );
        let epoch: i64 = tokio::time::timeout(KEEP_TIMEOUT, take)
            .await
            .map_err(timed_out)?
            .map_err(storage)?
            .get(0);
        self.fence.0.store(epoch, Ordering::SeqCst);
        tracing::info!(epoch, "this node holds the runner lease");
        let (lost, watch) = tokio::sync::watch::channel(false);
        let keeper = tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEP_EVERY).await;
                let alive = tokio::time::timeout(KEEP_TIMEOUT, client.simple_query("SELECT 1"));
                if !matches!(alive.await, Ok(Ok(_))) {
                    break;
                }
            }
            tracing::warn!(
                epoch,
                "the runner lease is lost: its session to PostgreSQL ended"
            );
            lost.send_replace(true);
            drop(client);
            drop(session);
        });
        Ok(RunnerLease::kept(watch, Keeper(keeper)))
    }
}

/// Refuses a read model write of a node whose lease another node took since (`fence`'s
/// epoch is no longer the row's). Call first in the write's transaction.
pub(crate) async fn check(
    tx: &tokio_postgres::Transaction<'_>,
    fence: &Fence,
) -> Result<(), StorageError> {
    let Some(epoch) = fence.epoch() else {
        return Ok(());
    };
    let current: i64 = tx
        .query_one("SELECT epoch FROM runner_lease FOR SHARE", &[])
        .await
        .map_err(storage)?
        .get(0);
    if current == epoch {
        Ok(())
    } else {
        Err(StorageError::backend(std::io::Error::other(format!(
            "this node's runner lease (epoch {epoch}) was taken over by another node (epoch \
             {current}); the runners' writes of this node are refused"
        ))))
    }
}
