//! [`Aggregates`]: the command path.
//!
//! 1. Load the state: a cached state if this module version has one, else the latest snapshot
//!    for the module's hash, then the events after it, folded in batches.
//! 2. Call `decide`. A rejection, or a decision with no events, made on a cached state is
//!    made again on the stored state before it is answered: no append would catch it stale.
//! 3. Append the new events at the loaded version, with provenance in their metadata.
//! 4. On a conflict, load again and retry, a bounded number of times.
//!
//! Commands on one stream take turns within this host ([`StreamTurns`]), so they never race
//! each other; a conflict comes only from a writer this host does not order (a direct append,
//! another host), and the retries are for those.
//!
//! Alongside: a snapshot every `snapshot_every` events (when a command crosses a multiple of
//! it, or a load folds at least that many events), an LRU cache of hot states
//! (`state_cache.rs`), and commands idempotent by key (the key is recorded atomically with the
//! events). A command answers once its events are durable; folding them into the cached state
//! and the snapshot come after, on a task that holds the stream's turn until the state is cached.
//!
//! Event ids are derived from the command id and its time, so the attempts of one command
//! (retries after a conflict) carry the same ids: one that decides the same events is
//! recognised by the store, and one that decides different events collides with the stored
//! ids and is refused. A keyed command is recognised by its key, recorded with its events.

use std::num::NonZeroUsize;
use std::sync::Arc;

use cairn_store::{
    AppendError, AppendOutcome, EventId, EventStore, ExpectedVersion, IdempotencyKey, Json,
    ModuleName, NameError, NewEvent, Position, RecordedEvent, Snapshot, SnapshotKey, StreamId,
    StreamRead, Timestamp, Version,
};
use sha2::{Digest, Sha256};

use crate::aggregate::{Decision, LoadedAggregate};
use crate::error::{CallError, CommandError};
use crate::registry::Registry;
use crate::sandbox::CallInput;
use crate::state_cache::{Loaded, StateCache};
use crate::stream_turns::{StreamTurns, Turn};

/// How the command path behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandConfig {
    /// Take a snapshot when a command moves a stream past a multiple of this many events.
    pub snapshot_every: u64,
    /// How many times a command is tried again after losing a race.
    pub max_retries: u32,
    /// How many events one `evolve` call folds.
    pub fold_batch: usize,
    /// How many aggregate states the cache keeps.
    pub cache_entries: NonZeroUsize,
}

