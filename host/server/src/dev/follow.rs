//! Following changes on disk while `cairn dev` runs: a module whose sources change is rebuilt
//! and swapped in; when cairn.toml changes it is read again, modules new to it are built, and
//! what cannot take effect now is said.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::project_change::ProjectChange;
use super::{reload, watch};
use crate::project::{ModuleSource, Project};
use crate::settings::Settings;

/// What `cairn dev` watches: cairn.toml, the modules it last listed, and the settings the node
/// opened with (which stay in use until a restart).
pub(super) struct Watched {
    pub(super) file: PathBuf,
    pub(super) project: Project,
    pub(super) settings: Settings,
}

/// Rebuilds the modules whose sources change and reads cairn.toml again when it changes, until
/// the watcher stops.
pub(super) async fn follow(
    mut watcher: watch::Watcher,
    mut watched: Watched,
    reloader: Arc<reload::Reloader>,
) {
    while let Some(changes) = watcher.changed(&watched.project).await {
        let mut to_build: Vec<(ModuleSource, String)> = changes
            .modules
            .into_iter()
            .map(|m| {
                let why = format!("{} changed: rebuilding", m.name);
                (m, why)
            })
            .collect();
        if changes.project_file
            && let Some((new, settings)) = read_again(&watched.file)
        {
            let change =
                ProjectChange::between(&watched.project, &watched.settings, &new, &settings);
            tell(&watched, &change);
            // Changed sources count only for modules listed as before: one that moved is built
            // from its new crate below, one taken out not at all.
            to_build.retain(|(m, _)| new.modules.contains(m));
            for module in change.added {
                let why = format!(
                    "{} is new in {}: building",
                    module.name,
                    watched.file.display()
                );
                to_build.push((module, why));
            }
            for module in change.moved {
                let why = format!("{} now builds from {}", module.name, module.dir.display());
                to_build.push((module, why));
            }
            if new.modules != watched.project.modules {
                match watch::Watcher::start(&new, &watched.file) {
                    Ok(restarted) => watcher = restarted,
                    Err(error) => crate::serve::complain(format_args!(
                        "✗ the new modules' sources are not watched: {error}"
                    )),
                }
            }
            watched.project = new;
        }
        for (module, why) in to_build {
            crate::serve::announce(format_args!("{why}"));
            reloader.reload(&module).await;
        }
    }
}

/// cairn.toml read again, or `None`, with the reason printed, if it cannot be used; then the
/// modules loaded keep serving and the file is read again at its next change.
fn read_again(path: &Path) -> Option<(Project, Settings)> {
    match Project::load_with_settings(path) {
        Ok(read) => Some(read),
        Err(error) => {
            crate::serve::complain(format_args!(
                "✗ {} changed but cannot be used; the modules loaded keep serving: {error}",
                path.display()
            ));
            None
        }
    }
}

/// Prints what a change to cairn.toml does beyond building modules.
fn tell(watched: &Watched, change: &ProjectChange) {
    let file = watched.file.display();
    for name in &change.dropped {
        crate::serve::announce(format_args!(
            "{name} is no longer in {file}; it stays loaded, as the store keeps every module \
             (`cairn dev --clean` starts from an empty store)"
        ));
    }
    if change.settings_changed {
        crate::serve::announce(format_args!(
            "the settings in {file} changed; they apply when cairn dev starts again"
        ));
    }
}
