//! What the suite's tests share: names and events made in one line, a store shared by racing
//! tasks, a restart, the outcome a retry gets, and the check that racing copies of one append
//! wrote once.

use std::sync::Arc;

use cairn_store::{AppendKind, AppendOutcome, EventId, EventType, Json, NewEvent, StreamId};

use crate::Backend;

pub(crate) fn stream(name: &str) -> StreamId {
    StreamId::new(name).expect("test stream names are valid")
}

pub(crate) fn event(event_type: &str, data: &str) -> NewEvent {
    NewEvent::new(
        EventType::new(event_type).expect("test event types are valid"),
        Json::parse(data).expect("test data is JSON"),
    )
}

pub(crate) fn event_with_id(id: u128, event_type: &str, data: &str) -> NewEvent {
    event(event_type, data).with_id(EventId::from(uuid::Uuid::from_u128(id)))
}

/// Closes `store` and opens the place it was kept again: what a restarted host sees.
pub(crate) async fn reopen<B: Backend>(backend: &B, store: B::Store) -> B::Store {
    B::close(store).await;
    backend.open().await
}

/// A store opened in `backend`, to share with tasks that race on it.
pub(crate) async fn shared<B: Backend>(backend: &B) -> Arc<B::Store> {
    Arc::new(backend.open().await)
}

/// The store back from [`shared`], once every task holding it has finished.
pub(crate) fn unshared<S>(store: Arc<S>) -> S {
    Arc::into_inner(store).expect("every task sharing the store has finished")
}

/// `outcome` as a retry of its append gets it: the same, recognised rather than written.
pub(crate) fn recognised(outcome: &AppendOutcome) -> AppendOutcome {
    assert_eq!(
        outcome.kind,
        AppendKind::Written,
        "the original append wrote"
    );
    AppendOutcome {
        kind: AppendKind::Recognised,
        ..outcome.clone()
    }
}

/// Asserts that of the outcomes of racing copies of one append, exactly one wrote and every
/// other recognised it: the same outcome, recognised.
pub(crate) fn assert_one_written(outcomes: &[AppendOutcome]) {
    let written: Vec<_> = outcomes
        .iter()
        .filter(|outcome| outcome.kind == AppendKind::Written)
        .collect();
    assert_eq!(written.len(), 1, "one copy wrote: {outcomes:?}");
    let recognised = recognised(written[0]);
    assert!(
        outcomes
            .iter()
            .all(|outcome| outcome == written[0] || *outcome == recognised),
        "the others were recognised: {outcomes:?}"
    );
}
