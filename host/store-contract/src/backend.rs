//! [`Backend`] and [`WriteFaults`]: what a backend gives the suite, so every test runs on a store
//! of its kind, on healthy or failing storage.

use std::future::Future;

use cairn_store::EventStore;

/// A backend under test: one place where a store is kept (a temporary directory for redb, a
/// fresh database or schema for PostgreSQL), opened and closed as a host would.
///
/// Each test makes its own place with [`Backend::create`], so tests never share a store.
pub trait Backend: Sized + Send + Sync + 'static {
    /// The store the backend opens.
    type Store: EventStore;
    /// The switch that makes the store's storage fail under it.
    type Faults: WriteFaults;

    /// How many random histories the model test runs (`model/`). A backend whose stores are
    /// slow to make (a database server, where each history makes a database) may run fewer,
    /// so its suite fits CI.
    const MODEL_CASES: u32 = 1_000;

    /// A new, empty place to keep one store.
    fn create() -> impl Future<Output = Self> + Send;

    /// Opens the store kept in this place: empty the first time, and afterwards holding what
    /// the stores opened here before it made durable.
    fn open(&self) -> impl Future<Output = Self::Store> + Send;

    /// Opens the store kept in this place on storage whose writes the test can make fail,
    /// healthy until told otherwise.
    fn open_faulty(&self) -> impl Future<Output = (Self::Store, Self::Faults)> + Send;

    /// Closes a store and waits until it has let go of its storage, so the place can be
    /// opened again: what a restarted host sees.
    fn close(store: Self::Store) -> impl Future<Output = ()> + Send;
}

/// Faults of the storage under a store opened by [`Backend::open_faulty`]. Each holds until
/// [`WriteFaults::clear`].
pub trait WriteFaults: Send + Sync {
    /// The storage is full from now on: it keeps what it holds, and refuses to grow. The suite
    /// expects the store's [`EventStore::write_failure`] to say so, naming the lack of space
    /// or an I/O error.
    fn fill(&self);

    /// The storage lets `writes` more writes through and fails every one after them (counting
    /// the backend's own units: pages written and synced for redb, statements for a database
    /// server).
    fn fail_after(&self, writes: u64);

    /// The storage is healthy again.
    fn clear(&self);
}
