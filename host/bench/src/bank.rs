//! What the runtime benches share: progress lines, and a store with `bank_account` loaded.

use std::path::Path;
use std::sync::Arc;

use cairn_runtime::{CommandPath, Limits, Registry};
use cairn_store::{EventStore, EventType, ExpectedVersion, Json, NewEvent, RedbOptions, RedbStore};

use cairn_server::guests;

/// Prints what a bench is doing, unless it prints JSON.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Progress(pub(crate) bool);

impl Progress {
    pub(crate) fn say(self, what: &str) {
        if self.0 {
            eprintln!("… {what}");
        }
    }
}

/// A store in `dir` and a registry with this repository's `bank_account` module loaded.
pub(crate) struct BankHost {
    pub(crate) store: RedbStore,
    pub(crate) shared: Arc<dyn EventStore>,
    pub(crate) registry: Arc<Registry>,
}

impl BankHost {
    pub(crate) async fn start(dir: &Path, progress: Progress) -> anyhow::Result<Self> {
        Self::start_with(dir, progress, "bank_account").await
    }

    /// [`BankHost::start`] with the module built from example `package` (such as
    /// `ts-bank-account`, the TypeScript twin) loaded as `bank_account`.
    pub(crate) async fn start_with(
        dir: &Path,
        progress: Progress,
        package: &str,
    ) -> anyhow::Result<Self> {
        progress.say(&format!("building {package}"));
        let bytes = guests::build(package)?;
        let store = RedbStore::open(dir.join("data"), RedbOptions::default()).await?;
        let shared: Arc<dyn EventStore> = Arc::new(store.clone());
        let registry =
            Registry::open(Arc::clone(&shared), &dir.join("cache"), Limits::default()).await?;
        registry.upload("bank_account", bytes).await?;
        Ok(Self {
            store,
            shared,
            registry: Arc::new(registry),
        })
    }

    /// Drops the runtime and closes the store, releasing the database.
    pub(crate) async fn stop(self) {
        let Self {
            store,
            shared,
            registry,
        } = self;
        drop(registry);
        drop(shared);
        store.close().await;
    }
}

/// Opens accounts `0..accounts` of `bank_account`, each with a large deposit, by appending
/// `Opened` and `Deposited` directly from `clients` concurrent writers.
pub(crate) async fn open_accounts(
    store: Arc<dyn EventStore>,
    accounts: usize,
    clients: usize,
) -> anyhow::Result<()> {
    super::load::drive(clients, accounts.div_ceil(clients), move |client, n| {
        let store = Arc::clone(&store);
        async move {
            let account = n * clients + client;
            if account >= accounts {
                return Ok(());
            }
            let stream = CommandPath::stream_of("bank_account", &account.to_string())?;
            let events = vec![
                NewEvent::new(
                    EventType::new("Opened")?,
                    Json::parse(r#"{"owner":"bench"}"#)?,
                ),
                NewEvent::new(
                    EventType::new("Deposited")?,
                    Json::parse(r#"{"amount":1000000000}"#)?,
                ),
            ];
            store
                .append(stream, ExpectedVersion::NoStream, events)
                .await?;
            Ok(())
        }
    })
    .await?;
    Ok(())
}
