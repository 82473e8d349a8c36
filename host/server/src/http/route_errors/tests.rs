//! The error table against the code that makes the replies and against the API description.
//!
//! How a status a route can answer is kept from going undeclared:
//! - The description's error responses are made from the table (`DeclareErrors`): a route
//!   declares every status its row's sources can give, with the `ErrorBody` schema
//!   (`the_document_declares_every_reply_of_every_route`), and a status declared by hand that
//!   the table does not know fails (`every_declared_error_status_is_in_the_table`).
//! - Every operation of the description has a row, and every row an operation
//!   (`every_operation_has_a_row_and_every_row_an_operation`): a new route needs its row.
//! - Each source's list is held to the code, both ways: a reply the code makes that the list
//!   lacks fails, and so does a listed reply the code no longer makes
//!   (`every_source_lists_the_replies_its_code_makes`,
//!   `the_extractors_make_what_their_sources_list`). The errors of the store and the runtime go
//!   through the real conversions (`error.rs`, `projections::query_failed`), one error of every
//!   variant (`samples.rs`: a new variant does not compile there until it is named, beside the
//!   list its sample goes in); the extractors and the handlers' checks run on bad input.
//! - What only a running server makes (the edge's replies, and the checks written inside the
//!   handlers) is listed by hand; the edge's head checks are held to the list in
//!   `edge/service.rs`, and the end-to-end tests check every reply of the real server against
//!   the served description (`tests/tests/common/server.rs`), so a handler that answers a status
//!   its route does not declare fails them.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{Method, Request, StatusCode};
use axum::routing::{get, post};
use cairn_store::{Position, ReadError};
use tower_service::Service as _;
use utoipa::OpenApi as _;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{OpenApi, RefOr, Schema};

use super::declare::is_error_body;
use super::samples;
use super::{ErrorSource, ROUTES, Reply, route_replies, row};
use crate::http::error::ApiError;
use crate::http::extract::{JsonBody, PathParams, QueryParams};
use crate::http::{
    ApiDoc, aggregates, all, commands, plan, projections, reactors, stream_list, streams,
};

/// Every operation of `doc`: its method, path template and description.
fn operations(doc: &OpenApi) -> Vec<(Method, &str, &Operation)> {
    let mut operations = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, operation) in [
            (Method::GET, &item.get),
            (Method::PUT, &item.put),
            (Method::POST, &item.post),
            (Method::DELETE, &item.delete),
            (Method::OPTIONS, &item.options),
            (Method::HEAD, &item.head),
            (Method::PATCH, &item.patch),
            (Method::TRACE, &item.trace),
        ] {
            if let Some(operation) = operation {
                operations.push((method, path.as_str(), operation));
            }
        }
    }
    operations
}

/// Every source a route names, with the edge and auth, and every source those pass on.
fn sources_in_use() -> BTreeSet<ErrorSource> {
    let mut sources = BTreeSet::new();
    let mut pending: Vec<ErrorSource> = ROUTES.iter().flat_map(|r| r.sources).copied().collect();
    pending.extend([ErrorSource::Edge, ErrorSource::Auth]);
    while let Some(source) = pending.pop() {
        if sources.insert(source) {
            pending.extend_from_slice(source.passes_on());
        }
    }
    sources
}

fn replies_of(errors: impl IntoIterator<Item = ApiError>) -> BTreeSet<Reply> {
    errors.into_iter().map(|e| Reply::of(&e)).collect()
}

