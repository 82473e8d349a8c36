//! Waiting for the head (`EventLog::watch_head`): a watcher wakes when the log grows and not
//! before, and a closed store lets its waiters go.

use std::time::Duration;

use cairn_store::{EventLog, ExpectedVersion, Position};

use super::reads::seeded;
use crate::Backend;
use crate::fixtures;

/// `EventLog::watch_head` and `EventLog::head` as their docs promise: a watcher already
/// behind the head returns at once, one at the head waits until an append moves it, and then
/// sees the new head.
pub async fn a_head_watcher_wakes_on_append_and_not_before<B: Backend>() {
    let (_backend, store) = seeded::<B>().await;
    let mut watch = store.watch_head();
    assert_eq!(
        watch.wait_past(Position::new(5)).await.expect("open"),
        Position::new(6),
        "already past"
    );
    let waiting =
        tokio::time::timeout(Duration::from_millis(50), watch.wait_past(Position::new(6))).await;
    assert!(
        waiting.is_err(),
        "nothing was written, so nothing wakes the watcher"
    );
    let waiter = tokio::spawn({
        let mut watch = store.watch_head();
        async move { watch.wait_past(Position::new(6)).await }
    });
    store
        .append(
            fixtures::stream("cust-3"),
            ExpectedVersion::Any,
            vec![fixtures::event("A", "{}"), fixtures::event("A", "{}")],
        )
        .await
        .expect("append");
    assert_eq!(waiter.await.expect("task").expect("open"), Position::new(8));
    assert_eq!(store.head(), Position::new(8));
}

/// `EventLog::watch_head`: closing the store releases whoever waits on its head, rather
/// than leaving them waiting for an append that cannot come.
pub async fn a_closed_store_releases_head_waiters<B: Backend>() {
    let (_backend, store) = seeded::<B>().await;
    let mut watch = store.watch_head();
    B::close(store).await;
    assert!(
        watch.wait_past(Position::new(6)).await.is_err(),
        "a closed store releases waiters"
    );
}
