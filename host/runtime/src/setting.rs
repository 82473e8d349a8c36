//! What the runtime's configurations ([`Limits`](crate::Limits),
//! [`CommandConfig`](crate::CommandConfig), [`RunnerConfig`](crate::RunnerConfig)) share as
//! sections of a settings file: [`InvalidSetting`], the error of a value its section cannot run
//! with, naming the key as the file spells it; the bound checks that make one; and the serde
//! forms of a duration as a whole number of milliseconds or seconds.
//!
//! Each configuration deserialises straight from its section (every key optional, a key left
//! out keeping its default, an unknown key refused) and checks itself with a `check` method.

use std::ops::RangeInclusive;
use std::time::Duration;

/// The most events one `evolve` or `apply` call may be given (`fold_batch`, `batch`), so one
/// call stays short.
pub(crate) const MAX_EVENTS_PER_CALL: u64 = cairn_store::MAX_EVENTS_PER_APPEND as u64 * 100;

/// A value a section cannot run with: `{key} is {value}; {rule}`. The key is as the section
/// spells it; whoever reads the file puts the section's name before it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key} is {value}; {rule}")]
pub struct InvalidSetting {
    pub key: &'static str,
    pub value: u64,
    pub rule: String,
}

/// Refuses `value` for `key` unless it is within `bounds`, saying which bound it crossed.
pub fn within(
    key: &'static str,
    value: u64,
    bounds: RangeInclusive<u64>,
) -> Result<(), InvalidSetting> {
    let (min, max) = (*bounds.start(), *bounds.end());
    let rule = if value < min {
        format!("it must be at least {min}")
    } else if value > max {
        format!("it must be at most {max}")
    } else {
        return Ok(());
    };
    Err(InvalidSetting { key, value, rule })
}

/// Refuses `value` for `key` if it is below `min`.
pub fn at_least(key: &'static str, value: u64, min: u64) -> Result<(), InvalidSetting> {
    within(key, value, min..=u64::MAX)
}

/// The number `value` holds, for a check: a `usize` or `u32` always fits in a `u64`.
pub fn number(value: impl TryInto<u64>) -> u64 {
    value.try_into().unwrap_or(u64::MAX)
}

/// A [`Duration`] read as whole milliseconds (a key ending `_ms`), for `deserialize_with`.
pub mod millis {
    use super::Duration;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Duration, D::Error> {
        let ms: u64 = serde::Deserialize::deserialize(from)?;
        Ok(Duration::from_millis(ms))
    }
}

/// A [`Duration`] read as whole seconds (a key ending `_secs`), for `deserialize_with`.
pub mod secs {
    use super::Duration;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Duration, D::Error> {
        let secs: u64 = serde::Deserialize::deserialize(from)?;
        Ok(Duration::from_secs(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_out_of_bounds_names_its_key_and_the_bound_it_crossed() {
        assert_eq!(within("batch", 5, 1..=10), Ok(()));
        let low = within("batch", 0, 1..=10).expect_err("below");
        assert_eq!(low.to_string(), "batch is 0; it must be at least 1");
        let high = within("batch", 11, 1..=10).expect_err("above");
        assert_eq!(high.to_string(), "batch is 11; it must be at most 10");
        assert!(at_least("fuel", u64::MAX, 1).is_ok());
    }
}
