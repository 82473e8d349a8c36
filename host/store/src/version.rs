//! Stream versions, global positions and the expected-version rule of optimistic concurrency.

use std::fmt;

/// A stream's version: how many events it holds. The first event of a stream has version 1,
/// so version 0 means "no stream".
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    /// The version of a stream that has no events.
    pub const NONE: Version = Version(0);

    /// Wraps a raw version number.
    pub const fn new(version: u64) -> Self {
        Self(version)
    }

    /// The raw version number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Whether this is [`Version::NONE`].
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A place in the global log. Positions are 1-based and gap-free; position 0 is before every
/// event, so "after 0" is the whole log.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Position(u64);

impl Position {
    /// Before the first event.
    pub const START: Position = Position(0);

    /// Wraps a raw position.
    pub const fn new(position: u64) -> Self {
        Self(position)
    }

    /// The raw position.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a writer believes the stream's version to be. The append happens only if it is right.
///
/// On the wire it is `"any"`, `"no_stream"`, `"exists"` or a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// Append whatever the version is.
    Any,
    /// The stream must not exist (its version is 0).
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream must be at exactly this version. `Exact(Version::NONE)` is the same as
    /// [`ExpectedVersion::NoStream`].
    Exact(Version),
}

impl ExpectedVersion {
    /// Whether a stream at version `actual` satisfies this expectation.
    pub fn admits(self, actual: Version) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.is_none(),
            ExpectedVersion::StreamExists => !actual.is_none(),
            ExpectedVersion::Exact(expected) => expected == actual,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no_stream"),
            ExpectedVersion::StreamExists => f.write_str("exists"),
            ExpectedVersion::Exact(v) => v.fmt(f),
        }
    }
}

impl serde::Serialize for ExpectedVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ExpectedVersion::Exact(v) => serializer.serialize_u64(v.get()),
            other => serializer.collect_str(other),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ExpectedVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ExpectedVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""any", "no_stream", "exists" or a version number (0 or more)"#)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ExpectedVersion, E> {
                Ok(ExpectedVersion::Exact(Version::new(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ExpectedVersion, E> {
                u64::try_from(v)
                    .map(|v| ExpectedVersion::Exact(Version::new(v)))
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ExpectedVersion, E> {
                match v {
                    "any" => Ok(ExpectedVersion::Any),
                    "no_stream" => Ok(ExpectedVersion::NoStream),
                    "exists" => Ok(ExpectedVersion::StreamExists),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_follows_each_kind() {
        let (none, three) = (Version::NONE, Version::new(3));
        assert!(ExpectedVersion::Any.admits(none) && ExpectedVersion::Any.admits(three));
        assert!(ExpectedVersion::NoStream.admits(none) && !ExpectedVersion::NoStream.admits(three));
        assert!(!ExpectedVersion::StreamExists.admits(none));
        assert!(ExpectedVersion::StreamExists.admits(three));
        assert!(ExpectedVersion::Exact(three).admits(three));
        assert!(!ExpectedVersion::Exact(three).admits(Version::new(2)));
        assert!(ExpectedVersion::Exact(none).admits(none));
    }

    #[test]
    fn wire_form_round_trips_and_refuses_nonsense() {
        for (text, value) in [
            (r#""any""#, ExpectedVersion::Any),
            (r#""no_stream""#, ExpectedVersion::NoStream),
            (r#""exists""#, ExpectedVersion::StreamExists),
            ("7", ExpectedVersion::Exact(Version::new(7))),
        ] {
            let parsed: ExpectedVersion = serde_json::from_str(text).expect(text);
            assert_eq!(parsed, value);
            assert_eq!(serde_json::to_string(&value).expect("serialises"), text);
        }
        for bad in ["-1", "1.5", r#""7""#, r#""maybe""#, "null", "[]"] {
            assert!(
                serde_json::from_str::<ExpectedVersion>(bad).is_err(),
                "{bad} accepted"
            );
        }
    }
}
