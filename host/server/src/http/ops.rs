//! `GET /healthz` and `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::http::state::AppState;

/// The server's health.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct Health {
    /// `ok`.
    pub status: &'static str,
    /// The position of the newest event.
    pub head: u64,
}

/// Says the server is up. Needs no API key.
#[utoipa::path(
    get,
    path = "/healthz",
    responses((status = 200, description = "The server is up", body = Health)),
    security(()),
    tag = "operations"
)]
pub(super) async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        head: state.store.head().get(),
    })
}

/// Prometheus metrics: appends, commands, their latencies, module traps.
#[utoipa::path(
    get,
    path = "/metrics",
    responses((status = 200, description = "The Prometheus text format", content_type = "text/plain", body = String)),
    tag = "operations"
)]
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
