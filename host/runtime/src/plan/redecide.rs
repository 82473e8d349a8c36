//! The re-decide half of a plan: every command the log holds for the module (or a sample),
//! decided again by the candidate against the state before it (the candidate's fold of the
//! stream up to the version the command was decided at), with the command's own time and
//! seed, and the decision compared with what was recorded.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_store::{
    CommandEntry, EventStore, NothingAppended, RecordedEvent, StreamId, Verdict, Version,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::aggregates::aggregate::{Decision, LoadedAggregate};
use crate::call::sandbox::CallInput;
use crate::json_diff::diff;
use crate::plan::replay::{FoldFailure, fold_events};
use crate::plan::report::{
    DecisionDifference, DecisionFailure, PlanProgress, RedecideReport, keep,
};

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

/// Decides `commands` again with `candidate`, stream by stream.
pub(crate) async fn redecide(
    store: &dyn EventStore,
    candidate: &Arc<LoadedAggregate>,
    commands: Vec<CommandEntry>,
    fold_batch: usize,
    progress: &PlanProgress,
) -> Result<RedecideReport, cairn_store::ReadError> {
    let mut report = RedecideReport {
        commands: commands.len() as u64,
        ..RedecideReport::default()
    };
    let mut by_stream: BTreeMap<StreamId, Vec<CommandEntry>> = BTreeMap::new();
    for entry in commands {
        by_stream
            .entry(entry.command.stream.clone())
            .or_default()
            .push(entry);
    }
    for (stream, mut entries) in by_stream {
        entries.sort_by_key(|entry| entry.command.decided_at);
        let last = entries
            .iter()
            .map(|entry| match entry.verdict {
                Verdict::Appended { last_version, .. } => last_version,
                Verdict::NothingAppended(_) => entry.command.decided_at,
            })
            .max()
            .unwrap_or(Version::NONE);
        let events = store
            .read_versions(stream.clone(), Version::new(1), last)
            .await?;
        redecide_stream(candidate, &entries, &events, fold_batch, &mut report).await;
        PlanProgress::add(&progress.commands_done, entries.len() as u64);
    }
    Ok(report)
}

/// Decides the commands of one stream, `entries` in order of the version they were decided at,
/// folding the candidate's state forward from one to the next.
async fn redecide_stream(
    candidate: &Arc<LoadedAggregate>,
    entries: &[CommandEntry],
    events: &[RecordedEvent],
    fold_batch: usize,
    report: &mut RedecideReport,
) {
    let mut state = match candidate.initial_state().await {
        Ok(state) => Some(state),
        Err(error) => {
            for entry in entries {
                fail(report, entry, format!("init failed: {error}"));
            }
            return;
        }
    };
    let mut folded = 0usize;
    for entry in entries {
        let Some(current) = state.take() else {
            fail(
                report,
                entry,
                "the candidate could not fold the events before it".into(),
            );
            continue;
        };
        let to = usize::try_from(entry.command.decided_at.get())
            .unwrap_or(usize::MAX)
            .min(events.len());
        let current = if to > folded {
            match fold_events(candidate, current, &events[folded..to], fold_batch).await {
                Ok(next) => next,
                Err(FoldFailure { at, error }) => {
                    let at = at.map_or(String::new(), |(version, event_type)| {
                        format!(" at version {version} ({event_type})")
                    });
                    fail(report, entry, format!("folding the stream{at}: {error}"));
                    continue;
                }
            }
        } else {
            current
        };
        folded = folded.max(to);
        let input = CallInput {
            time_ms: entry.command.time.as_millis(),
            seed: Sha256::digest(entry.command.id.as_uuid().as_bytes()).into(),
        };
        let decision = candidate
            .decide(
                current.clone(),
                entry.command.command_type.as_str().to_owned(),
                entry.command.data.as_str().to_owned(),
                input,
            )
            .await;
        state = Some(current);
        match decision {
            Ok(decision) => compare(report, entry, events, &decision),
            Err(error) => fail(report, entry, error.to_string()),
        }
    }
}

/// Counts `decision` against what `entry` recorded.
fn compare(
    report: &mut RedecideReport,
    entry: &CommandEntry,
    events: &[RecordedEvent],
    decision: &Decision,
) {
    let recorded = recorded_decision(entry, events);
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

/// What was recorded, in the shape [`decision_json`] gives a decision.
fn recorded_decision(entry: &CommandEntry, events: &[RecordedEvent]) -> Value {
    match &entry.verdict {
        Verdict::Appended {
            first_version,
            last_version,
            ..
        } => {
            let range = (first_version.get() as usize).saturating_sub(1)
                ..(last_version.get() as usize).min(events.len());
            let appended: Vec<Value> = events
                .get(range)
                .unwrap_or_default()
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

fn fail(report: &mut RedecideReport, entry: &CommandEntry, error: String) {
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
