//! [`EdgeService`]: what hyper calls for each request on a connection. It refuses a request
//! head over the configured sizes (414, 431), gives the body its deadline, runs the router,
//! answers 408 if the body did not arrive in time, and keeps the request open on the
//! connection's [`Activity`] until its response has gone out.
//!
//! Every reply made here is an [`ApiError`], so its body is cairn's JSON like any other.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use tokio::time::Instant;
use tower_service::Service as _;

use crate::http::edge::body::{ResponseBody, TimedBody};
use crate::http::edge::connections::{Activity, OpenRequest};
use crate::http::error::ApiError;

/// The limits a request is held to before the router sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct RequestLimits {
    pub(super) max_uri_bytes: usize,
    pub(super) max_header_bytes: usize,
    pub(super) body_timeout: Duration,
}

/// The router behind one connection.
#[derive(Clone, Debug)]
pub(super) struct EdgeService {
    router: Router,
    activity: Arc<Activity>,
    limits: RequestLimits,
}

impl EdgeService {
    pub(super) fn new(router: Router, activity: Arc<Activity>, limits: RequestLimits) -> Self {
        Self {
            router,
            activity,
            limits,
        }
    }
}

type Reply = Result<Response<ResponseBody>, Infallible>;

impl hyper::service::Service<Request<Incoming>> for EdgeService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Reply> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let open = self.activity.open_request();
        if let Err(error) = check_head(&request, &self.limits) {
            let reply = closing(error.into_response());
            return Box::pin(std::future::ready(Ok(respond(reply, open))));
        }
        let deadline = Instant::now() + self.limits.body_timeout;
        let (parts, body) = request.into_parts();
        let (body, body_deadline) = TimedBody::new(body, deadline);
        let request = Request::from_parts(parts, body);
        let mut router = self.router.clone();
        let body_timeout = self.limits.body_timeout;
        Box::pin(async move {
            let reply = match router.call(request).await {
                Ok(reply) => reply,
                Err(never) => match never {},
            };
            let reply = if body_deadline.passed() {
                closing(
                    ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "body_timeout",
                        format!(
                            "the request body did not arrive whole within {} ms of its headers",
                            body_timeout.as_millis()
                        ),
                    )
                    .into_response(),
                )
            } else {
                reply
            };
            Ok(respond(reply, open))
        })
    }
}

/// Refuses a request target or header fields over the limits.
fn check_head<B>(request: &Request<B>, limits: &RequestLimits) -> Result<(), ApiError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |t| t.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if target > limits.max_uri_bytes {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the request target is {target} bytes; this server takes at most {}",
                limits.max_uri_bytes
            ),
        ));
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > limits.max_header_bytes {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the header fields are {headers} bytes; this server takes at most {}",
                limits.max_header_bytes
            ),
        ));
    }
    Ok(())
}

/// `reply`, with the connection closed after it.
fn closing(mut reply: axum::response::Response) -> axum::response::Response {
    reply
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    reply
}

/// `reply`, keeping `open` until its body is done; a subscription is marked as one.
fn respond(reply: axum::response::Response, mut open: OpenRequest) -> Response<ResponseBody> {
    let streaming = reply
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        open.mark_streaming();
    }
    reply.map(|body| ResponseBody::new(body, open))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::route_errors::{ErrorSource, Reply};

    const LIMITS: RequestLimits = RequestLimits {
        max_uri_bytes: 32,
        max_header_bytes: 64,
        body_timeout: Duration::from_secs(1),
    };

    #[test]
    fn refuses_heads_over_the_limits() {
        let fine = Request::get("/v1/all?after=1").body(()).expect("request");
        assert!(check_head(&fine, &LIMITS).is_ok());
        let long = Request::get(format!("/v1/all?category={}", "c".repeat(32)))
            .body(())
            .expect("request");
        let error = check_head(&long, &LIMITS).expect_err("too long");
        assert_eq!(error.status(), StatusCode::URI_TOO_LONG);
        assert_eq!(error.code(), "uri_too_long");
        assert!(ErrorSource::Edge.own_replies().contains(&Reply::of(&error)));
        let large = Request::get("/healthz")
            .header("x-padding", "p".repeat(64))
            .body(())
            .expect("request");
        let error = check_head(&large, &LIMITS).expect_err("too large");
        assert_eq!(error.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(error.code(), "headers_too_large");
        assert!(ErrorSource::Edge.own_replies().contains(&Reply::of(&error)));
    }
}
