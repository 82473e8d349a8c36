//! The re-decide half of a plan: the commands the log holds for the module, and how a
//! decision the candidate made again (`stream_pass.rs`) compares with what was recorded.

use cairn_store::{CommandEntry, EventStore, NothingAppended, RecordedEvent, Verdict, Version};
use serde_json::{Value, json};

use crate::aggregates::aggregate::Decision;
use crate::json_diff::diff;
use crate::plan::report::{DecisionDifference, DecisionFailure, RedecideReport, keep};

/// Every command of aggregate `module` in the command log, in id order.
pub(crate) async fn commands_of(
    store: &dyn EventStore,
    module: &str,
) -> Result<Vec<CommandEntry>, cairn_store::ReadError> {
    let mut commands = Vec::new();
    let mut after = None;
    loop {
        let page = store.read_commands(after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.command.id);
        commands.extend(
            page.into_iter()
                .filter(|entry| entry.command.aggregate.as_str() == module),
        );
    }
    Ok(commands)
}

/// Counts `decision` against what `entry` recorded, or, for a command an older version than
/// the serving one decided, against the serving version's decision of it (`serving`).
pub(crate) fn compare(
    report: &mut RedecideReport,
    entry: &CommandEntry,
    events: &[RecordedEvent],
    decision: &Decision,
    serving: Option<&Decision>,
) {
    // Equal text is equal JSON: most decisions are the same, and need no JSON built.
    let alike = match serving {
        Some(serving) => serving == decision,
        None => recorded_alike(entry, events, decision),
    };
    if alike {
        report.same += 1;
        return;
    }
    let (recorded, compared_with) = match serving {
        Some(serving) => (decision_json(serving), "serving"),
        None => (recorded_decision(entry, events), "recorded"),
    };
    let candidate = decision_json(decision);
    if recorded == candidate {
        report.same += 1;
        return;
    }
    let difference = DecisionDifference {
        command_id: entry.command.id.to_string(),
        stream: entry.command.stream.to_string(),
        decided_at: entry.command.decided_at.get(),
        command_type: entry.command.command_type.to_string(),
        diff: diff(&recorded, &candidate),
        compared_with,
        recorded,
        candidate,
    };
    let accepted = |value: &Value| value["verdict"] == "accepted";
    if accepted(&difference.recorded) == accepted(&difference.candidate) {
        report.different += 1;
        keep(&mut report.differences, difference);
    } else {
        report.flipped += 1;
        keep(&mut report.flips, difference);
    }
}

/// Whether `decision` is what `entry` recorded, as text: the same events (types and data) in
/// the same order, or the same refusal with the same message.
fn recorded_alike(entry: &CommandEntry, events: &[RecordedEvent], decision: &Decision) -> bool {
    match (&entry.verdict, decision) {
        (
            Verdict::Appended {
                first_version,
                last_version,
                ..
            },
            Decision::Events(decided),
        ) => {
            let appended = appended(events, *first_version, *last_version);
            appended.len() == decided.len()
                && appended.iter().zip(decided).all(|(stored, decided)| {
                    stored.event_type == decided.event_type
                        && stored.data.as_str() == decided.data.as_str()
                })
        }
        (Verdict::NothingAppended(NothingAppended::Unchanged), Decision::Events(decided)) => {
            decided.is_empty()
        }
        (
            Verdict::NothingAppended(NothingAppended::Rejected { message }),
            Decision::Rejected(decided),
        )
        | (
            Verdict::NothingAppended(NothingAppended::Invalid { message }),
            Decision::Invalid(decided),
        ) => message == decided,
        _ => false,
    }
}

/// Versions `first..=last` of the stream's `events` (from version 1): the events a command
/// appended, as far as they were read.
fn appended(events: &[RecordedEvent], first: Version, last: Version) -> &[RecordedEvent] {
    let range = (first.get() as usize).saturating_sub(1)..(last.get() as usize).min(events.len());
    events.get(range).unwrap_or_default()
}

/// What was recorded, in the shape [`decision_json`] gives a decision.
fn recorded_decision(entry: &CommandEntry, events: &[RecordedEvent]) -> Value {
    match &entry.verdict {
        Verdict::Appended {
            first_version,
            last_version,
            ..
        } => {
            let appended: Vec<Value> = appended(events, *first_version, *last_version)
                .iter()
                .map(|e| event_json(e.event_type.as_str(), e.data.as_str()))
                .collect();
            json!({"verdict": "accepted", "events": appended})
        }
        Verdict::NothingAppended(NothingAppended::Unchanged) => {
            json!({"verdict": "accepted", "events": []})
        }
        Verdict::NothingAppended(NothingAppended::Rejected { message }) => {
            json!({"verdict": "rejected", "message": message})
        }
        Verdict::NothingAppended(NothingAppended::Invalid { message }) => {
            json!({"verdict": "invalid", "message": message})
        }
    }
}

fn decision_json(decision: &Decision) -> Value {
    match decision {
        Decision::Events(events) => {
            let events: Vec<Value> = events
                .iter()
                .map(|e| event_json(e.event_type.as_str(), e.data.as_str()))
                .collect();
            json!({"verdict": "accepted", "events": events})
        }
        Decision::Rejected(message) => json!({"verdict": "rejected", "message": message}),
        Decision::Invalid(message) => json!({"verdict": "invalid", "message": message}),
    }
}

/// An event as a decision is compared: its type and its data as JSON (so spacing and key
/// order in the stored text do not count).
fn event_json(event_type: &str, data: &str) -> Value {
    let data = serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
    json!({"type": event_type, "data": data})
}

pub(crate) fn fail(report: &mut RedecideReport, entry: &CommandEntry, error: String) {
    report.failed += 1;
    keep(
        &mut report.failures,
        DecisionFailure {
            command_id: entry.command.id.to_string(),
            stream: entry.command.stream.to_string(),
            decided_at: entry.command.decided_at.get(),
            command_type: entry.command.command_type.to_string(),
            error,
        },
    );
}
