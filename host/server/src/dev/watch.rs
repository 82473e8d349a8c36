//! Watching the modules' crates for changes (notify), debounced: an editor's burst of writes
//! is one change.

use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::project::{ModuleSource, Project};

/// How long the files must be quiet before a change is acted on.
const QUIET: Duration = Duration::from_millis(300);

/// Changes under the modules' directories.
#[derive(Debug)]
pub(super) struct Watcher {
    _watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<notify::Event>,
}

impl Watcher {
    pub(super) fn start(project: &Project) -> anyhow::Result<Self> {
        let (sender, events) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event {
                    let _ = sender.send(event);
                }
            })?;
        for module in &project.modules {
            watcher
                .watch(&module.dir, RecursiveMode::Recursive)
                .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", module.dir.display()))?;
        }
        Ok(Self {
            _watcher: watcher,
            events,
        })
    }

    /// Waits for the next change and returns the modules it touched (build output is
    /// ignored). `None` when the watcher has stopped.
    pub(super) async fn changed(&mut self, project: &Project) -> Option<Vec<ModuleSource>> {
        loop {
            let first = self.events.recv().await?;
            let mut events = vec![first];
            while let Ok(Some(event)) = tokio::time::timeout(QUIET, self.events.recv()).await {
                events.push(event);
            }
            let mut changed: Vec<ModuleSource> = Vec::new();
            for event in events {
                if matches!(event.kind, notify::EventKind::Access(_)) {
                    continue;
                }
                for path in &event.paths {
                    if let Some(module) = project.module_of(path)
                        && !changed.contains(module)
                    {
                        changed.push(module.clone());
                    }
                }
            }
            if !changed.is_empty() {
                return Some(changed);
            }
        }
    }
}
