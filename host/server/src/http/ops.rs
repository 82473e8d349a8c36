//! `GET /healthz` and `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::http::state::AppState;

/// The server's health.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct Health {
    /// `ok`; `storage_corrupt` when the store has met a damaged record (it is never served;
    /// run `cairn verify` on the stopped data directory and restore a backup); or
    /// `writes_failing` when the store cannot write (a full disk, an I/O error).
    pub status: &'static str,
    /// The position of the newest event.
    pub head: u64,
    /// What is damaged, or why writes fail. The store needs a restart once the cause is fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Says whether the server is up and can write. Needs no API key.
#[utoipa::path(
    get,
    path = "/healthz",
    responses(
        (status = 200, description = "The server is up and its store writes", body = Health),
        (status = 503, description = "The store met a damaged record (`storage_corrupt`, naming it: run `cairn verify` and restore a backup), or its writes fail (`writes_failing`, with the error: fix the cause, then restart)", body = Health),
    ),
    security(()),
    tag = "operations"
)]
pub(super) async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let head = state.store.head().get();
    if let Some(damage) = state.store.damage_seen() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "storage_corrupt",
                head,
                error: Some(format!(
                    "{damage}; it is not served: stop the server, run `cairn verify` on its data \
                     directory, and restore a backup"
                )),
            }),
        );
    }
    match state.store.write_failure() {
        None => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                head,
                error: None,
            }),
        ),
        Some(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "writes_failing",
                head,
                error: Some(error),
            }),
        ),
    }
}

/// Prometheus metrics: appends, commands, module calls, projections, the store's commits, the
/// state cache and subscribers, each with its `# HELP`.
#[utoipa::path(
    get,
    path = "/metrics",
    responses((status = 200, description = "The Prometheus text format", content_type = "text/plain", body = String)),
    tag = "operations"
)]
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    crate::telemetry::observe(state.store.head().get());
    let mut text = state.metrics.render();
    // A dormant node reads its projections' statuses from the store; a scrape that cannot
    // still renders every other metric.
    let projections = state.projections().list().await.unwrap_or_else(|error| {
        tracing::warn!(%error, "the projections' statuses could not be read for /metrics");
        Vec::new()
    });
    text.push_str(&crate::telemetry::scraped_gauges(&projections));
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
