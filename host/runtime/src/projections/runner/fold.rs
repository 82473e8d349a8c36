//! [`Fold`]: what one generation folds the log with, into which read model, and where it
//! reports how far it got.

use std::sync::Arc;

use cairn_store::ReadModelName;

use super::status::StatusBoard;
use crate::projections::projection::LoadedProjection;

/// A projection version folding the log into one read model.
pub(super) struct Fold {
    pub(super) projection: Arc<LoadedProjection>,
    pub(super) model: ReadModelName,
    pub(super) status: StatusBoard,
}
