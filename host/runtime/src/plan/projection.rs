//! The plan of a candidate projection version: the whole log folded by it from position 0 into
//! a read model held in memory, beside the serving one (which nothing here touches), and the
//! queries given with the plan answered by both. Nothing is installed or written.
//!
//! The candidate reads the log as its runner would: through the upcasters of the categories
//! its filter admits, in batches of the runner's size. A batch it fails on ends the fold, and
//! the report names the event (its position and type) and the error; queries are then not
//! compared, since the candidate's model is incomplete.
//!
//! The read model is kept in memory for the length of the plan: a plan is for a store whose
//! read model fits in memory (a staging copy, a dev store), as a plan's replay of aggregates
//! is for a store whose streams it can read.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use cairn_store::{
    AllRead, EventStore, Json, ModelEntry, ModelRead, ModelRows, ModelWrite, Position, StorageError,
};
use serde::Serialize;
use serde_json::Value;

use crate::error::PlanError;
use crate::plan::report::{PlanModule, PlanProgress};
use crate::projections::projection::{ApplyBatch, ApplyError, LoadedProjection};
use crate::upcasters::upcaster_set::UpcasterSet;

/// How many events one batch of the candidate's fold takes.
const EVENTS_PER_BATCH: usize = 1_000;

/// The plan of a candidate projection version against the serving one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProjectionPlan {
    pub module: String,
    /// `projection`.
    pub kind: &'static str,
    /// The version serving now; none when the name serves nothing yet.
    pub live: Option<PlanModule>,
    pub candidate: PlanModule,
    /// The events the candidate folded, and the log's head when the plan started.
    pub events: u64,
    pub head: u64,
    /// Where the candidate's fold stopped, if it failed on an event.
    pub failure: Option<FoldFailure>,
    /// Whether queries were given with the plan: without them, only the fold is checked.
    pub queries_given: bool,
    /// Each query given, answered by the serving model and by the candidate's.
    pub queries: Vec<QueryComparison>,
    /// Queries answered alike, and otherwise.
    pub same: u64,
    pub different: u64,
    /// Whether anything failed or differed: what `cairn deploy --plan` exits non-zero on.
    pub changes: bool,
    pub elapsed_ms: u64,
}

/// The event the candidate could not fold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FoldFailure {
    pub position: u64,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    pub error: String,
}

/// One query, answered by both models.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryComparison {
    pub request: Value,
    /// The serving model's answer, or why there is none (`{"error": ...}`).
    pub live: Value,
    /// The candidate's answer, or why there is none.
    pub candidate: Value,
    pub same: bool,
    /// The changes from the serving answer to the candidate's, one per line.
    pub diff: Vec<String>,
}

/// A read model in memory: the candidate's, while a plan folds into it. Its views share the
/// rows, and read them with the checkpoint they were taken at.
#[derive(Clone, Debug, Default)]
struct MemoryModel {
    rows: Arc<RwLock<ModelRows>>,
    checkpoint: Option<Position>,
}

impl MemoryModel {
    fn apply(&mut self, writes: Vec<ModelWrite>, checkpoint: Position) {
        self.rows
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .apply(writes);
        self.checkpoint = Some(checkpoint);
    }
}

impl ModelRead for MemoryModel {
    fn checkpoint(&self) -> Option<Position> {
        self.checkpoint
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.rows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
    }

