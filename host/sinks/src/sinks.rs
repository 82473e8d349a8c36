//! [`Sinks`]: every sink of a node, each a task (`runner.rs`) that is the one member of its
//! consumer group. Sinks are kept in the registry model `#sinks` (name → config as JSON);
//! their checkpoints, leases and parked events are their groups'.
//!
//! Making a sink makes its group first and its registry row second: a crash between leaves a
//! group that making the sink again finds and keeps.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cairn_groups::{GroupError, GroupStatus, Groups};
use cairn_store::{EventStore, ModelAmend, ModelCommit, ModelWrite, Position, ReadModelName};
use tokio::sync::watch;

use crate::config::{SinkConfig, Target};
use crate::error::SinkError;
use crate::kafka::KafkaPublisher;
use crate::runner::{RunState, Runner};

/// How long making a Kafka sink waits for a broker to answer.
const REACH_WITHIN: Duration = Duration::from_secs(5);

fn registry() -> ReadModelName {
    ReadModelName::new("#sinks").expect("a valid read model name")
}

#[derive(Debug)]
struct Running {
    config: Arc<SinkConfig>,
    state: Arc<Mutex<RunState>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// A sink's status: its config, its task's state and its group's status.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SinkStatus {
    pub name: String,
    pub kind: &'static str,
    pub config: SinkConfig,
    #[serde(flatten)]
    pub run: RunState,
    pub group: GroupStatus,
}

/// What making a sink did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SinkCreated {
    pub name: String,
    /// False when a sink of this name and config was there already.
    pub created: bool,
    /// The group the sink runs, whose parked events are the sink's.
    pub group: String,
}

/// The sinks of one node. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Sinks {
    store: Arc<dyn EventStore>,
    groups: Groups,
    running: Arc<Mutex<BTreeMap<String, Running>>>,
    changes: Arc<tokio::sync::Mutex<()>>,
    /// Whether another node runs the sinks (`Sinks::dormant`).
    dormant: bool,
}

impl Sinks {
    /// Sinks this node does not run, because another node sharing the store holds the runner
    /// lease: none is listed, and every request about one is refused.
    pub fn dormant(store: Arc<dyn EventStore>, groups: Groups) -> Self {
        Self {
            store,
            groups,
            running: Arc::default(),
            changes: Arc::default(),
            dormant: true,
        }
    }

