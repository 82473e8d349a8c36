//! The bodies the edge wraps: [`TimedBody`], a request body that must arrive whole by a
//! deadline, and [`ResponseBody`], a response body that keeps its request open (for
//! [`Activity`](super::connections::Activity)) until it has been sent whole or dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::http::edge::connections::OpenRequest;

/// A request body with a deadline. Past it, the next read fails and [`BodyDeadline`] says so.
#[derive(Debug)]
pub(super) struct TimedBody {
    inner: Incoming,
    deadline: Instant,
    /// Made when a read first has to wait: most bodies arrive with their head.
    timer: Option<Pin<Box<Sleep>>>,
    passed: Arc<AtomicBool>,
}

/// Whether a [`TimedBody`]'s deadline passed while it was read.
#[derive(Clone, Debug)]
pub(super) struct BodyDeadline(Arc<AtomicBool>);

impl BodyDeadline {
    pub(super) fn passed(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The error a read past the deadline gives the handler.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub(super) struct BodyTimedOut;

impl TimedBody {
    /// `inner`, due whole by `deadline`.
    pub(super) fn new(inner: Incoming, deadline: Instant) -> (Self, BodyDeadline) {
        let passed = Arc::new(AtomicBool::new(false));
        let body = Self {
            inner,
            deadline,
            timer: None,
            passed: Arc::clone(&passed),
        };
        (body, BodyDeadline(passed))
    }
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(BoxError::from))),
            Poll::Pending => {
                let deadline = this.deadline;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.as_mut().poll(cx).is_ready() {
                    this.passed.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(BodyTimedOut.into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body and the request it answers, open until the body is done.
#[derive(Debug)]
pub(crate) struct ResponseBody {
    body: Body,
    _open: OpenRequest,
}

impl ResponseBody {
    pub(super) fn new(body: Body, open: OpenRequest) -> Self {
        Self { body, _open: open }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
