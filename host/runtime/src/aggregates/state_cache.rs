//! [`StateCache`]: the hot aggregate states, keyed by module hash and stream, so a new module
//! version never uses a state an old one folded.
//!
//! A command answers as soon as its events are durable. Folding them into the state it decided
//! on (one more `evolve` call), caching the result and taking a snapshot happen afterwards, on
//! a task of the cache's own that holds the stream's turn until the new state is cached
//! (`command_path.rs`): the next command on the stream waits for that and finds the state ready,
//! and the command's caller does not wait for it. [`StateCache::settle`] waits until every such task has finished, so a host
//! that closes its store after it leaves nothing behind that still holds the store.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cairn_store::{StreamId, Timestamp, Version};
use lru::LruCache;
use tokio_util::task::TaskTracker;

use cairn_store::ModuleHash;

/// A state folded up to a version, by one module version.
#[derive(Clone, Debug)]
pub(crate) struct Loaded {
    pub(crate) version: Version,
    pub(crate) state: Vec<u8>,
    /// When the last folded event was recorded, for the clock of the next fold.
    pub(crate) last_time: Timestamp,
}

type CacheKey = (String, StreamId);

/// The cache, and the tasks that fill it after commands have answered.
#[derive(Clone, Debug)]
pub(crate) struct StateCache {
    entries: Arc<Mutex<LruCache<CacheKey, Loaded>>>,
    background: TaskTracker,
}

impl StateCache {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            entries: Arc::new(Mutex::new(LruCache::new(capacity))),
            background: TaskTracker::new(),
        }
    }

    /// The state kept for `stream` under `module`, counted as a hit or a miss
    /// (`cairn_state_cache_hits_total`, `cairn_state_cache_misses_total`).
    pub(crate) fn get(&self, module: &ModuleHash, stream: &StreamId) -> Option<Loaded> {
        let found = self.lock().get(&key(module, stream)).cloned();
        match found {
            Some(_) => metrics::counter!("cairn_state_cache_hits_total").increment(1),
            None => metrics::counter!("cairn_state_cache_misses_total").increment(1),
        }
        found
    }

    /// The cached state, if any, without counting a hit or a miss or making it recent: for
    /// readers beside the command path (a plan), which must not skew either.
    pub(crate) fn peek(&self, module: &ModuleHash, stream: &StreamId) -> Option<Loaded> {
        self.lock().peek(&key(module, stream)).cloned()
    }

    pub(crate) fn put(&self, module: &ModuleHash, stream: &StreamId, loaded: Loaded) {
        self.lock().put(key(module, stream), loaded);
    }

    pub(crate) fn forget(&self, module: &ModuleHash, stream: &StreamId) {
        self.lock().pop(&key(module, stream));
    }

    /// Runs `work` on a task of its own, which [`StateCache::settle`] waits for.
    pub(crate) fn in_background(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.background.spawn(work);
    }

    /// Waits until the work started by [`StateCache::in_background`] so far has finished.
    pub(crate) async fn settle(&self) {
        self.background.close();
        self.background.wait().await;
        self.background.reopen();
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<CacheKey, Loaded>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key(module: &ModuleHash, stream: &StreamId) -> CacheKey {
    (module.as_str().to_owned(), stream.clone())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn settle_waits_for_the_work_in_the_background() {
        let cache = StateCache::new(NonZeroUsize::MIN);
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        cache.in_background(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            flag.store(true, Ordering::SeqCst);
        });
        cache.settle().await;
        assert!(
            done.load(Ordering::SeqCst),
            "settle returned before the work ended"
        );
        // The cache takes work again after settling.
        let again = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&again);
        cache.in_background(async move { flag.store(true, Ordering::SeqCst) });
        cache.settle().await;
        assert!(again.load(Ordering::SeqCst));
    }
}
