//! Which error replies each route can give: [`ROUTES`], one row per operation (method and path
//! template) naming the [`ErrorSource`]s its handler's errors come from; each source lists its
//! replies (`sources.rs`). The edge's replies go with every route, and auth's with every route
//! that needs the API key ([`route_replies`]).
//!
//! The API description declares them from this table: [`DeclareErrors`] adds each status a
//! route can answer to its operation, with the `ErrorBody` schema and the codes. The tests
//! (`tests.rs`) hold the table to the code and to the document.

mod declare;
mod sources;

#[cfg(test)]
mod samples;
#[cfg(test)]
mod tests;

use axum::http::Method;

use crate::http::auth;

pub(crate) use declare::DeclareErrors;
pub(crate) use sources::{ErrorSource, Reply};

/// An operation and where its errors come from.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) method: Method,
    /// The path template, as the router and the API description spell it.
    pub(crate) path: &'static str,
    pub(crate) sources: &'static [ErrorSource],
}

use ErrorSource as E;

/// Every operation of the API, and where its errors come from besides the edge and auth.
#[rustfmt::skip]
pub(crate) static ROUTES: &[Route] = &[
    route(Method::POST, "/v1/streams/{stream}", &[E::PathParams, E::JsonBody, E::StreamName, E::Append]),
    route(Method::GET, "/v1/streams/{stream}", &[E::PathParams, E::QueryParams, E::StreamName, E::ReadLimit, E::Storage, E::Call]),
    route(Method::GET, "/v1/streams", &[E::QueryParams, E::StreamListing, E::Storage]),
    route(Method::GET, "/v1/all", &[E::QueryParams, E::ReadLimit, E::LogFilter, E::Storage, E::Call]),
    // A failure after the reply has begun is an SSE `error` event, not a status.
    route(Method::GET, "/v1/subscribe", &[E::QueryParams, E::LogFilter, E::LastEventId]),
    route(Method::GET, "/v1/modules", &[]),
    route(Method::PUT, "/v1/modules/{name}", &[E::PathParams, E::QueryParams, E::ModuleBody, E::History, E::Load, E::ReactorControl]),
    route(Method::GET, "/v1/modules/{name}", &[E::PathParams, E::UnknownModule, E::Storage]),
    route(Method::DELETE, "/v1/modules/{name}", &[E::PathParams, E::UnknownModule, E::Storage]),
    route(Method::POST, "/v1/modules/{name}/plan", &[E::PathParams, E::QueryParams, E::ModuleBody, E::Plan]),
    route(Method::POST, "/v1/aggregates/{name}/{id}/commands", &[E::PathParams, E::QueryParams, E::JsonBody, E::IdempotencyKey, E::CommandType, E::Command]),
    route(Method::GET, "/v1/aggregates/{name}/{id}", &[E::PathParams, E::QueryParams, E::AggregateState]),
    route(Method::GET, "/v1/aggregates/{name}/{id}/history", &[E::PathParams, E::QueryParams, E::AggregateState]),
    route(Method::GET, "/v1/commands/{id}", &[E::PathParams, E::QueryParams, E::CommandLookup, E::Storage]),
    route(Method::GET, "/v1/projections", &[]),
    route(Method::GET, "/v1/projections/{name}", &[E::PathParams, E::UnknownProjection]),
    route(Method::POST, "/v1/projections/{name}/query", &[E::PathParams, E::JsonBody, E::ProjectionQuery]),
    route(Method::POST, "/v1/projections/{name}/pause", &[E::PathParams, E::ProjectionControl]),
    route(Method::POST, "/v1/projections/{name}/resume", &[E::PathParams, E::ProjectionControl]),
    route(Method::POST, "/v1/projections/{name}/reset", &[E::PathParams, E::ProjectionControl]),
    route(Method::GET, "/v1/reactors", &[]),
    route(Method::GET, "/v1/reactors/{name}", &[E::PathParams, E::UnknownReactor]),
    route(Method::GET, "/v1/reactors/{name}/parked", &[E::PathParams, E::QueryParams, E::ReactorControl]),
    route(Method::POST, "/v1/reactors/{name}/parked/{position}/retry", &[E::PathParams, E::ReactorControl, E::NotParked]),
    route(Method::POST, "/v1/reactors/{name}/parked/retry-all", &[E::PathParams, E::ReactorControl]),
    route(Method::DELETE, "/v1/reactors/{name}/parked/{position}", &[E::PathParams, E::ReactorControl, E::NotParked]),
    route(Method::POST, "/v1/reactors/{name}/reset", &[E::PathParams, E::QueryParams, E::ReactorControl]),
    route(Method::POST, "/v1/groups", &[E::JsonBody, E::Group]),
    route(Method::GET, "/v1/groups", &[]),
    route(Method::GET, "/v1/groups/{name}", &[E::PathParams, E::Group]),
    route(Method::DELETE, "/v1/groups/{name}", &[E::PathParams, E::Group]),
    route(Method::POST, "/v1/groups/{name}/poll", &[E::PathParams, E::JsonBody, E::Group]),
    // A failure after the stream has begun ends it; it is not a status.
    route(Method::GET, "/v1/groups/{name}/deliveries", &[E::PathParams, E::QueryParams, E::Group]),
    route(Method::POST, "/v1/groups/{name}/ack", &[E::PathParams, E::JsonBody, E::Group]),
    route(Method::POST, "/v1/groups/{name}/nack", &[E::PathParams, E::JsonBody, E::Group]),
    route(Method::DELETE, "/v1/groups/{name}/members/{member}", &[E::PathParams, E::Group]),
    route(Method::GET, "/v1/groups/{name}/parked", &[E::PathParams, E::QueryParams, E::Group]),
    route(Method::POST, "/v1/groups/{name}/parked/replay", &[E::PathParams, E::JsonBody, E::Group]),
    route(Method::POST, "/v1/groups/{name}/parked/discard", &[E::PathParams, E::JsonBody, E::Group]),
    route(Method::POST, "/v1/groups/{name}/reset", &[E::PathParams, E::JsonBody, E::Group]),
    route(Method::POST, "/v1/groups/{name}/resume", &[E::PathParams, E::Group]),
    route(Method::POST, "/v1/sinks", &[E::JsonBody, E::Sink]),
    route(Method::GET, "/v1/sinks", &[]),
    route(Method::GET, "/v1/sinks/{name}", &[E::PathParams, E::Sink]),
    route(Method::DELETE, "/v1/sinks/{name}", &[E::PathParams, E::Sink]),
    route(Method::GET, "/v1/backup", &[E::BackupHere, E::Storage]),
    route(Method::GET, "/v1/stats", &[]),
    route(Method::GET, "/v1/stats/subscribe", &[]),
    route(Method::GET, "/healthz", &[]),
    route(Method::GET, "/metrics", &[]),
    route(Method::GET, "/openapi.json", &[]),
];

const fn route(method: Method, path: &'static str, sources: &'static [ErrorSource]) -> Route {
    Route {
        method,
        path,
        sources,
    }
}

/// The row of `method` `path`, if the table has one.
pub(crate) fn row(method: &Method, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|route| route.method == method && route.path == path)
}

/// Every error reply `method` `path` can give: the edge's, auth's where the route needs the API
/// key, and those of its row's sources. Sorted, each once.
pub(crate) fn route_replies(method: &Method, path: &str) -> Vec<Reply> {
    let mut sources = vec![E::Edge];
    if auth::needs_key(path) {
        sources.push(E::Auth);
    }
    if let Some(route) = row(method, path) {
        sources.extend_from_slice(route.sources);
    }
    let mut replies: Vec<Reply> = sources.into_iter().flat_map(E::replies).collect();
    replies.sort();
    replies.dedup();
    replies
}
