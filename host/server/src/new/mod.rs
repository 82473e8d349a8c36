//! `cairn new aggregate|projection|reactor NAME`: a new module crate that builds and tests at
//! once.
//!
//! The crate has `cairn-sdk` (by path from a checkout of cairn, else from git) and serde, the
//! modules' stack setting in its own `.cargo/config.toml`, a module with given/when/then tests
//! that pass, and is its own workspace. It is listed in the cairn.toml of the working directory
//! (or of the directory it is made in) when there is one. A name that cannot name a module, a
//! directory that exists and a cairn.toml that lists the name already are refused before
//! anything is written.
//!
//! - `name.rs`: which names a new module may take.
//! - `sdk.rs`: where the crate gets `cairn-sdk`.
//! - `template.rs`: the crate's files, kept as templates in `templates/`, and their filling.
//! - `crate_files.rs`: writing them; `ts_files.rs`, a TypeScript package's files (`--lang ts`),
//!   from `templates/ts/`.
//! - `project_entry.rs`: the `[[module]]` entry added to cairn.toml.
//! - `report.rs`: what `cairn new` says it made, and what to do next.

mod crate_files;
mod name;
mod project_entry;
mod report;
mod sdk;
mod template;
mod ts_files;

use std::path::{Path, PathBuf};

pub use name::BadName;
pub use sdk::SdkSource;

use crate::cli::{Lang, NewArgs, NewCrateArgs, NewModule};
use project_entry::{ProjectEntry, absolute};

/// What kind of module to make.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Aggregate,
    /// A projection, reading the events of aggregate `of` (every event if `None`).
    Projection {
        of: Option<String>,
    },
    /// A reactor, reacting to the events of aggregate `of` with commands to it.
    Reactor {
        of: String,
    },
}

/// Makes the crate, lists it in cairn.toml, and says what it did and what to do next.
pub fn run(args: NewArgs) -> anyhow::Result<()> {
    let (args, kind) = match args.module {
        NewModule::Aggregate { args } => (args, Kind::Aggregate),
        NewModule::Projection { args, of } => (args, Kind::Projection { of }),
        NewModule::Reactor { args, of } => (args, Kind::Reactor { of }),
    };
    let here = std::env::current_dir()
        .map_err(|e| anyhow::anyhow!("cannot read the working directory: {e}"))?;
    let made = make(&here, &args, &kind)?;
    print!("{}", made.report(&here, &args.name, &kind));
    Ok(())
}

/// What [`make`] did.
#[derive(Debug)]
struct Made {
    dir: PathBuf,
    sdk: SdkSource,
    /// For a TypeScript package, the SDK it depends on.
    typescript_sdk: Option<PathBuf>,
    /// The cairn.toml entry it added, or `None` when it found no cairn.toml.
    listed: Option<ProjectEntry>,
}

