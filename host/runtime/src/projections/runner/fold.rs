//! [`Fold`]: what one generation folds the log with (the projection version and the upcasters
//! it reads through), into which read model, and where it reports how far it got.

use std::sync::Arc;

use cairn_store::ReadModelName;

use super::status::StatusBoard;
use crate::projections::projection::LoadedProjection;
use crate::upcasters::upcaster_set::UpcasterSet;

/// A projection version folding the log into one read model, reading the events through
/// `upcasters` (those of the categories it reads, as they were when the generation started).
pub(super) struct Fold {
    pub(super) projection: Arc<LoadedProjection>,
    pub(super) upcasters: UpcasterSet,
    pub(super) model: ReadModelName,
    pub(super) status: StatusBoard,
}
