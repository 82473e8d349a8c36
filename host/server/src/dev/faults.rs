//! Projection faults said as lines a person reads: while `cairn dev` runs, each time a
//! generation of a projection faults, what failed, where in the log, and how to fix it.

use std::collections::HashSet;
use std::time::Duration;

use cairn_runtime::{GenerationStatus, Projections, RunState};

/// How often the projections' states are looked at.
const EVERY: Duration = Duration::from_millis(500);

/// Prints a line for each generation that faults, once, until the task is dropped.
pub(super) async fn report(projections: Projections) {
    let mut told: HashSet<(String, u64)> = HashSet::new();
    loop {
        // `cairn dev` runs its projections itself, so the list needs no read of the store.
        let list = projections.list().await.unwrap_or_default();
        // A name that left (removed, then perhaps uploaded again) starts afresh.
        told.retain(|(name, _)| list.iter().any(|status| &status.name == name));
        for status in list {
            let generations = std::iter::once(&status.serving).chain(status.rebuilding.as_ref());
            for generation in generations {
                if generation.state == RunState::Faulted
                    && told.insert((status.name.clone(), generation.generation))
                {
                    crate::serve::complain(format_args!(
                        "{}",
                        fault_line(&status.name, generation)
                    ));
                }
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// The line for a faulted `generation` of projection `name`.
fn fault_line(name: &str, generation: &GenerationStatus) -> String {
    let (error, place) = match &generation.fault {
        Some(fault) => (
            fault.error.as_str(),
            format!(" at position {} ({})", fault.position, fault.event_type),
        ),
        None => ("it failed", String::new()),
    };
    format!(
        "✗ projection {name} v{} faulted{place}: {error}\n  its read model holds every event \
         before that one; fix the module and save it, and cairn dev rebuilds it from the start",
        generation.version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_says_what_where_and_how_to_fix_it() {
        let status = GenerationStatus {
            version: 2,
            generation: 3,
            model: "picky#g3".into(),
            state: RunState::Faulted,
            position: 11,
            head: 20,
            lag_events: 9,
            lag_ms: 0,
            events_per_s: 0.0,
            fault: Some(cairn_runtime::Fault {
                error: "the module trapped".into(),
                position: 12,
                event_type: "Bad".into(),
            }),
        };
        let line = fault_line("picky", &status);
        assert!(
            line.starts_with(
                "✗ projection picky v2 faulted at position 12 (Bad): the module trapped"
            ),
            "{line}"
        );
        assert!(line.contains("fix the module and save it"), "{line}");
    }
}
