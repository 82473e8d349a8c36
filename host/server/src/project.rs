//! `cairn.toml`: the modules of a project, for `cairn dev` and `cairn deploy`.
//!
//! ```toml
//! [[module]]
//! name = "customers"           # the module's name: streams are `customers-{id}`
//! path = "examples/customers"  # its crate, relative to this file
//! ```
//!
//! The same file holds the node's settings; `settings.rs` reads the file, once, for both.

use std::path::{Path, PathBuf};

use crate::settings::{CairnToml, ModuleEntry, Settings};

/// A project: where its file is, and its modules.
#[derive(Debug, Clone)]
pub struct Project {
    /// The directory holding cairn.toml.
    pub root: PathBuf,
    pub modules: Vec<ModuleSource>,
}

/// A module's name and crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSource {
    pub name: String,
    /// The crate's directory (absolute).
    pub dir: PathBuf,
}

impl Project {
    /// Reads `file`.
    pub fn load(file: &Path) -> anyhow::Result<Self> {
        Ok(Self::load_with_settings(file)?.0)
    }

    /// Reads `file` once, for its modules and its settings.
    pub fn load_with_settings(file: &Path) -> anyhow::Result<(Self, Settings)> {
        let (modules, settings) = CairnToml::load(file)?.into_parts();
        Ok((Self::of(modules, file)?, settings))
    }

    /// The project of `modules`, listed in `file`.
    fn of(modules: Vec<ModuleEntry>, file: &Path) -> anyhow::Result<Self> {
        let root = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Absolute, so cargo finds the crates whatever directory it runs in.
        let root = std::path::absolute(&root).unwrap_or(root);
        anyhow::ensure!(
            !modules.is_empty(),
            "{} lists no modules; add a [[module]] with a name and a path",
            file.display()
        );
        let mut sources: Vec<ModuleSource> = Vec::new();
        for entry in modules {
            anyhow::ensure!(
                !sources.iter().any(|m| m.name == entry.name),
                "{} names module '{}' twice",
                file.display(),
                entry.name
            );
            let dir = root.join(&entry.path);
            anyhow::ensure!(
                cairn_guest_build::Language::of(&dir).is_some(),
                "module '{}' in {}: {} has no Cargo.toml (a Rust module) or package.json (a \
                 TypeScript module)",
                entry.name,
                file.display(),
                dir.display()
            );
            sources.push(ModuleSource {
                name: entry.name,
                dir,
            });
        }
        Ok(Self {
            root,
            modules: sources,
        })
    }

    /// The module whose crate holds `path`, if any.
    pub fn module_of(&self, path: &Path) -> Option<&ModuleSource> {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.modules
            .iter()
            .filter(|m| {
                let dir = m.dir.canonicalize().unwrap_or_else(|_| m.dir.clone());
                // Build output and installed packages are not sources.
                path.starts_with(&dir)
                    && !["target", "node_modules", "dist"]
                        .iter()
                        .any(|out| path.starts_with(dir.join(out)))
            })
            .max_by_key(|m| m.dir.components().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let file = dir.join("cairn.toml");
        std::fs::write(&file, text).expect("write");
        file
    }

    #[test]
    fn reads_modules_relative_to_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("m/src")).expect("mkdir");
        std::fs::write(dir.path().join("m/Cargo.toml"), "").expect("write");
        let file = write(dir.path(), "[[module]]\nname = \"m\"\npath = \"m\"\n");
        let project = Project::load(&file).expect("loads");
        assert_eq!(project.modules.len(), 1);
        assert_eq!(project.modules[0].dir, dir.path().join("m"));
        let source = dir.path().join("m/src/lib.rs");
        std::fs::write(&source, "").expect("write");
        assert_eq!(
            project.module_of(&source).map(|m| m.name.as_str()),
            Some("m")
        );
        assert_eq!(project.module_of(dir.path()), None);
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = Project::load(&dir.path().join("cairn.toml")).expect_err("no file");
        assert!(missing.to_string().contains("[[module]]"), "{missing}");
        let file = write(dir.path(), "[[module]]\nname = \"m\"\npath = \"nowhere\"\n");
        let err = Project::load(&file).expect_err("no crate");
        assert!(
            err.to_string()
                .contains("has no Cargo.toml (a Rust module) or package.json"),
            "{err}"
        );
        let file = write(dir.path(), "[[module]]\nname = \"m\"\n");
        let err = Project::load(&file).expect_err("no path");
        assert!(err.to_string().contains("not a valid cairn.toml"), "{err}");
        let file = write(dir.path(), "");
        let err = Project::load(&file).expect_err("empty");
        assert!(err.to_string().contains("lists no modules"), "{err}");
    }

    #[test]
    fn reads_modules_and_every_settings_section_from_one_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("m")).expect("mkdir");
        std::fs::write(dir.path().join("m/Cargo.toml"), "").expect("write");
        let file = write(
            dir.path(),
            "[[module]]\nname = \"m\"\npath = \"m\"\n\n[limits]\nfuel_per_call = 1_000_000\n\n\
             [commands]\nsnapshot_every = 9\n\n[projections]\nbatch = 10\n\n\
             [http]\nidle_timeout_ms = 1_500\n",
        );
        let (project, settings) = Project::load_with_settings(&file).expect("loads");
        assert_eq!(project.modules.len(), 1);
        assert_eq!(settings.limits.fuel_per_call, 1_000_000);
        assert_eq!(settings.commands.snapshot_every, 9);
        assert_eq!(settings.projections.batch, 10);
        assert_eq!(
            settings.http.idle_timeout,
            std::time::Duration::from_millis(1_500)
        );
        let file = write(
            dir.path(),
            "[[module]]\nname = \"m\"\npath = \"m\"\n[http]\nmax_uri_bytes = 1\n",
        );
        let err = Project::load(&file).expect_err("a bad setting");
        assert!(err.to_string().contains("http.max_uri_bytes is 1"), "{err}");
    }
}
