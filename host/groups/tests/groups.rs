//! Groups over a real redb store: delivery, acknowledgement across a restart, parking and
//! replay, reset, and bad input.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use cairn_groups::{GroupConfig, GroupError, Groups, NackAction, ParkReason, Selection, Start};
use cairn_store::{
    EventStore, EventType, ExpectedVersion, Json, NewEvent, RedbOptions, RedbStore, StreamId,
};

const WAIT: Duration = Duration::from_millis(300);

async fn open(dir: &std::path::Path) -> (RedbStore, Arc<dyn EventStore>, Groups) {
    let store = RedbStore::open(dir, RedbOptions::default())
        .await
        .expect("the store opens");
    let shared: Arc<dyn EventStore> = Arc::new(store.clone());
    let groups = Groups::start(Arc::clone(&shared))
        .await
        .expect("the groups start");
    (store, shared, groups)
}

async fn close(store: RedbStore, shared: Arc<dyn EventStore>, groups: Groups) {
    groups.stop().await;
    drop(groups);
    drop(shared);
    store.close().await;
}

/// Appends `n` events round-robin over `streams` streams of category `acct`; every fifth is
/// a `Poison`.
async fn append(store: &Arc<dyn EventStore>, n: usize, streams: usize) {
    for i in 0..n {
        let stream = StreamId::new(&format!("acct-{}", i % streams)).expect("a stream name");
        let kind = if i % 5 == 4 { "Poison" } else { "Deposited" };
        let event = NewEvent::new(
            EventType::new(kind).expect("an event type"),
            Json::parse(&format!(r#"{{"i":{i}}}"#)).expect("JSON"),
        );
        store
            .append(stream, ExpectedVersion::Any, vec![event])
            .await
            .expect("the append is taken");
    }
}

fn config(json: &str) -> GroupConfig {
    serde_json::from_str(json).expect("JSON")
}

/// Polls as `member` until a poll comes back empty, acknowledging every delivery unless
/// `nack` says otherwise; returns (stream, position) in the order received.
async fn drain(
    groups: &Groups,
    member: &str,
    nack: impl Fn(&str) -> Option<NackAction>,
) -> Vec<(String, u64)> {
    let mut seen = Vec::new();
    loop {
        let deliveries = groups
            .poll("g", member, 100, WAIT)
            .await
            .expect("the poll is answered");
        if deliveries.is_empty() {
            return seen;
        }
        let mut acks = Vec::new();
        for delivery in deliveries {
            seen.push((
                delivery.event.stream.to_string(),
                delivery.event.position.get(),
            ));
            match nack(delivery.event.event_type.as_str()) {
                Some(action) => {
                    groups
                        .nack(
                            "g",
                            &[delivery.id.to_string()],
                            action,
                            Some("cannot".into()),
                        )
                        .await
                        .expect("the nack is taken");
                }
                None => acks.push(delivery.id.to_string()),
            }
        }
        if !acks.is_empty() {
            groups.ack("g", &acks).await.expect("the ack is taken");
        }
    }
}

fn in_key_order(seen: &[(String, u64)]) -> bool {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    seen.iter().all(|(stream, position)| {
        let before = last.insert(stream, *position);
        before.is_none_or(|b| b < *position)
    })
}

#[tokio::test]
async fn two_members_share_the_log_each_event_once_in_key_order() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (store, shared, groups) = open(dir.path()).await;
    append(&shared, 200, 7).await;
    groups
        .create("g", GroupConfig::default())
        .await
        .expect("the group is made");
    let (a, b) = tokio::join!(drain(&groups, "a", |_| None), drain(&groups, "b", |_| None));
    let mut all: Vec<u64> = a.iter().chain(&b).map(|(_, p)| *p).collect();
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<_>>());
    assert!(in_key_order(&a) && in_key_order(&b));
    let status = groups.status("g").await.expect("the group's status");
    assert_eq!(
        (status.checkpoint, status.lag, status.in_flight),
        (200, 0, 0)
    );
    close(store, shared, groups).await;
}