/// The replies the code makes for `source`, from an error of every variant or from bad input.
/// `None` for the extractors, run by `the_extractors_make_what_their_sources_list`, and for
/// what only a running server makes.
fn replies_made(source: ErrorSource) -> Option<BTreeSet<Reply>> {
    let made = match source {
        ErrorSource::Edge
        | ErrorSource::BodyDeadline
        | ErrorSource::LastEventId
        | ErrorSource::BackupHere
        | ErrorSource::IdempotencyKey
        | ErrorSource::UnknownModule
        | ErrorSource::PathParams
        | ErrorSource::QueryParams
        | ErrorSource::JsonBody
        | ErrorSource::ModuleBody => return None,
        ErrorSource::Auth => replies_of([ApiError::unauthorized(), ApiError::csrf_refused()]),
        ErrorSource::StreamName => replies_of(
            ["", "a\nb"]
                .into_iter()
                .filter_map(|name| streams::stream_name(name).err()),
        ),
        ErrorSource::ReadLimit => replies_of(
            [Some(0), Some(streams::MAX_READ + 1)]
                .into_iter()
                .filter_map(|limit| streams::read_limit(limit).err()),
        ),
        ErrorSource::StreamListing => {
            use stream_list::{ListQuery, listing};
            let both = ListQuery {
                prefix: Some("a".into()),
                category: Some("a".into()),
                ..ListQuery::default()
            };
            let too_many = ListQuery {
                limit: Some(cairn_store::MAX_STREAMS_PER_LISTING + 1),
                ..ListQuery::default()
            };
            replies_of(
                [listing(both).err(), listing(too_many).err()]
                    .into_iter()
                    .flatten(),
            )
        }
        ErrorSource::LogFilter => {
            replies_of(all::filtered(Position::new(0), None, Some(String::new())).err())
        }
        ErrorSource::UnknownProjection => replies_of([projections::unknown("sample")]),
        ErrorSource::Plan => replies_of(samples::plan_errors().into_iter().map(plan::plan_failed)),
        ErrorSource::History => replies_of([ApiError::incompatible_with_history(
            "sample",
            samples::plan(),
        )]),
        ErrorSource::CommandType => replies_of(aggregates::command_type("").err()),
        ErrorSource::CommandLookup => replies_of([
            commands::command_id("not-a-uuid").expect_err("not a UUID"),
            commands::unknown(cairn_store::CommandId::from(uuid::Uuid::nil())),
        ]),
        ErrorSource::Storage => {
            let read = samples::storage_errors()
                .into_iter()
                .map(ReadError::Storage);
            replies_of(
                samples::storage_errors()
                    .into_iter()
                    .map(ApiError::from)
                    .chain(read.map(ApiError::from)),
            )
        }
        ErrorSource::Append => replies_of(samples::append_errors().into_iter().map(ApiError::from)),
        ErrorSource::Call => replies_of(samples::call_errors().into_iter().map(ApiError::from)),
        ErrorSource::Load => replies_of(samples::load_errors().into_iter().map(ApiError::from)),
        ErrorSource::Command => {
            replies_of(samples::command_errors().into_iter().map(ApiError::from))
        }
        ErrorSource::AggregateState => {
            replies_of(samples::state_errors().into_iter().map(ApiError::from))
        }
        ErrorSource::ProjectionQuery => replies_of(
            samples::query_errors()
                .into_iter()
                .map(|e| projections::query_failed("sample", e)),
        ),
        ErrorSource::ProjectionControl => {
            replies_of(samples::control_errors().into_iter().map(ApiError::from))
        }
        ErrorSource::UnknownReactor => replies_of([reactors::unknown("sample")]),
        ErrorSource::NotParked => replies_of([reactors::not_parked("sample", 1)]),
        ErrorSource::ReactorControl => {
            replies_of(samples::reactor_errors().into_iter().map(ApiError::from))
        }
        ErrorSource::Group => replies_of(samples::group_errors().into_iter().map(ApiError::from)),
        ErrorSource::Sink => replies_of(samples::sink_errors().into_iter().map(ApiError::from)),
    };
    Some(made)
}

#[test]
fn every_source_lists_the_replies_its_code_makes() {
    for source in sources_in_use() {
        let Some(made) = replies_made(source) else {
            continue;
        };
        let listed: BTreeSet<Reply> = source.replies().into_iter().collect();
        let unlisted: Vec<_> = made.difference(&listed).collect();
        let unmade: Vec<_> = listed.difference(&made).collect();
        assert!(
            unlisted.is_empty() && unmade.is_empty(),
            "{source:?} (route_errors/sources.rs): the code makes {unlisted:?}, which the list \
             lacks; the list has {unmade:?}, which the code does not make"
        );
    }
}

/// A reply as the extractors' test sees it: its status and code.
type Seen = (StatusCode, String);

fn seen(replies: &[Reply]) -> BTreeSet<Seen> {
    replies
        .iter()
        .map(|r| (r.status, r.code.to_owned()))
        .collect()
}

