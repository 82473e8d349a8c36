//! Notification of the head of the global log moving, for subscribers that wait for new events.

use tokio::sync::watch;

use crate::error::StorageError;
use crate::version::Position;

/// Follows the head of the global log: the position of its newest event.
///
/// Waiting costs nothing while nothing is written: the writer wakes waiters after each commit,
/// and only then (no polling).
#[derive(Clone, Debug)]
pub struct HeadWatch(watch::Receiver<Position>);

impl HeadWatch {
    /// The head now.
    pub fn head(&self) -> Position {
        *self.0.borrow()
    }

    /// Waits until the head is past `position`, and returns the new head. Returns at once if it
    /// already is. Fails only when the store has closed.
    pub async fn wait_past(&mut self, position: Position) -> Result<Position, StorageError> {
        self.0
            .wait_for(|head| *head > position)
            .await
            .map(|head| *head)
            .map_err(|_| StorageError::Closed)
    }
}

/// The writer's side of [`HeadWatch`], for a backend to publish its head with.
#[derive(Debug)]
pub struct HeadSender(watch::Sender<Position>);

impl HeadSender {
    /// A sender whose head is `head` to start with.
    pub fn new(head: Position) -> Self {
        Self(watch::Sender::new(head))
    }

    /// A watch of this sender's head.
    pub fn watch(&self) -> HeadWatch {
        HeadWatch(self.0.subscribe())
    }

    /// Publishes `head` if it is past the one published: the head only moves on, whatever
    /// order the news of commits comes in (another node's notification may arrive after a
    /// later commit of this one). Called only after the commit that wrote it.
    pub fn advance(&self, head: Position) {
        self.0.send_if_modified(|published| {
            let moved = head > *published;
            if moved {
                *published = head;
            }
            moved
        });
    }

    /// The head published.
    pub fn head(&self) -> Position {
        *self.0.borrow()
    }
}