#[tokio::test]
async fn after_a_restart_only_unacknowledged_deliveries_come_again() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (store, shared, groups) = open(dir.path()).await;
    append(&shared, 20, 20).await;
    groups
        .create("g", GroupConfig::default())
        .await
        .expect("the group is made");
    let first = groups
        .poll("g", "m", 20, WAIT)
        .await
        .expect("the poll is answered");
    assert_eq!(first.len(), 20);
    // Acknowledge all but positions 3 and 11: the checkpoint stays at 2, and the rest are
    // kept as acknowledged above it.
    let acks: Vec<String> = first
        .iter()
        .filter(|d| ![3, 11].contains(&d.event.position.get()))
        .map(|d| d.id.to_string())
        .collect();
    groups.ack("g", &acks).await.expect("the ack is taken");
    assert_eq!(
        groups
            .status("g")
            .await
            .expect("the group's status")
            .checkpoint,
        2
    );
    close(store, shared, groups).await;

    let (store, shared, groups) = open(dir.path()).await;
    let again = groups
        .poll("g", "m", 20, WAIT)
        .await
        .expect("the poll is answered");
    let positions: Vec<u64> = again.iter().map(|d| d.event.position.get()).collect();
    assert_eq!(positions, vec![3, 11]);
    // The old delivery ids are unknown now, and refusing them changes nothing.
    let stale = first[2].id.to_string();
    assert!(matches!(
        groups.ack("g", &[stale]).await,
        Err(GroupError::UnknownDeliveries(_))
    ));
    let ids: Vec<String> = again.iter().map(|d| d.id.to_string()).collect();
    groups.ack("g", &ids).await.expect("the ack is taken");
    assert_eq!(
        groups
            .status("g")
            .await
            .expect("the group's status")
            .checkpoint,
        20
    );
    close(store, shared, groups).await;
}

#[tokio::test]
async fn parked_events_hold_their_streams_and_a_replay_delivers_each_once_more_in_order() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (store, shared, groups) = open(dir.path()).await;
    append(&shared, 100, 4).await;
    groups
        .create("g", GroupConfig::default())
        .await
        .expect("the group is made");
    let first = drain(&groups, "m", |kind| {
        (kind == "Poison").then_some(NackAction::Park)
    })
    .await;
    assert!(in_key_order(&first));
    let status = groups.status("g").await.expect("the group's status");
    assert_eq!(
        status.checkpoint, 100,
        "parked events do not hold the checkpoint"
    );
    let parked = groups
        .parked("g", 0, 1_000)
        .await
        .expect("the parked events");
    assert_eq!(status.parked, parked.len() as u64);
    // Event i is at position i + 1 on stream i % 4; the first poison is i = 4 (stream 0),
    // then 9 (stream 1), 14 (stream 2), 19 (stream 3): everything after them is behind.
    assert_eq!(parked[0].position, 5);
    assert_eq!(parked[0].reason, ParkReason::Nacked);
    assert!(parked.iter().any(|p| p.reason == ParkReason::Behind));
    let delivered: HashSet<u64> = first.iter().map(|(_, p)| *p).collect();
    let parked_positions: HashSet<u64> = parked.iter().map(|p| p.position).collect();
    for p in &parked_positions {
        let nacked = parked
            .iter()
            .any(|e| e.position == *p && e.reason == ParkReason::Nacked);
        assert_eq!(delivered.contains(p), nacked, "position {p}");
    }
    assert_eq!(
        delivered.len() + parked_positions.len() - 4,
        100,
        "every event was delivered or parked"
    );

    // A replay that names an event behind another is refused, naming the first.
    let behind = parked
        .iter()
        .find(|p| p.reason == ParkReason::Behind)
        .expect("an event parked behind");
    let refused = groups
        .replay("g", Selection::Positions(vec![behind.position]))
        .await
        .expect_err("it is refused");
    assert!(matches!(refused, GroupError::Behind { .. }), "{refused}");

    // After the fix, all of them come once more, in each stream's order.
    let released = groups
        .replay("g", Selection::All)
        .await
        .expect("the replay is taken");
    assert_eq!(released, parked.len() as u64);
    let replayed = drain(&groups, "m", |_| None).await;
    assert!(in_key_order(&replayed));
    let mut got: Vec<u64> = replayed.iter().map(|(_, p)| *p).collect();
    got.sort_unstable();
    let mut want: Vec<u64> = parked_positions.into_iter().collect();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(
        groups.status("g").await.expect("the group's status").parked,
        0
    );
    assert!(
        groups
            .parked("g", 0, 10)
            .await
            .expect("the parked events")
            .is_empty()
    );

    // The streams are free again: new events flow.
    append(&shared, 3, 4).await;
    let after = drain(&groups, "m", |_| None).await;
    assert_eq!(after.len(), 3);
    close(store, shared, groups).await;
}

