//! `cairn verify DATA_DIR`: the offline check of a stopped server's data directory (or of its
//! `store/`). It reads
//! every record of the store (`RedbStore::verify`) and prints every damaged one, or that none
//! is. It exits with failure when anything is damaged, so a script can act on it.

use std::path::Path;

use cairn_store::{OpenError, RedbStore};

use crate::cli::VerifyArgs;

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    // A data directory holds its store in `store/`; the store's own directory (which the
    // store's errors name) is taken too.
    let store_dir = if args.data.join("store").is_dir() {
        args.data.join("store")
    } else if args.data.join("cairn.redb").is_file() {
        args.data.clone()
    } else {
        anyhow::bail!(
            "{} holds no store (no `store/` directory, no `cairn.redb`): is it a cairn data \
             directory?",
            args.data.display()
        );
    };
    let report = match RedbStore::verify(&store_dir).await {
        Ok(report) => report,
        Err(error @ OpenError::Damaged { .. }) => anyhow::bail!(
            "{error}; the file's own structure is damaged, so no record of it can be trusted: \
             restore {} from a backup",
            args.data.display()
        ),
        Err(error) => anyhow::bail!("{error} (is a server running on {}?)", args.data.display()),
    };
    if args.json {
        let damage: Vec<_> = report
            .damage
            .iter()
            .map(|d| serde_json::json!({"record": d.record.to_string(), "reason": d.reason}))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "path": report.path.display().to_string(),
                "layout": report.layout,
                "events": report.events,
                "streams": report.streams,
                "snapshots": report.snapshots,
                "model_entries": report.model_entries,
                "damaged": damage,
            })
        );
    } else {
        print_report(&args.data, &report);
    }
    anyhow::ensure!(
        report.is_sound(),
        "{} damaged record(s) in {}: restore the data directory from a backup",
        report.damage.len(),
        args.data.display()
    );
    Ok(())
}

fn print_report(data: &Path, report: &cairn_store::VerifyReport) {
    println!(
        "checked {}: layout {}, {} events in {} streams, {} snapshots, {} read model entries",
        data.display(),
        report.layout,
        report.events,
        report.streams,
        report.snapshots,
        report.model_entries
    );
    if report.is_sound() {
        println!("no damage found");
    }
    for damage in &report.damage {
        println!("damaged: {}: {}", damage.record, damage.reason);
    }
}
