//! The `[[module]]` entry that lists a new crate in the project's cairn.toml, so `cairn dev`
//! and `cairn deploy cairn.toml` build it. The entry is appended to the file's text, which
//! keeps the file's comments and layout.

use std::path::{Component, Path, PathBuf};

/// An entry planned for a cairn.toml, checked before the crate is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProjectEntry {
    /// The cairn.toml.
    pub(super) file: PathBuf,
    /// The entry's lines.
    pub(super) entry: String,
    /// The file's text with the entry appended.
    text: String,
}

impl ProjectEntry {
    /// The entry for module `name` in crate `crate_dir` (absolute), in the cairn.toml of the
    /// working directory `here`, else of the directory the crate is made in; `None` if
    /// neither has one. Refuses a file that is not TOML or names the module already.
    pub(super) fn plan(here: &Path, name: &str, crate_dir: &Path) -> anyhow::Result<Option<Self>> {
        let Some(file) = project_file(here, crate_dir) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        let listed = modules_of(&file, &text)?;
        anyhow::ensure!(
            !listed.iter().any(|m| m == name),
            "{} already lists a module `{name}`; pick another name, or take that entry out",
            file.display()
        );
        let root = file.parent().unwrap_or(Path::new("."));
        let entry = entry(name, &relative_to(crate_dir, root));
        let mut appended = text.clone();
        if !appended.is_empty() && !appended.ends_with('\n') {
            appended.push('\n');
        }
        if !appended.is_empty() {
            appended.push('\n');
        }
        appended.push_str(&entry);
        modules_of(&file, &appended).map_err(|e| {
            e.context(format!(
                "cannot add a [[module]] to {} (does it list its modules another way?)",
                file.display()
            ))
        })?;
        Ok(Some(Self {
            file,
            entry,
            text: appended,
        }))
    }

    /// Writes the file with the entry.
    pub(super) fn write(&self) -> anyhow::Result<()> {
        std::fs::write(&self.file, &self.text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", self.file.display()))
    }
}

/// The lines that list module `name` in crate `path`.
pub(super) fn entry(name: &str, path: &Path) -> String {
    let quoted = |text: &str| toml::Value::String(text.to_owned()).to_string();
    format!(
        "[[module]]\nname = {}\npath = {}\n",
        quoted(name),
        quoted(&path.display().to_string())
    )
}

/// The cairn.toml of `here`, else of the directory holding `crate_dir`.
fn project_file(here: &Path, crate_dir: &Path) -> Option<PathBuf> {
    [Some(here), crate_dir.parent()]
        .into_iter()
        .flatten()
        .map(|dir| dir.join("cairn.toml"))
        .find(|file| file.is_file())
}

/// The names of the modules `text` lists.
fn modules_of(file: &Path, text: &str) -> anyhow::Result<Vec<String>> {
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{} is not valid TOML: {e}", file.display()))?;
    let Some(modules) = table.get("module") else {
        return Ok(Vec::new());
    };
    let modules = modules.as_array().ok_or_else(|| {
        anyhow::anyhow!("{}: `module` is not a list of [[module]]", file.display())
    })?;
    Ok(modules
        .iter()
        .filter_map(|m| m.get("name").and_then(|n| n.as_str()).map(str::to_owned))
        .collect())
}

/// `path` relative to `root` when it lies under it, else `path`; both absolute.
pub(super) fn relative_to(path: &Path, root: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
        Ok(relative) => relative.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

/// `path` made absolute from `here`, with `.` and `..` resolved by name (the path need not
/// exist yet).
pub(super) fn absolute(here: &Path, path: &Path) -> PathBuf {
    let mut resolved = PathBuf::new();
    for component in here.join(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            other => resolved.push(other),
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_appended_to_the_cairn_toml_here() {
        let here = tempfile::tempdir().expect("temp dir");
        let file = here.path().join("cairn.toml");
        let text = "# my project\n[[module]]\nname = \"orders\"\npath = \"orders\"\n[limits]\nfuel_per_call = 1_000_000";
        std::fs::write(&file, text).expect("write");
        let planned = ProjectEntry::plan(here.path(), "shop_cart", &here.path().join("shop_cart"))
            .expect("plans")
            .expect("a cairn.toml");
        assert_eq!(
            planned.entry,
            "[[module]]\nname = \"shop_cart\"\npath = \"shop_cart\"\n"
        );
        planned.write().expect("writes");
        let written = std::fs::read_to_string(&file).expect("read");
        assert!(written.starts_with(text), "the file is kept: {written}");
        let table: toml::Table = toml::from_str(&written).expect("TOML");
        assert_eq!(table["module"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            table["limits"]["fuel_per_call"].as_integer(),
            Some(1_000_000)
        );

        let again = ProjectEntry::plan(here.path(), "shop_cart", &here.path().join("elsewhere"));
        let err = again.expect_err("listed already").to_string();
        assert!(err.contains("already lists a module `shop_cart`"), "{err}");
    }

    #[test]
    fn the_crates_parent_is_looked_at_when_here_has_none() {
        let here = tempfile::tempdir().expect("temp dir");
        let project = here.path().join("project");
        std::fs::create_dir_all(&project).expect("mkdir");
        std::fs::write(project.join("cairn.toml"), "").expect("write");
        let planned = ProjectEntry::plan(here.path(), "tally", &project.join("tally"))
            .expect("plans")
            .expect("a cairn.toml");
        assert_eq!(planned.file, project.join("cairn.toml"));
        assert_eq!(
            planned.entry,
            "[[module]]\nname = \"tally\"\npath = \"tally\"\n"
        );
        let outside = ProjectEntry::plan(here.path(), "tally", &here.path().join("tally"));
        assert_eq!(outside.expect("plans"), None);
    }

    #[test]
    fn a_file_it_cannot_add_to_is_refused() {
        let here = tempfile::tempdir().expect("temp dir");
        std::fs::write(here.path().join("cairn.toml"), "[[module]\n").expect("write");
        let err = ProjectEntry::plan(here.path(), "m", &here.path().join("m")).expect_err("bad");
        assert!(err.to_string().contains("not valid TOML"), "{err}");
        std::fs::write(here.path().join("cairn.toml"), "module = []\n").expect("write");
        let err = ProjectEntry::plan(here.path(), "m", &here.path().join("m")).expect_err("inline");
        assert!(
            format!("{err:#}").contains("cannot add a [[module]]"),
            "{err:#}"
        );
    }

    #[test]
    fn paths_resolve_by_name() {
        let here = Path::new("/work/p");
        assert_eq!(
            absolute(here, Path::new("a/./b/../c")),
            Path::new("/work/p/a/c")
        );
        assert_eq!(absolute(here, Path::new("/x/y")), Path::new("/x/y"));
        assert_eq!(relative_to(Path::new("/work/p/a"), here), Path::new("a"));
        assert_eq!(
            relative_to(Path::new("/work/q"), here),
            Path::new("/work/q")
        );
    }
}
