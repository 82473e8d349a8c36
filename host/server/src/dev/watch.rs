//! Watching the modules' crates and cairn.toml for changes (notify), debounced: an editor's
//! burst of writes is one change.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::project::{ModuleSource, Project};

/// How long the files must be quiet before a change is acted on.
const QUIET: Duration = Duration::from_millis(300);

/// Changes under the modules' directories and to the project's file.
#[derive(Debug)]
pub(super) struct Watcher {
    _watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<notify::Event>,
    project_file: ProjectFile,
}

/// What one debounced burst of changes touched.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Changes {
    /// Modules whose sources changed (build output is ignored).
    pub(super) modules: Vec<ModuleSource>,
    /// Whether cairn.toml was written, replaced or removed.
    pub(super) project_file: bool,
}

impl Watcher {
    /// Watches every module's crate, and cairn.toml (`file`) through its directory: editors
    /// often save by writing a new file and renaming it over the old one, which a watch on the
    /// file itself would lose.
    pub(super) fn start(project: &Project, file: &Path) -> anyhow::Result<Self> {
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
        let project_file = ProjectFile::new(file);
        watcher
            .watch(&project_file.dir, RecursiveMode::NonRecursive)
            .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", project_file.dir.display()))?;
        Ok(Self {
            _watcher: watcher,
            events,
            project_file,
        })
    }

    /// Waits for the next change that touches a module or cairn.toml. `None` when the watcher
    /// has stopped.
    pub(super) async fn changed(&mut self, project: &Project) -> Option<Changes> {
        loop {
            let first = self.events.recv().await?;
            let mut events = vec![first];
            while let Ok(Some(event)) = tokio::time::timeout(QUIET, self.events.recv()).await {
                events.push(event);
            }
            let mut changes = Changes::default();
            for event in events {
                if matches!(event.kind, notify::EventKind::Access(_)) {
                    continue;
                }
                for path in &event.paths {
                    if self.project_file.is(path) {
                        changes.project_file = true;
                    } else if let Some(module) = project.module_of(path)
                        && !changes.modules.contains(module)
                    {
                        changes.modules.push(module.clone());
                    }
                }
            }
            if changes != Changes::default() {
                return Some(changes);
            }
        }
    }
}

/// cairn.toml, recognised in the paths notify reports for its directory.
#[derive(Debug)]
struct ProjectFile {
    dir: PathBuf,
    name: std::ffi::OsString,
}

impl ProjectFile {
    fn new(file: &Path) -> Self {
        let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let dir = file
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        let dir = dir.canonicalize().unwrap_or(dir);
        let name = file.file_name().unwrap_or_default().to_owned();
        Self { dir, name }
    }

    fn is(&self, path: &Path) -> bool {
        path.file_name() == Some(self.name.as_os_str())
            && path.parent().is_some_and(|dir| {
                dir == self.dir || dir.canonicalize().is_ok_and(|dir| dir == self.dir)
            })
    }
}
