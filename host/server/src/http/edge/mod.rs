//! The HTTP edge: connections from accept to close. [`serve`] accepts on the listener, admits
//! each connection under the cap ([`connections`]), serves it over HTTP/1.1 with hyper through
//! a socket with deadlines ([`io`]) and a service that checks heads and times bodies
//! ([`service`], [`body`]), and on shutdown closes everything within a bounded time. Its
//! settings, the `[http]` section of cairn.toml, are [`HttpConfig`] (`config.rs`).
//!
//! Shutdown, once `signal` resolves:
//! 1. the listener closes and subscriptions are told to end (`AppState::begin_shutdown`);
//! 2. connections streaming a subscription are closed at once; every other connection finishes
//!    the request it is on, if any, and closes (hyper's graceful shutdown);
//! 3. after `shutdown_grace`, the connections still open are closed, whatever they are doing.
//!
//! Then [`serve`] returns and the caller closes the store. No client can hold the process up:
//! not a subscriber that stopped reading, a request head sent a byte at a time, or a body that
//! never ends.

mod body;
mod config;
mod connections;
mod io;
mod service;

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::{CONNECTION, HeaderValue, RETRY_AFTER};
use axum::response::IntoResponse;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use config::{FD_RESERVE, HttpConfig, MAX_HEADER_BYTES_LIMIT, MAX_URI_BYTES_LIMIT, fd_limit};

use crate::http::error::ApiError;
use crate::http::state::AppState;
use connections::{Admission, Connections, Refusing, Registered};
use io::{Deadlines, GuardedIo};
use service::{EdgeService, RequestLimits};

/// How long a refused connection may take to be told so.
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` as `config` says until `signal` resolves, then shuts down
/// within `config.shutdown_grace` (see the module's docs).
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    state: AppState,
    config: HttpConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let fds = fd_limit();
    let cap = usize::try_from(config.connection_cap(fds)).unwrap_or(usize::MAX);
    tracing::info!(max_connections = cap, fd_limit = fds, "serving HTTP/1.1");
    if let Some(wanted) = config.max_connections
        && usize::try_from(wanted).is_ok_and(|wanted| wanted > cap)
    {
        tracing::warn!(
            wanted,
            cap,
            "http.max_connections is over the file-descriptor limit less {FD_RESERVE}; \
             serving at most {cap} connections (raise the limit with `ulimit -n`)"
        );
    }
    let connections = Connections::new(cap);
    let shared = Arc::new(Shared {
        router,
        deadlines: Deadlines {
            header: config.header_timeout,
            idle: config.idle_timeout,
            write_stall: config.write_stall_timeout,
        },
        limits: RequestLimits {
            max_uri_bytes: config.max_uri_bytes,
            max_header_bytes: config.max_header_bytes,
            body_timeout: config.body_timeout,
        },
    });
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut failures = AcceptFailures::default();
    let mut signal = pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            Some(ended) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(error) = ended
                    && error.is_panic()
                {
                    tracing::error!(%error, "a connection's task panicked");
                }
            }
            accepted = accept(&listener, &connections) => match accepted {
                Ok((stream, _peer)) => {
                    failures.ended();
                    admit(stream, &connections, &shared, &stopping, &mut tasks);
                }
                Err(error) => failures.failed(error).await,
            },
        }
    }
    drop(listener);
    tracing::info!(
        connections = tasks.len(),
        "shutting down: closing subscriptions, finishing requests in flight"
    );
    state.begin_shutdown();
    stop.send_replace(true);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = tasks.len(),
            grace_ms = config.shutdown_grace.as_millis(),
            "closing the connections still open after the grace period"
        );
        tasks.shutdown().await;
    }
    Ok(())
}

/// What every connection's task shares.
#[derive(Debug)]
struct Shared {
    router: Router,
    deadlines: Deadlines,
    limits: RequestLimits,
}

/// The next connection, once there is room for it (see [`Connections::room`]).
async fn accept(
    listener: &TcpListener,
    connections: &Connections,
) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    connections.room().await;
    listener.accept().await
}

/// Serves, refuses or closes a connection just accepted.
fn admit(
    stream: TcpStream,
    connections: &Arc<Connections>,
    shared: &Arc<Shared>,
    stopping: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) {
    // Replies are small and go out whole; Nagle's algorithm would only hold them back.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY could not be set");
    }
    match connections.admit() {
        Admission::Serve(registered) => {
            tasks.spawn(connection(
                stream,
                registered,
                Arc::clone(shared),
                stopping.clone(),
            ));
        }
        Admission::Refuse(refusing) => {
            tasks.spawn(refuse(stream, refusing, connections.cap()));
        }
        Admission::Close => {
            tracing::debug!("closing a connection unanswered: the room for it went");
            drop(stream);
        }
    }
}

/// Serves one connection until it closes, it is told to make room, or the server stops.
async fn connection(
    stream: TcpStream,
    registered: Registered,
    shared: Arc<Shared>,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::clone(registered.activity());
    let io = TokioIo::new(GuardedIo::new(
        stream,
        Arc::clone(&activity),
        shared.deadlines,
    ));
    let service = EdgeService::new(shared.router.clone(), Arc::clone(&activity), shared.limits);
    // No timer: the head and idle deadlines are the socket's (`io.rs`), hyper's are off.
    let served = http1::Builder::new().serve_connection(io, service);
    let mut served = pin!(served);
    let mut stopped = false;
    loop {
        tokio::select! {
            ended = served.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!(%error, "a connection ended");
                }
                return;
            }
            () = activity.evicted() => {
                if !activity.is_busy() {
                    tracing::debug!("closing an idle connection to make room for a new one");
                    return;
                }
                served.as_mut().graceful_shutdown();
            }
            _ = stopping.wait_for(|stop| *stop), if !stopped => {
                stopped = true;
                if activity.is_streaming() {
                    return;
                }
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers a connection 503 `too_many_connections` and closes it.
async fn refuse(stream: TcpStream, refusing: Refusing, cap: usize) {
    let service = hyper::service::service_fn(move |_request| async move {
        let mut reply = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_connections",
            format!("this server is serving its most connections ({cap}), each with a request in flight; try again"),
        )
        .into_response();
        reply
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        reply
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        Ok::<_, std::convert::Infallible>(reply)
    });
    let served = http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(REFUSAL_TIME, served).await;
    drop(refusing);
}

/// Failures to accept, said once per run of them: when descriptors run out, accept fails
/// until one is freed, and a line per failure would flood the log.
#[derive(Debug, Default)]
struct AcceptFailures {
    in_a_row: u32,
}

impl AcceptFailures {
    async fn failed(&mut self, error: std::io::Error) {
        if self.in_a_row == 0 {
            tracing::warn!(
                %error,
                "cannot accept connections; retrying (said once until it works again)"
            );
        }
        self.in_a_row = self.in_a_row.saturating_add(1);
        // 10 ms, doubling, at most a second.
        let backoff = Duration::from_millis(10 << self.in_a_row.min(7)).min(Duration::from_secs(1));
        tokio::time::sleep(backoff).await;
    }

    fn ended(&mut self) {
        if self.in_a_row > 0 {
            tracing::info!(failures = self.in_a_row, "accepting connections again");
            self.in_a_row = 0;
        }
    }
}
