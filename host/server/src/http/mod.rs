//! The HTTP API (v1), as design.md describes it.
//!
//! Layout:
//! - `state.rs`: [`AppState`], what the handlers share.
//! - `error.rs`: [`ApiError`], every error reply, and the one `IntoResponse`.
//! - `extract.rs`: axum's extractors with our error replies.
//! - `auth.rs`: bearer-token auth.
//! - `streams.rs`, `all.rs`, `subscribe.rs`: appends, reads, the global log, SSE;
//!   `stream_list.rs`, streams listed by name prefix; `served.rs`,
//!   events as they are served: read through the upcasters, or as stored (`?raw=true`).
//! - `modules.rs`: uploads and listing; `plan.rs`, a candidate's plan; `aggregates.rs`: commands and state; `commands.rs`:
//!   the command log; `history.rs`: an aggregate's states over its stream;
//!   `projections.rs`: projection status, queries, reset, pause and resume;
//!   `reactors.rs`: reactor status, parked events (retry, discard) and reset;
//!   `groups.rs`: consumer groups (made, polled or streamed, acknowledged, parked, reset),
//!   with `groups_doc.rs` describing their JSON; `sinks.rs`: sinks (made, shown, removed);
//!   `parked_page.rs`: the page of parked events both list.
//! - `ops.rs`: health and metrics; `stats.rs`, the version, the store's size and recent rates,
//!   once or each second; `backup.rs`, a consistent copy of the store, streamed;
//!   `openapi.rs`: the generated API description.
//! - `route_errors/`: which error replies each route can give, declared in the description.
//! - `edge/`: connections from accept to close: timeouts, the connection cap, head sizes,
//!   and a shutdown that always finishes.
//! - `local.rs`: [`LocalServer`], this API on 127.0.0.1:0 in process, for tests and benches.

mod aggregates;
mod all;
mod auth;
mod backup;
mod commands;
mod edge;
mod error;
mod extract;
mod groups;
mod groups_doc;
mod history;
mod local;
mod modules;
mod openapi;
mod ops;
mod parked_page;
mod plan;
mod projections;
mod reactors;
mod route_errors;
mod served;
mod sinks;
mod state;
mod stats;
mod stream_list;
mod streams;
mod subscribe;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use tokio::net::TcpListener;

pub(crate) use auth::keys_match;
pub use edge::{FD_RESERVE, HttpConfig, MAX_HEADER_BYTES_LIMIT, MAX_URI_BYTES_LIMIT, fd_limit};
pub use error::{ApiError, ErrorBody, call_error_code};
pub(crate) use extract::JsonBody;
pub use local::LocalServer;
pub use openapi::ApiDoc;
pub use state::AppState;

/// The header of `GET /v1/backup` naming the newest event's position in the copy.
pub const BACKUP_HEAD_HEADER: &str = backup::HEAD_HEADER;

/// The largest request body, but for modules.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The API's routes.
pub fn app(state: AppState) -> Router {
    let modules = Router::new()
        .route(
            "/v1/modules/{name}",
            get(modules::get)
                .put(modules::upload)
                .delete(modules::remove),
        )
        .route("/v1/modules/{name}/plan", post(plan::plan))
        .layer(DefaultBodyLimit::max(modules::MAX_MODULE_BYTES));
    Router::new()
        .route(
            "/v1/streams/{stream}",
            post(streams::append).get(streams::read),
        )
        .route("/v1/streams", get(stream_list::list))
        .route("/v1/all", get(all::read))
        .route("/v1/subscribe", get(subscribe::subscribe))
        .route("/v1/modules", get(modules::list))
        .route(
            "/v1/aggregates/{name}/{id}/commands",
            post(aggregates::command),
        )
        .route("/v1/aggregates/{name}/{id}", get(aggregates::state))
        .route("/v1/aggregates/{name}/{id}/history", get(history::history))
        .route("/v1/commands/{id}", get(commands::read))
        .route("/v1/projections", get(projections::list))
        .route("/v1/projections/{name}", get(projections::status))
        .route("/v1/projections/{name}/query", post(projections::query))
        .route("/v1/projections/{name}/pause", post(projections::pause))
        .route("/v1/projections/{name}/resume", post(projections::resume))
        .route("/v1/projections/{name}/reset", post(projections::reset))
        .route("/v1/reactors", get(reactors::list))
        .route("/v1/reactors/{name}", get(reactors::status))
        .route("/v1/reactors/{name}/parked", get(reactors::parked))
        .route(
            "/v1/reactors/{name}/parked/retry-all",
            post(reactors::retry_all),
        )
        .route(
            "/v1/reactors/{name}/parked/{position}/retry",
            post(reactors::retry),
        )
        .route(
            "/v1/reactors/{name}/parked/{position}",
            delete(reactors::discard),
        )
        .route("/v1/reactors/{name}/reset", post(reactors::reset))
        .route("/v1/groups", post(groups::create).get(groups::list))
        .route(
            "/v1/groups/{name}",
            get(groups::status).delete(groups::delete),
        )
        .route("/v1/groups/{name}/poll", post(groups::poll))
        .route("/v1/groups/{name}/deliveries", get(groups::deliveries))
        .route("/v1/groups/{name}/ack", post(groups::ack))
        .route("/v1/groups/{name}/nack", post(groups::nack))
        .route("/v1/groups/{name}/members/{member}", delete(groups::leave))
        .route("/v1/groups/{name}/parked", get(groups::parked))
        .route("/v1/groups/{name}/parked/replay", post(groups::replay))
        .route("/v1/groups/{name}/parked/discard", post(groups::discard))
        .route("/v1/groups/{name}/reset", post(groups::reset))
        .route("/v1/groups/{name}/resume", post(groups::resume))
        .route("/v1/sinks", post(sinks::create).get(sinks::list))
        .route("/v1/sinks/{name}", get(sinks::status).delete(sinks::delete))
        .route("/v1/stats", get(stats::stats))
        .route("/v1/backup", get(backup::backup))
        .route("/v1/stats/subscribe", get(stats::subscribe))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .merge(modules)
        .merge(crate::console::routes())
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

/// Serves `state` on `listener` with the default [`HttpConfig`] until `signal` resolves; see
/// [`serve_with`].
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, HttpConfig::default(), signal).await
}

/// Serves `state` on `listener` as `config` says until `signal` resolves, then shuts down: it
/// stops accepting, ends subscriptions at once, gives requests in flight
/// `config.shutdown_grace` to finish, and closes every connection still open after it. Every
/// append acknowledged before is durable (the store fsyncs before it replies).
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    config: HttpConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state.clone());
    let sampler = tokio::spawn(stats::sample_while_serving(state.clone()));
    let served = edge::serve(listener, router, state, config, signal).await;
    // Awaited after the abort, so its hold on the store is gone when this returns: the node
    // can then close the store and another can open the data directory at once.
    sampler.abort();
    let _cancelled = sampler.await;
    served
}
