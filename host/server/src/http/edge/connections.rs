//! [`Connections`]: the connections being served, oldest first, and what each is doing; the cap
//! on how many are served at once, and which connection gives up its place when it is reached.
//!
//! Invariants:
//! 1. At most `cap` connections are served that have not been told to close; the connections
//!    told to close (at most [`MAX_EVICTING`]) and those being refused (at most
//!    [`MAX_REFUSING`]) come out of the file descriptors kept in reserve (`FD_RESERVE`).
//! 2. Only a connection with no request open is evicted, the oldest first: an idle keep-alive
//!    connection, or one still sending its request head. A request in flight is never cut off
//!    to make room. So a client that opens sockets and sends nothing, or headers a byte at a
//!    time, cannot keep `/healthz` or anyone else out: each new connection takes the place of
//!    the oldest such socket.
//! 3. When every connection has a request open (slow bodies time out, subscriptions stay), a
//!    new connection is answered 503 `too_many_connections` and closed.
//! 4. A connection is accepted only when one of the above can happen to it at once; otherwise
//!    it waits in the listener's backlog ([`Connections::room`]), which holds no descriptor of
//!    ours. So accepting never fails for want of descriptors because of connections.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

/// Connections told to make room that may still be closing.
pub(super) const MAX_EVICTING: usize = 8;
/// Connections being answered 503 at once; past this a new connection is closed unanswered.
pub(super) const MAX_REFUSING: usize = 8;

/// The connections being served.
#[derive(Debug)]
pub(super) struct Connections {
    cap: usize,
    inner: Mutex<Inner>,
    /// Told when a connection closes or a refusal ends.
    changed: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// By accept order: the oldest first.
    open: BTreeMap<u64, Arc<Activity>>,
    /// How many of `open` were told to close.
    evicting: usize,
    refusing: usize,
}

/// What to do with a connection just accepted.
#[derive(Debug)]
pub(super) enum Admission {
    /// Serve it.
    Serve(Registered),
    /// Answer it 503 and close it.
    Refuse(Refusing),
    /// Close it unanswered: room was there when it was accepted, and went in the meantime.
    Close,
}

/// What a new connection would get now.
enum Decision {
    Serve,
    /// Serve it once this connection has been told to make room.
    Evict(Arc<Activity>),
    Refuse,
    /// Leave it in the listener's backlog until something changes.
    Wait,
}

impl Connections {
    /// Room for `cap` connections at once.
    pub(super) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
        })
    }

    /// How many connections may be served at once.
    pub(super) fn cap(&self) -> usize {
        self.cap
    }

    /// Resolves once a new connection can be served or refused. Until then, new connections
    /// wait in the listener's backlog, which costs this process no file descriptor: that is
    /// how a burst of connections never makes it run out.
    pub(super) async fn room(&self) {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if !matches!(self.decide(&self.lock()), Decision::Wait) {
                return;
            }
            changed.await;
        }
    }

    /// Decides what becomes of a new connection, making room if the cap is reached.
    pub(super) fn admit(self: &Arc<Self>) -> Admission {
        let mut inner = self.lock();
        match self.decide(&inner) {
            Decision::Serve => {}
            Decision::Evict(victim) => {
                victim.evict();
                inner.evicting += 1;
            }
            Decision::Refuse => {
                inner.refusing += 1;
                return Admission::Refuse(Refusing {
                    connections: Arc::clone(self),
                });
            }
            Decision::Wait => return Admission::Close,
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let activity = Arc::new(Activity::default());
        inner.open.insert(id, Arc::clone(&activity));
        Admission::Serve(Registered {
            connections: Arc::clone(self),
            id,
            activity,
        })
    }

    fn decide(&self, inner: &Inner) -> Decision {
        if inner.open.len() - inner.evicting < self.cap {
            return Decision::Serve;
        }
        let victim = inner
            .open
            .values()
            .find(|activity| !activity.is_evicted() && !activity.is_busy());
        match victim {
            Some(victim) if inner.evicting < MAX_EVICTING => Decision::Evict(Arc::clone(victim)),
            // The connections told to close are closing: wait for them rather than refuse.
            Some(_) => Decision::Wait,
            None if inner.refusing < MAX_REFUSING => Decision::Refuse,
            None => Decision::Wait,
        }
    }

    /// How many connections are being served.
    #[cfg(test)]
    fn served(&self) -> usize {
        self.lock().open.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's place among those served; dropping it frees the place.
#[derive(Debug)]
pub(super) struct Registered {
    connections: Arc<Connections>,
    id: u64,
    activity: Arc<Activity>,
}

impl Registered {
    /// What the connection is doing.
    pub(super) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut inner = self.connections.lock();
        if inner.open.remove(&self.id).is_some() && self.activity.is_evicted() {
            inner.evicting -= 1;
        }
        drop(inner);
        self.connections.changed.notify_waiters();
    }
}

/// A connection being answered 503; dropping it frees the place.
#[derive(Debug)]
pub(super) struct Refusing {
    connections: Arc<Connections>,
}

impl Drop for Refusing {
    fn drop(&mut self) {
        self.connections.lock().refusing -= 1;
        self.connections.changed.notify_waiters();
    }
}

/// What one connection is doing, shared by its socket, its service and the registry.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Requests begun on the connection, ever.
    started: AtomicU64,
    /// Requests begun whose response has not been sent whole (or dropped).
    open: AtomicUsize,
    /// Whether the open response is a subscription (`text/event-stream`).
    streaming: AtomicBool,
    /// Told to close to make room.
    evicted: AtomicBool,
    evict: Notify,
    /// The connection's task, when its socket last read with a request open: woken when the
    /// request closes, so that the socket starts the idle deadline even if nothing else wakes
    /// the task (an idle client sends nothing).
    reader: AtomicWaker,
}

