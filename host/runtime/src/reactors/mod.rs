//! Reactors: domain logic that acts on events. A reactor module answers each event it
//! subscribes to with intents (commands to aggregates); the host executes each exactly once.
//!
//! Events flow through it like this: the runner (`runner/`) reads a batch from the log and
//! calls `react` on each event (`reactor.rs`), whose state reads and writes go through the
//! `kv` import into the reactor's own model (`ledger.rs`, laid out so that the state, the
//! checkpoint and the intents issued commit together); then it executes each intent through
//! the command path under a key derived from the reactor, the event and the intent's index
//! (`intent.rs`), and records what came of it.
//!
//! - `reactor.rs`: [`LoadedReactor`](crate::LoadedReactor), a reactor module and its calls.
//! - `intent.rs`: an intent, its key, its correlation, and the outcome event it may become.
//! - `ledger.rs`: the reactor's model: state, intents issued, outcomes, parked events, counts.
//! - `runner/`: [`Reactors`](crate::Reactors), one task per reactor, and the operator's
//!   requests (parked events retried or discarded, a reset).

pub(crate) mod intent;
pub(crate) mod ledger;
pub(crate) mod reactor;
pub(crate) mod runner;
