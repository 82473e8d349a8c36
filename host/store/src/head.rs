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

/// The writer's side of [`HeadWatch`].
#[derive(Debug)]
pub(crate) struct HeadSender(watch::Sender<Position>);

impl HeadSender {
    pub(crate) fn new(head: Position) -> Self {
        Self(watch::Sender::new(head))
    }

    pub(crate) fn watch(&self) -> HeadWatch {
        HeadWatch(self.0.subscribe())
    }

    /// Publishes a new head. Called only after the commit that wrote it.
    pub(crate) fn advance(&self, head: Position) {
        self.0.send_replace(head);
    }
}
