//! [`Groups`]: every consumer group of a node, each run by its own task, and what the HTTP API
//! and the host's sinks call.
//!
//! The groups' names are kept in the registry model `#groups` (a name per row); each group's
//! state in its own model (`rows.rs`). Making a group writes its model first and its name
//! second, so a crash between leaves an orphan model that making it again replaces.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cairn_store::{
    AllRead, EventStore, ModelAmend, ModelCommit, ModelWrite, Position, ReadModelName,
};
use tokio::sync::{mpsc, oneshot};

use crate::config::{GroupConfig, Start};
use crate::dispatch::{Delivery, NackAction};
use crate::error::GroupError;
use crate::load;
use crate::name::{DeliveryId, GroupName, MemberId};
use crate::parked::ParkedEntry;
use crate::rows;
use crate::status::GroupStatus;
use crate::task::{GroupTask, Outcome, Request, Selection, read_view};

/// The longest a poll waits.
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(60);
/// The most deliveries one poll returns.
pub const MAX_POLL: usize = 10_000;

fn registry() -> ReadModelName {
    ReadModelName::new("#groups").expect("a valid read model name")
}

#[derive(Debug)]
struct Handle {
    inbox: mpsc::UnboundedSender<Request>,
    task: tokio::task::JoinHandle<()>,
}

/// The consumer groups of one node. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Groups {
    store: Arc<dyn EventStore>,
    handles: Arc<Mutex<BTreeMap<GroupName, Handle>>>,
    /// Whether another node runs the groups (`Groups::dormant`).
    dormant: bool,
    /// Held while a group is made or removed, so two of those never interleave.
    changes: Arc<tokio::sync::Mutex<()>>,
}

/// What `create` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Created {
    pub name: GroupName,
    /// False when a group of this name and config was there already.
    pub created: bool,
    /// The position the group starts after.
    pub start_after: u64,
}