/// Sends `request` to `app` and returns the reply's status and code.
async fn reply(app: &Router, request: Request<Body>) -> Seen {
    let response = app.clone().call(request).await.expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
    (status, body["error"].as_str().expect("a code").to_owned())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Shape {
    n: u64,
}

#[tokio::test]
async fn the_extractors_make_what_their_sources_list() {
    let app: Router = Router::new()
        .route("/json", post(|JsonBody(_): JsonBody<Shape>| async {}))
        .route("/query", get(|QueryParams(_): QueryParams<Shape>| async {}))
        .route("/path/{n}", get(|PathParams(_): PathParams<u64>| async {}))
        .route(
            "/bytes",
            post(|body: Result<Bytes, BytesRejection>| async move {
                body.map(drop).map_err(ApiError::from)
            }),
        )
        .layer(DefaultBodyLimit::max(16));
    let json = |body: &str| {
        Request::post("/json")
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .expect("a request")
    };
    let get = |uri: &str| Request::get(uri).body(Body::empty()).expect("a request");

    let mut made = BTreeMap::<ErrorSource, BTreeSet<Seen>>::new();
    for request in [
        json("{"),
        json(r#"{"m": 1}"#),
        json(r#"{"n": 1, "padding": "over the limit"}"#),
        Request::post("/json")
            .body(Body::from(r#"{"n": 1}"#))
            .expect("a request"),
    ] {
        let reply = reply(&app, request).await;
        made.entry(ErrorSource::JsonBody).or_default().insert(reply);
    }
    for uri in ["/query?n=x", "/query?m=1"] {
        let reply = reply(&app, get(uri)).await;
        made.entry(ErrorSource::QueryParams)
            .or_default()
            .insert(reply);
    }
    let reply_to_path = reply(&app, get("/path/x")).await;
    made.entry(ErrorSource::PathParams)
        .or_default()
        .insert(reply_to_path);
    let too_large = Request::post("/bytes")
        .body(Body::from(vec![0_u8; 17]))
        .expect("a request");
    let reply_to_bytes = reply(&app, too_large).await;
    // The other reply of a module upload, 415, is the handler's own check.
    assert!(
        seen(ErrorSource::ModuleBody.own_replies()).contains(&reply_to_bytes),
        "a module body over the limit: {reply_to_bytes:?}"
    );

    for (source, made) in made {
        let listed = seen(source.own_replies());
        assert_eq!(
            made, listed,
            "{source:?}: made on the left, listed on the right"
        );
    }
}

#[test]
fn every_operation_has_a_row_and_every_row_an_operation() {
    let doc = ApiDoc::openapi();
    let described: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method.to_string(), path.to_owned()))
        .collect();
    let rows: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(rows.len(), ROUTES.len(), "a route has two rows");
    let without_row: Vec<_> = described.difference(&rows).collect();
    assert!(
        without_row.is_empty(),
        "{without_row:?} have no row in route_errors::ROUTES: name where their errors come from"
    );
    let without_operation: Vec<_> = rows.difference(&described).collect();
    assert!(
        without_operation.is_empty(),
        "{without_operation:?} are in route_errors::ROUTES but not in the API description"
    );
}

#[test]
fn the_document_declares_every_reply_of_every_route() {
    let doc = ApiDoc::openapi();
    for (method, path, operation) in operations(&doc) {
        assert!(row(&method, path).is_some(), "{method} {path} has no row");
        for reply in route_replies(&method, path) {
            let status = reply.status.as_str();
            let Some(RefOr::T(response)) = operation.responses.responses.get(status) else {
                panic!("{method} {path} can answer {status} but does not declare it");
            };
            let schema = response
                .content
                .get("application/json")
                .and_then(|content| content.schema.as_ref());
            let error_body = match schema {
                Some(RefOr::T(Schema::OneOf(one_of))) => one_of.items.iter().any(is_error_body),
                Some(schema) => is_error_body(schema),
                None => false,
            };
            assert!(error_body, "{method} {path} {status}: not an ErrorBody");
            assert!(
                response.description.contains(&format!("`{}`", reply.code)),
                "{method} {path} {status} does not name `{}`: {}",
                reply.code,
                response.description
            );
        }
    }
}

#[test]
fn every_declared_error_status_is_in_the_table() {
    let doc = ApiDoc::openapi();
    for (method, path, operation) in operations(&doc) {
        let answered: BTreeSet<StatusCode> = route_replies(&method, path)
            .into_iter()
            .map(|r| r.status)
            .collect();
        for status in operation.responses.responses.keys() {
            let status: StatusCode = status.parse().expect("a status");
            if status.is_client_error() || status.is_server_error() {
                assert!(
                    answered.contains(&status),
                    "{method} {path} declares {status}, which no source of its row in \
                     route_errors::ROUTES gives: name the source there"
                );
            }
        }
    }
}

#[test]
fn parameters_are_where_the_handlers_read_them() {
    let doc = ApiDoc::openapi();
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation.operation_id.clone().expect("an operation id");
        assert!(ids.insert(id.clone()), "operation id {id} is used twice");
        for parameter in operation.parameters.iter().flatten() {
            let name = &parameter.name;
            let in_template = path.contains(&format!("{{{name}}}"));
            match parameter.parameter_in {
                ParameterIn::Path => assert!(
                    in_template,
                    "{method} {path}: `{name}` is a path parameter the path does not have"
                ),
                ParameterIn::Query => assert!(
                    !in_template,
                    "{method} {path}: `{name}` is in the path, not the query"
                ),
                ParameterIn::Header | ParameterIn::Cookie => {}
            }
        }
        let path_parameters = operation
            .parameters
            .iter()
            .flatten()
            .filter(|p| matches!(p.parameter_in, ParameterIn::Path))
            .count();
        assert_eq!(
            path_parameters,
            path.matches('{').count(),
            "{method} {path}: every part of the template is a path parameter"
        );
    }
}
