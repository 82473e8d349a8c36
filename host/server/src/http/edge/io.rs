//! [`GuardedIo`]: a connection's socket with deadlines on the waits a client controls. hyper
//! reads request heads and writes responses through it; a wait past its deadline fails the
//! read or write with `TimedOut`, which ends the connection.
//!
//! Which read deadline applies follows the connection's [`Activity`]:
//! - no request open and nothing read since the last one: the connection is idle, and is
//!   closed `idle_timeout` after the last request ended;
//! - no request open but bytes read (or the connection just opened): a head is arriving, and
//!   must be whole `header_timeout` after it began;
//! - a request open: no read deadline here; its body has its own (`body.rs`).
//!
//! A write that cannot go on (the client's receive window and our send buffer are full) may
//! wait `write_stall_timeout`; any progress starts the wait again. This is what disconnects a
//! subscriber that stopped reading.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::http::edge::connections::Activity;

/// The deadlines of a connection's socket.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadlines {
    pub(super) header: Duration,
    pub(super) idle: Duration,
    pub(super) write_stall: Duration,
}

/// What a read waits for when no request is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    /// The next request, after one ended.
    Idle,
    /// The rest of a request head.
    Head,
}

/// A socket with deadlines.
#[derive(Debug)]
pub(super) struct GuardedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    deadlines: Deadlines,
    /// The requests begun when the socket last looked: a change means one began (and maybe
    /// ended) since.
    seen_started: u64,
    /// With no request open: what a read waits for, and until when.
    reading: Option<(Waiting, Instant)>,
    /// Since when a write has been unable to go on.
    write_blocked_until: Option<Instant>,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl GuardedIo {
    /// `stream`, just accepted: its first request head is due within `deadlines.header`.
    pub(super) fn new(stream: TcpStream, activity: Arc<Activity>, deadlines: Deadlines) -> Self {
        Self {
            stream,
            seen_started: activity.requests_started(),
            activity,
            reading: Some((Waiting::Head, Instant::now() + deadlines.header)),
            deadlines,
            write_blocked_until: None,
            read_timer: None,
            write_timer: None,
        }
    }

    /// What a read now waits for, if no request is open. With one open, `cx` is woken when
    /// it closes, to read again with the idle deadline.
    fn read_wait(&mut self, cx: &mut Context<'_>) -> Option<(Waiting, Instant)> {
        // Before looking, so that a request closing in between still wakes the task.
        self.activity.wake_when_idle(cx.waker());
        let started = self.activity.requests_started();
        if self.activity.is_busy() {
            self.seen_started = started;
            self.reading = None;
            return None;
        }
        if started != self.seen_started || self.reading.is_none() {
            // A request ended since the last read: idle from now.
            self.seen_started = started;
            self.reading = Some((Waiting::Idle, Instant::now() + self.deadlines.idle));
        }
        self.reading
    }

    /// A write could not go on: fails it once it has waited too long.
    fn write_blocked(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = *self
            .write_blocked_until
            .get_or_insert_with(|| Instant::now() + self.deadlines.write_stall);
        if expired(&mut self.write_timer, deadline, cx) {
            return Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the client took nothing of the response for {} ms",
                    self.deadlines.write_stall.as_millis()
                ),
            ));
        }
        Poll::Pending
    }

    fn wrote<T>(
        &mut self,
        result: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(result) => {
                self.write_blocked_until = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.write_blocked(cx).map(Err),
        }
    }
}

/// Whether `deadline` has passed, registering `cx` to be woken when it does.
fn expired(timer: &mut Option<Pin<Box<Sleep>>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if sleep.deadline() != deadline {
        sleep.as_mut().reset(deadline);
    }
    sleep.as_mut().poll(cx).is_ready()
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let wait = this.read_wait(cx);
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && matches!(wait, Some((Waiting::Idle, _))) {
                    this.reading = Some((Waiting::Head, Instant::now() + this.deadlines.header));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match wait {
                Some((waiting, deadline)) if expired(&mut this.read_timer, deadline, cx) => {
                    let message = match waiting {
                        Waiting::Idle => "the connection was idle too long",
                        Waiting::Head => "the request head did not arrive in time",
                    };
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, message)))
                }
                _ => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.wrote(result, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.wrote(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.wrote(result, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.wrote(result, cx)
    }
}
