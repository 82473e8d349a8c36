//! [`ReactorConfig`]: the `[reactors]` section of cairn.toml: how reactors read the log, when
//! a stall is reported, and each reactor's [`FailurePolicy`].
//!
//! ```toml
//! [reactors]
//! batch = 256                 # the most events one commit of a reactor's reactions covers
//! stall_after_ms = 30_000     # the head moved and the checkpoint did not for this long: stalled
//! retries = 3                 # every reactor's policy, unless its own says otherwise
//! backoff_ms = 100            # the first retry's wait; each next one waits twice as long
//! max_backoff_ms = 5_000
//! on_failure = "park"         # park, skip or stop, once the retries are spent
//!
//! [reactors.policy.transfers] # one reactor's own policy; keys left out are the defaults
//! retries = 5
//! on_failure = "stop"
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_groups::Exhausted;

use crate::setting::{InvalidSetting, MAX_EVENTS_PER_CALL, at_least, number, within};

/// How a reactor retries an event it failed on (a trap, running out of fuel, or a command that
/// failed for the host), and what it does after: the retries and the [`Exhausted`] policy of
/// consumer groups, under a reactor's keys.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailurePolicy {
    /// Tries after the first.
    pub retries: u32,
    /// The wait before the first retry; each next one waits twice as long.
    pub backoff_ms: u64,
    /// The longest wait.
    pub max_backoff_ms: u64,
    pub on_failure: Exhausted,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            backoff_ms: 100,
            max_backoff_ms: 5_000,
            on_failure: Exhausted::Park,
        }
    }
}

impl FailurePolicy {
    /// The wait before retry `retry` (1 for the first).
    pub fn backoff(&self, retry: u32) -> Duration {
        cairn_groups::backoff(self.backoff_ms, self.max_backoff_ms, retry)
    }

    fn check(&self) -> Result<(), InvalidSetting> {
        within("retries", u64::from(self.retries), 0..=100)?;
        within("max_backoff_ms", self.max_backoff_ms, 0..=600_000)?;
        if self.backoff_ms > self.max_backoff_ms {
            return Err(InvalidSetting {
                key: "backoff_ms",
                value: self.backoff_ms,
                rule: format!(
                    "it must be at most max_backoff_ms ({})",
                    self.max_backoff_ms
                ),
            });
        }
        Ok(())
    }
}

/// The `[reactors]` section, keys as the fields.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReactorConfig {
    /// The most events one commit of a reactor's reactions covers.
    pub batch: usize,
    /// A reactor whose checkpoint has not moved for this long while the head is past it is
    /// reported stalled.
    pub stall_after_ms: u64,
    /// Every reactor's failure policy, but for those named in `policy`: tries after the first.
    pub retries: u32,
    /// The wait before the first retry; each next one waits twice as long.
    pub backoff_ms: u64,
    /// The longest wait.
    pub max_backoff_ms: u64,
    pub on_failure: Exhausted,
    /// Policies of single reactors, by name.
    pub policy: BTreeMap<String, FailurePolicy>,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        Self {
            batch: 256,
            stall_after_ms: 30_000,
            retries: FailurePolicy::default().retries,
            backoff_ms: FailurePolicy::default().backoff_ms,
            max_backoff_ms: FailurePolicy::default().max_backoff_ms,
            on_failure: FailurePolicy::default().on_failure,
            policy: BTreeMap::new(),
        }
    }
}

impl ReactorConfig {
    /// Refuses a value the reactors cannot run with, naming its key.
    pub fn check(&self) -> Result<(), InvalidSetting> {
        within("batch", number(self.batch), 1..=MAX_EVENTS_PER_CALL)?;
        at_least("stall_after_ms", self.stall_after_ms, 1)?;
        self.default_policy().check()?;
        for policy in self.policy.values() {
            policy.check()?;
        }
        Ok(())
    }

    /// The policy of every reactor not named in `policy`.
    pub fn default_policy(&self) -> FailurePolicy {
        FailurePolicy {
            retries: self.retries,
            backoff_ms: self.backoff_ms,
            max_backoff_ms: self.max_backoff_ms,
            on_failure: self.on_failure,
        }
    }

    /// The policy of reactor `name`.
    pub fn policy_of(&self, name: &str) -> FailurePolicy {
        self.policy
            .get(name)
            .cloned()
            .unwrap_or_else(|| self.default_policy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_ceiling() {
        let policy = FailurePolicy {
            backoff_ms: 100,
            max_backoff_ms: 350,
            ..FailurePolicy::default()
        };
        let waits: Vec<u128> = (1..=4).map(|r| policy.backoff(r).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }

    #[test]
    fn a_policy_backing_off_past_its_ceiling_is_refused() {
        let config = ReactorConfig {
            backoff_ms: 10_000,
            max_backoff_ms: 5_000,
            ..ReactorConfig::default()
        };
        assert_eq!(config.check().expect_err("refused").key, "backoff_ms");
    }
}
