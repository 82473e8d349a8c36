//! `cairn backup DIR`: a consistent copy of a running server's store, written to `DIR` as
//! `cairn.redb` with `backup.json` beside it (the head, the size and a SHA-256 of the file),
//! which `cairn restore` checks before it starts a data directory from it.

use reqwest::Method;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::backup::{BACKUP_FILE, Manifest, hex, manifest_path};
use crate::cli::BackupArgs;
use crate::client::api::Api;

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let target = args.dir.join(BACKUP_FILE);
    anyhow::ensure!(
        !target.exists() && !manifest_path(&args.dir).exists(),
        "{} holds a backup already; give a new directory",
        args.dir.display()
    );
    tokio::fs::create_dir_all(&args.dir).await?;
    let api = Api::new(&args.client);
    let mut response = api.send(api.request(Method::GET, "/v1/backup")).await?;
    let head: u64 = response
        .headers()
        .get(crate::http::BACKUP_HEAD_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            anyhow::anyhow!("the server's reply names no head; is it a cairn server?")
        })?;
    let expected = response.content_length();
    let partial = args.dir.join(format!("{BACKUP_FILE}.partial"));
    let mut file = tokio::fs::File::create(&partial).await?;
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await? {
        hash.update(&chunk);
        bytes += chunk.len() as u64;
        file.write_all(&chunk).await?;
    }
    if expected.is_some_and(|expected| expected != bytes) {
        let _ = tokio::fs::remove_file(&partial).await;
        anyhow::bail!("the backup was cut short ({bytes} of {expected:?} bytes); nothing was kept");
    }
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&partial, &target).await?;
    let manifest = Manifest {
        head,
        bytes,
        sha256: hex(&hash.finalize()),
        taken_at: cairn_store::Timestamp::now().as_millis(),
        server: api.base().to_owned(),
    };
    manifest.write(&args.dir)?;
    if args.client.json {
        println!("{}", serde_json::to_value(&manifest)?);
    } else {
        println!(
            "backed up {} (events 1 to {head}, {bytes} bytes) to {}",
            api.base(),
            target.display()
        );
        println!(
            "restore it with `cairn restore {} --data NEW_DATA_DIR`",
            args.dir.display()
        );
    }
    Ok(())
}
