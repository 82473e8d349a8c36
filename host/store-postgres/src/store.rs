//! [`PostgresStore`]: a pool of connections to one database, opened on a URL, with the schema
//! brought to this build's version (`schema.rs`).

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::schema;

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

/// cairn's store in one PostgreSQL database. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) pool: Pool,
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
        let config =
            tokio_postgres::Config::from_str(url).map_err(|e| OpenError::Url(e.to_string()))?;
        let manager = Manager::from_config(
            config,
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
        drop(client);
        Ok(Self { pool })
    }
}
