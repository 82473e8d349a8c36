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
    /// The stream of aggregate `id` of module `module`: `{module}-{id}`. A module name never
    /// holds `-` (see [`ModuleName`](crate::ModuleName)), so the stream's category is exactly
    /// the module, its id is everything after the first `-` (which may hold more of them, as
    /// UUIDs do), and no two (module, id) pairs give one stream. The guest SDK's `Recorded`
    /// splits a stream name by the same rule.
    pub fn of_aggregate(module: &crate::ModuleName, id: &str) -> Result<Self, NameError> {
        if id.is_empty() {
            return Err(NameError::Empty);
        }
        Self::new(&format!("{module}-{id}"))
    }

    /// The category: the part of the name before the first `-`, or the whole name if it has
    /// none. `customer-42` is in category `customer`; an aggregate's stream is in the category
    /// of its module.
    pub fn category(&self) -> &str {
        category_of(&self.0)
    }

    /// The part of the name after the first `-`, the aggregate's id for an aggregate's stream;
    /// `None` if the name has no `-`.
    pub fn id_in_category(&self) -> Option<&str> {
        self.0.split_once('-').map(|(_, id)| id)
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
    fn an_aggregates_stream_is_exactly_its_modules_category_whatever_its_id_holds() {
        let module = |s: &str| crate::ModuleName::new(s).expect("a module name");
        let stream = StreamId::of_aggregate(&module("bank_account"), "1b4e28ba-2fa1-11d2-883f")
            .expect("a stream");
        assert_eq!(stream.as_str(), "bank_account-1b4e28ba-2fa1-11d2-883f");
        assert_eq!(stream.category(), "bank_account");
        assert_eq!(stream.id_in_category(), Some("1b4e28ba-2fa1-11d2-883f"));
        // The pair that used to collide: module `bank` with id `account-i1`.
        let bank = StreamId::of_aggregate(&module("bank"), "account-i1").expect("a stream");
        let account = StreamId::of_aggregate(&module("bank_account"), "i1").expect("a stream");
        assert_ne!(bank, account);
        assert_eq!(bank.category(), "bank");
        assert!(StreamId::of_aggregate(&module("bank"), "").is_err());
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
