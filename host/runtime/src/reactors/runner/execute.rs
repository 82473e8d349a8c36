//! Executing issued intents through the command path, each under its key, and naming what came
//! of it. Intents for one aggregate run one after another, in the order they were issued;
//! intents for different aggregates run at once, so their appends share commits.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_store::{CommandType, Json};

use crate::aggregates::command_path::{Cause, Command, CommandPath};
use crate::error::CommandError;
use crate::reactors::intent::{IntentOutcome, IssuedIntent, idempotency_key};
use crate::reactors::runner::config::FailurePolicy;
use tokio::sync::watch;

/// What came of one intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Executed {
    /// The command appended (or changed nothing, or was recognised by its key).
    Done,
    /// The command did not append, for a reason the reactor hears of.
    Outcome(IntentOutcome),
    /// The host failed it on every try; the last error.
    HostFailed(String),
    /// The reactor was stopped while it waited to try again: nothing is recorded, and the
    /// next start executes it.
    Interrupted,
}

/// Executes `intents`, each retried under `policy` while it fails for the host. The results
/// are in the order of `intents`.
pub(crate) async fn execute_all(
    commands: &Arc<CommandPath>,
    reactor: &str,
    intents: &[IssuedIntent],
    policy: &FailurePolicy,
    stop: &watch::Receiver<bool>,
) -> Vec<Executed> {
    let mut by_target: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (at, issued) in intents.iter().enumerate() {
        by_target
            .entry((&issued.intent.module, &issued.intent.id))
            .or_default()
            .push(at);
    }
    let runs = by_target.into_values().map(|indexes| async move {
        let mut done = Vec::with_capacity(indexes.len());
        for at in indexes {
            let stop = stop.clone();
            done.push((
                at,
                execute_one(commands, reactor, &intents[at], policy, stop).await,
            ));
        }
        done
    });
    let mut results = vec![Executed::Done; intents.len()];
    for run in futures_util::future::join_all(runs).await {
        for (at, executed) in run {
            results[at] = executed;
        }
    }
    results
}

/// Executes one intent, retrying while the host fails it.
async fn execute_one(
    commands: &CommandPath,
    reactor: &str,
    issued: &IssuedIntent,
    policy: &FailurePolicy,
    mut stop: watch::Receiver<bool>,
) -> Executed {
    let mut retry = 0;
    loop {
        match try_once(commands, reactor, issued).await {
            Executed::HostFailed(error) if retry < policy.retries => {
                retry += 1;
                tracing::warn!(reactor, key = %issued.key, %error, retry, "an intent's command failed for the host; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(policy.backoff(retry)) => {}
                    _ = stop.wait_for(|s| *s) => return Executed::Interrupted,
                }
            }
            executed => return executed,
        }
    }
}

async fn try_once(commands: &CommandPath, reactor: &str, issued: &IssuedIntent) -> Executed {
    let failed = |reason: String| Executed::Outcome(IntentOutcome::Failed { reason });
    let intent = &issued.intent;
    let command_type = match CommandType::new(&intent.command_type) {
        Ok(command_type) => command_type,
        Err(e) => return failed(format!("invalid command type: {e}")),
    };
    let data = match Json::parse(&intent.data) {
        Ok(data) => data,
        Err(e) => return failed(format!("the command's data is not JSON: {e}")),
    };
    let key = match idempotency_key(&issued.key) {
        Ok(key) => key,
        Err(e) => return Executed::HostFailed(e),
    };
    let command = Command {
        command_type,
        data,
        expected_version: None,
        idempotency_key: Some(key),
    };
    let cause = Cause {
        reactor: reactor.to_owned(),
        causation_id: issued.event_id.clone(),
        correlation_id: issued.correlation_id.clone(),
    };
    match commands
        .execute_caused(&intent.module, &intent.id, command, Some(cause))
        .await
    {
        Ok(_) => Executed::Done,
        Err(CommandError::Rejected(reason)) => {
            Executed::Outcome(IntentOutcome::Rejected { reason })
        }
        Err(
            error @ (CommandError::UnknownModule(_)
            | CommandError::InvalidId(_)
            | CommandError::InvalidCommand(_)),
        ) => failed(error.to_string()),
        Err(CommandError::Module(error)) if !error.is_host_fault() => {
            failed(format!("the aggregate's module failed: {error}"))
        }
        Err(error) => Executed::HostFailed(error.to_string()),
    }
}
