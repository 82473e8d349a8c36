//! `POST /v1/modules/{name}/plan`: what a candidate version of an aggregate or an upcaster
//! would do to the history it would serve, before it serves (`cairn_runtime::CommandPath::plan`),
//! or what a candidate projection makes of the log and how it answers the queries given
//! (`cairn_runtime::Projections::plan`). Nothing is installed. With `Accept: text/event-stream` the reply is a stream of `progress` events
//! (streams, events and commands done) ending in one `report` event, or an `error` event.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use cairn_runtime::{
    AggregatePlan, ModuleKind, PlanError, PlanOptions, PlanProgress, ProjectionPlan,
};
use cairn_store::Json as JsonText;
use futures_util::stream;
use serde::Deserialize;
use tokio_util::task::AbortOnDropHandle;

use crate::http::error::ApiError;
use crate::http::extract::{PathParams, QueryParams};
use crate::http::modules::module_body;
use crate::http::state::AppState;

/// How often a streamed plan says how far it has got.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// What the plan looks at.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct PlanQuery {
    /// At most this many streams, and this many recorded commands, spread evenly over the
    /// history; every one of them when left out. The report says whether it sampled.
    pub sample: Option<usize>,
    /// For a projection: the queries to answer with the serving model and the candidate's, as
    /// a JSON array of requests (such as `[{"type":"count"}]`).
    pub queries: Option<String>,
}

/// A plan's report: an aggregate's or upcaster's, or a projection's (`kind` says which).
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub(super) enum PlanReport {
    Aggregate(AggregatePlan),
    Projection(ProjectionPlan),
}

/// The queries of a plan: a JSON array of requests, each any JSON value.
fn plan_queries(queries: Option<&str>) -> Result<Vec<JsonText>, ApiError> {
    let Some(text) = queries else {
        return Ok(Vec::new());
    };
    let invalid = |why: String| {
        ApiError::bad_request(
            "invalid_query",
            format!("`queries` is a JSON array of query requests: {why}"),
        )
    };
    let requests: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    requests
        .iter()
        .map(|request| JsonText::from_value(request).map_err(|e| invalid(e.to_string())))
        .collect()
}

/// Plans a candidate version. An aggregate's (or an upcaster's, for the aggregate of its
/// category): the module's streams replayed with it and with the serving version, and the
/// recorded commands decided again with it. A projection's: the log folded by it into a read
/// model in memory, and the `queries` answered by it and by the serving model.
#[utoipa::path(
    post,
    path = "/v1/modules/{name}/plan",
    params(
        ("name" = String, Path, description = "The module the candidate would replace"),
        PlanQuery,
    ),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "The candidate component"),
    responses(
        (status = 200, description = "The report. An aggregate's or upcaster's: `replay` (states equal, differing, failing) and `redecide` (decisions the same, different, flipped, failing), with the first examples of each. A projection's: the events folded, where the fold `failure`d if it did, and each of the `queries` answered by both models (`same`, `diff`). Both say `changes`: whether anything differed or failed. With `Accept: text/event-stream`: `progress` events, then `report`", body = Object),
    ),
    tag = "modules"
)]
pub(super) async fn plan(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    query: Result<QueryParams<PlanQuery>, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    // Refused once the body has been read, as an upload's query is (`modules.rs`).
    let QueryParams(query) = query?;
    if query.sample == Some(0) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`sample` is at least 1; leave it out to look at every stream and command",
        ));
    }
    let candidate = module_body(&headers, body)?;
    let queries = plan_queries(query.queries.as_deref())?;
    let options = PlanOptions {
        sample: query.sample,
        replay_only: false,
    };
    let progress = Arc::new(PlanProgress::default());
    // Aborted if the reply is dropped (the client went away): nobody waits for the report.
    let running = AbortOnDropHandle::new(tokio::spawn({
        let (state, progress) = (state.clone(), Arc::clone(&progress));
        async move {
            let kind = state
                .command_path
                .registry()
                .kind_of_bytes(candidate.clone())
                .await;
            if matches!(kind, Ok(ModuleKind::Projection)) {
                state
                    .projections()
                    .plan(&name, candidate, &queries, &progress)
                    .await
                    .map(PlanReport::Projection)
            } else {
                state
                    .command_path
                    .plan(&name, candidate, options, &progress)
                    .await
                    .map(PlanReport::Aggregate)
            }
        }
    }));
    let streamed = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if !streamed {
        let report = finished(running.await)?;
        return Ok(Json(report).into_response());
    }
    Ok(Sse::new(progress_events(running, progress))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The plan's result, or the error reply it makes.
fn finished(
    joined: Result<Result<PlanReport, PlanError>, tokio::task::JoinError>,
) -> Result<PlanReport, ApiError> {
    match joined {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(error)) => Err(plan_failed(error)),
        Err(error) => Err(ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the plan stopped: {error}"),
        )),
    }
}

/// The reply to a plan that could not be made.
pub(super) fn plan_failed(error: PlanError) -> ApiError {
    match error {
        PlanError::Candidate(error) => error.into(),
        PlanError::NotAnAggregate(_) => {
            ApiError::bad_request("not_an_aggregate", error.to_string())
        }
        PlanError::NotAProjection(_) => {
            ApiError::bad_request("not_a_projection", error.to_string())
        }
        PlanError::Reactor(_) => ApiError::bad_request("not_planned", error.to_string()),
        PlanError::Storage(error) => error.into(),
        PlanError::Host(error) => error.into(),
    }
}

/// `progress` every [`PROGRESS_EVERY`] while the plan runs, then its `report` (or `error`).
fn progress_events(
    running: AbortOnDropHandle<Result<PlanReport, PlanError>>,
    progress: Arc<PlanProgress>,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> {
    let started = Instant::now();
    stream::unfold(Some(running), move |running| {
        let progress = Arc::clone(&progress);
        async move {
            let mut running = running?;
            tokio::select! {
                joined = &mut running => {
                    let event = match finished(joined) {
                        Ok(report) => Event::default()
                            .event("report")
                            .json_data(&report)
                            .unwrap_or_else(|_| Event::default().event("error")),
                        Err(error) => Event::default().event("error").data(error.body_json()),
                    };
                    Some((Ok(event), None))
                }
                () = tokio::time::sleep(PROGRESS_EVERY) => {
                    let now = progress.read();
                    let data = serde_json::json!({
                        "streams_done": now.streams_done,
                        "streams_total": now.streams_total,
                        "events_done": now.events_done,
                        "commands_done": now.commands_done,
                        "commands_total": now.commands_total,
                        "elapsed_ms": started.elapsed().as_millis() as u64,
                    });
                    Some((Ok(Event::default().event("progress").data(data.to_string())), Some(running)))
                }
            }
        }
    })
}
