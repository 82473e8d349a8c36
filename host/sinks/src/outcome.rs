//! [`Outcome`]: what publishing one delivery came to, as the runner acts on it.

/// What a target did with one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It has the event: acknowledge it.
    Delivered,
    /// It refused this event for a reason of the event's (a 4xx, a message too large): the
    /// group retries it and then applies its policy.
    Refused(String),
    /// It could not be reached, or failed for a reason of its own (a 5xx, a timeout, a broker
    /// down): the sink waits and publishes it again, without counting a retry.
    Unavailable(String),
}
