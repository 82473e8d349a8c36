//! axum's extractors with cairn's error replies: a rejected body, query or path becomes an
//! [`ApiError`] with a stable code instead of axum's plain-text reply.

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;

use crate::http::error::ApiError;

/// A JSON body. Malformed JSON is a 400 `malformed_json`, a well-formed body of the wrong shape
/// a 422 `invalid_body`, a missing `Content-Type: application/json` a 415, an oversized body a
/// 413.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct JsonBody<T>(pub T);

/// A query string. A bad one is a 400 `invalid_query`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(super) struct QueryParams<T>(pub T);

/// Path parameters. A bad one is a 400 `invalid_path`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(super) struct PathParams<T>(pub T);
