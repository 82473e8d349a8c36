//! The dispatcher alone: per-key order, leases, acknowledgements, parking and the checkpoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_store::{
    EventId, EventType, Json, ModelWrite, Position, RecordedEvent, StreamId, Timestamp, Version,
};

use super::*;
use crate::config::GroupConfig;
use crate::name::MemberId;
use crate::parked;
use crate::rows;

fn event(position: u64, stream: &str) -> RecordedEvent {
    RecordedEvent {
        id: EventId::new(),
        stream: StreamId::new(stream).expect("a stream name"),
        version: Version::new(position),
        position: Position::new(position),
        event_type: EventType::new("Happened").expect("an event type"),
        data: Json::parse("{}").expect("JSON"),
        metadata: Json::empty_object(),
        recorded_at: Timestamp::from_millis(position),
    }
}

fn dispatcher(config: GroupConfig) -> Dispatcher {
    Dispatcher::new(Arc::new(config), 7, Durable::default())
}

fn member(name: &str) -> MemberId {
    MemberId::new(name).expect("a member id")
}

fn positions(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|d| d.event.position.get()).collect()
}

#[test]
fn a_key_has_one_event_in_flight_and_the_next_goes_after_its_ack() {
    let mut d = dispatcher(GroupConfig::default());
    let now = Instant::now();
    d.join(&member("m"), MemberKind::Poll, now);
    for (p, s) in [(1, "a-1"), (2, "a-1"), (3, "a-2")] {
        d.push_live(event(p, s), 0);
    }
    let first = d.take(&member("m"), 10, now);
    assert_eq!(positions(&first), vec![1, 3]);
    assert!(d.take(&member("m"), 10, now).is_empty());
    d.ack(&[first[0].id]).expect("the ack is taken");
    assert_eq!(positions(&d.take(&member("m"), 10, now)), vec![2]);
}

#[test]
fn the_checkpoint_is_the_position_before_the_lowest_unacknowledged() {
    let mut d = dispatcher(GroupConfig::default());
    let now = Instant::now();
    d.join(&member("m"), MemberKind::Poll, now);
    for p in 1..=3 {
        d.push_live(event(p, &format!("a-{p}")), 0);
    }
    let out = d.take(&member("m"), 10, now);
    d.ack(&[out[1].id, out[2].id]).expect("the ack is taken");
    let flush = d.flush().expect("writes");
    assert_eq!(flush.checkpoint, None, "1 is not acknowledged");
    let named = match flush.writes.as_slice() {
        [ModelWrite::Put { key, value }] if key == rows::ACKED => {
            rows::read_acked_row(0, value).expect("the a row decodes")
        }
        other => panic!("one a row, not {other:?}"),
    };
    assert_eq!(named, [2, 3].into());
    d.ack(&[out[0].id]).expect("the ack is taken");
    let flush = d.flush().expect("writes");
    assert_eq!(flush.checkpoint, Some(3));
    assert_eq!(
        flush.writes,
        vec![ModelWrite::Delete {
            key: rows::ACKED.to_vec()
        }],
        "the a row goes with the checkpoint past it"
    );
}

#[test]
fn an_unknown_delivery_fails_the_whole_ack_and_changes_nothing() {
    let mut d = dispatcher(GroupConfig::default());
    let now = Instant::now();
    d.join(&member("m"), MemberKind::Poll, now);
    d.push_live(event(1, "a-1"), 0);
    let out = d.take(&member("m"), 1, now);
    let stranger = DeliveryId { epoch: 1, n: 99 };
    let err = d.ack(&[out[0].id, stranger]).expect_err("it is refused");
    assert!(err.to_string().contains(&stranger.to_string()), "{err}");
    assert_eq!(d.in_flight(), 1);
    assert_eq!(d.flush(), None);
}

#[test]
fn a_lease_that_runs_out_is_delivered_again_after_its_backoff() {
    let mut d = dispatcher(GroupConfig {
        ack_timeout_ms: 100,
        ..GroupConfig::default()
    });
    let now = Instant::now();
    d.join(&member("m"), MemberKind::Stream, now);
    d.push_live(event(1, "a-1"), 0);
    let first = d.take(&member("m"), 1, now);
    d.tick(now + Duration::from_millis(150), 0);
    assert!(d.take(&member("m"), 1, now).is_empty(), "backing off");
    d.tick(now + Duration::from_millis(400), 0);
    let again = d.take(&member("m"), 1, now + Duration::from_millis(400));
    assert_eq!(positions(&again), vec![1]);
    assert_eq!(again[0].attempt, 2);
    assert!(d.ack(&[first[0].id]).is_err(), "the old lease is gone");
}

