//! [`DeclareErrors`]: the API description's error responses, made from the error table. Each
//! status an operation can answer is declared on it, with the `ErrorBody` schema and the codes
//! it carries.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{OneOf, Schema};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

use crate::http::route_errors::{Reply, route_replies};

/// Where the document keeps the `ErrorBody` schema.
pub(crate) const ERROR_BODY: &str = "#/components/schemas/ErrorBody";

/// Declares on every operation each status [`route_replies`] says it can answer. A status that
/// the handler's annotation declares already keeps its description, with the codes after it,
/// and a body of another schema (`/healthz`'s 503) becomes one of it or `ErrorBody`.
#[derive(Debug)]
pub(crate) struct DeclareErrors;

impl utoipa::Modify for DeclareErrors {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            for (method, operation) in operations_mut(item) {
                declare(operation, &route_replies(&method, path));
            }
        }
    }
}

/// The operations of `item`, with their methods.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (Method, &mut Operation)> {
    [
        (Method::GET, &mut item.get),
        (Method::PUT, &mut item.put),
        (Method::POST, &mut item.post),
        (Method::DELETE, &mut item.delete),
        (Method::OPTIONS, &mut item.options),
        (Method::HEAD, &mut item.head),
        (Method::PATCH, &mut item.patch),
        (Method::TRACE, &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
}

/// Declares each status of `replies` on `operation`, naming its codes.
fn declare(operation: &mut Operation, replies: &[Reply]) {
    let mut by_status: BTreeMap<StatusCode, Vec<String>> = BTreeMap::new();
    for reply in replies {
        by_status
            .entry(reply.status)
            .or_default()
            .push(format!("`{}`", reply.code));
    }
    for (status, codes) in by_status {
        let response = operation
            .responses
            .responses
            .entry(status.as_str().to_owned())
            .or_insert_with(|| {
                RefOr::T(Response::new(status.canonical_reason().unwrap_or("Error")))
            });
        if let RefOr::T(response) = response {
            response.description = format!(
                "{}; codes: {}",
                response.description.trim_end_matches('.'),
                codes.join(", ")
            );
            add_error_body(response);
        }
    }
}

/// Makes `response`'s JSON body the `ErrorBody` schema, or one of its schema and `ErrorBody`.
fn add_error_body(response: &mut Response) {
    let error_body = || RefOr::Ref(Ref::new(ERROR_BODY));
    let content = response
        .content
        .entry("application/json".to_owned())
        .or_insert_with(|| Content::new(None::<RefOr<Schema>>));
    content.schema = Some(match content.schema.take() {
        None => error_body(),
        Some(schema) if is_error_body(&schema) => schema,
        Some(RefOr::T(Schema::OneOf(mut one_of))) => {
            if !one_of.items.iter().any(is_error_body) {
                one_of.items.push(error_body());
            }
            RefOr::T(Schema::OneOf(one_of))
        }
        Some(other) => {
            let mut one_of = OneOf::new();
            one_of.items = vec![other, error_body()];
            RefOr::T(Schema::OneOf(one_of))
        }
    });
}

/// Whether `schema` is the `ErrorBody` schema.
pub(crate) fn is_error_body(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::Ref(r) if r.ref_location == ERROR_BODY)
}
