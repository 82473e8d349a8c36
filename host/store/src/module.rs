//! Modules kept in the store, so a restarted host loads them again without an upload. The
//! store keeps them as opaque bytes with a name, a kind and a content hash; what a module is
//! belongs to the runtime.

use std::sync::Arc;

use crate::name::NameError;
use crate::read_model::ReadModelName;

/// A module's name, such as `bank_account`.
///
/// The rule, for every name given now: 1 to [`ModuleName::MAX_LEN`] bytes, a lower-case ASCII
/// letter and then lower-case ASCII letters, digits and `_`. So a name needs no escaping in a
/// URL, a stream name or a category, and it never holds `-`, the separator of a stream's
/// category: an aggregate's streams are `{name}-{id}`, which are exactly the category `{name}`,
/// and no other module's stream can spell one of them, whatever its ids hold (UUIDs hold `-`).
///
/// Names kept by releases before the rule (which allowed `-`) still read back, by
/// [`ModuleName::kept`]; [`ModuleName::follows_rule`] tells them apart, and the runtime does
/// not serve them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleName(Arc<str>);

impl ModuleName {
    /// The longest name, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Checks `name` against the rule.
    pub fn new(name: &str) -> Result<Self, NameError> {
        check_module_name(name)?;
        Ok(Self(Arc::from(name)))
    }

    /// A name as the store kept it, which a release before the rule may have written: 1 to 200
    /// bytes of printable UTF-8. See [`ModuleName::follows_rule`].
    pub fn kept(name: &str) -> Result<Self, NameError> {
        crate::name::check_stored(name, 200)?;
        Ok(Self(Arc::from(name)))
    }

    /// Whether the name follows today's rule (every name but some kept by older releases).
    pub fn follows_rule(&self) -> bool {
        check_module_name(&self.0).is_ok()
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks `name` against the module-name rule (see [`ModuleName`]).
fn check_module_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > ModuleName::MAX_LEN {
        return Err(NameError::TooLong {
            len: name.len(),
            max: ModuleName::MAX_LEN,
        });
    }
    // The first character must be a letter; digits and `_` may follow.
    let breaks_rule = |(at, c): &(usize, char)| {
        !(c.is_ascii_lowercase() || (*at > 0 && (c.is_ascii_digit() || *c == '_')))
    };
    match name.char_indices().find(breaks_rule) {
        None => Ok(()),
        Some((at, c)) => Err(NameError::NotAModuleName {
            code: u32::from(c),
            at,
        }),
    }
}

/// Lookups by `&str` (equality, order and hash are the inner string's).
impl std::borrow::Borrow<str> for ModuleName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ModuleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for ModuleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl serde::Serialize for ModuleName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Deserialising reads what the store or a peer kept, so it accepts kept names too.
impl<'de> serde::Deserialize<'de> for ModuleName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::kept(&name).map_err(|e| serde::de::Error::custom(format_args!("module name {e}")))
    }
}

/// A module to keep: its name, kind, content hash (a hex digest chosen by the runtime) and
/// bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewModule {
    pub name: ModuleName,
    pub kind: String,
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// One version of a module. Versions of a name count from 1, one per distinct hash uploaded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleRecord {
    pub name: ModuleName,
    pub version: u64,
    pub kind: String,
    pub hash: String,
}

/// What keeping a module did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModulePut {
    /// The bytes are new for this name: a new version.
    Created(ModuleRecord),
    /// The latest version of this name already has these bytes: nothing changed.
    Unchanged(ModuleRecord),
}

impl ModulePut {
    /// The version the name now has.
    pub fn record(&self) -> &ModuleRecord {
        match self {
            ModulePut::Created(record) | ModulePut::Unchanged(record) => record,
        }
    }
}

/// The runtime's own bookkeeping for a module (for a projection: which read model serves, which
/// is being built, whether it is paused), kept as opaque bytes the store never reads.
///
/// Read models that the new state no longer names are dropped in the same transaction, so a
/// crash never leaves the bookkeeping naming a dropped model, nor a model nothing names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleState {
    pub module: ModuleName,
    pub state: Vec<u8>,
    /// Read models to drop with this change: their entries and checkpoints.
    pub drop_models: Vec<ReadModelName>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_name_is_lower_case_letters_digits_and_underscores() {
        for good in ["bank_account", "a", "customers2", &"a".repeat(64)] {
            assert!(ModuleName::new(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", NameError::Empty),
            (
                "bank-account",
                NameError::NotAModuleName {
                    code: u32::from('-'),
                    at: 4,
                },
            ),
            (
                "Has Space",
                NameError::NotAModuleName {
                    code: u32::from('H'),
                    at: 0,
                },
            ),
            (
                "ünï",
                NameError::NotAModuleName {
                    code: u32::from('ü'),
                    at: 0,
                },
            ),
            (
                "a/b",
                NameError::NotAModuleName {
                    code: u32::from('/'),
                    at: 1,
                },
            ),
            (
                "../x",
                NameError::NotAModuleName {
                    code: u32::from('.'),
                    at: 0,
                },
            ),
            (
                "$all",
                NameError::NotAModuleName {
                    code: u32::from('$'),
                    at: 0,
                },
            ),
            (
                "$sys",
                NameError::NotAModuleName {
                    code: u32::from('$'),
                    at: 0,
                },
            ),
            (
                "7up",
                NameError::NotAModuleName {
                    code: u32::from('7'),
                    at: 0,
                },
            ),
            (
                "_x",
                NameError::NotAModuleName {
                    code: u32::from('_'),
                    at: 0,
                },
            ),
            (&"a".repeat(65), NameError::TooLong { len: 65, max: 64 }),
            (&"a".repeat(200), NameError::TooLong { len: 200, max: 64 }),
        ] {
            assert_eq!(ModuleName::new(bad).err(), Some(why), "{bad:?}");
        }
    }

    #[test]
    fn a_name_kept_before_the_rule_reads_back_and_says_so() {
        let kept = ModuleName::kept("bank-account").expect("a kept name");
        assert!(!kept.follows_rule());
        assert!(
            ModuleName::kept("bank_account")
                .expect("kept")
                .follows_rule()
        );
        let read: ModuleName = serde_json::from_str("\"bank-account\"").expect("reads");
        assert_eq!(read, kept);
    }
}