#[tokio::test]
async fn a_replay_that_fails_again_stops_at_it_and_the_rest_stay_parked() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (store, shared, groups) = open(dir.path()).await;
    append(&shared, 10, 1).await;
    groups
        .create("g", GroupConfig::default())
        .await
        .expect("the group is made");
    // i = 4 is poison at position 5: 6..=10 park behind it.
    drain(&groups, "m", |kind| {
        (kind == "Poison").then_some(NackAction::Park)
    })
    .await;
    assert_eq!(
        groups.status("g").await.expect("the group's status").parked,
        6
    );
    groups
        .replay("g", Selection::All)
        .await
        .expect("the replay is taken");
    // Still broken: park it again.
    let second = drain(&groups, "m", |kind| {
        (kind == "Poison").then_some(NackAction::Park)
    })
    .await;
    assert_eq!(second.iter().map(|(_, p)| *p).collect::<Vec<_>>(), vec![5]);
    let parked = groups.parked("g", 0, 100).await.expect("the parked events");
    assert_eq!(parked.len(), 6);
    assert!(parked.iter().all(|p| !p.held.released), "{parked:?}");
    assert_eq!(parked[0].attempts, 2);
    // Discarding the poison lets the rest be replayed.
    groups
        .discard("g", Selection::Positions(vec![5]))
        .await
        .expect("the discard is taken");
    groups
        .replay("g", Selection::First(2))
        .await
        .expect("the replay is taken");
    let third = drain(&groups, "m", |_| None).await;
    assert_eq!(
        third.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        vec![6, 7]
    );
    assert_eq!(
        groups.status("g").await.expect("the group's status").parked,
        3
    );
    close(store, shared, groups).await;
}

