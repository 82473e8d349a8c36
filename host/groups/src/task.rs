//! A group's task: one tokio task per group that owns its [`Dispatcher`] and does its I/O. It
//! reads the log into the window, loads released parked events (the replay feed), answers
//! members' polls and streams, and commits what the dispatcher settled, one commit at a time.
//!
//! An acknowledgement is applied to the window at once (so the next event of its key can go
//! out) and answered once the commit that holds it is durable. Commits are in order, so when
//! a later acknowledgement is durable every earlier one is; after a crash only deliveries
//! whose acknowledgement was not answered are made again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_store::{AllRead, EventStore, EventType, ModelAmend, ModelCommit, Position};
use tokio::sync::{mpsc, oneshot};

use crate::dispatch::{Delivery, Dispatcher, MemberKind, NackAction};
use crate::error::GroupError;
use crate::load;
use crate::name::{DeliveryId, GroupName, MemberId};
use crate::parked::{self, ParkedEntry};
use crate::rows;
use crate::status::GroupStatus;

/// Events read from the log at once.
const READ_PAGE: usize = 1_000;
/// Log positions one read examines at most, when the filter matches little.
const SCAN_PAGE: usize = 20_000;
/// Released parked events loaded at once; the feed loads more when fewer are waiting.
const FEED_PAGE: usize = 256;
/// Parked events released or discarded per commit.
const PARKED_PAGE: usize = 1_000;
/// The most members a group has at once.
pub(crate) const MAX_MEMBERS: usize = 1_000;
/// A group whose checkpoint has not moved for this long while the head is past it is stalled.
pub(crate) const STALL_AFTER: Duration = Duration::from_secs(30);

/// Which parked events a replay or a discard takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    Positions(Vec<u64>),
    First(u64),
    All,
}

type Reply<T> = oneshot::Sender<Result<T, GroupError>>;

/// What the group's handle asks of its task.
#[derive(Debug)]
pub(crate) enum Request {
    Poll {
        member: MemberId,
        max: usize,
        wait: Duration,
        reply: Reply<Vec<Delivery>>,
    },
    Stream {
        member: MemberId,
        sink: mpsc::UnboundedSender<Delivery>,
        reply: Reply<()>,
    },
    Leave {
        member: MemberId,
    },
    Ack {
        ids: Vec<DeliveryId>,
        reply: Reply<usize>,
    },
    Nack {
        ids: Vec<DeliveryId>,
        action: NackAction,
        reason: Option<String>,
        reply: Reply<usize>,
    },
    Status {
        reply: Reply<GroupStatus>,
    },
    Replay {
        selection: Selection,
        reply: Reply<u64>,
    },
    Discard {
        selection: Selection,
        reply: Reply<u64>,
    },
    Resume {
        reply: Reply<bool>,
    },
    Reset {
        to: u64,
        reply: Reply<()>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A reply to send once the commit holding its writes is durable.
type AfterCommit = Box<dyn FnOnce(Result<(), Arc<str>>) + Send + Sync>;

fn after_commit<T: Send + Sync + 'static>(reply: Reply<T>, value: T) -> AfterCommit {
    Box::new(move |committed| {
        let _ = reply.send(
            committed
                .map(|()| value)
                .map_err(|e| GroupError::Failed(e.to_string())),
        );
    })
}

struct PollWaiter {
    member: MemberId,
    max: usize,
    until: Instant,
    reply: Reply<Vec<Delivery>>,
}

pub(crate) struct GroupTask {
    name: GroupName,
    /// The group's read model, named once: every commit and read of the rows uses it.
    model: cairn_store::ReadModelName,
    store: Arc<dyn EventStore>,
    dispatcher: Dispatcher,
    polls: Vec<PollWaiter>,
    streams: Vec<(MemberId, mpsc::UnboundedSender<Delivery>)>,
    /// Replies for the writes not yet flushed.
    pending: Vec<AfterCommit>,
    /// Where the replay feed reads on, or `None` once it has found no more.
    feed_after: Option<u64>,
    /// The feed has rows to read that the last commit wrote: read them before waiting.
    feed_now: bool,
    checkpoint_moved: Instant,
    stalled: bool,
}

fn now_ms() -> u64 {
    cairn_store::Timestamp::now().as_millis()
}

fn epoch() -> u32 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Runs `read` on a view of `model` on a blocking thread.
pub(crate) async fn read_view<T: Send + 'static>(
    store: &Arc<dyn EventStore>,
    model: cairn_store::ReadModelName,
    read: impl FnOnce(&dyn cairn_store::ModelRead) -> Result<T, GroupError> + Send + 'static,
) -> Result<T, GroupError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || {
        let view = store.read_model(&model)?;
        read(view.as_ref())
    })
    .await
    .map_err(|e| GroupError::Failed(format!("a read of the group's rows failed: {e}")))?
}

