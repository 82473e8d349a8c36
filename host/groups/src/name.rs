//! The names a group deals in: [`GroupName`], [`MemberId`] and [`DeliveryId`], each checked
//! once where it is made.

use std::fmt;
use std::sync::Arc;

use cairn_store::ReadModelName;

use crate::error::GroupError;

/// A consumer group's name: 1 to 64 bytes of lowercase ASCII letters, digits, `_`, `-` and
/// `.`, starting with a letter or a digit. URLs, CLI arguments and read model names carry it
/// without escaping.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct GroupName(Arc<str>);

impl GroupName {
    pub const MAX_LEN: usize = 64;

    pub fn new(name: &str) -> Result<Self, GroupError> {
        let bad = |why: &str| GroupError::InvalidName(format!("group name {name:?}: {why}"));
        if name.is_empty() || name.len() > Self::MAX_LEN {
            return Err(bad("must be 1 to 64 bytes"));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(bad("must start with a lowercase letter or a digit"));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(*c)))
        {
            return Err(bad(&format!(
                "{c:?} is not allowed (lowercase letters, digits, `_`, `-`, `.`)"
            )));
        }
        Ok(Self(Arc::from(name)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The read model that holds the group's state (`rows.rs`).
    pub(crate) fn model(&self) -> ReadModelName {
        ReadModelName::new(&format!("{}#group", self.0))
            .expect("a group name makes a valid read model name")
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A member of a group, named by the consumer: 1 to 128 bytes of printable ASCII without
/// spaces. Two connections with one id are one member.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct MemberId(Arc<str>);

impl MemberId {
    pub fn new(id: &str) -> Result<Self, GroupError> {
        if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(GroupError::InvalidMember(format!(
                "member id {id:?}: must be 1 to 128 bytes of printable ASCII without spaces"
            )));
        }
        Ok(Self(Arc::from(id)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One delivery of one event to one member, written `<epoch>-<n>` in hex. The epoch is drawn
/// each time a group's task starts (and at a reset), so an id from before a restart is
/// unknown after it, never confused with a new delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId {
    pub(crate) epoch: u32,
    pub(crate) n: u64,
}

impl DeliveryId {
    pub fn parse(text: &str) -> Result<Self, GroupError> {
        let bad = || GroupError::InvalidDelivery(format!("{text:?} is not a delivery id"));
        let (epoch, n) = text.split_once('-').ok_or_else(bad)?;
        Ok(Self {
            epoch: u32::from_str_radix(epoch, 16).map_err(|_| bad())?,
            n: u64::from_str_radix(n, 16).map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}-{:x}", self.epoch, self.n)
    }
}

impl serde::Serialize for DeliveryId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_checked() {
        assert!(GroupName::new("billing-v2.eu_1").is_ok());
        for bad in ["", "Billing", "-x", "a b", "a/b", &"a".repeat(65)] {
            assert!(GroupName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_delivery_id_reads_back_as_written() {
        let id = DeliveryId {
            epoch: 0xdead_beef,
            n: 42,
        };
        assert_eq!(
            DeliveryId::parse(&id.to_string()).expect("a delivery id"),
            id
        );
        assert!(DeliveryId::parse("nope").is_err());
        assert!(DeliveryId::parse("12-zz").is_err());
    }

    #[test]
    fn member_ids_are_printable_without_spaces() {
        assert!(MemberId::new("worker-1@host").is_ok());
        assert!(MemberId::new("a b").is_err());
        assert!(MemberId::new("").is_err());
    }
}