    fn scan(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError> {
        self.rows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .scan(prefix, start_after, limit)
    }
}

impl crate::Projections {
    /// What `candidate` (a component's bytes) would make of the log as projection `name`, and
    /// how it answers each of `queries` against how the serving version does. Installs and
    /// writes nothing.
    pub async fn plan(
        &self,
        name: &str,
        candidate: Vec<u8>,
        queries: &[Json],
        progress: &PlanProgress,
    ) -> Result<ProjectionPlan, PlanError> {
        let registry = self.registry();
        if registry
            .kind_of(name)
            .is_some_and(|k| k != cairn_store::ModuleKind::Projection)
        {
            return Err(PlanError::NotAProjection(name.to_owned()));
        }
        let candidate = registry.compile_projection(name, candidate).await?;
        let live = registry.projection(name);
        let categories = candidate.filter().categories.clone();
        let upcasters = registry
            .upcasters()
            .only(|c| categories.is_empty() || categories.iter().any(|x| x == c));
        let serves = live.is_some();
        let ask_live = |request: Json| async move {
            if !serves {
                return Err("nothing serves under this name yet".to_owned());
            }
            self.query(name, request).await.map_err(|e| e.to_string())
        };
        plan_projection(
            &self.store(),
            (live.as_ref(), &candidate),
            &upcasters,
            queries,
            progress,
            ask_live,
        )
        .await
    }
}

/// What the serving model answers: the plan asks through this, so it never needs the runner.
pub(crate) type ServingAnswer = Result<Json, String>;

/// Plans `candidate`, reading the log through `upcasters`, against the serving version `live`
/// whose answers `ask_live` gives.
async fn plan_projection<F, Fut>(
    store: &Arc<dyn EventStore>,
    (live, candidate): (Option<&Arc<LoadedProjection>>, &Arc<LoadedProjection>),
    upcasters: &UpcasterSet,
    queries: &[Json],
    progress: &PlanProgress,
    ask_live: F,
) -> Result<ProjectionPlan, PlanError>
where
    F: Fn(Json) -> Fut,
    Fut: Future<Output = ServingAnswer>,
{
    let started = Instant::now();
    let head = store.head();
    progress.streams_total.store(0, Ordering::Relaxed);
    let mut model = MemoryModel::default();
    let mut after = Position::START;
    let mut events = 0;
    let mut failure = None;
    let filter = candidate.filter().clone();
    while after < head {
        let mut read = AllRead::after(after).limit(EVENTS_PER_BATCH);
        if let [category] = filter.categories.as_slice() {
            read = read.category(category.clone());
        }
        let slice = store.read_all(read).await?;
        let scanned_to = slice.scanned_to.min(head);
        let stored: Vec<_> = slice
            .events
            .into_iter()
            .filter(|e| e.position <= head)
            .collect();
        let read = match upcasters.read(stored).await {
            Ok(read) => read,
            Err(upcast) => {
                if let crate::upcasters::upcaster::UpcastError::Call(e) = &upcast.error
                    && e.is_host_fault()
                {
                    return Err(PlanError::Host(e.clone()));
                }
                failure = Some(FoldFailure {
                    position: upcast.position.get(),
                    event_type: Some(upcast.event_type.to_string()),
                    error: upcast.to_string(),
                });
                break;
            }
        };
        let batch: Vec<_> = read.into_iter().filter(|e| filter.admits(e)).collect();
        let count = batch.len() as u64;
        let first = batch
            .first()
            .map(|e| (e.position.get(), e.event_type.to_string()));
        if !batch.is_empty() {
            match candidate
                .apply(Box::new(model.clone()), ApplyBatch::new(batch))
                .await
            {
                Ok(writes) => model.apply(writes, scanned_to),
                Err(ApplyError::Call(e)) if e.is_host_fault() => return Err(PlanError::Host(e)),
                Err(ApplyError::Refused {
                    position,
                    event_type,
                    message,
                    ..
                }) => {
                    failure = Some(FoldFailure {
                        position,
                        event_type: Some(event_type),
                        error: message,
                    });
                    break;
                }
                Err(ApplyError::Call(error)) => {
                    // Which event of the batch it failed on is not known: the batch's first.
                    let (position, event_type) = first.unwrap_or_default();
                    failure = Some(FoldFailure {
                        position,
                        event_type: Some(event_type),
                        error: format!("in the batch from this event: {error}"),
                    });
                    break;
                }
            }
        }
        events += count;
        PlanProgress::add(&progress.events_done, count);
        if scanned_to <= after {
            break;
        }
        after = scanned_to;
    }
    let mut comparisons = Vec::new();
    if failure.is_none() {
        for request in queries {
            let live_answer = answer_value(ask_live(request.clone()).await);
            let candidate_answer = match candidate
                .query(Box::new(model.clone()), request.clone())
                .await
            {
                Ok(answer) => answer_value(answer),
                Err(e) if e.is_host_fault() => return Err(PlanError::Host(e)),
                Err(e) => answer_value(Err(e.to_string())),
            };
            let diff = crate::json_diff::diff(&live_answer, &candidate_answer);
            comparisons.push(QueryComparison {
                request: serde_json::from_str(request.as_str()).unwrap_or(Value::Null),
                same: live_answer == candidate_answer,
                live: live_answer,
                candidate: candidate_answer,
                diff,
            });
        }
    }
    let same = comparisons.iter().filter(|c| c.same).count() as u64;
    let different = comparisons.len() as u64 - same;
    Ok(ProjectionPlan {
        module: candidate.name().to_string(),
        kind: "projection",
        live: live.map(|live| PlanModule {
            hash: live.hash().to_string(),
            version: Some(live.version()),
        }),
        candidate: PlanModule {
            hash: candidate.hash().to_string(),
            version: None,
        },
        events,
        head: head.get(),
        changes: failure.is_some() || different > 0,
        failure,
        queries_given: !queries.is_empty(),
        queries: comparisons,
        same,
        different,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// An answer as the report shows it: the JSON, or `{"error": why}`.
fn answer_value(answer: Result<Json, String>) -> Value {
    match answer {
        Ok(json) => serde_json::from_str(json.as_str()).unwrap_or(Value::Null),
        Err(why) => serde_json::json!({ "error": why }),
    }
}
