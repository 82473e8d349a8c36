//! An [`Intent`]: a command a reactor asks for, and what the host derives from it: the
//! idempotency key that makes its execution happen once ([`intent_key`]), the correlation that
//! ties a chain of reactions to its first command, and the outcome event a rejection or a
//! failure becomes in the reactor's own stream.

use cairn_store::{EventId, EventType, IdempotencyKey, Json, NewEvent, RecordedEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::call::bindings::reactor::exports::cairn::module::reactor::Intent as WitIntent;

/// A command for an aggregate, as a reactor gave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The aggregate module's name.
    pub module: String,
    /// The aggregate's id.
    pub id: String,
    pub command_type: String,
    /// The payload, as the module gave it (JSON text, checked when the intent is executed).
    pub data: String,
}

impl From<WitIntent> for Intent {
    fn from(intent: WitIntent) -> Self {
        Self {
            module: intent.module,
            id: intent.id,
            command_type: intent.command_type,
            data: intent.data,
        }
    }
}

/// An intent as the reactor's ledger keeps it between its issue and its outcome: the intent,
/// the event that caused it, and its place among that event's intents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedIntent {
    pub intent: Intent,
    /// The id of the event the reactor reacted to.
    pub event_id: String,
    /// Its position in the log.
    pub position: u64,
    /// The stream it was appended to (empty in a ledger written before streams were kept).
    #[serde(default)]
    pub stream: String,
    /// The intent's index among the event's intents.
    pub index: u32,
    /// The correlation id of the chain the event belongs to.
    pub correlation_id: String,
    /// The idempotency key the command is executed under.
    pub key: String,
}

impl IssuedIntent {
    /// The `index`th intent `reactor` gave for `event`.
    pub(crate) fn new(reactor: &str, event: &RecordedEvent, index: u32, intent: Intent) -> Self {
        Self {
            key: intent_key(reactor, &event.id.to_string(), index),
            intent,
            event_id: event.id.to_string(),
            position: event.position.get(),
            stream: event.stream.to_string(),
            index,
            correlation_id: correlation_of(event),
        }
    }
}

/// The idempotency key of the `index`th intent `reactor` gave for event `event_id`: the same
/// for every retry, restart and replay, so the command path executes the command once.
pub fn intent_key(reactor: &str, event_id: &str, index: u32) -> String {
    format!("reactor:{reactor}:{event_id}:{index}")
}

/// The correlation id of the chain `event` belongs to: the one its metadata carries (an event
/// a reactor's command appended), else its command's id (an event a command appended), else
/// its own id. Following it back leads to the first command of the chain.
pub(crate) fn correlation_of(event: &RecordedEvent) -> String {
    let metadata: serde_json::Value =
        serde_json::from_str(event.metadata.as_str()).unwrap_or_default();
    ["correlation_id", "command_id"]
        .iter()
        .find_map(|field| metadata.get(field).and_then(|v| v.as_str()))
        .map_or_else(|| event.id.to_string(), str::to_owned)
}

/// What came of an intent that did not append through its command: a rejection by the
/// aggregate, or a failure to send the command at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum IntentOutcome {
    /// The aggregate refused the command; the reason is its message.
    Rejected { reason: String },
    /// The command could not be executed: an unknown module, a bad id, a command the
    /// aggregate could not read, or the aggregate's module failing on it.
    Failed { reason: String },
}

/// An outcome waiting in the ledger to be appended to the reactor's stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecordedOutcome {
    pub issued: IssuedIntent,
    pub outcome: IntentOutcome,
}

impl RecordedOutcome {
    /// The event this outcome is in the reactor's stream: `IntentRejected` or `IntentFailed`,
    /// with an id derived from the intent's key, so appending it again is recognised.
    pub(crate) fn event(&self) -> Result<NewEvent, String> {
        let (event_type, reason) = match &self.outcome {
            IntentOutcome::Rejected { reason } => ("IntentRejected", reason),
            IntentOutcome::Failed { reason } => ("IntentFailed", reason),
        };
        let data = serde_json::json!({
            "module": self.issued.intent.module,
            "id": self.issued.intent.id,
            "command_type": self.issued.intent.command_type,
            "data": serde_json::from_str::<serde_json::Value>(&self.issued.intent.data)
                .unwrap_or_else(|_| serde_json::Value::String(self.issued.intent.data.clone())),
            "reason": reason,
            "event_id": self.issued.event_id,
            "position": self.issued.position,
            "index": self.issued.index,
            "key": self.issued.key,
        });
        let metadata = serde_json::json!({
            "causation_id": self.issued.event_id,
            "correlation_id": self.issued.correlation_id,
        });
        let text = |e: &dyn std::fmt::Display| format!("the outcome event could not be made: {e}");
        let event_type = EventType::new(event_type).map_err(|e| text(&e))?;
        let data = Json::from_value(&data).map_err(|e| text(&e))?;
        let metadata = Json::from_value(&metadata).map_err(|e| text(&e))?;
        Ok(NewEvent::new(event_type, data)
            .with_id(outcome_event_id(&self.issued.key))
            .with_metadata(metadata))
    }
}

/// The id of the outcome event of the intent keyed `key`.
fn outcome_event_id(key: &str) -> EventId {
    let digest: [u8; 32] = Sha256::digest(format!("outcome:{key}").as_bytes()).into();
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    EventId::from(uuid::Uuid::new_v8(bytes))
}

/// The key as the command path takes it. The reactor's name and the event's id are valid in
/// a key, and the whole is far under its length limit; a failure here is the host's.
pub(crate) fn idempotency_key(key: &str) -> Result<IdempotencyKey, String> {
    IdempotencyKey::new(key).map_err(|e| format!("the intent's key is not valid: {e}"))
}
