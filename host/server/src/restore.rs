//! `cairn restore BACKUP_DIR --data DATA_DIR`: starts a data directory from a backup of
//! `cairn backup`. The copy's size and SHA-256 are checked against its `backup.json`, it is put
//! in place under a temporary name and renamed once synced, and every record of it is then
//! read (`RedbStore::verify`). A data directory that holds a store already is refused, and so
//! is a backup that fails a check: nothing is left half made.

use cairn_store::RedbStore;

use crate::backup::{BACKUP_FILE, Manifest, sha256_of};
use crate::cli::RestoreArgs;

pub async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let manifest = Manifest::read(&args.backup)?;
    let copy = args.backup.join(BACKUP_FILE);
    let (sha256, bytes) =
        sha256_of(&copy).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", copy.display()))?;
    anyhow::ensure!(
        bytes == manifest.bytes && sha256 == manifest.sha256,
        "{} is not the file its backup.json names ({bytes} bytes, SHA-256 {sha256}; it names \
         {} bytes, {}): it was changed or cut short, so it is not restored",
        copy.display(),
        manifest.bytes,
        manifest.sha256
    );
    let store_dir = args.data.join("store");
    let target = store_dir.join(BACKUP_FILE);
    anyhow::ensure!(
        !target.exists(),
        "{} holds a store already; restore into a new data directory, or move it away first",
        args.data.display()
    );
    std::fs::create_dir_all(&store_dir)?;
    let partial = store_dir.join(format!("{BACKUP_FILE}.partial"));
    std::fs::copy(&copy, &partial)?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, &target)?;
    std::fs::File::open(&store_dir)?.sync_all()?;
    let report = match RedbStore::verify(&store_dir).await {
        Ok(report) if report.is_sound() && report.events == manifest.head => report,
        outcome => {
            let _ = std::fs::remove_file(&target);
            let why = match outcome {
                Ok(report) if !report.is_sound() => {
                    format!("{} damaged record(s)", report.damage.len())
                }
                Ok(report) => format!(
                    "it holds {} events where its backup.json names {}",
                    report.events, manifest.head
                ),
                Err(error) => error.to_string(),
            };
            anyhow::bail!(
                "the backup in {} does not check: {why}; nothing was restored",
                args.backup.display()
            );
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "data": args.data.display().to_string(),
                "head": manifest.head,
                "events": report.events,
                "streams": report.streams,
                "taken_at": manifest.taken_at,
            })
        );
    } else {
        println!(
            "restored {} into {}: {} events in {} streams, every record checked",
            args.backup.display(),
            args.data.display(),
            report.events,
            report.streams
        );
        println!("start it with `cairn serve --data {}`", args.data.display());
    }
    Ok(())
}