impl Groups {
    /// Groups this node does not run, because another node sharing the store holds the
    /// runner lease: none is listed, and every request about one is refused
    /// ([`GroupError::RunsElsewhere`]).
    pub fn dormant(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            handles: Arc::default(),
            dormant: true,
            changes: Arc::default(),
        }
    }

    /// Refuses a request to a node whose groups run elsewhere.
    fn running_here(&self) -> Result<(), GroupError> {
        if self.dormant {
            Err(GroupError::RunsElsewhere)
        } else {
            Ok(())
        }
    }

    /// Starts a task for every group the store keeps.
    pub async fn start(store: Arc<dyn EventStore>) -> Result<Self, GroupError> {
        let names = read_view(&store, registry(), |view| {
            let mut names = Vec::new();
            if view.checkpoint().is_none() {
                return Ok(None);
            }
            for (key, _) in view.scan(b"", None, usize::MAX)? {
                if let Ok(name) = std::str::from_utf8(&key) {
                    names.push(name.to_owned());
                }
            }
            Ok(Some(names))
        })
        .await?;
        let groups = Self {
            store: Arc::clone(&store),
            handles: Arc::default(),
            dormant: false,
            changes: Arc::default(),
        };
        match names {
            None => {
                store
                    .commit_model(ModelCommit {
                        model: registry(),
                        writes: Vec::new().into(),
                        checkpoint: Position::new(0),
                    })
                    .await?;
            }
            Some(names) => {
                for name in names {
                    match GroupName::new(&name) {
                        Ok(name) => groups.spawn(name),
                        Err(error) => tracing::error!(%error, "a kept group name is not valid"),
                    }
                }
            }
        }
        Ok(groups)
    }

    fn spawn(&self, name: GroupName) {
        let (inbox, mut requests) = mpsc::unbounded_channel();
        let store = Arc::clone(&self.store);
        let task_name = name.clone();
        let task = tokio::spawn(async move {
            loop {
                match GroupTask::load(task_name.clone(), Arc::clone(&store)).await {
                    Ok(task) => match task.run(&mut requests).await {
                        Outcome::Shutdown(reply) => {
                            let _ = reply.send(());
                            return;
                        }
                        Outcome::Closed => return,
                        Outcome::Failed => {}
                    },
                    Err(error) => {
                        tracing::error!(group = %task_name, %error, "group failed to load; trying again in a second");
                    }
                }
                // Requests that came while it failed are answered, not kept waiting.
                while let Ok(request) = requests.try_recv() {
                    refuse(request, "the group is starting again after a failure");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        self.lock().insert(name, Handle { inbox, task });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<GroupName, Handle>> {
        self.handles.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The group's names, in order.
    pub fn names(&self) -> Vec<GroupName> {
        self.lock().keys().cloned().collect()
    }

    fn send(&self, name: &str, request: Request) -> Result<(), GroupError> {
        let name = GroupName::new(name).map_err(|_| GroupError::NotFound(name.to_owned()))?;
        let handles = self.lock();
        let handle = handles
            .get(&name)
            .ok_or_else(|| GroupError::NotFound(name.to_string()))?;
        handle.inbox.send(request).map_err(|_| GroupError::Gone)
    }

    /// Sends the request `make` builds to the group's task; the answer does not borrow `self`.
    fn ask<T: Send + 'static>(
        &self,
        name: &str,
        make: impl FnOnce(oneshot::Sender<Result<T, GroupError>>) -> Request,
    ) -> impl Future<Output = Result<T, GroupError>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let sent = self.send(name, make(reply));
        async move {
            sent?;
            answer.await.map_err(|_| GroupError::Gone)?
        }
    }

    /// Makes a group. The same name with the same config again is not an error (`created`
    /// false); with another config it is [`GroupError::Exists`].
    pub async fn create(&self, name: &str, config: GroupConfig) -> Result<Created, GroupError> {
        self.running_here()?;
        let name = GroupName::new(name)?;
        config.check()?;
        let _change = self.changes.lock().await;
        if self.lock().contains_key(&name) {
            let kept = read_view(&self.store, name.model(), load::config).await?;
            return match kept {
                Some(kept) if kept == config => {
                    let start_after = read_view(&self.store, name.model(), |view| {
                        Ok(view.checkpoint().map_or(0, Position::get))
                    })
                    .await?;
                    Ok(Created {
                        name,
                        created: false,
                        start_after,
                    })
                }
                _ => Err(GroupError::Exists(name.to_string())),
            };
        }
        let start_after = resolve_start(&self.store, &config.start).await?;
        self.store
            .replace_model(ModelCommit {
                model: name.model(),
                writes: vec![ModelWrite::Put {
                    key: rows::CONFIG.to_vec(),
                    value: rows::config_row(&config),
                }]
                .into(),
                checkpoint: Position::new(start_after),
            })
            .await?;
        self.store
            .amend_model(ModelAmend {
                model: registry(),
                writes: vec![ModelWrite::Put {
                    key: name.as_str().as_bytes().to_vec(),
                    value: Vec::new(),
                }],
            })
            .await?;
        self.spawn(name.clone());
        Ok(Created {
            name,
            created: true,
            start_after,
        })
    }

    /// Removes a group: its task, its name and its rows. Deliveries in flight are forgotten.
    pub async fn delete(&self, name: &str) -> Result<(), GroupError> {
        self.running_here()?;
        let _change = self.changes.lock().await;
        let (reply, done) = oneshot::channel();
        self.send(name, Request::Shutdown { reply })?;
        let _ = done.await;
        let name = GroupName::new(name)?;
        if let Some(handle) = self.lock().remove(&name) {
            handle.task.abort();
        }
        self.store
            .amend_model(ModelAmend {
                model: registry(),
                writes: vec![ModelWrite::Delete {
                    key: name.as_str().as_bytes().to_vec(),
                }],
            })
            .await?;
        self.store.drop_model(name.model()).await?;
        Ok(())
    }

    pub async fn status(&self, name: &str) -> Result<GroupStatus, GroupError> {
        self.running_here()?;
        self.ask(name, |reply| Request::Status { reply }).await
    }

    /// Every group's status, in name order. A group that cannot answer now is left out.
    pub async fn list(&self) -> Vec<GroupStatus> {
        let mut statuses = Vec::new();
        for name in self.names() {
            if let Ok(status) = self.status(name.as_str()).await {
                statuses.push(status);
            }
        }
        statuses
    }

    /// Up to `max` deliveries for `member`, waiting up to `wait` for the first. The member
    /// joins on its first poll. If this future is dropped before it returns (the client went
    /// away), the member leaves at once and its leases go back.
    pub async fn poll(
        &self,
        name: &str,
        member: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, GroupError> {
        self.running_here()?;
        let member = MemberId::new(member)?;
        if max == 0 || max > MAX_POLL {
            return Err(GroupError::BadRequest(format!(
                "max must be 1 to {MAX_POLL}"
            )));
        }
        if wait > MAX_POLL_WAIT {
            return Err(GroupError::BadRequest(
                "wait_ms must be at most 60,000".into(),
            ));
        }
        let mut guard = LeaveOnDrop {
            groups: self,
            group: name.to_owned(),
            member: Some(member.clone()),
        };
        let result = self
            .ask(name, |reply| Request::Poll {
                member,
                max,
                wait,
                reply,
            })
            .await;
        guard.member = None;
        result
    }

    /// Joins `member` as a stream: deliveries arrive on the receiver until it is dropped,
    /// and then the member leaves.
    pub async fn stream(&self, name: &str, member: &str) -> Result<DeliveryStream, GroupError> {
        self.running_here()?;
        let member = MemberId::new(member)?;
        let (sink, deliveries) = mpsc::unbounded_channel();
        let joining = member.clone();
        self.ask(name, move |reply| Request::Stream {
            member: joining,
            sink,
            reply,
        })
        .await?;
        Ok(DeliveryStream {
            deliveries,
            _leave: LeaveOwned {
                groups: self.clone(),
                group: name.to_owned(),
                member,
            },
        })
    }

    /// `member` leaves now; its leases go back. Returns nothing whether or not it was one.
    pub fn leave(&self, name: &str, member: &str) -> Result<(), GroupError> {
        self.running_here()?;
        let member = MemberId::new(member)?;
        self.send(name, Request::Leave { member })
    }

    /// Acknowledges deliveries, all or none; returns once the acknowledgement is durable.
    ///
    /// The acknowledgement is sent when this is called, and applied at once (the next event of
    /// each key can go out); the future answers once it is durable, and holds no borrow.
    pub fn ack(
        &self,
        name: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<usize, GroupError>> + Send + 'static {
        let sent = self
            .running_here()
            .and_then(|()| parse_ids(ids))
            .map(|ids| self.ask(name, |reply| Request::Ack { ids, reply }));
        async move { sent?.await }
    }

    /// Negatively acknowledges deliveries, all or none.
    pub async fn nack(
        &self,
        name: &str,
        ids: &[String],
        action: NackAction,
        reason: Option<String>,
    ) -> Result<usize, GroupError> {
        self.running_here()?;
        let ids = parse_ids(ids)?;
        self.ask(name, |reply| Request::Nack {
            ids,
            action,
            reason,
            reply,
        })
        .await
    }

    /// A page of parked events after `after`, in log order.
    pub async fn parked(
        &self,
        name: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ParkedEntry>, GroupError> {
        self.running_here()?;
        let group = self.known(name)?;
        read_view(&self.store, group.model(), move |view| {
            load::parked_page(view, after, limit)
        })
        .await
    }

    /// Releases parked events for replay; each is delivered once more, in its key's order.
    pub async fn replay(&self, name: &str, selection: Selection) -> Result<u64, GroupError> {
        self.running_here()?;
        self.ask(name, |reply| Request::Replay { selection, reply })
            .await
    }

    /// Discards parked events.
    pub async fn discard(&self, name: &str, selection: Selection) -> Result<u64, GroupError> {
        self.running_here()?;
        self.ask(name, |reply| Request::Discard { selection, reply })
            .await
    }

    /// Resumes a group stopped by a `stop`. Returns whether it was stopped.
    pub async fn resume(&self, name: &str) -> Result<bool, GroupError> {
        self.running_here()?;
        self.ask(name, |reply| Request::Resume { reply }).await
    }

    /// Starts the group again from `start`: acknowledgements, parked events and deliveries in
    /// flight are dropped. Returns the position it starts after.
    pub async fn reset(&self, name: &str, start: &Start) -> Result<u64, GroupError> {
        self.running_here()?;
        self.known(name)?;
        let to = resolve_start(&self.store, start).await?;
        self.ask(name, |reply| Request::Reset { to, reply }).await?;
        Ok(to)
    }

    fn known(&self, name: &str) -> Result<GroupName, GroupError> {
        let group = GroupName::new(name).map_err(|_| GroupError::NotFound(name.to_owned()))?;
        if !self.lock().contains_key(&group) {
            return Err(GroupError::NotFound(name.to_owned()));
        }
        Ok(group)
    }

    /// Stops every group's task after its last commit.
    pub async fn stop(&self) {
        let handles: Vec<(GroupName, Handle)> =
            std::mem::take(&mut *self.lock()).into_iter().collect();
        for (_, handle) in handles {
            let (reply, done) = oneshot::channel();
            if handle.inbox.send(Request::Shutdown { reply }).is_ok() {
                let _ = done.await;
            }
            handle.task.abort();
            let _ = handle.task.await;
        }
    }
}

fn parse_ids(ids: &[String]) -> Result<Vec<DeliveryId>, GroupError> {
    if ids.is_empty() {
        return Err(GroupError::BadRequest("no deliveries given".into()));
    }
    ids.iter().map(|id| DeliveryId::parse(id)).collect()
}

fn refuse(request: Request, why: &str) {
    let error = || GroupError::Failed(why.to_owned());
    match request {
        Request::Poll { reply, .. } => drop(reply.send(Err(error()))),
        Request::Stream { reply, .. } => drop(reply.send(Err(error()))),
        Request::Ack { reply, .. } | Request::Nack { reply, .. } => drop(reply.send(Err(error()))),
        Request::Status { reply } => drop(reply.send(Err(error()))),
        Request::Replay { reply, .. } | Request::Discard { reply, .. } => {
            drop(reply.send(Err(error())))
        }
        Request::Resume { reply } => drop(reply.send(Err(error()))),
        Request::Reset { reply, .. } => drop(reply.send(Err(error()))),
        Request::Shutdown { reply } => drop(reply.send(())),
        Request::Leave { .. } => {}
    }
}

/// The position a group starts after, for `start`.
async fn resolve_start(store: &Arc<dyn EventStore>, start: &Start) -> Result<u64, GroupError> {
    let head = store.head().get();
    match *start {
        Start::Begin => Ok(0),
        Start::End => Ok(head),
        Start::Position(position) if position <= head => Ok(position),
        Start::Position(position) => Err(GroupError::InvalidConfig(format!(
            "start position {position} is past the head ({head})"
        ))),
        Start::Time(at) => {
            // The first event recorded at or after `at`: positions are in commit order, and so
            // in time order.
            let (mut low, mut high) = (1, head + 1);
            while low < high {
                let mid = low + (high - low) / 2;
                let slice = store
                    .read_all(
                        AllRead::after(Position::new(mid - 1))
                            .limit(1)
                            .scan_limit(1),
                    )
                    .await?;
                let recorded = slice
                    .events
                    .first()
                    .map_or(u64::MAX, |e| e.recorded_at.as_millis());
                if recorded >= at {
                    high = mid;
                } else {
                    low = mid + 1;
                }
            }
            Ok(low - 1)
        }
    }
}

/// Makes `member` leave when a poll is dropped before it returns.
struct LeaveOnDrop<'a> {
    groups: &'a Groups,
    group: String,
    member: Option<MemberId>,
}

impl Drop for LeaveOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(member) = self.member.take() {
            let _ = self.groups.send(&self.group, Request::Leave { member });
        }
    }
}

#[derive(Debug)]
struct LeaveOwned {
    groups: Groups,
    group: String,
    member: MemberId,
}

impl Drop for LeaveOwned {
    fn drop(&mut self) {
        let _ = self.groups.send(
            &self.group,
            Request::Leave {
                member: self.member.clone(),
            },
        );
    }
}

/// A member's stream of deliveries; dropping it makes the member leave.
#[derive(Debug)]
pub struct DeliveryStream {
    deliveries: mpsc::UnboundedReceiver<Delivery>,
    _leave: LeaveOwned,
}

impl DeliveryStream {
    /// The next delivery; `None` once the group is gone.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.deliveries.recv().await
    }

    /// A delivery already here, without waiting.
    pub fn try_next(&mut self) -> Option<Delivery> {
        self.deliveries.try_recv().ok()
    }
}