    /// Starts every sink the store keeps.
    pub async fn start(store: Arc<dyn EventStore>, groups: Groups) -> Result<Self, SinkError> {
        let reader = Arc::clone(&store);
        let kept =
            tokio::task::spawn_blocking(move || -> Result<Option<Vec<Vec<u8>>>, SinkError> {
                let view = reader.read_model(&registry())?;
                if view.checkpoint().is_none() {
                    return Ok(None);
                }
                Ok(Some(
                    view.scan(b"", None, usize::MAX)?
                        .into_iter()
                        .map(|(_, value)| value)
                        .collect(),
                ))
            })
            .await
            .map_err(|e| SinkError::Invalid(format!("reading the sinks failed: {e}")))??;
        let sinks = Self {
            store: Arc::clone(&store),
            groups,
            running: Arc::default(),
            changes: Arc::default(),
            dormant: false,
        };
        match kept {
            None => {
                store
                    .commit_model(ModelCommit {
                        model: registry(),
                        writes: Vec::new().into(),
                        checkpoint: Position::new(0),
                    })
                    .await?;
            }
            Some(values) => {
                for value in values {
                    match serde_json::from_slice::<SinkConfig>(&value) {
                        Ok(config) => sinks.spawn(config),
                        Err(error) => tracing::error!(%error, "a kept sink does not read"),
                    }
                }
            }
        }
        Ok(sinks)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spawn(&self, config: SinkConfig) {
        let config = Arc::new(config);
        let state = Arc::new(Mutex::new(RunState::default()));
        let (stop, stopped) = watch::channel(false);
        let runner = Runner {
            config: Arc::clone(&config),
            groups: self.groups.clone(),
            state: Arc::clone(&state),
        };
        let task = tokio::spawn(runner.run(stopped));
        self.lock().insert(
            config.name.clone(),
            Running {
                config,
                state,
                stop,
                task,
            },
        );
    }

    /// Makes a sink and starts it. The same name and config again is not an error (`created`
    /// false). With `check_reachable`, a Kafka sink whose brokers do not answer is refused and
    /// nothing is made.
    pub async fn create(
        &self,
        config: SinkConfig,
        check_reachable: bool,
    ) -> Result<SinkCreated, SinkError> {
        if self.dormant {
            return Err(SinkError::Group(GroupError::RunsElsewhere));
        }
        config.check()?;
        let _change = self.changes.lock().await;
        let group = config.group_name()?;
        let existing = self.lock().get(&config.name).map(|r| Arc::clone(&r.config));
        if let Some(existing) = existing {
            if *existing != config {
                return Err(SinkError::Exists(config.name));
            }
            return Ok(SinkCreated {
                name: config.name,
                created: false,
                group: group.to_string(),
            });
        }
        if check_reachable && let Target::Kafka(kafka) = config.target() {
            KafkaPublisher::reachable(kafka, REACH_WITHIN)
                .await
                .map_err(SinkError::Unreachable)?;
        }
        match self
            .groups
            .create(group.as_str(), config.group_config())
            .await
        {
            Ok(_) => {}
            Err(GroupError::Exists(_)) => {
                return Err(SinkError::Invalid(format!(
                    "a group named {group} exists with other settings; remove it first"
                )));
            }
            Err(error) => return Err(error.into()),
        }
        self.store
            .amend_model(ModelAmend {
                model: registry(),
                writes: vec![ModelWrite::Put {
                    key: config.name.as_bytes().to_vec(),
                    value: serde_json::to_vec(&config).expect("serialises"),
                }],
            })
            .await?;
        let name = config.name.clone();
        self.spawn(config);
        Ok(SinkCreated {
            name,
            created: true,
            group: group.to_string(),
        })
    }

    /// Makes a sink as a cairn.toml declares it: made if missing (without checking that its
    /// target answers: it waits for it), its target and value replaced if only they changed.
    /// Other changed settings are [`SinkError::Exists`].
    pub async fn ensure(&self, config: SinkConfig) -> Result<(), SinkError> {
        if self.dormant {
            return Err(SinkError::Group(GroupError::RunsElsewhere));
        }
        config.check()?;
        let existing = self.lock().get(&config.name).map(|r| Arc::clone(&r.config));
        match existing {
            None => self.create(config, false).await.map(|_| ()),
            Some(existing) if *existing == config => Ok(()),
            Some(existing) if existing.group_config() == config.group_config() => {
                let _change = self.changes.lock().await;
                let running = self.lock().remove(&config.name);
                if let Some(running) = running {
                    stop(running).await;
                }
                self.store
                    .amend_model(ModelAmend {
                        model: registry(),
                        writes: vec![ModelWrite::Put {
                            key: config.name.as_bytes().to_vec(),
                            value: serde_json::to_vec(&config).expect("serialises"),
                        }],
                    })
                    .await?;
                self.spawn(config);
                Ok(())
            }
            Some(_) => Err(SinkError::Exists(config.name)),
        }
    }

    /// Removes a sink: its task, its registry row and its group.
    pub async fn delete(&self, name: &str) -> Result<(), SinkError> {
        if self.dormant {
            return Err(SinkError::Group(GroupError::RunsElsewhere));
        }
        let _change = self.changes.lock().await;
        let running = self
            .lock()
            .remove(name)
            .ok_or_else(|| SinkError::NotFound(name.to_owned()))?;
        stop(running).await;
        self.store
            .amend_model(ModelAmend {
                model: registry(),
                writes: vec![ModelWrite::Delete {
                    key: name.as_bytes().to_vec(),
                }],
            })
            .await?;
        let group = format!("sink.{name}");
        match self.groups.delete(&group).await {
            Ok(()) | Err(GroupError::NotFound(_)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    pub async fn status(&self, name: &str) -> Result<SinkStatus, SinkError> {
        if self.dormant {
            return Err(SinkError::Group(GroupError::RunsElsewhere));
        }
        let (config, run) = {
            let running = self.lock();
            let sink = running
                .get(name)
                .ok_or_else(|| SinkError::NotFound(name.to_owned()))?;
            let run = sink
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .shown();
            (Arc::clone(&sink.config), run)
        };
        let group = self.groups.status(&format!("sink.{name}")).await?;
        Ok(SinkStatus {
            name: config.name.clone(),
            kind: config.kind(),
            config: (*config).clone(),
            run,
            group,
        })
    }

    /// Every sink's status, in name order; a sink that cannot answer now is left out.
    pub async fn list(&self) -> Vec<SinkStatus> {
        let mut statuses = Vec::new();
        for name in self.names() {
            if let Ok(status) = self.status(&name).await {
                statuses.push(status);
            }
        }
        statuses
    }

    /// Stops every sink's task.
    pub async fn stop(&self) {
        let running: Vec<Running> = std::mem::take(&mut *self.lock()).into_values().collect();
        for sink in running {
            stop(sink).await;
        }
    }
}

async fn stop(running: Running) {
    running.stop.send_replace(true);
    if tokio::time::timeout(Duration::from_secs(5), &mut { running.task })
        .await
        .is_err()
    {
        tracing::warn!(sink = %running.config.name, "a sink did not stop within 5 s");
    }
}