impl GroupTask {
    /// Loads the group's rows and makes its task, not yet running.
    pub(crate) async fn load(
        name: GroupName,
        store: Arc<dyn EventStore>,
    ) -> Result<Self, GroupError> {
        let model = name.model();
        let loaded = read_view(&store, model.clone(), load::load).await?;
        let feed_after = loaded
            .durable
            .parked_keys
            .values()
            .any(|k| k.released > 0)
            .then_some(0);
        let dispatcher = Dispatcher::new(Arc::new(loaded.config), epoch(), loaded.durable);
        Ok(Self {
            model,
            name,
            store,
            dispatcher,
            polls: Vec::new(),
            streams: Vec::new(),
            pending: Vec::new(),
            feed_after,
            feed_now: false,
            checkpoint_moved: Instant::now(),
            stalled: false,
        })
    }

    /// Serves requests until shut down, or until a write fails (then every waiting reply is
    /// told, and the caller loads the group again from its rows).
    pub(crate) async fn run(mut self, inbox: &mut mpsc::UnboundedReceiver<Request>) -> Outcome {
        let mut head = self.store.watch_head();
        let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
        loop {
            if let Err(error) = self.fill().await {
                return self.fail(error);
            }
            self.serve_members();
            if let Err(error) = self.commit().await {
                return self.fail(error);
            }
            if std::mem::take(&mut self.feed_now) {
                continue;
            }
            let wake = self.next_wake();
            let read_to = Position::new(self.dispatcher.read_to());
            let wants_more = self.dispatcher.wants_more();
            tokio::select! {
                request = inbox.recv() => {
                    let Some(request) = request else { return Outcome::Closed };
                    match self.handle(request).await {
                        Ok(Some(reply)) => return Outcome::Shutdown(reply),
                        Ok(None) => {}
                        Err(error) => return self.fail(error),
                    }
                }
                moved = head.wait_past(read_to), if wants_more => {
                    if moved.is_err() { return Outcome::Closed }
                }
                () = sleep_until(wake) => {}
                _ = housekeeping.tick() => self.housekeeping(),
            }
            let left = self.dispatcher.tick(Instant::now(), now_ms());
            self.streams.retain(|(member, _)| !left.contains(member));
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let poll = self.polls.iter().map(|p| p.until).min();
        [poll, self.dispatcher.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn fail(mut self, error: GroupError) -> Outcome {
        let message: Arc<str> = Arc::from(error.to_string());
        tracing::error!(group = %self.name, %error, "group task failed; it starts again from its last commit");
        for reply in self.pending.drain(..) {
            reply(Err(Arc::clone(&message)));
        }
        for poll in self.polls.drain(..) {
            let _ = poll
                .reply
                .send(Err(GroupError::Failed(message.to_string())));
        }
        Outcome::Failed
    }

    /// Reads the log into the window while it has room, and the replay feed.
    async fn fill(&mut self) -> Result<(), GroupError> {
        while self.dispatcher.wants_more() && self.store.head().get() > self.dispatcher.read_to() {
            let read = self.log_read();
            let slice = self.store.read_all(read).await?;
            let now = now_ms();
            for event in slice.events {
                self.dispatcher.push_live(event, now);
            }
            self.dispatcher.scanned_to(slice.scanned_to.get());
            if slice.scanned_to.get() >= slice.head.get() {
                break;
            }
        }
        self.feed().await
    }

    /// The read of the log after the window, with the filter pushed down where the store can
    /// take it (one category, one type).
    fn log_read(&self) -> AllRead {
        let filter = &self.dispatcher.config().filter;
        let mut read = AllRead::after(Position::new(self.dispatcher.read_to()))
            .limit(READ_PAGE)
            .scan_limit(SCAN_PAGE);
        if let [category] = filter.categories.as_slice() {
            read = read.category(category.clone());
        }
        if let [event_type] = filter.types.as_slice()
            && let Ok(event_type) = EventType::new(event_type)
        {
            read = read.event_type(event_type);
        }
        read
    }

    /// Loads released parked events while few are waiting.
    async fn feed(&mut self) -> Result<(), GroupError> {
        let Some(after) = self.feed_after else {
            return Ok(());
        };
        if self.dispatcher.replays_loaded() >= FEED_PAGE / 2 {
            return Ok(());
        }
        let entries = read_view(&self.store, self.model.clone(), move |view| {
            let positions = load::released_after(view, after, FEED_PAGE)?;
            positions
                .into_iter()
                .map(|position| {
                    load::parked_entry(view, position)?.ok_or_else(|| {
                        GroupError::Storage(cairn_store::StorageError::Corrupt(format!(
                            "group rows: an r row at {position} without its p row"
                        )))
                    })
                })
                .collect::<Result<Vec<ParkedEntry>, GroupError>>()
        })
        .await?;
        self.feed_after = entries.last().map(|e| e.position);
        for parked in entries {
            if self.dispatcher.has_replay(parked.position) {
                continue;
            }
            let event = self.event_at(&parked).await?;
            self.dispatcher.push_replay(event, parked);
        }
        Ok(())
    }

    /// The stored event a parked entry names.
    async fn event_at(
        &self,
        parked: &ParkedEntry,
    ) -> Result<cairn_store::RecordedEvent, GroupError> {
        let read = AllRead::after(Position::new(parked.position - 1))
            .limit(1)
            .scan_limit(1);
        let slice = self.store.read_all(read).await?;
        slice
            .events
            .into_iter()
            .next()
            .filter(|event| event.position.get() == parked.position)
            .ok_or_else(|| {
                GroupError::Storage(cairn_store::StorageError::Corrupt(format!(
                    "a parked event at {} is not in the log",
                    parked.position
                )))
            })
    }

    /// Gives deliveries to waiting polls and open streams.
    fn serve_members(&mut self) {
        let now = Instant::now();
        let mut waiting = Vec::new();
        let mut gone = Vec::new();
        for poll in std::mem::take(&mut self.polls) {
            if poll.reply.is_closed() {
                gone.push(poll.member);
                continue;
            }
            if self.dispatcher.has_ready_for(&poll.member) {
                let deliveries = self.dispatcher.take(&poll.member, poll.max, now);
                if poll.reply.send(Ok(deliveries)).is_err() {
                    gone.push(poll.member.clone());
                }
                self.dispatcher.polling(&poll.member, false, now);
            } else if poll.until <= now {
                let _ = poll.reply.send(Ok(Vec::new()));
                self.dispatcher.polling(&poll.member, false, now);
            } else {
                waiting.push(poll);
            }
        }
        self.polls = waiting;
        for (member, sink) in &self.streams {
            if sink.is_closed() {
                gone.push(member.clone());
                continue;
            }
            'taking: while self.dispatcher.has_ready_for(member) {
                for delivery in self.dispatcher.take(member, FEED_PAGE, now) {
                    if sink.send(delivery).is_err() {
                        // Closed since: it leaves below, and what it took goes back.
                        gone.push(member.clone());
                        break 'taking;
                    }
                }
            }
        }
        for member in gone {
            self.leave(&member);
        }
    }

    fn leave(&mut self, member: &MemberId) {
        self.streams.retain(|(m, _)| m != member);
        self.polls.retain(|p| p.member != *member);
        self.dispatcher.leave(member);
    }

    /// Commits what the dispatcher settled, if anything, and answers the replies waiting on
    /// it.
    async fn commit(&mut self) -> Result<(), GroupError> {
        let unrelease = self.dispatcher.take_unrelease();
        if !unrelease.is_empty() {
            let deletes = read_view(&self.store, self.model.clone(), move |view| {
                let mut deletes = Vec::new();
                for (key, position) in unrelease {
                    let mut after = Some(position);
                    loop {
                        let page = parked::positions_of_key(view, &key, after, PARKED_PAGE)?;
                        deletes.extend(page.iter().map(|p| cairn_store::ModelWrite::Delete {
                            key: rows::released(*p),
                        }));
                        if page.len() < PARKED_PAGE {
                            break;
                        }
                        after = page.last().copied();
                    }
                }
                Ok(deletes)
            })
            .await?;
            self.dispatcher.push_writes(deletes);
        }
        if self.dispatcher.take_auto_released() {
            self.feed_after.get_or_insert(0);
            self.feed_now = true;
        }
        let Some(flush) = self.dispatcher.flush() else {
            for reply in self.pending.drain(..) {
                reply(Ok(()));
            }
            return Ok(());
        };
        let model = self.model.clone();
        match flush.checkpoint {
            Some(checkpoint) => {
                self.store
                    .commit_model(ModelCommit {
                        model,
                        writes: flush.writes.into(),
                        checkpoint: Position::new(checkpoint),
                    })
                    .await?;
                self.checkpoint_moved = Instant::now();
            }
            None => {
                self.store
                    .amend_model(ModelAmend {
                        model,
                        writes: flush.writes,
                    })
                    .await?;
            }
        }
        for reply in self.pending.drain(..) {
            reply(Ok(()));
        }
        Ok(())
    }

    /// Handles one request. Returns the reply of a shutdown.
    async fn handle(
        &mut self,
        request: Request,
    ) -> Result<Option<oneshot::Sender<()>>, GroupError> {
        let now = Instant::now();
        match request {
            Request::Poll {
                member,
                max,
                wait,
                reply,
            } => {
                if self.dispatcher.member_kind(&member) == Some(MemberKind::Stream) {
                    let _ = reply.send(Err(GroupError::BadRequest(format!(
                        "member {member} holds a stream of deliveries; a member either polls or streams"
                    ))));
                    return Ok(None);
                }
                if let Err(error) = self.room_for(&member) {
                    let _ = reply.send(Err(error));
                    return Ok(None);
                }
                self.dispatcher.join(&member, MemberKind::Poll, now);
                self.dispatcher.polling(&member, true, now);
                self.polls.push(PollWaiter {
                    member,
                    max,
                    until: now + wait,
                    reply,
                });
            }
            Request::Stream {
                member,
                sink,
                reply,
            } => {
                if self.dispatcher.is_member(&member) {
                    let _ = reply.send(Err(GroupError::BadRequest(format!(
                        "member {member} is connected already"
                    ))));
                    return Ok(None);
                }
                if let Err(error) = self.room_for(&member) {
                    let _ = reply.send(Err(error));
                    return Ok(None);
                }
                self.dispatcher.join(&member, MemberKind::Stream, now);
                self.streams.push((member, sink));
                let _ = reply.send(Ok(()));
            }
            Request::Leave { member } => self.leave(&member),
            Request::Ack { ids, reply } => match self.dispatcher.ack(&ids) {
                Ok(count) => self.pending.push(after_commit(reply, count)),
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
            Request::Nack {
                ids,
                action,
                reason,
                reply,
            } => match self.dispatcher.nack(&ids, action, reason, now, now_ms()) {
                Ok(count) => self.pending.push(after_commit(reply, count)),
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
            Request::Status { reply } => {
                let status = self.status().await;
                let _ = reply.send(status);
            }
            Request::Replay { selection, reply } => {
                let result = self.replay(selection).await;
                self.answer_after_commit(reply, result);
            }
            Request::Discard { selection, reply } => {
                let result = self.discard(selection).await;
                self.answer_after_commit(reply, result);
            }
            Request::Resume { reply } => {
                let resumed = self.dispatcher.resume();
                self.pending.push(after_commit(reply, resumed));
            }
            Request::Reset { to, reply } => {
                let result = self.reset(to).await;
                let _ = reply.send(result);
            }
            Request::Shutdown { reply } => {
                self.commit().await?;
                return Ok(Some(reply));
            }
        }
        Ok(None)
    }

    /// Whether `member` may join: a group holds at most [`MAX_MEMBERS`], so that a client
    /// inventing ids cannot make every key's placement cost more and more.
    fn room_for(&self, member: &MemberId) -> Result<(), GroupError> {
        if self.dispatcher.is_member(member) || self.dispatcher.member_count() < MAX_MEMBERS {
            return Ok(());
        }
        Err(GroupError::BadRequest(format!(
            "the group has {MAX_MEMBERS} members, the most it takes; {member} cannot join (a polling member leaves after member_timeout_ms without a poll)"
        )))
    }

    fn answer_after_commit<T: Send + Sync + 'static>(
        &mut self,
        reply: Reply<T>,
        result: Result<T, GroupError>,
    ) {
        match result {
            Ok(value) => self.pending.push(after_commit(reply, value)),
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }

    /// Releases parked events for replay. A chosen event that waits behind an unreleased one
    /// of its key is refused, naming it; all or none are released.
    async fn replay(&mut self, selection: Selection) -> Result<u64, GroupError> {
        let mut released = 0;
        let mut after = 0;
        loop {
            let selection_now = remaining(&selection, released);
            let page = read_view(&self.store, self.model.clone(), move |view| {
                pick(view, &selection_now, after, true)
            })
            .await?;
            let last = page.last().map(|e| e.position);
            let mut by_key: std::collections::HashMap<String, u64> = Default::default();
            let mut writes = Vec::new();
            for entry in &page {
                *by_key.entry(entry.key.clone()).or_default() += 1;
                writes.push(cairn_store::ModelWrite::Put {
                    key: rows::released(entry.position),
                    value: Vec::new(),
                });
            }
            released += page.len() as u64;
            self.dispatcher.push_writes(writes);
            for (key, count) in by_key {
                self.dispatcher.released(&key, count);
            }
            if matches!(selection, Selection::Positions(_)) || page.len() < PARKED_PAGE {
                break;
            }
            if let Selection::First(n) = selection
                && released >= n
            {
                break;
            }
            self.commit().await?;
            after = last.unwrap_or(after);
        }
        // The feed reads what is committed.
        self.commit().await?;
        self.feed_after = Some(0);
        self.feed_now = true;
        Ok(released)
    }

    /// Discards parked events: their rows go, and so does any replay of them in flight.
    async fn discard(&mut self, selection: Selection) -> Result<u64, GroupError> {
        let mut discarded = 0;
        loop {
            let selection_now = remaining(&selection, discarded);
            let page = read_view(&self.store, self.model.clone(), move |view| {
                pick(view, &selection_now, 0, false)
            })
            .await?;
            for entry in &page {
                self.dispatcher.discard(entry);
            }
            discarded += page.len() as u64;
            let done = matches!(selection, Selection::Positions(_))
                || page.len() < PARKED_PAGE
                || matches!(selection, Selection::First(n) if discarded >= n);
            if done {
                return Ok(discarded);
            }
            // Each page is committed before the next is read, which then starts at the front.
            self.commit().await?;
        }
    }

    /// Starts the group again after `to`: every acknowledgement, parked event and delivery in
    /// flight is dropped, and the members stay.
    async fn reset(&mut self, to: u64) -> Result<(), GroupError> {
        self.commit().await?;
        let config = self.dispatcher.config().clone();
        self.store
            .replace_model(ModelCommit {
                model: self.model.clone(),
                writes: vec![cairn_store::ModelWrite::Put {
                    key: rows::CONFIG.to_vec(),
                    value: rows::config_row(&config),
                }]
                .into(),
                checkpoint: Position::new(to),
            })
            .await?;
        let members: Vec<(MemberId, MemberKind)> = self
            .dispatcher
            .member_statuses()
            .into_iter()
            .filter_map(|m| {
                let kind = self.dispatcher.member_kind(&m.member)?;
                Some((m.member, kind))
            })
            .collect();
        self.dispatcher = Dispatcher::new(
            Arc::new(config),
            epoch(),
            crate::dispatch::Durable {
                checkpoint: to,
                ..Default::default()
            },
        );
        let now = Instant::now();
        for (member, kind) in members {
            self.dispatcher.join(&member, kind, now);
        }
        for poll in &self.polls {
            self.dispatcher.polling(&poll.member, true, now);
        }
        self.feed_after = None;
        self.checkpoint_moved = now;
        Ok(())
    }

    async fn status(&mut self) -> Result<GroupStatus, GroupError> {
        let oldest_parked_at = if self.dispatcher.parked_total() > 0 {
            read_view(&self.store, self.model.clone(), |view| {
                Ok(load::parked_page(view, 0, 1)?
                    .first()
                    .map(|e| e.first_parked_at))
            })
            .await?
        } else {
            None
        };
        let head = self.store.head().get();
        Ok(GroupStatus {
            name: self.name.clone(),
            config: self.dispatcher.config().clone(),
            state: if self.dispatcher.stopped().is_some() {
                "stopped"
            } else if self.dispatcher.checkpoint() >= head {
                "live"
            } else {
                "catching_up"
            },
            stopped: self.dispatcher.stopped().cloned(),
            checkpoint: self.dispatcher.checkpoint(),
            read_to: self.dispatcher.read_to(),
            head,
            lag: head.saturating_sub(self.dispatcher.checkpoint()),
            in_flight: self.dispatcher.in_flight(),
            waiting: self.dispatcher.waiting(),
            parked: self.dispatcher.parked_total(),
            oldest_parked_age_ms: oldest_parked_at.map(|at| now_ms().saturating_sub(at)),
            members: self.dispatcher.member_statuses(),
            counts: self.dispatcher.counts,
            stalled: self.stalled,
        })
    }

    /// Each second: the stall alarm and the gauges.
    fn housekeeping(&mut self) {
        let head = self.store.head().get();
        let behind = head > self.dispatcher.checkpoint();
        if !behind {
            self.checkpoint_moved = Instant::now();
        }
        let stalled = behind && self.checkpoint_moved.elapsed() >= STALL_AFTER;
        if stalled && !self.stalled {
            tracing::warn!(
                group = %self.name,
                checkpoint = self.dispatcher.checkpoint(),
                head,
                "group stalled: the head moves and its checkpoint does not"
            );
        }
        self.stalled = stalled;
        let group = self.name.to_string();
        metrics::gauge!("cairn_group_lag", "group" => group.clone())
            .set(head.saturating_sub(self.dispatcher.checkpoint()) as f64);
        metrics::gauge!("cairn_group_in_flight", "group" => group.clone())
            .set(self.dispatcher.in_flight() as f64);
        metrics::gauge!("cairn_group_parked", "group" => group.clone())
            .set(self.dispatcher.parked_total() as f64);
        metrics::gauge!("cairn_group_stalled", "group" => group).set(if stalled {
            1.0
        } else {
            0.0
        });
    }
}

/// What is left of `selection` after `done` events.
fn remaining(selection: &Selection, done: u64) -> Selection {
    match selection {
        Selection::First(n) => Selection::First(n.saturating_sub(done)),
        other => other.clone(),
    }
}

/// Up to a page of parked events a selection takes, after `after`. For a replay (`release`),
/// those already released are passed over, and a chosen position that waits behind an
/// unreleased, unchosen one of its key fails the whole selection.
fn pick(
    view: &dyn cairn_store::ModelRead,
    selection: &Selection,
    after: u64,
    release: bool,
) -> Result<Vec<ParkedEntry>, GroupError> {
    match selection {
        Selection::Positions(positions) => {
            let mut chosen = Vec::new();
            for &position in positions {
                let entry =
                    load::parked_entry(view, position)?.ok_or(GroupError::NotParked(position))?;
                if release && !entry.held.released {
                    let before = parked::positions_of_key(view, &entry.key, None, PARKED_PAGE)?;
                    for earlier in before.into_iter().take_while(|p| *p < position) {
                        let ok = positions.contains(&earlier)
                            || view.get(&rows::released(earlier))?.is_some();
                        if !ok {
                            return Err(GroupError::Behind {
                                position,
                                first: earlier,
                            });
                        }
                    }
                }
                if !(release && entry.held.released) {
                    chosen.push(entry);
                }
            }
            chosen.sort_by_key(|e| e.position);
            chosen.dedup_by_key(|e| e.position);
            Ok(chosen)
        }
        Selection::First(_) | Selection::All => {
            let limit = match selection {
                Selection::First(n) => (*n).min(PARKED_PAGE as u64) as usize,
                _ => PARKED_PAGE,
            };
            let mut chosen = Vec::new();
            let mut from = after;
            while chosen.len() < limit {
                let page = load::parked_page(view, from, PARKED_PAGE)?;
                let Some(last) = page.last().map(|e| e.position) else {
                    break;
                };
                chosen.extend(page.into_iter().filter(|e| !(release && e.held.released)));
                from = last;
            }
            chosen.truncate(limit);
            Ok(chosen)
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// How a task's run ended.
pub(crate) enum Outcome {
    Shutdown(oneshot::Sender<()>),
    Closed,
    Failed,
}
