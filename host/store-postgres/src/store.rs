//! [`PostgresStore`]: a pool of connections to one database, opened on a URL, with the schema
//! brought to this build's version (`schema.rs`).

use std::str::FromStr;
use std::sync::Arc;

use cairn_store::{HeadSender, HeadWatch, Position};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::{follow, schema};

/// The most connections one node holds.
const POOL_SIZE: usize = 32;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    #[error("PostgreSQL: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("no connection to PostgreSQL: {0}")]
    Pool(String),
    /// A newer cairn moved the schema on; this one would misread it.
    #[error(
        "the database has cairn's schema version {found}; this cairn knows version {known} at \
         most: run the newer cairn"
    )]
    NewerSchema { found: i32, known: i32 },
}

/// cairn's store in one PostgreSQL database. Cloning is cheap and shares the pool and the
/// follower of the head; the follower stops when the last clone is dropped.
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) pool: Pool,
    pub(crate) head: Arc<HeadSender>,
    /// Where read model views run (`views.rs`).
    pub(crate) views: Arc<crate::views::Views>,
    /// Why appends fail or the database cannot be reached, if either.
    link: follow::Link,
    /// Moves when another node may have changed the modules.
    pub(crate) module_changes: follow::ModuleChanges,
    /// Where dedicated sessions connect (the runner lease's).
    pub(crate) config: Arc<tokio_postgres::Config>,
    /// The epoch of the runner lease this node took last (`lease.rs`).
    pub(crate) fence: crate::lease::Fence,
    /// Where appends wait for a batch (`batch.rs`); `None` in the writers' own copy, whose
    /// appends are written alone.
    pub(crate) queue: Option<crate::batch::Queue>,
    follower: Arc<Follower>,
}

/// The task following the head (`follow.rs`), stopped when dropped.
struct Follower(tokio::task::JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.pool.status().size)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`), and creates or moves
    /// on its schema.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let config = config_of(url)?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| OpenError::Pool(e.to_string()))?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| OpenError::Pool(e.to_string()))?;
        let tx = client.transaction().await?;
        schema::prepare(&tx).await?;
        tx.commit().await?;
        let stored: i64 = client
            .query_one("SELECT position FROM log_head", &[])
            .await?
            .get(0);
        drop(client);
        let head = Arc::new(HeadSender::new(Position::new(
            u64::try_from(stored).unwrap_or(0),
        )));
        let link = follow::Link::default();
        let module_changes = Arc::new(tokio::sync::watch::Sender::new(0));
        let follower = tokio::spawn(follow::follow(
            config.clone(),
            Arc::clone(&head),
            link.clone(),
            Arc::clone(&module_changes),
        ));
        let views =
            crate::views::Views::new(config.clone()).map_err(|e| OpenError::Pool(e.to_string()))?;
        let mut store = Self {
            pool,
            head,
            views: Arc::new(views),
            link,
            module_changes,
            config: Arc::new(config.clone()),
            fence: crate::lease::Fence::default(),
            queue: None,
            follower: Arc::new(Follower(follower)),
        };
        store.queue = Some(crate::batch::start(&store));
        Ok(store)
    }

    /// Notes how an append to the database went: a failure of the database is kept until an
    /// append commits again.
    pub(crate) fn note_write(&self, failure: Option<String>) {
        self.link.note_write(failure);
    }

    /// Closes the store: its connections are closed and its follower stops, so what it
    /// committed is all there is (a restarted host opens the database again).
    pub async fn close(self) {
        self.pool.close();
        self.follower.0.abort();
    }

    /// The position of the newest event this node knows of: its own appends at once, other
    /// nodes' when their notification arrives (within a second at worst).
    pub fn head(&self) -> Position {
        self.head.head()
    }

    /// A watch on the head, for waiting on new events.
    pub fn watch_head(&self) -> HeadWatch {
        self.head.watch()
    }
}

/// The connection settings of `url`, with every session planning each statement for its
/// parameters (`plan_cache_mode = force_custom_plan`). The store's statements are prepared once
/// per connection; a generic plan made while a table was empty (a sequential scan of `events`
/// to look up a few ids) was kept as the table grew, until appends took five times as long.
fn config_of(url: &str) -> Result<tokio_postgres::Config, OpenError> {
    let mut config =
        tokio_postgres::Config::from_str(url).map_err(|e| OpenError::Url(e.to_string()))?;
    let options = match config.get_options() {
        Some(given) => format!("{given} -c plan_cache_mode=force_custom_plan"),
        None => "-c plan_cache_mode=force_custom_plan".to_owned(),
    };
    config.options(&options);
    Ok(config)
}

impl cairn_store::EventStore for PostgresStore {
    /// Why the last append failed, until one commits again (or the database is reached
    /// again after it was lost); else why the database cannot be reached.
    fn write_failure(&self) -> Option<String> {
        self.link.broken()
    }

    fn acquire_runner_lease(
        &self,
    ) -> std::pin::Pin<
        Box<
            dyn Future<Output = Result<cairn_store::RunnerLease, cairn_store::StorageError>>
                + Send
                + '_,
        >,
    > {
        Box::pin(self.acquire_lease())
    }

    fn is_shared(&self) -> bool {
        true
    }
}
