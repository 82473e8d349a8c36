//! A store, a registry and the command path on a temporary directory.
#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod described;
pub mod server;
pub mod test_store;

use std::sync::Arc;

use cairn_runtime::{Command, CommandConfig, CommandPath, Limits, Registry};
use cairn_store::{EventStore, IdempotencyKey, Json, RedbOptions, RedbStore};

pub struct Host {
    pub dir: tempfile::TempDir,
    pub store: RedbStore,
    pub command_path: CommandPath,
}

impl Host {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, Limits::default(), CommandConfig::default()).await
    }

    pub async fn start_in(dir: tempfile::TempDir, limits: Limits, config: CommandConfig) -> Self {
        let store = RedbStore::open(dir.path().join("data"), RedbOptions::default())
            .await
            .expect("store opens");
        let shared: Arc<dyn EventStore> = Arc::new(store.clone());
        let registry = Registry::open(Arc::clone(&shared), &dir.path().join("cache"), limits)
            .await
            .expect("runtime starts");
        let command_path = CommandPath::new(Arc::new(registry), shared, config);
        Self {
            dir,
            store,
            command_path,
        }
    }

    pub fn registry(&self) -> &Registry {
        self.command_path.registry()
    }

    pub async fn upload(&self, name: &str, guest: &str) {
        self.registry()
            .upload(name, cairn_tests::guest(guest))
            .await
            .unwrap_or_else(|e| panic!("{guest} uploads: {e}"));
    }

    /// Stops the host, releasing the database, and gives back its directory.
    pub async fn stop(self) -> tempfile::TempDir {
        let Host {
            dir,
            store,
            command_path,
        } = self;
        command_path.settle().await;
        drop(command_path);
        store.close().await;
        dir
    }
}

pub fn command(command_type: &str, data: &str) -> Command {
    Command {
        command_type: cairn_store::CommandType::new(command_type).expect("valid command type"),
        data: Json::parse(data).expect("test data is JSON"),
        expected_version: None,
        idempotency_key: None,
    }
}

pub fn keyed(command_type: &str, data: &str, key: &str) -> Command {
    Command {
        idempotency_key: Some(IdempotencyKey::new(key).expect("valid key")),
        ..command(command_type, data)
    }
}

pub fn new_event(event_type: &str, data: &str) -> cairn_store::NewEvent {
    cairn_store::NewEvent::new(
        cairn_store::EventType::new(event_type).expect("valid type"),
        Json::parse(data).expect("test data is JSON"),
    )
}