#[tokio::test]
async fn a_group_starts_where_it_is_told_and_a_reset_starts_it_again() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (store, shared, groups) = open(dir.path()).await;
    append(&shared, 10, 2).await;
    let created = groups
        .create(
            "g",
            config(r#"{"start":"end","filter":{"types":["Deposited"]}}"#),
        )
        .await
        .expect("a config");
    assert_eq!(created.start_after, 10);
    assert!(drain(&groups, "m", |_| None).await.is_empty());
    // The same config again is not an error; another config is.
    let again = groups
        .create(
            "g",
            config(r#"{"start":"end","filter":{"types":["Deposited"]}}"#),
        )
        .await
        .expect("a config");
    assert!(!again.created);
    assert!(matches!(
        groups.create("g", GroupConfig::default()).await,
        Err(GroupError::Exists(_))
    ));
    let to = groups
        .reset("g", &Start::Position(4))
        .await
        .expect("the reset is taken");
    assert_eq!(to, 4);
    let seen = drain(&groups, "m", |_| None).await;
    // Positions 5..=10 hold i = 4..=9; i = 4 and 9 are poison, filtered out.
    assert_eq!(
        seen.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        vec![6, 7, 8, 9]
    );
    close(store, shared, groups).await;
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (store, shared, groups) = open(dir.path()).await;
    append(&shared, 3, 1).await;
    let bad = groups
        .create("g", config(r#"{"filter":{"categories":["no-such"]}}"#))
        .await
        .expect_err("it is refused");
    assert!(matches!(bad, GroupError::InvalidConfig(_)), "{bad}");
    assert!(matches!(
        groups.create("Bad Name", GroupConfig::default()).await,
        Err(GroupError::InvalidName(_))
    ));
    assert!(groups.names().is_empty());
    groups
        .create("g", GroupConfig::default())
        .await
        .expect("the group is made");
    let out = groups
        .poll("g", "m", 1, WAIT)
        .await
        .expect("the poll is answered");
    assert!(matches!(
        groups.ack("g", &["not-an-id".into()]).await,
        Err(GroupError::InvalidDelivery(_))
    ));
    let mixed = vec![out[0].id.to_string(), "0-1".to_owned()];
    assert!(matches!(
        groups.ack("g", &mixed).await,
        Err(GroupError::UnknownDeliveries(ids)) if ids == vec!["00000000-1".to_owned()]
    ));
    assert_eq!(
        groups
            .status("g")
            .await
            .expect("the group's status")
            .in_flight,
        1
    );
    assert!(matches!(
        groups.poll("nope", "m", 1, WAIT).await,
        Err(GroupError::NotFound(_))
    ));
    assert!(matches!(
        groups.poll("g", "m", 0, WAIT).await,
        Err(GroupError::BadRequest(_))
    ));
    groups
        .ack("g", &[out[0].id.to_string()])
        .await
        .expect("the ack is taken");
    close(store, shared, groups).await;
}

#[tokio::test]
async fn a_poll_dropped_by_its_client_gives_its_member_leases_back_at_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (store, shared, groups) = open(dir.path()).await;
    append(&shared, 2, 2).await;
    groups
        .create("g", GroupConfig::default())
        .await
        .expect("the group is made");
    let taken = groups
        .poll("g", "a", 10, WAIT)
        .await
        .expect("the poll is answered");
    assert_eq!(taken.len(), 2);
    // `a` polls again and goes away while waiting: it leaves, and its leases go to `b`.
    let waiting = groups.poll("g", "a", 10, Duration::from_secs(30));
    let _ = tokio::time::timeout(Duration::from_millis(100), waiting).await;
    let moved = groups
        .poll("g", "b", 10, Duration::from_secs(5))
        .await
        .expect("in time");
    assert_eq!(moved.len(), 2);
    assert!(moved.iter().all(|d| d.attempt == 2));
    close(store, shared, groups).await;
}

#[tokio::test]
async fn a_streaming_member_receives_live_events() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (store, shared, groups) = open(dir.path()).await;
    groups
        .create("g", GroupConfig::default())
        .await
        .expect("the group is made");
    let mut stream = groups.stream("g", "s").await.expect("the member joins");
    append(&shared, 5, 5).await;
    let mut got = Vec::new();
    while got.len() < 5 {
        let delivery = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("a delivery")
            .expect("a delivery");
        got.push(delivery.event.position.get());
        groups
            .ack("g", &[delivery.id.to_string()])
            .await
            .expect("the ack is taken");
    }
    got.sort_unstable();
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
    drop(stream);
    close(store, shared, groups).await;
}

#[tokio::test]
async fn a_group_takes_at_most_a_thousand_members() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (store, shared, groups) = open(dir.path()).await;
    groups
        .create("g", GroupConfig::default())
        .await
        .expect("the group is made");
    for m in 0..1_000 {
        groups
            .poll("g", &format!("m{m}"), 1, Duration::ZERO)
            .await
            .expect("the poll is answered");
    }
    let refused = groups
        .poll("g", "one-too-many", 1, Duration::ZERO)
        .await
        .expect_err("it is refused");
    assert!(refused.to_string().contains("1000 members"), "{refused}");
    // A member already there still polls.
    groups
        .poll("g", "m7", 1, Duration::ZERO)
        .await
        .expect("the poll is answered");
    assert_eq!(
        groups
            .status("g")
            .await
            .expect("the group's status")
            .members
            .len(),
        1_000
    );
    close(store, shared, groups).await;
}