/// Makes the crate for `args` and `kind`, from working directory `here`.
fn make(here: &Path, args: &NewCrateArgs, kind: &Kind) -> anyhow::Result<Made> {
    name::check(&args.name)?;
    if let Kind::Projection { of: Some(of) } | Kind::Reactor { of } = kind {
        cairn_store::ModuleName::new(of).map_err(|e| {
            anyhow::anyhow!("--of {of}: an aggregate's name {e}, such as `shop_cart`")
        })?;
    }
    let dir = absolute(here, args.dir.as_deref().unwrap_or(Path::new(&args.name)));
    anyhow::ensure!(
        !dir.exists(),
        "{} already exists, and `cairn new` never writes over anything: pick another name, or \
         another directory with --dir",
        dir.display()
    );
    let sdk = SdkSource::find(args.sdk.as_deref())?;
    let typescript_sdk = match args.lang {
        Lang::Rust => None,
        Lang::TypeScript => Some(ts_files::sdk_of(&sdk, kind)?),
    };
    let listed = ProjectEntry::plan(here, &args.name, &dir)?;
    let cannot_make = |e: std::io::Error| {
        anyhow::anyhow!("cannot make the crate's directory {}: {e}", dir.display())
    };
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(cannot_make)?;
    }
    std::fs::create_dir(&dir).map_err(cannot_make)?;
    let written = match &typescript_sdk {
        None => crate_files::write_crate(&dir, &args.name, kind, &sdk),
        Some(typescript_sdk) => ts_files::write_package(&dir, &args.name, kind, typescript_sdk),
    };
    if let Err(e) = written {
        // The directory is this command's own (creating it failed if it existed).
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e.context(format!("cannot make the crate in {}", dir.display())));
    }
    if let Some(entry) = &listed {
        entry.write()?;
    }
    Ok(Made {
        dir,
        sdk,
        typescript_sdk,
        listed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str, dir: Option<&Path>, sdk: &Path) -> NewCrateArgs {
        NewCrateArgs {
            name: name.to_owned(),
            dir: dir.map(Path::to_path_buf),
            sdk: Some(sdk.to_path_buf()),
            lang: Lang::Rust,
        }
    }

    /// A checkout of cairn with only what `cairn new` reads from it.
    fn fake_checkout(dir: &Path) -> PathBuf {
        let sdk = dir.join("guest-sdk");
        std::fs::create_dir_all(&sdk).expect("mkdir");
        std::fs::write(sdk.join("Cargo.toml"), "[package]\nname = \"cairn-sdk\"\n").expect("write");
        std::fs::write(dir.join("Cargo.lock"), "# lock\n").expect("write");
        dir.to_path_buf()
    }

    #[test]
    fn makes_an_aggregate_crate_and_lists_it() {
        let here = tempfile::tempdir().expect("temp dir");
        let checkout = tempfile::tempdir().expect("temp dir");
        let sdk = fake_checkout(checkout.path());
        std::fs::write(here.path().join("cairn.toml"), "# modules\n").expect("write");
        let made = make(
            here.path(),
            &args("shop_cart", None, &sdk),
            &Kind::Aggregate,
        )
        .expect("made");
        let dir = here.path().join("shop_cart");
        assert_eq!(made.dir, dir);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
        let table: toml::Table = toml::from_str(&manifest).expect("TOML");
        assert_eq!(table["package"]["name"].as_str(), Some("shop_cart"));
        assert!(
            table["dependencies"]["cairn-sdk"]["path"]
                .as_str()
                .is_some()
        );
        assert_eq!(
            table["dependencies"]["serde"]["features"][0].as_str(),
            Some("derive")
        );
        let config = std::fs::read_to_string(dir.join(".cargo/config.toml")).expect("config");
        assert!(config.contains("link-arg=-zstack-size=131072"), "{config}");
        let source = std::fs::read_to_string(dir.join("src/lib.rs")).expect("source");
        assert!(source.contains("pub struct ShopCartAggregate;"), "{source}");
        assert!(source.contains("cairn send shop_cart 1"), "{source}");
        assert_eq!(
            std::fs::read_to_string(dir.join("Cargo.lock")).expect("lock"),
            "# lock\n"
        );
        let listed = std::fs::read_to_string(here.path().join("cairn.toml")).expect("read");
        assert!(listed.ends_with("[[module]]\nname = \"shop_cart\"\npath = \"shop_cart\"\n"));
        let report = made.report(here.path(), "shop_cart", &Kind::Aggregate);
        assert!(
            report.contains("added to cairn.toml:\n  [[module]]"),
            "{report}"
        );
        assert!(report.contains("cd shop_cart && cargo test"), "{report}");

        let again = make(
            here.path(),
            &args("shop_cart", None, &sdk),
            &Kind::Aggregate,
        );
        let err = again.expect_err("exists").to_string();
        assert!(err.contains("never writes over anything"), "{err}");
    }

    #[test]
    fn makes_a_projection_of_one_aggregate_where_it_is_told() {
        let here = tempfile::tempdir().expect("temp dir");
        let checkout = tempfile::tempdir().expect("temp dir");
        let sdk = fake_checkout(checkout.path());
        let kind = Kind::Projection {
            of: Some("shop_cart".into()),
        };
        let dir = Path::new("modules/cart-titles");
        let made = make(here.path(), &args("cart_titles", Some(dir), &sdk), &kind).expect("made");
        let source = std::fs::read_to_string(made.dir.join("src/lib.rs")).expect("source");
        assert!(
            source.contains("Subscription::category(\"shop_cart\")"),
            "{source}"
        );
        assert!(
            source.contains("(\"shop_cart-1\", created(\"First\"))"),
            "{source}"
        );
        let report = made.report(here.path(), "cart_titles", &kind);
        assert!(report.contains("no cairn.toml here"), "{report}");
        assert!(
            report.contains("path = \"modules/cart-titles\""),
            "{report}"
        );
        assert!(report.contains("cairn query cart_titles"), "{report}");
    }

    #[test]
    fn refuses_before_writing_anything() {
        let here = tempfile::tempdir().expect("temp dir");
        let checkout = tempfile::tempdir().expect("temp dir");
        let sdk = fake_checkout(checkout.path());
        let err = make(here.path(), &args("ShopCart", None, &sdk), &Kind::Aggregate)
            .expect_err("a bad name");
        assert!(err.to_string().contains("cannot name a module"), "{err}");
        let of_bad = Kind::Projection {
            of: Some("shop-cart".into()),
        };
        let err = make(here.path(), &args("titles", None, &sdk), &of_bad).expect_err("bad --of");
        assert!(err.to_string().contains("--of shop-cart"), "{err}");
        std::fs::write(
            here.path().join("cairn.toml"),
            "[[module]]\nname = \"titles\"\npath = \"x\"\n",
        )
        .expect("write");
        let err = make(here.path(), &args("titles", None, &sdk), &Kind::Aggregate)
            .expect_err("listed already");
        assert!(err.to_string().contains("already lists"), "{err}");
        let made: Vec<_> = std::fs::read_dir(here.path())
            .expect("read dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(made, ["cairn.toml"], "nothing else was written");
    }
}
