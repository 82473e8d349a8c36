//! [`StreamId`]: the validated name of a stream.

use crate::name::{NameError, checked_name};

checked_name! {
    /// The name of a stream.
    ///
    /// Invariant: 1 to [`StreamId::MAX_LEN`] bytes of UTF-8 by the name rule of `name.rs`
    /// (no control, format or line-separating characters). Names beginning with `$` are
    /// well-formed but reserved for the system: appends refuse them (see
    /// [`StreamId::is_system`]). Every event read from a stream carries its name, which is why
    /// cloning one is only a reference count.
    StreamId, max = 200, what = "stream name"
}

impl StreamId {
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

impl TryFrom<&str> for StreamId {
    type Error = NameError;
    fn try_from(name: &str) -> Result<Self, NameError> {
        Self::new(name)
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