impl Activity {
    /// Notes that a request begins; it is open until the guard is dropped.
    pub(super) fn open_request(self: &Arc<Self>) -> OpenRequest {
        self.started.fetch_add(1, Ordering::AcqRel);
        self.open.fetch_add(1, Ordering::AcqRel);
        OpenRequest {
            activity: Arc::clone(self),
            streaming: false,
        }
    }

    /// How many requests have begun on the connection.
    pub(super) fn requests_started(&self) -> u64 {
        self.started.load(Ordering::Acquire)
    }

    /// Wakes `waker` when the open requests have closed.
    pub(super) fn wake_when_idle(&self, waker: &std::task::Waker) {
        self.reader.register(waker);
    }

    /// Whether a request is open.
    pub(super) fn is_busy(&self) -> bool {
        self.open.load(Ordering::Acquire) > 0
    }

    /// Whether the open response is a subscription.
    pub(super) fn is_streaming(&self) -> bool {
        self.streaming.load(Ordering::Acquire)
    }

    fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.evict.notify_one();
    }

    /// Resolves once the connection is told to make room.
    pub(super) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

/// An open request: the response has not been sent whole. Dropping it closes the request.
#[derive(Debug)]
pub(crate) struct OpenRequest {
    activity: Arc<Activity>,
    streaming: bool,
}

impl OpenRequest {
    /// Marks the response as a subscription, which shutdown closes at once.
    pub(super) fn mark_streaming(&mut self) {
        self.streaming = true;
        self.activity.streaming.store(true, Ordering::Release);
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        if self.streaming {
            self.activity.streaming.store(false, Ordering::Release);
        }
        if self.activity.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.activity.reader.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(admission: Admission) -> Registered {
        match admission {
            Admission::Serve(registered) => registered,
            other => panic!("expected to be served, got {other:?}"),
        }
    }

    #[test]
    fn the_oldest_idle_connection_makes_room() {
        let connections = Connections::new(2);
        let first = served(connections.admit());
        let second = served(connections.admit());
        let third = served(connections.admit());
        assert!(first.activity().is_evicted(), "the oldest makes room");
        assert!(!second.activity().is_evicted());
        drop(first);
        assert_eq!(connections.served(), 2);
        let _open = third.activity().open_request();
        let _fourth = served(connections.admit());
        assert!(second.activity().is_evicted());
        assert!(
            !third.activity().is_evicted(),
            "a request in flight is never cut off"
        );
    }

    #[test]
    fn with_every_connection_busy_new_ones_are_refused_then_left_waiting() {
        let connections = Connections::new(1);
        let busy = served(connections.admit());
        let _open = busy.activity().open_request();
        let refused: Vec<Admission> = (0..MAX_REFUSING).map(|_| connections.admit()).collect();
        assert!(refused.iter().all(|a| matches!(a, Admission::Refuse(_))));
        assert!(matches!(
            connections.decide(&connections.lock()),
            Decision::Wait
        ));
        drop(refused);
        assert!(matches!(connections.admit(), Admission::Refuse(_)));
    }

    #[test]
    fn a_request_marks_the_connection_busy_until_its_response_is_done() {
        let connections = Connections::new(1);
        let registered = served(connections.admit());
        let activity = Arc::clone(registered.activity());
        let mut open = activity.open_request();
        open.mark_streaming();
        assert!(activity.is_busy() && activity.is_streaming());
        assert_eq!(activity.requests_started(), 1);
        drop(open);
        assert!(!activity.is_busy() && !activity.is_streaming());
    }
}
