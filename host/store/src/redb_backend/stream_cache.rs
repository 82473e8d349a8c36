//! [`StreamCache`]: the writer's memory of where recently written streams stand (their id and
//! version), so an append to a stream written lately skips the two B-tree lookups of
//! `locate_stream`. They were about a tenth of the writer's time under 64 concurrent appends.
//!
//! Invariant: an entry of `committed` equals what `locate_stream` reads in the committed
//! database. A batch's appends go to `pending`, which its later appends read first, and move to
//! `committed` only when the batch commits; a batch that fails drops `pending`. Only the writer
//! appends, so nothing else can make an entry stale. A stream not in the cache is read from
//! the tables, as before.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use lru::LruCache;

use super::tables::StoredStream;

/// How many streams the cache remembers (least recently written first out): about 100 bytes
/// each.
const STREAMS: NonZeroUsize = NonZeroUsize::new(65_536).expect("not zero");

/// Where recently written streams stand.
pub(crate) struct StreamCache {
    committed: LruCache<String, StoredStream>,
    /// The batch in hand's appends, by stream name.
    pending: HashMap<String, StoredStream>,
}

impl std::fmt::Debug for StreamCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamCache")
            .field("committed", &self.committed.len())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Default for StreamCache {
    fn default() -> Self {
        Self {
            committed: LruCache::new(STREAMS),
            pending: HashMap::new(),
        }
    }
}

impl StreamCache {
    /// Where stream `name` stands in the batch in hand: as an earlier append of the batch left
    /// it, else as last committed, else as `read` finds it in the tables.
    pub(crate) fn locate<E>(
        &mut self,
        name: &str,
        read: impl FnOnce() -> Result<Option<StoredStream>, E>,
    ) -> Result<Option<StoredStream>, E> {
        if let Some(stream) = self.pending.get(name) {
            return Ok(Some(*stream));
        }
        if let Some(stream) = self.committed.get(name) {
            return Ok(Some(*stream));
        }
        read()
    }

    /// Stream `name` now stands at `stream`, in the batch in hand.
    pub(crate) fn appended(&mut self, name: &str, stream: StoredStream) {
        self.pending.insert(name.to_owned(), stream);
    }

    /// The batch in hand committed.
    pub(crate) fn commit(&mut self) {
        for (name, stream) in self.pending.drain() {
            self.committed.put(name, stream);
        }
    }

    /// The batch in hand failed: forget what it did.
    pub(crate) fn abandon(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(id: u64, version: u64) -> StoredStream {
        StoredStream { id, version }
    }

    fn locate(cache: &mut StreamCache, name: &str) -> Option<StoredStream> {
        let stored = Ok::<_, ()>(Some(at(9, 9)));
        cache.locate(name, || stored).expect("no error")
    }

    #[test]
    fn a_batch_sees_its_own_appends_and_keeps_them_only_if_it_commits() {
        let mut cache = StreamCache::default();
        // Not cached: read from the tables.
        assert_eq!(locate(&mut cache, "a-1"), Some(at(9, 9)));
        cache.appended("a-1", at(1, 3));
        assert_eq!(locate(&mut cache, "a-1"), Some(at(1, 3)));
        cache.abandon();
        assert_eq!(locate(&mut cache, "a-1"), Some(at(9, 9)));

        cache.appended("a-1", at(1, 3));
        cache.appended("a-1", at(1, 4));
        cache.commit();
        assert_eq!(locate(&mut cache, "a-1"), Some(at(1, 4)));
        // A later batch that fails leaves the committed entry as it was.
        cache.appended("a-1", at(1, 5));
        cache.abandon();
        assert_eq!(locate(&mut cache, "a-1"), Some(at(1, 4)));
    }

    #[test]
    fn a_failed_read_is_passed_on() {
        let mut cache = StreamCache::default();
        assert_eq!(cache.locate("a-1", || Err("disk")), Err("disk"));
    }
}
