//! [`Runners`]: a node's background runners (projections, reactors, consumer groups, sinks),
//! and [`Seat`], where the node keeps the ones it has now.
//!
//! On a store only this node writes, the runners start with the node and run until it closes.
//! On a store several nodes share, exactly one node runs them at a time: the one holding the
//! store's runner lease ([`cairn_store::RunnerLease`]). The others keep dormant runners, which
//! answer queries from the read models the running node commits and refuse what only the
//! running node can do. A task of the node ([`Lead`]) waits for the lease, starts the runners
//! (each from what the store kept: checkpoints, generations, groups), swaps them into the seat,
//! and when the lease is lost stops them and swaps the dormant ones back, then waits again.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use cairn_groups::{GroupError, Groups};
use cairn_runtime::{CommandPath, Projections, Reactors, Registry};
use cairn_sinks::{SinkError, Sinks};
use cairn_store::EventStore;
use tokio::sync::watch;

use crate::settings::Settings;

/// How long a node waits before asking for the lease again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The background runners of a node. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Runners {
    pub projections: Projections,
    pub reactors: Reactors,
    pub groups: Groups,
    pub sinks: Sinks,
}

impl Runners {
    /// Stops them all, each after the work in hand.
    pub async fn stop(&self) {
        self.sinks.stop().await;
        self.groups.stop().await;
        self.reactors.stop().await;
        self.projections.stop().await;
    }
}

/// What runners are made from.
#[derive(Clone, Debug)]
pub(crate) struct Parts {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) command_path: Arc<CommandPath>,
    pub(crate) settings: Settings,
}

impl Parts {
    /// Runners that run, from what the store kept; the groups and sinks the settings declare
    /// are made if missing.
    pub(crate) async fn running(&self) -> anyhow::Result<Runners> {
        // What can fail starts first, so nothing is left running when it does.
        let groups = Groups::start(Arc::clone(&self.store)).await?;
        let sinks = match Sinks::start(Arc::clone(&self.store), groups.clone()).await {
            Ok(sinks) => sinks,
            Err(error) => {
                groups.stop().await;
                return Err(error.into());
            }
        };
        let projections = Projections::start(
            Arc::clone(&self.store),
            Arc::clone(&self.registry),
            self.settings.projections.clone(),
        );
        let reactors = Reactors::start(
            Arc::clone(&self.store),
            Arc::clone(&self.registry),
            Arc::clone(&self.command_path),
            self.settings.reactors.clone(),
        );
        let runners = Runners {
            projections,
            reactors,
            groups,
            sinks,
        };
        if let Err(error) = declare(&runners.groups, &runners.sinks, &self.settings).await {
            runners.stop().await;
            return Err(error);
        }
        Ok(runners)
    }

    /// Runners of a node that leaves the running to another.
    pub(crate) fn dormant(&self) -> Runners {
        let groups = Groups::dormant(Arc::clone(&self.store));
        Runners {
            projections: Projections::dormant(
                Arc::clone(&self.store),
                Arc::clone(&self.registry),
                self.settings.projections.clone(),
            ),
            reactors: Reactors::dormant(
                Arc::clone(&self.store),
                Arc::clone(&self.registry),
                Arc::clone(&self.command_path),
                self.settings.reactors.clone(),
            ),
            sinks: Sinks::dormant(Arc::clone(&self.store), groups.clone()),
            groups,
        }
    }
}

/// The runners a node has now. Cloning is cheap and shares the seat.
#[derive(Clone, Debug)]
pub struct Seat(Arc<RwLock<Runners>>);

impl Seat {
    pub(crate) fn new(runners: Runners) -> Self {
        Self(Arc::new(RwLock::new(runners)))
    }

    /// The runners now.
    pub fn current(&self) -> Runners {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `runners` in the seat; the ones there before are given back.
    fn replace(&self, runners: Runners) -> Runners {
        std::mem::replace(
            &mut *self.0.write().unwrap_or_else(PoisonError::into_inner),
            runners,
        )
    }
}

/// The task that runs the runners here while this node holds the lease.
#[derive(Debug)]
pub(crate) struct Lead {
    stop: watch::Sender<bool>,
    /// `None` once stopped; a lead dropped without [`Lead::stop`] aborts it.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Lead {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Lead {
    /// Starts following the lease for a node whose seat holds dormant runners.
    pub(crate) fn start(parts: Parts, seat: Seat) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(lead(parts, seat, stopped));
        Self {
            stop,
            task: Some(task),
        }
    }

    /// Stops the runners if they run here, and lets the lease go.
    pub(crate) async fn stop(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

async fn lead(parts: Parts, seat: Seat, mut stopped: watch::Receiver<bool>) {
    loop {
        let lease = tokio::select! {
            lease = parts.store.acquire_runner_lease() => lease,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let mut lease = match lease {
            Ok(lease) => lease,
            Err(error) => {
                tracing::warn!(%error, "asking for the runner lease failed; asking again");
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
        };
        let running = match parts.running().await {
            Ok(running) => running,
            Err(error) => {
                tracing::error!(%error, "the runners did not start; the lease is let go and asked for again");
                drop(lease);
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
        };
        let dormant = seat.replace(running.clone());
        dormant.stop().await;
        tracing::info!("this node runs the projections, reactors, consumer groups and sinks");
        let stopping = tokio::select! {
            () = lease.lost() => false,
            _ = stopped.wait_for(|s| *s) => true,
        };
        seat.replace(parts.dormant());
        running.stop().await;
        drop(lease);
        if stopping {
            return;
        }
        tracing::warn!("the runners stopped here with the lease; another node takes them over");
    }
}

/// Makes the groups and sinks a cairn.toml declares, when they are missing. A group kept with
/// other settings stays as kept (said in the log); a sink whose target changed takes the new
/// one.
async fn declare(groups: &Groups, sinks: &Sinks, settings: &Settings) -> anyhow::Result<()> {
    for group in &settings.groups {
        match groups.create(&group.name, group.config.clone()).await {
            Ok(_) => {}
            Err(GroupError::Exists(name)) => tracing::warn!(
                group = %name,
                "cairn.toml declares this group with other settings than the kept ones; the kept ones stay (delete the group to make it anew)"
            ),
            Err(error) => anyhow::bail!("group {}: {error}", group.name),
        }
    }
    for sink in &settings.sinks {
        match sinks.ensure(sink.clone()).await {
            Ok(()) => {}
            Err(SinkError::Exists(name)) => tracing::warn!(
                sink = %name,
                "cairn.toml declares this sink with other group settings than the kept ones; the kept ones stay (delete the sink to make it anew)"
            ),
            Err(error) => anyhow::bail!("sink {}: {error}", sink.name),
        }
    }
    Ok(())
}
