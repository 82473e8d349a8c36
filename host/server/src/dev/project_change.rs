//! cairn.toml read again while `cairn dev` runs: which modules to build, which are gone from
//! the file, and whether the settings changed.
//!
//! A module new to the file, or whose path changed, is built and loaded. A module taken out of
//! the file stays loaded: the store keeps every module uploaded to it, and there is no unload.
//! Settings size the engine and its pools when the node opens, so a change to them applies at
//! the next start; `cairn dev` says so rather than pretend.

use crate::project::{ModuleSource, Project};
use crate::settings::Settings;

/// What a new reading of cairn.toml changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ProjectChange {
    /// Modules new to the file, to build and load.
    pub(super) added: Vec<ModuleSource>,
    /// Modules whose path now names another crate, to build from it.
    pub(super) moved: Vec<ModuleSource>,
    /// Names no longer in the file.
    pub(super) dropped: Vec<String>,
    /// Whether `[limits]`, `[commands]`, `[projections]` or `[http]` differ from the settings in
    /// use.
    pub(super) settings_changed: bool,
}

impl ProjectChange {
    /// How `new` (with its `settings`) differs from the project and settings in use.
    pub(super) fn between(
        old: &Project,
        in_use: &Settings,
        new: &Project,
        settings: &Settings,
    ) -> Self {
        let (mut added, mut moved) = (Vec::new(), Vec::new());
        for module in &new.modules {
            match old.modules.iter().find(|m| m.name == module.name) {
                None => added.push(module.clone()),
                Some(was) if was.dir != module.dir => moved.push(module.clone()),
                Some(_) => {}
            }
        }
        let dropped = old
            .modules
            .iter()
            .filter(|module| !new.modules.iter().any(|m| m.name == module.name))
            .map(|module| module.name.clone())
            .collect();
        Self {
            added,
            moved,
            dropped,
            settings_changed: settings != in_use,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn module(name: &str, dir: &str) -> ModuleSource {
        ModuleSource {
            name: name.to_owned(),
            dir: PathBuf::from(dir),
        }
    }

    fn project(modules: &[ModuleSource]) -> Project {
        Project {
            root: PathBuf::from("/p"),
            modules: modules.to_vec(),
        }
    }

    #[test]
    fn builds_what_is_new_or_moved_and_names_what_is_gone() {
        let (a, b, c) = (
            module("a", "/p/a"),
            module("b", "/p/b"),
            module("c", "/p/c"),
        );
        let old = project(&[a.clone(), b.clone()]);
        let moved_b = module("b", "/p/b2");
        let new = project(&[moved_b.clone(), c.clone()]);
        let settings = Settings::default();
        let change = ProjectChange::between(&old, &settings, &new, &settings);
        assert_eq!(change.added, vec![c]);
        assert_eq!(change.moved, vec![moved_b]);
        assert_eq!(change.dropped, vec!["a".to_owned()]);
        assert!(!change.settings_changed);

        let same = ProjectChange::between(&old, &settings, &old, &settings);
        assert_eq!(same, ProjectChange::default(), "nothing to do");
    }

    #[test]
    fn notices_changed_settings() {
        let old = project(&[module("a", "/p/a")]);
        let in_use = Settings::default();
        let changed = Settings::parse("[commands]\nsnapshot_every = 5\n").expect("valid");
        let change = ProjectChange::between(&old, &in_use, &old, &changed);
        assert!(change.settings_changed);
        assert!(change.added.is_empty() && change.moved.is_empty() && change.dropped.is_empty());
        let spelled_out = Settings::parse("[commands]\nsnapshot_every = 100\n").expect("valid");
        assert!(
            !ProjectChange::between(&old, &in_use, &old, &spelled_out).settings_changed,
            "a default written out is no change"
        );
    }
}
