//! `GET /v1/backup`: a consistent copy of the running store, as one redb file
//! ([`cairn_store::RedbStore::backup`]), taken while writes go on. The copy is made in the data
//! directory's `backups/`, opened, and unlinked before its first byte is sent, so nothing is
//! left behind whether the client takes it all or goes away.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use cairn_store::{BackupError, StorageError};

use crate::http::error::ApiError;
use crate::http::state::AppState;

/// The header naming the position of the newest event in the copy.
pub(crate) const HEAD_HEADER: &str = "cairn-backup-head";

impl From<BackupError> for ApiError {
    fn from(error: BackupError) -> Self {
        match error {
            BackupError::Storage(error) => error.into(),
            other => StorageError::backend(std::io::Error::other(other.to_string())).into(),
        }
    }
}

/// Takes a backup and streams it.
#[utoipa::path(
    get,
    path = "/v1/backup",
    operation_id = "backup",
    responses(
        (status = 200, description = "`application/octet-stream`: the store as of one commit, as a redb file that `cairn restore` starts a data directory from; `cairn-backup-head` names the newest event's position in it", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 409, description = "`backup_not_here`: the node's store is PostgreSQL, backed up with PostgreSQL's own tools", body = crate::http::error::ErrorBody),
    ),
    tag = "operations"
)]
pub(crate) async fn backup(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(redb) = &state.redb else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "backup_not_here",
            "this node keeps its events in PostgreSQL: back the database up with PostgreSQL's \
             own tools (pg_dump, or a base backup with its WAL); `cairn backup` copies the \
             embedded store",
        ));
    };
    let dir = state.backup_dir.clone();
    let io = |error: std::io::Error| ApiError::from(StorageError::backend(error));
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let path = dir.join(format!("backup-{}.redb", uuid::Uuid::new_v4()));
    let report = redb.backup(path.clone()).await?;
    let file = tokio::fs::File::open(&path).await.map_err(io)?;
    // Unlinked now: the open file is still read whole, and nothing stays if the client goes.
    tokio::fs::remove_file(&path).await.map_err(io)?;
    tracing::info!(
        head = report.head,
        rows = report.rows,
        bytes = report.bytes,
        "backup taken"
    );
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_owned()),
            (CONTENT_LENGTH, report.bytes.to_string()),
        ],
        [(HEAD_HEADER, report.head.to_string())],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}