impl Default for CommandConfig {
    fn default() -> Self {
        Self {
            snapshot_every: 100,
            max_retries: 16,
            fold_batch: 1_000,
            cache_entries: NonZeroUsize::new(10_000).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// A command for an aggregate.
#[derive(Clone, Debug)]
pub struct Command {
    /// The command's type name, such as `Withdraw`.
    pub command_type: String,
    /// Its payload.
    pub data: Json,
    /// If given, the aggregate must be at exactly this version, or the command is a conflict.
    pub expected_version: Option<Version>,
    /// If given, a retry with the same key gets the original result.
    pub idempotency_key: Option<IdempotencyKey>,
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutcome {
    pub stream: StreamId,
    /// The aggregate's version after the command.
    pub version: Version,
    /// The events the command appended (none if it changed nothing).
    pub events: Vec<RecordedEvent>,
}

/// An aggregate's current state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateState {
    pub stream: StreamId,
    pub version: Version,
    pub state: Json,
}

/// Whether a load may use a cached state as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Freshness {
    TrustCache,
    Read,
}

/// Runs commands against aggregate modules.
pub struct Aggregates {
    registry: Arc<Registry>,
    store: Arc<dyn EventStore>,
    config: CommandConfig,
    cache: StateCache,
    /// Commands on one stream run one at a time, in arrival order.
    turns: Arc<StreamTurns>,
}

impl std::fmt::Debug for Aggregates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregates")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Aggregates {
    pub fn new(registry: Arc<Registry>, store: Arc<dyn EventStore>, config: CommandConfig) -> Self {
        Self {
            registry,
            store,
            cache: StateCache::new(config.cache_entries),
            config,
            turns: Arc::default(),
        }
    }

    /// Waits until the work commands left running after they answered (caching their states,
    /// taking snapshots) has finished. Call it before closing the store.
    pub async fn settle(&self) {
        self.cache.settle().await;
    }

    /// The registry whose modules this runs.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The stream of aggregate `id` of module `module`: `{module}-{id}`, exactly the category
    /// `module` ([`StreamId::of_aggregate`]).
    pub fn stream_of(module: &str, id: &str) -> Result<StreamId, NameError> {
        StreamId::of_aggregate(&ModuleName::new(module)?, id)
    }

    /// Runs `command` against aggregate `id` of module `module`.
    pub async fn execute(
        &self,
        module: &str,
        id: &str,
        command: Command,
    ) -> Result<CommandOutcome, CommandError> {
        let aggregate = self.module(module)?;
        let stream = Self::stream_of(module, id).map_err(CommandError::InvalidId)?;
        let turn = self.turns.take(&stream).await;
        if let Some(key) = &command.idempotency_key
            && let Some(outcome) = self
                .store
                .keyed_outcome(stream.clone(), key.clone())
                .await?
        {
            let events = self
                .read_range(&stream, outcome.first_version, outcome.last_version)
                .await?;
            return Ok(CommandOutcome {
                stream,
                version: outcome.last_version,
                events,
            });
        }
        let command_id = command_id(&stream, &command.idempotency_key);
        let time = Timestamp::now();
        let input = CallInput {
            time_ms: time.as_millis(),
            seed: Sha256::digest(command_id.as_bytes()).into(),
        };
        let mut attempt = 0;
        // A caller's expected version is checked against what is stored, not the cache.
        let mut freshness = match command.expected_version {
            None => Freshness::TrustCache,
            Some(_) => Freshness::Read,
        };
        loop {
            let loaded = self.load(&aggregate, &stream, freshness).await?;
            if let Some(expected) = command.expected_version
                && expected != loaded.version
            {
                return Err(CommandError::Conflict(AppendError::WrongExpectedVersion {
                    stream,
                    expected: ExpectedVersion::Exact(expected),
                    actual: loaded.version,
                }));
            }
            let decision = aggregate
                .decide(
                    loaded.state.clone(),
                    command.command_type.clone(),
                    command.data.as_str().to_owned(),
                    input,
                )
                .await?;
            // A decision that appends nothing is answered without an append that would catch
            // a stale cached state: read what came after it and decide again first.
            let appends_nothing = match &decision {
                Decision::Events(events) => events.is_empty(),
                Decision::Rejected(_) => true,
                Decision::Invalid(_) => false,
            };
            if appends_nothing && freshness == Freshness::TrustCache {
                freshness = Freshness::Read;
                continue;
            }
            let decided = match decision {
                Decision::Events(events) => events,
                Decision::Rejected(message) => return Err(CommandError::Rejected(message)),
                Decision::Invalid(message) => return Err(CommandError::InvalidCommand(message)),
            };
            if decided.is_empty() {
                return Ok(CommandOutcome {
                    stream,
                    version: loaded.version,
                    events: Vec::new(),
                });
            }
            let metadata = provenance(&command_id, &aggregate, time)?;
            let events: Vec<NewEvent> = decided
                .into_iter()
                .enumerate()
                .map(|(index, e)| {
                    NewEvent::new(e.event_type, e.data)
                        .with_id(event_id(&command_id, time, index))
                        .with_metadata(metadata.clone())
                })
                .collect();
            let expected = ExpectedVersion::Exact(loaded.version);
            let appended = match &command.idempotency_key {
                Some(key) => {
                    self.store
                        .append_keyed(stream.clone(), expected, events.clone(), key.clone())
                        .await
                }
                None => {
                    self.store
                        .append(stream.clone(), expected, events.clone())
                        .await
                }
            };
            match appended {
                Ok(outcome) => {
                    let ours = outcome.first_version.get() == loaded.version.get() + 1
                        && outcome.last_version.get() - outcome.first_version.get() + 1
                            == events.len() as u64
                        && outcome.first_position.get() + events.len() as u64 - 1
                            == outcome.last_position.get();
                    let recorded = if ours {
                        recorded_from(&stream, events, &outcome)
                    } else {
                        // An earlier append with these ids or this key was recognised.
                        self.read_range(&stream, outcome.first_version, outcome.last_version)
                            .await?
                    };
                    self.remember(turn, &aggregate, &stream, loaded, &recorded);
                    return Ok(CommandOutcome {
                        stream,
                        version: outcome.last_version,
                        events: recorded,
                    });
                }
                Err(AppendError::WrongExpectedVersion { .. })
                    if attempt < self.config.max_retries =>
                {
                    attempt += 1;
                    freshness = Freshness::Read;
                    self.cache.forget(aggregate.hash(), &stream);
                }
                Err(
                    error @ (AppendError::WrongExpectedVersion { .. }
                    | AppendError::IdempotencyConflict { .. }
                    | AppendError::EventIdReused { .. }),
                ) => {
                    self.cache.forget(aggregate.hash(), &stream);
                    return Err(CommandError::Conflict(error));
                }
                Err(AppendError::Storage(error)) => return Err(CommandError::Storage(error)),
                Err(other) => {
                    return Err(CommandError::Module(CallError::BadOutput {
                        message: other.to_string(),
                    }));
                }
            }
        }
    }

    /// The current state of aggregate `id` of module `module`, as JSON.
    pub async fn state(&self, module: &str, id: &str) -> Result<AggregateState, CommandError> {
        let aggregate = self.module(module)?;
        let stream = Self::stream_of(module, id).map_err(CommandError::InvalidId)?;
        let loaded = self.load(&aggregate, &stream, Freshness::Read).await?;
        let input = CallInput {
            time_ms: loaded.last_time.as_millis(),
            seed: [0; 32],
        };
        let state = aggregate.state_json(loaded.state, input).await?;
        Ok(AggregateState {
            stream,
            version: loaded.version,
            state,
        })
    }

    /// Loads aggregate `id` of module `module` (from the cache, a snapshot and the events after
    /// it) and returns the version it is at.
    pub async fn version(&self, module: &str, id: &str) -> Result<Version, CommandError> {
        let aggregate = self.module(module)?;
        let stream = Self::stream_of(module, id).map_err(CommandError::InvalidId)?;
        Ok(self
            .load(&aggregate, &stream, Freshness::Read)
            .await?
            .version)
    }

    fn module(&self, name: &str) -> Result<Arc<LoadedAggregate>, CommandError> {
        self.registry
            .aggregate(name)
            .ok_or_else(|| CommandError::UnknownModule(name.to_owned()))
    }

    /// Loads the state: cached, else from the snapshot for this module version, then folding
    /// whatever came after. A command trusts a cached state without reading the stream (a stale
    /// one makes its append conflict, and the retry loads afresh; a rejection or a decision
    /// with no events, which append nothing, is decided again on a read state before it is
    /// answered); `Freshness::Read` always reads what came after.
    async fn load(
        &self,
        aggregate: &Arc<LoadedAggregate>,
        stream: &StreamId,
        freshness: Freshness,
    ) -> Result<Loaded, CommandError> {
        let cached = self.cache.get(aggregate.hash(), stream);
        if let (Some(loaded), Freshness::TrustCache) = (&cached, freshness) {
            return Ok(loaded.clone());
        }
        let mut loaded = match cached {
            Some(loaded) => loaded,
            None => self.load_snapshot(aggregate, stream).await?,
        };
        let start = loaded.version;
        loop {
            let from = Version::new(loaded.version.get() + 1);
            let read = StreamRead::forward()
                .from(from)
                .limit(self.config.fold_batch);
            let slice = self.store.read_stream(stream.clone(), read).await?;
            let Some(last) = slice.events.last() else {
                break;
            };
            let (version, time) = (last.version, last.recorded_at);
            loaded.state = fold(aggregate, loaded.state, &slice.events).await?;
            loaded.version = version;
            loaded.last_time = time;
        }
        // A load that folded more than a snapshot's worth leaves a snapshot behind.
        if loaded.version.get() - start.get() >= self.config.snapshot_every.max(1) {
            take_snapshot(&*self.store, aggregate, stream, &loaded).await;
        }
        self.cache.put(aggregate.hash(), stream, loaded.clone());
        Ok(loaded)
    }

    async fn load_snapshot(
        &self,
        aggregate: &Arc<LoadedAggregate>,
        stream: &StreamId,
    ) -> Result<Loaded, CommandError> {
        let key = snapshot_key(aggregate);
        if let Some(snapshot) = self.store.get_snapshot(stream.clone(), key).await? {
            return Ok(Loaded {
                version: snapshot.version,
                state: snapshot.state,
                last_time: Timestamp::from_millis(0),
            });
        }
        Ok(Loaded {
            version: Version::NONE,
            state: aggregate.initial_state().await?,
            last_time: Timestamp::from_millis(0),
        })
    }

    /// Folds a command's own events into the state it was decided on, caches the result, and
    /// snapshots it if the stream crossed a multiple of `snapshot_every`: on a task of the
    /// cache's, which holds the command's `turn` until the new state is cached
    /// (`state_cache.rs`).
    fn remember(
        &self,
        turn: Turn,
        aggregate: &Arc<LoadedAggregate>,
        stream: &StreamId,
        before: Loaded,
        events: &[RecordedEvent],
    ) {
        let Some(last) = events.last() else { return };
        if events.first().map(|e| e.version.get()) != Some(before.version.get() + 1) {
            // Not contiguous with what was loaded (an idempotent replay): load afresh next time.
            self.cache.forget(aggregate.hash(), stream);
            return;
        }
        let (batch, input) = fold_input(events, last);
        let every = self.config.snapshot_every.max(1);
        let snapshot_due = before.version.get() / every != last.version.get() / every;
        let (version, last_time) = (last.version, last.recorded_at);
        let (cache, store) = (self.cache.clone(), Arc::clone(&self.store));
        let (aggregate, stream) = (Arc::clone(aggregate), stream.clone());
        self.cache.in_background(async move {
            let state = match aggregate.evolve(before.state, batch, input).await {
                Ok(state) => state,
                // The command has its answer either way; the next one loads from the store.
                Err(error @ CallError::HostBackstop { .. }) => {
                    // The host was too busy to fold in time: not a fault of the fold.
                    tracing::debug!(module = %aggregate.name(), %stream, %error, "a command's own events were not folded into the cache");
                    cache.forget(aggregate.hash(), &stream);
                    return;
                }
                Err(error) => {
                    tracing::warn!(module = %aggregate.name(), %stream, %error, "folding a command's own events failed");
                    cache.forget(aggregate.hash(), &stream);
                    return;
                }
            };
            let after = Loaded {
                version,
                state,
                last_time,
            };
            let snapshot = snapshot_due.then(|| after.clone());
            cache.put(aggregate.hash(), &stream, after);
            // The state is cached: the next command on the stream need not wait for the snapshot.
            drop(turn);
            if let Some(snapshot) = snapshot {
                take_snapshot(&*store, &aggregate, &stream, &snapshot).await;
            }
        });
    }

    async fn read_range(
        &self,
        stream: &StreamId,
        first: Version,
        last: Version,
    ) -> Result<Vec<RecordedEvent>, CommandError> {
        // Page by the store's byte budget: one read stops at it, never before its first event.
        let mut events = Vec::new();
        let mut from = first;
        while from <= last {
            let count = usize::try_from(last.get() + 1 - from.get()).unwrap_or(usize::MAX);
            let read = StreamRead::forward().from(from).limit(count);
            let slice = self.store.read_stream(stream.clone(), read).await?;
            let Some(next) = slice.events.last().map(|e| e.version.get() + 1) else {
                break;
            };
            events.extend(slice.events);
            from = Version::new(next);
        }
        Ok(events)
    }
}

/// The events of `outcome` as stored: each append's events take consecutive versions and
/// positions, recorded at one time.
fn recorded_from(
    stream: &StreamId,
    events: Vec<NewEvent>,
    outcome: &AppendOutcome,
) -> Vec<RecordedEvent> {
    events
        .into_iter()
        .zip(0u64..)
        .map(|(event, offset)| RecordedEvent {
            id: event.id,
            stream: stream.clone(),
            version: Version::new(outcome.first_version.get() + offset),
            position: Position::new(outcome.first_position.get() + offset),
            event_type: event.event_type,
            data: event.data,
            metadata: event.metadata,
            recorded_at: outcome.recorded_at,
        })
        .collect()
}

/// Folds `events` into `state`.
async fn fold(
    aggregate: &Arc<LoadedAggregate>,
    state: Vec<u8>,
    events: &[RecordedEvent],
) -> Result<Vec<u8>, CallError> {
    let Some(last) = events.last() else {
        return Ok(state);
    };
    let (batch, input) = fold_input(events, last);
    aggregate.evolve(state, batch, input).await
}

/// What `evolve` is given to fold `events`, which end with `last`: their types and data, and a
/// clock that reads the last event's time and randomness seeded from the last event's id, so a
/// replay folds identically.
fn fold_input(
    events: &[RecordedEvent],
    last: &RecordedEvent,
) -> (Vec<(String, String)>, CallInput) {
    let input = CallInput {
        time_ms: last.recorded_at.as_millis(),
        seed: Sha256::digest(last.id.as_uuid().as_bytes()).into(),
    };
    let batch = events
        .iter()
        .map(|e| (e.event_type.as_str().to_owned(), e.data.as_str().to_owned()))
        .collect();
    (batch, input)
}

async fn take_snapshot(
    store: &dyn EventStore,
    aggregate: &Arc<LoadedAggregate>,
    stream: &StreamId,
    loaded: &Loaded,
) {
    let snapshot = Snapshot {
        version: loaded.version,
        state: loaded.state.clone(),
    };
    let key = snapshot_key(aggregate);
    if let Err(error) = store.put_snapshot(stream.clone(), key, snapshot).await {
        tracing::warn!(%stream, %error, "taking a snapshot failed");
    }
}

/// The snapshot key: the module's hash.
fn snapshot_key(aggregate: &Arc<LoadedAggregate>) -> SnapshotKey {
    // A hex digest is always a valid key.
    SnapshotKey::new(aggregate.hash().as_str())
        .unwrap_or_else(|_| unreachable!("hex digests are valid keys"))
}

/// The command's id: derived from its idempotency key and its stream if it has a key, so
/// retries share it. A key is scoped to the aggregate it is sent to: the same key sent to two
/// aggregates names two commands, with two ids and so events with different ids, whenever they
/// are sent.
fn command_id(stream: &StreamId, key: &Option<IdempotencyKey>) -> uuid::Uuid {
    match key {
        Some(key) => {
            let mut hasher = Sha256::new();
            // The stream's length first, so no (stream, key) pair spells another's bytes.
            hasher.update((stream.as_str().len() as u64).to_le_bytes());
            hasher.update(stream.as_str().as_bytes());
            hasher.update(key.as_str().as_bytes());
            uuid_from_digest(hasher.finalize().into())
        }
        None => uuid::Uuid::now_v7(),
    }
}

/// Event `index` of command `command_id`, decided at `time`.
///
/// The first 48 bits are the command's time in milliseconds, as in a UUIDv7, so the ids of new
/// events sort by time: the store's index of event ids then grows at its end instead of
/// dirtying a random page for every event. The other bits come from the command id and the
/// index, so every attempt of one command (its retries after a conflict) has the same ids.
fn event_id(command_id: &uuid::Uuid, time: Timestamp, index: usize) -> EventId {
    let mut hasher = Sha256::new();
    hasher.update(command_id.as_bytes());
    hasher.update((index as u64).to_le_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let mut bytes = [0; 16];
    bytes[..6].copy_from_slice(&time.as_millis().to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&digest[..10]);
    EventId::from(uuid::Uuid::new_v8(bytes))
}

/// A UUIDv8 made of the first half of a sha256 digest.
fn uuid_from_digest(digest: [u8; 32]) -> uuid::Uuid {
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes)
}

/// Where an event came from, so it can be re-executed: the command id, the module's name and
/// hash, and the command's time.
fn provenance(
    command_id: &uuid::Uuid,
    aggregate: &Arc<LoadedAggregate>,
    time: Timestamp,
) -> Result<Json, CommandError> {
    let value = serde_json::json!({
        "command_id": command_id.to_string(),
        "module": aggregate.name().as_str(),
        "module_hash": aggregate.hash().as_str(),
        "command_time": time.as_millis(),
    });
    Json::from_value(&value).map_err(|e| {
        CommandError::Module(CallError::BadOutput {
            message: e.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_one_command_per_stream() {
        let key = Some(IdempotencyKey::new("order-7").expect("a key"));
        let (a, b) = (
            StreamId::new("bank-a").expect("a stream"),
            StreamId::new("bank-b").expect("a stream"),
        );
        assert_eq!(command_id(&a, &key), command_id(&a, &key));
        assert_ne!(command_id(&a, &key), command_id(&b, &key));
        let at = Timestamp::from_millis(1_795_000_000_000);
        assert_ne!(
            event_id(&command_id(&a, &key), at, 0),
            event_id(&command_id(&b, &key), at, 0),
            "the same key on two aggregates in the same millisecond gave one event id"
        );
        // No pair of stream and key spells another pair's bytes.
        let split = |stream: &str, key: &str| {
            command_id(
                &StreamId::new(stream).expect("a stream"),
                &Some(IdempotencyKey::new(key).expect("a key")),
            )
        };
        assert_ne!(split("ab", "c"), split("a", "bc"));
    }

    #[test]
    fn event_ids_repeat_per_attempt_and_sort_by_time() {
        let command = uuid::Uuid::now_v7();
        let at = Timestamp::from_millis(1_795_000_000_000);
        assert_eq!(event_id(&command, at, 0), event_id(&command, at, 0));
        assert_ne!(event_id(&command, at, 0), event_id(&command, at, 1));
        assert_ne!(
            event_id(&command, at, 0),
            event_id(&uuid::Uuid::now_v7(), at, 0)
        );
        let later = Timestamp::from_millis(at.as_millis() + 1);
        for _ in 0..100 {
            let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            assert!(event_id(&a, at, 7) < event_id(&b, later, 0));
        }
    }
}
