//! Modules kept in the store, so a restarted host loads them again without an upload. The
//! store keeps them as opaque bytes with a name ([`ModuleName`]), a kind ([`ModuleKind`]) and
//! the hash of their bytes ([`ModuleHash`]); what a module does belongs to the runtime.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

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

/// The SHA-256 of a module's bytes, as 64 lower-case hex digits: what names its bytes in the
/// store, and its snapshots' key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ModuleHash(Arc<str>);

/// Text that is not 64 lower-case hex digits, given as a module hash.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a module hash is 64 lower-case hex digits (SHA-256); got {0:?}")]
pub struct NotAModuleHash(pub String);

impl ModuleHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        Self(Arc::from(
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        ))
    }

    /// A hash written as text: 64 lower-case hex digits.
    pub fn parse(text: &str) -> Result<Self, NotAModuleHash> {
        let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
        if text.len() == 64 && text.bytes().all(hex) {
            Ok(Self(Arc::from(text)))
        } else {
            Err(NotAModuleHash(text.chars().take(80).collect()))
        }
    }

    /// The hash as 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its first 12 hex digits, enough to tell versions apart in a log line or a banner.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

impl fmt::Display for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ModuleHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Which world a module implements. A name keeps its kind for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleKind {
    /// Decides commands and evolves a stream's state.
    Aggregate,
    /// Folds events into read models.
    Projection,
    /// Reads a category's events stored in an older shape as the current one.
    Upcaster,
    /// Turns events into commands.
    Reactor,
}

impl ModuleKind {
    /// The kind as the API and the store spell it: `aggregate`, `projection`, `upcaster` or
    /// `reactor`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleKind::Aggregate => "aggregate",
            ModuleKind::Projection => "projection",
            ModuleKind::Upcaster => "upcaster",
            ModuleKind::Reactor => "reactor",
        }
    }

    /// Whether modules of this kind write streams of their own category, which outlive them:
    /// an aggregate's streams, a reactor's outcome stream. Such a name keeps its kind after
    /// the module is removed.
    pub fn owns_streams(self) -> bool {
        matches!(self, ModuleKind::Aggregate | ModuleKind::Reactor)
    }

    /// The kind spelled `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "aggregate" => Some(ModuleKind::Aggregate),
            "projection" => Some(ModuleKind::Projection),
            "upcaster" => Some(ModuleKind::Upcaster),
            "reactor" => Some(ModuleKind::Reactor),
            _ => None,
        }
    }
}

impl fmt::Display for ModuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A module to keep: its name, kind and bytes, and the hash of the bytes, which
/// [`NewModule::new`] computes so the two always agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewModule {
    name: ModuleName,
    kind: ModuleKind,
    hash: ModuleHash,
    bytes: Vec<u8>,
}

impl NewModule {
    /// A module of `kind` named `name`, made of `bytes`.
    pub fn new(name: ModuleName, kind: ModuleKind, bytes: Vec<u8>) -> Self {
        Self {
            name,
            kind,
            hash: ModuleHash::of(&bytes),
            bytes,
        }
    }

    /// Its name.
    pub fn name(&self) -> &ModuleName {
        &self.name
    }

    /// Its kind.
    pub fn kind(&self) -> ModuleKind {
        self.kind
    }

    /// The hash of its bytes.
    pub fn hash(&self) -> &ModuleHash {
        &self.hash
    }

    /// Its bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// One version of a module. Versions of a name count from 1, one per distinct hash uploaded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleRecord {
    pub name: ModuleName,
    pub version: u64,
    pub kind: ModuleKind,
    pub hash: ModuleHash,
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

/// A module to remove, with the read models that go with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleRemoval {
    pub module: ModuleName,
    /// Read models to drop with it: their entries and checkpoints.
    pub drop_models: Vec<ReadModelName>,
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
    fn a_module_hash_is_the_sha256_of_the_bytes_in_hex() {
        let hash = ModuleHash::of(b"abc");
        assert_eq!(
            hash.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ModuleHash::parse(hash.as_str()), Ok(hash.clone()));
        for bad in [
            "",
            "h",
            &"A".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
            &"g".repeat(64),
        ] {
            assert!(ModuleHash::parse(bad).is_err(), "{bad:?}");
        }
        let read: ModuleHash = serde_json::from_str(&format!("\"{hash}\"")).expect("reads");
        assert_eq!(read, hash);
    }

    #[test]
    fn a_module_kind_reads_back_as_it_is_spelled() {
        for kind in [
            ModuleKind::Aggregate,
            ModuleKind::Projection,
            ModuleKind::Upcaster,
            ModuleKind::Reactor,
        ] {
            assert_eq!(ModuleKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ModuleKind::parse("Aggregate"), None);
    }

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
