//! [`StreamTurns`]: commands on one stream take turns within this host.
//!
//! Optimistic concurrency alone lets a hot aggregate starve a command: every command on it
//! loads the same version, one append wins each group commit, and the rest retry until one
//! runs out of retries with a conflict it never caused. With turns, commands on one stream
//! run one after another in arrival order (tokio's mutex is fair), so within a host they never
//! race; the retry loop is left for writers this host does not see (direct appends, other
//! hosts). Commands on different streams never wait for each other.
//!
//! Invariant: a stream has an entry in the map only while some command holds or waits for its
//! turn. The entry is removed, under the map's lock, by the last holder to leave; every clone
//! of an entry's `Arc` is taken under the same lock, so the count read there is exact.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use cairn_store::StreamId;
use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};

/// One turn lock per stream that has a command running or waiting.
#[derive(Debug, Default)]
pub(crate) struct StreamTurns {
    lanes: Mutex<HashMap<StreamId, Arc<TurnLock<()>>>>,
}

/// The turn of one command on one stream, held until dropped. It may outlive the command: the
/// work that caches the command's state holds it (`state_cache.rs`).
#[derive(Debug)]
pub(crate) struct Turn {
    turns: Arc<StreamTurns>,
    stream: StreamId,
    lane: Arc<TurnLock<()>>,
    held: Option<OwnedMutexGuard<()>>,
}

impl StreamTurns {
    /// Waits until every command that came before on `stream` has finished.
    pub(crate) async fn take(self: &Arc<Self>, stream: &StreamId) -> Turn {
        let lane = Arc::clone(self.lock().entry(stream.clone()).or_default());
        let mut turn = Turn {
            turns: Arc::clone(self),
            stream: stream.clone(),
            lane,
            held: None,
        };
        // If this future is dropped while waiting, `turn`'s drop still tidies the map.
        turn.held = Some(Arc::clone(&turn.lane).lock_owned().await);
        turn
    }

    /// How many streams have a command running or waiting.
    #[cfg(test)]
    fn busy_streams(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StreamId, Arc<TurnLock<()>>>> {
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // The guard holds a clone of the lane; let it go before counting.
        self.held = None;
        let mut lanes = self.turns.lock();
        // Two owners left: the map's and ours. Nobody else holds or waits for this turn.
        if Arc::strong_count(&self.lane) == 2 {
            lanes.remove(&self.stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn stream(name: &str) -> StreamId {
        StreamId::new(name).expect("stream name")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commands_on_one_stream_never_overlap_and_the_map_empties() {
        let turns = Arc::new(StreamTurns::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (turns, inside, most) = (turns.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _turn = turns.take(&stream("hot")).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "one command at a time");
        assert_eq!(turns.busy_streams(), 0, "no entry outlives its commands");
    }

    #[tokio::test]
    async fn other_streams_do_not_wait() {
        let turns = Arc::new(StreamTurns::default());
        let _held = turns.take(&stream("a")).await;
        let other = tokio::time::timeout(Duration::from_secs(5), turns.take(&stream("b"))).await;
        assert!(other.is_ok(), "stream b is free while a is held");
        assert_eq!(turns.busy_streams(), 2);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_nothing_behind() {
        let turns = Arc::new(StreamTurns::default());
        let held = turns.take(&stream("a")).await;
        let gave_up =
            tokio::time::timeout(Duration::from_millis(10), turns.take(&stream("a"))).await;
        assert!(gave_up.is_err(), "the turn is held");
        drop(held);
        assert_eq!(turns.busy_streams(), 0);
        let _again = turns.take(&stream("a")).await;
        assert_eq!(turns.busy_streams(), 1);
    }
}
