//! `cairn migrate --from FROM --to TO`: copies a whole store from one backend to another (a
//! data directory's embedded store, or a PostgreSQL database), and checks the copy.
//!
//! The source's image (`cairn_store::ImagePart`) is exported as of one moment, digested on its
//! way (`ImageDigest`: each section's count and hash, the log's hash in position order), and
//! imported into the target, which must be empty, in one transaction. The target is then
//! exported again and digested; the copy stands only if both digests agree, section by section.
//! A failed or disagreeing copy exits with failure: a failed import leaves the target as it
//! was; a disagreeing one (a fault of this code, never expected) is reported and left for the
//! operator to remove.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cairn_store::{
    ImageDigest, ImagePart, ImportError, RedbOptions, RedbStore, StorageError, image_channel,
};
use cairn_store_postgres::PostgresStore;
use tokio::sync::mpsc::{Receiver, Sender};

use crate::cli::MigrateArgs;
use crate::node::safe;

/// Where a store is: a data directory, or a PostgreSQL URL.
#[derive(Clone, Debug)]
enum StoreAt {
    Directory(PathBuf),
    Postgres(String),
}

impl StoreAt {
    fn parse(text: &str) -> anyhow::Result<Self> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(Self::Postgres(text.to_owned()))
        } else {
            anyhow::ensure!(
                !text.contains("://"),
                "{text} is neither a data directory nor a PostgreSQL URL (postgres://...)"
            );
            Ok(Self::Directory(PathBuf::from(text)))
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Directory(dir) => dir.display().to_string(),
            Self::Postgres(url) => format!("PostgreSQL {}", safe(url)),
        }
    }
}

/// A store opened to export from.
enum Source {
    Embedded(RedbStore),
    Postgres(PostgresStore),
}

impl Source {
    async fn open(at: &StoreAt) -> anyhow::Result<Self> {
        match at {
            StoreAt::Directory(dir) => {
                let store_dir = dir.join("store");
                anyhow::ensure!(
                    store_dir.join("cairn.redb").is_file(),
                    "{} holds no store (no `store/cairn.redb`): is it a cairn data directory?",
                    dir.display()
                );
                let store = RedbStore::open(&store_dir, RedbOptions::default())
                    .await
                    .with_context(|| {
                        format!(
                            "cannot open the store in {} (is a server running on it?)",
                            dir.display()
                        )
                    })?;
                Ok(Self::Embedded(store))
            }
            StoreAt::Postgres(url) => Ok(Self::Postgres(open_postgres(url).await?)),
        }
    }

    async fn export(&self, parts: Sender<ImagePart>) -> Result<(), StorageError> {
        match self {
            Self::Embedded(store) => store.export_image(parts).await,
            Self::Postgres(store) => store.export_image(parts).await,
        }
    }

    async fn close(self) {
        match self {
            Self::Embedded(store) => store.close().await,
            Self::Postgres(store) => store.close().await,
        }
    }
}

async fn open_postgres(url: &str) -> anyhow::Result<PostgresStore> {
    PostgresStore::open(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store at {}: {e}", safe(url)))
}

/// Writes the image `parts` brings into the store at `to`.
async fn import(to: &StoreAt, parts: Receiver<ImagePart>) -> Result<(), ImportError> {
    match to {
        StoreAt::Directory(dir) => RedbStore::import_image(dir.join("store"), parts).await,
        StoreAt::Postgres(url) => {
            let store = PostgresStore::open(url)
                .await
                .map_err(|e| ImportError::Storage(StorageError::backend(e)))?;
            let imported = store.import_image(parts).await;
            store.close().await;
            imported
        }
    }
}

/// Exports the store at `from` and digests it, passing each part on to `forward` if given.
async fn export(
    from: &Source,
    forward: Option<Sender<ImagePart>>,
) -> (Result<(), StorageError>, ImageDigest) {
    let (parts, received) = image_channel();
    tokio::join!(from.export(parts), ImageDigest::of(received, forward))
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let (from, to) = (StoreAt::parse(&args.from)?, StoreAt::parse(&args.to)?);
    if let (StoreAt::Directory(dir), true) = (&to, matches!(from, StoreAt::Directory(_))) {
        anyhow::ensure!(
            Path::new(&args.from) != dir,
            "--from and --to name the same directory"
        );
    }
    let source = Source::open(&from).await?;
    let (forward, received) = image_channel();
    let ((exported, copied), imported) =
        tokio::join!(export(&source, Some(forward)), import(&to, received));
    source.close().await;
    if let Err(error) = exported
        && !matches!(error, StorageError::Closed)
    {
        anyhow::bail!(
            "reading {} failed, and nothing of the copy into {} was kept: {error}",
            from.describe(),
            to.describe()
        );
    }
    if let Err(error) = imported {
        anyhow::bail!(
            "the copy into {} failed, and nothing of it was kept: {error}",
            to.describe()
        );
    }
    let target = Source::open(&to).await?;
    let (reread, written) = export(&target, None).await;
    target.close().await;
    reread.with_context(|| format!("reading the copy in {} back failed", to.describe()))?;
    report(&args, &from, &to, &copied, &written);
    anyhow::ensure!(
        copied == written,
        "the copy in {} does not hold what {} holds (see the sections above); remove it and \
         report this",
        to.describe(),
        from.describe()
    );
    Ok(())
}

fn report(
    args: &MigrateArgs,
    from: &StoreAt,
    to: &StoreAt,
    copied: &ImageDigest,
    written: &ImageDigest,
) {
    let sections = copied.sections().into_iter().zip(written.sections());
    if args.json {
        let sections: serde_json::Map<String, serde_json::Value> = sections
            .map(|((name, source), (_, target))| {
                let section = serde_json::json!({
                    "items": source.items,
                    "hash": source.hex(),
                    "copied_items": target.items,
                    "copied_hash": target.hex(),
                    "equal": source == target,
                });
                (name.to_owned(), section)
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "from": from.describe(),
                "to": to.describe(),
                "equal": copied == written,
                "sections": sections,
            })
        );
        return;
    }
    println!("copied {} into {}", from.describe(), to.describe());
    for ((name, source), (_, target)) in sections {
        let verdict = if source == target {
            "same in both".to_owned()
        } else {
            format!(
                "DIFFERS: the copy has {} items, hash {}",
                target.items,
                &target.hex()[..16]
            )
        };
        println!(
            "  {name:<16} {:>10}  {}  {verdict}",
            source.items,
            &source.hex()[..16]
        );
    }
    if copied == written {
        println!("every section of the copy reads back the same: counts, and SHA-256 hashes");
    }
}
