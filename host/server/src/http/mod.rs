//! The HTTP API (v1), as design.md describes it.
//!
//! Layout:
//! - `state.rs`: [`AppState`], what the handlers share.
//! - `error.rs`: [`ApiError`], every error reply, and the one `IntoResponse`.
//! - `extract.rs`: axum's extractors with our error replies.
//! - `auth.rs`: bearer-token auth.
//! - `streams.rs`, `all.rs`, `subscribe.rs`: appends, reads, the global log, SSE.
//! - `modules.rs`: uploads and listing; `aggregates.rs`: commands and state;
//!   `projections.rs`: projection status, queries, reset, pause and resume.
//! - `ops.rs`: health and metrics; `openapi.rs`: the generated API description.

mod aggregates;
mod all;
mod auth;
mod error;
mod extract;
mod modules;
mod openapi;
mod ops;
mod projections;
mod state;
mod streams;
mod subscribe;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

pub use error::{ApiError, ErrorBody, call_error_code};
pub use openapi::ApiDoc;
pub use state::AppState;

/// The largest request body, but for modules.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The API's routes.
pub fn app(state: AppState) -> Router {
    let modules = Router::new()
        .route("/v1/modules/{name}", get(modules::get).put(modules::upload))
        .layer(DefaultBodyLimit::max(modules::MAX_MODULE_BYTES));
    Router::new()
        .route(
            "/v1/streams/{stream}",
            post(streams::append).get(streams::read),
        )
        .route("/v1/all", get(all::read))
        .route("/v1/subscribe", get(subscribe::subscribe))
        .route("/v1/modules", get(modules::list))
        .route(
            "/v1/aggregates/{name}/{id}/commands",
            post(aggregates::command),
        )
        .route("/v1/aggregates/{name}/{id}", get(aggregates::state))
        .route("/v1/projections", get(projections::list))
        .route("/v1/projections/{name}", get(projections::status))
        .route("/v1/projections/{name}/query", post(projections::query))
        .route("/v1/projections/{name}/pause", post(projections::pause))
        .route("/v1/projections/{name}/resume", post(projections::resume))
        .route("/v1/projections/{name}/reset", post(projections::reset))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .merge(modules)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /openapi.json",
    )
}

/// Serves `state` on `listener` until `signal` resolves, then shuts down gracefully: it stops
/// accepting, ends subscriptions, and lets requests in flight finish. Every append acknowledged
/// before is durable (the store fsyncs before it replies).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state.clone());
    let stopping = state.clone();
    // Replies are small and go out whole; Nagle's algorithm would only hold them back.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            signal.await;
            tracing::info!("shutting down: finishing requests in flight");
            stopping.begin_shutdown();
        })
        .await
}