#[test]
fn parking_takes_the_keys_later_events_behind_it_and_others_go_on() {
    let mut d = dispatcher(GroupConfig::default());
    let now = Instant::now();
    d.join(&member("m"), MemberKind::Stream, now);
    for (p, s) in [(1, "a-1"), (2, "a-1"), (3, "a-2")] {
        d.push_live(event(p, s), 0);
    }
    let out = d.take(&member("m"), 10, now);
    d.nack(&[out[0].id], NackAction::Park, Some("bad".into()), now, 5)
        .expect("deliveries");
    d.push_live(event(4, "a-1"), 0);
    assert_eq!(d.parked_total(), 3, "1, and 2 and 4 behind it");
    assert!(d.take(&member("m"), 10, now).is_empty());
    d.ack(&[out[1].id]).expect("the ack is taken");
    let flush = d.flush().expect("writes");
    assert_eq!(flush.checkpoint, Some(4), "parked events are settled");
    let parked: Vec<ParkedEntry> = flush
        .writes
        .iter()
        .filter_map(|w| match w {
            ModelWrite::Put { key, value } if key[0] == parked::PARKED => {
                Some(serde_json::from_slice(value).expect("JSON"))
            }
            _ => None,
        })
        .collect();
    let reasons: Vec<_> = parked.iter().map(|p| (p.position, p.reason)).collect();
    assert_eq!(
        reasons,
        vec![
            (1, ParkReason::Nacked),
            (2, ParkReason::Behind),
            (4, ParkReason::Behind)
        ]
    );
    assert_eq!(parked[0].last_error.as_deref(), Some("bad"));
}

#[test]
fn retries_run_out_into_the_groups_policy() {
    let mut d = dispatcher(GroupConfig {
        max_retries: 1,
        retry_backoff_ms: 0,
        on_exhausted: crate::config::Exhausted::Skip,
        ..GroupConfig::default()
    });
    let now = Instant::now();
    d.join(&member("m"), MemberKind::Stream, now);
    d.push_live(event(1, "a-1"), 0);
    let out = d.take(&member("m"), 1, now);
    d.nack(&[out[0].id], NackAction::Retry, None, now, 0)
        .expect("deliveries");
    d.tick(now, 0);
    let again = d.take(&member("m"), 1, now);
    d.nack(&[again[0].id], NackAction::Retry, None, now, 0)
        .expect("deliveries");
    assert_eq!(d.counts.skipped, 1);
    assert_eq!(d.flush().expect("writes").checkpoint, Some(1));
}

#[test]
fn a_member_that_leaves_gives_back_its_leases_and_only_its_keys_move() {
    let mut d = dispatcher(GroupConfig::default());
    let now = Instant::now();
    let (a, b) = (member("a"), member("b"));
    d.join(&a, MemberKind::Stream, now);
    d.join(&b, MemberKind::Stream, now);
    for p in 1..=40 {
        d.push_live(event(p, &format!("k-{p}")), 0);
    }
    let to_a = d.take(&a, 100, now);
    let to_b = d.take(&b, 100, now);
    assert_eq!(to_a.len() + to_b.len(), 40);
    assert!(!to_a.is_empty() && !to_b.is_empty());
    d.leave(&a);
    let moved = d.take(&b, 100, now);
    assert_eq!(positions(&moved), positions(&to_a));
    assert!(moved.iter().all(|d| d.attempt == 2));
}

#[test]
fn a_stopped_group_delivers_nothing_until_resumed() {
    let mut d = dispatcher(GroupConfig::default());
    let now = Instant::now();
    d.join(&member("m"), MemberKind::Stream, now);
    d.push_live(event(1, "a-1"), 0);
    d.push_live(event(2, "a-2"), 0);
    let out = d.take(&member("m"), 1, now);
    d.nack(&[out[0].id], NackAction::Stop, Some("halt".into()), now, 0)
        .expect("deliveries");
    assert!(d.take(&member("m"), 10, now).is_empty());
    assert_eq!(d.stopped().expect("deliveries").reason, "halt");
    assert!(d.resume());
    assert_eq!(positions(&d.take(&member("m"), 10, now)), vec![1, 2]);
}

#[test]
fn after_a_restart_settled_positions_are_passed_over() {
    let durable = Durable {
        checkpoint: 1,
        acked: [3].into(),
        parked_above: [4].into(),
        parked_keys: [(
            Arc::from("a-4"),
            ParkedKey {
                count: 1,
                released: 0,
            },
        )]
        .into(),
        stopped: None,
    };
    let mut d = Dispatcher::new(Arc::new(GroupConfig::default()), 1, durable);
    let now = Instant::now();
    d.join(&member("m"), MemberKind::Stream, now);
    for (p, s) in [(2, "a-2"), (3, "a-3"), (4, "a-4"), (5, "a-4")] {
        d.push_live(event(p, s), 0);
    }
    let out = d.take(&member("m"), 10, now);
    assert_eq!(positions(&out), vec![2], "5 waits behind the parked 4");
    d.ack(&[out[0].id]).expect("the ack is taken");
    let flush = d.flush().expect("writes");
    assert_eq!(flush.checkpoint, Some(5));
    assert!(flush.writes.contains(&ModelWrite::Delete {
        key: rows::ACKED.to_vec()
    }));
}
