//! `cairn.toml`: the modules of a project, for `cairn dev` and `cairn deploy`.
//!
//! ```toml
//! [[module]]
//! name = "customers"           # the module's name: streams are `customers-{id}`
//! path = "examples/customers"  # its crate, relative to this file
//! ```
//!
//! The same file may hold `[limits]`, `[commands]` and `[projections]`, the runtime's
//! settings; `settings.rs` reads those.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::settings::Settings;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "module")]
    modules: Vec<Entry>,
    // Read by `settings.rs`.
    #[serde(default, rename = "limits")]
    _limits: Option<toml::Table>,
    #[serde(default, rename = "commands")]
    _commands: Option<toml::Table>,
    #[serde(default, rename = "projections")]
    _projections: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    path: PathBuf,
}

impl Project {
    /// Reads `file`.
    pub fn load(file: &Path) -> anyhow::Result<Self> {
        Self::parse(&read(file)?, file)
    }

    /// Reads `file` once, for its modules and its settings (`settings.rs`).
    pub fn load_with_settings(file: &Path) -> anyhow::Result<(Self, Settings)> {
        let text = read(file)?;
        Ok((
            Self::parse(&text, file)?,
            Settings::parse_file(&text, file)?,
        ))
    }

    /// The modules that `text`, the contents of `file`, lists.
    fn parse(text: &str, file: &Path) -> anyhow::Result<Self> {
        let parsed: File = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{} is not a valid cairn.toml: {e}", file.display()))?;
        let root = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Absolute, so cargo finds the crates whatever directory it runs in.
        let root = std::path::absolute(&root).unwrap_or(root);
        anyhow::ensure!(
            !parsed.modules.is_empty(),
            "{} lists no modules; add a [[module]] with a name and a path",
            file.display()
        );
        let mut modules: Vec<ModuleSource> = Vec::new();
        for entry in parsed.modules {
            anyhow::ensure!(
                !modules.iter().any(|m| m.name == entry.name),
                "{} names module '{}' twice",
                file.display(),
                entry.name
            );
            let dir = root.join(&entry.path);
            anyhow::ensure!(
                dir.join("Cargo.toml").is_file(),
                "module '{}' in {}: {} has no Cargo.toml",
                entry.name,
                file.display(),
                dir.display()
            );
            modules.push(ModuleSource {
                name: entry.name,
                dir,
            });
        }
        Ok(Self { root, modules })
    }

    /// The module whose crate holds `path`, if any.
    pub fn module_of(&self, path: &Path) -> Option<&ModuleSource> {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.modules
            .iter()
            .filter(|m| {
                let dir = m.dir.canonicalize().unwrap_or_else(|_| m.dir.clone());
                path.starts_with(&dir) && !path.starts_with(dir.join("target"))
            })
            .max_by_key(|m| m.dir.components().count())
    }
}

/// The text of `file`; if it cannot be read, the error shows what a cairn.toml holds.
fn read(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e}. A cairn.toml lists the modules to build:\n\n\
             [[module]]\nname = \"customers\"\npath = \"examples/customers\"\n",
            file.display()
        )
    })
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
        assert!(err.to_string().contains("has no Cargo.toml"), "{err}");
        let file = write(dir.path(), "[[module]]\nname = \"m\"\n");
        let err = Project::load(&file).expect_err("no path");
        assert!(err.to_string().contains("not a valid cairn.toml"), "{err}");
        let file = write(dir.path(), "");
        let err = Project::load(&file).expect_err("empty");
        assert!(err.to_string().contains("lists no modules"), "{err}");
    }
}
