//! [`StreamId`]: the validated name of a stream.

use std::fmt;
use std::sync::Arc;

use crate::name::{self, NameError};

/// The name of a stream.
///
/// Invariant: 1 to [`StreamId::MAX_LEN`] bytes of UTF-8 with no control characters. It is
/// checked once, here, so every `StreamId` in the program is valid. Names beginning with `$` are
/// well-formed but reserved for the system: appends refuse them (see [`StreamId::is_system`]).
///
/// Cloning is cheap (a reference count), because every event read from a stream carries its name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(Arc<str>);

impl StreamId {
    /// The longest name, in bytes.
    pub const MAX_LEN: usize = 200;

    /// Validates `name` as a stream name.
    pub fn new(name: &str) -> Result<Self, NameError> {
        name::check(name, Self::MAX_LEN)?;
        Ok(Self(Arc::from(name)))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The category: the part of the name before the first `-`, or the whole name if it has
    /// none. `customer-42` is in category `customer`.
    pub fn category(&self) -> &str {
        category_of(&self.0)
    }

    /// Whether the name is reserved for the system (it begins with `$`).
    pub fn is_system(&self) -> bool {
        self.0.starts_with('$')
    }
}

/// The category of a stream name; see [`StreamId::category`].
pub(crate) fn category_of(name: &str) -> &str {
    name.split_once('-').map_or(name, |(category, _)| category)
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl TryFrom<&str> for StreamId {
    type Error = NameError;
    fn try_from(name: &str) -> Result<Self, NameError> {
        Self::new(name)
    }
}

impl serde::Serialize for StreamId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for StreamId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::new(&name).map_err(|e| serde::de::Error::custom(format_args!("stream name {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_is_the_part_before_the_first_dash() {
        let id = |s: &str| StreamId::new(s).expect("valid name");
        assert_eq!(id("customer-42").category(), "customer");
        assert_eq!(id("bank-account-7").category(), "bank");
        assert_eq!(id("loner").category(), "loner");
        assert_eq!(id("-x").category(), "");
    }

    #[test]
    fn dollar_names_are_well_formed_but_system() {
        assert!(StreamId::new("$all").expect("valid").is_system());
        assert!(!StreamId::new("all").expect("valid").is_system());
    }

    #[test]
    fn deserialising_checks_the_name() {
        let ok: StreamId = serde_json::from_str("\"order-1\"").expect("valid");
        assert_eq!(ok.as_str(), "order-1");
        let err = serde_json::from_str::<StreamId>("\"a\\u0000b\"").expect_err("NUL refused");
        assert!(err.to_string().contains("control character"), "{err}");
    }
}
