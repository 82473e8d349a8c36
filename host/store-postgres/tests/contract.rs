//! The contract suite (`host/store-contract`) on [`PostgresStore`]: each test's store in a
//! database of its own on one throwaway cluster, and faults made by a [`FaultyLink`] between
//! the store and the cluster that breaks (a database that stops answering), at once or after a
//! number of statements.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_pg_cluster::{Cluster, FaultyLink, Options};
use cairn_store_contract::{Backend, WriteFaults};
use cairn_store_postgres::PostgresStore;

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| Cluster::start(Options::default()).expect("PostgreSQL starts"))
}

/// A database with cairn's schema and nothing else, which each test's database copies: a
/// copy is much quicker to make than moving a new database through every schema version.
const TEMPLATE: &str = "cairn_template";

async fn template() {
    static MADE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    MADE.get_or_init(|| async {
        let url = tokio::task::spawn_blocking(|| cluster().create_database(TEMPLATE))
            .await
            .expect("ran")
            .expect("the template database");
        let store = PostgresStore::open(&url).await.expect("the schema is made");
        store.close().await;
    })
    .await;
}

/// One database of the cluster, dropped with the backend.
#[derive(Debug)]
struct PostgresBackend {
    name: String,
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        let _ = cluster().drop_database(&self.name);
    }
}

/// The link's faults, as the suite asks for them.
struct LinkFaults(FaultyLink);

impl WriteFaults for LinkFaults {
    fn fill(&self) {
        self.0.break_now();
    }

    fn fail_after(&self, writes: u64) {
        self.0.break_after(writes);
    }

    fn clear(&self) {
        self.0.clear();
    }
}

impl Backend for PostgresBackend {
    type Store = PostgresStore;
    type Faults = LinkFaults;

    /// Each history makes a database and opens stores on it several times.
    const MODEL_CASES: u32 = 150;

    async fn create() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!("contract_{}", NEXT.fetch_add(1, Ordering::SeqCst));
        template().await;
        let made = tokio::task::spawn_blocking({
            let name = name.clone();
            move || cluster().create_database_from(&name, TEMPLATE)
        })
        .await
        .expect("ran");
        made.expect("a database");
        Self { name }
    }

    async fn open(&self) -> PostgresStore {
        PostgresStore::open(&cluster().url(&self.name))
            .await
            .expect("the store opens")
    }

    async fn open_faulty(&self) -> (PostgresStore, LinkFaults) {
        let link = FaultyLink::start(cluster().port()).expect("the link starts");
        let store = PostgresStore::open(&link.url(&self.name))
            .await
            .expect("the store opens through the link");
        (store, LinkFaults(link))
    }

    async fn close(store: PostgresStore) {
        store.close().await;
    }
}

cairn_store_contract::contract_suite!(PostgresBackend);
