//! Building a module and swapping it into the running registry.

use std::path::PathBuf;
use std::sync::Arc;

use cairn_runtime::Registry;

use crate::guests;
use crate::project::ModuleSource;

/// Builds modules into one target directory and loads them into `registry`.
#[derive(Debug)]
pub(super) struct Reloader {
    registry: Arc<Registry>,
    target_dir: PathBuf,
    /// One build at a time: cargo would wait on its lock anyway.
    building: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub(super) fn new(registry: Arc<Registry>, target_dir: PathBuf) -> Self {
        Self {
            registry,
            target_dir,
            building: tokio::sync::Mutex::new(()),
        }
    }

    /// Builds `module` and swaps it in, printing what happened. A failure leaves the loaded
    /// version serving.
    pub(super) async fn reload(&self, module: &ModuleSource) {
        let _building = self.building.lock().await;
        crate::serve::announce(format_args!("building {}…", module.name));
        let started = std::time::Instant::now();
        let dir = module.dir.clone();
        let target_dir = self.target_dir.clone();
        let built =
            tokio::task::spawn_blocking(move || guests::build_crate(&dir, &target_dir)).await;
        let bytes = match built {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(error)) => {
                crate::serve::complain(format_args!(
                    "✗ {} did not build; {}.\n{error}",
                    module.name,
                    self.serving(module)
                ));
                return;
            }
            Err(error) => {
                crate::serve::complain(format_args!("✗ building {} stopped: {error}", module.name));
                return;
            }
        };
        match self.registry.upload(&module.name, bytes).await {
            Ok(uploaded) if uploaded.created => crate::serve::announce(format_args!(
                "✓ {} v{} loaded ({} ms, sha256 {})",
                module.name,
                uploaded.record.version,
                started.elapsed().as_millis(),
                uploaded.record.hash.short()
            )),
            Ok(uploaded) => crate::serve::announce(format_args!(
                "✓ {} v{} is unchanged",
                module.name, uploaded.record.version
            )),
            Err(error) => crate::serve::complain(format_args!(
                "✗ {} built but was refused; {}: {error}",
                module.name,
                self.serving(module)
            )),
        }
    }

    /// What serves `module` while a new version failed.
    fn serving(&self, module: &ModuleSource) -> String {
        let version = match self.registry.aggregate(&module.name) {
            Some(aggregate) => Some(aggregate.version()),
            None => self.registry.projection(&module.name).map(|p| p.version()),
        };
        match version {
            Some(version) => format!("version {version} keeps serving"),
            None => "no version of it is loaded".to_owned(),
        }
    }
}
