//! The one syntax check shared by every user-chosen name (streams, event types, snapshot keys).

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name has no bytes.
    #[error("must not be empty")]
    Empty,
    /// The name is longer than the limit.
    #[error("is {len} bytes long; the limit is {max}")]
    TooLong {
        /// The name's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A module name breaks its rule (see `ModuleName`): the first character that does.
    #[error(
        "holds U+{code:04X} at byte {at}; a module name is a lower-case ASCII letter, then \
         lower-case letters, digits and `_`"
    )]
    NotAModuleName {
        /// The character's code point.
        code: u32,
        /// Its byte offset in the name.
        at: usize,
    },
    /// The name holds a control character (including NUL, tab and newline).
    #[error("holds the control character U+{code:04X} at byte {at}")]
    ControlCharacter {
        /// The character's code point.
        code: u32,
        /// Its byte offset in the name.
        at: usize,
    },
}

/// Checks that `name` is 1 to `max` bytes of printable UTF-8: no control characters.
pub(crate) fn check(name: &str, max: usize) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > max {
        return Err(NameError::TooLong {
            len: name.len(),
            max,
        });
    }
    match name.char_indices().find(|(_, c)| c.is_control()) {
        Some((at, c)) => Err(NameError::ControlCharacter {
            code: u32::from(c),
            at,
        }),
        None => Ok(()),
    }
}

/// Defines a name type: an `Arc<str>` checked by [`check`] once, at construction, so every value
/// of the type is valid. Cloning is a reference count. Serde reads and writes it as a string,
/// checking it on the way in.
macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident, max = $max:expr, what = $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// The longest value, in bytes.
            pub const MAX_LEN: usize = $max;

            #[doc = concat!("Checks `name` as ", $what, ".")]
            pub fn new(name: &str) -> Result<Self, $crate::name::NameError> {
                $crate::name::check(name, Self::MAX_LEN)?;
                Ok(Self(std::sync::Arc::from(name)))
            }

            /// The name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Lookups by `&str` (equality, order and hash are the inner string's).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::new(&name)
                    .map_err(|e| serde::de::Error::custom(format_args!(concat!($what, " {}"), e)))
            }
        }
    };
}

pub(crate) use checked_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_printable_unicode_up_to_the_limit() {
        assert_eq!(check("account-42", 200), Ok(()));
        assert_eq!(check("κύριος-ü €", 200), Ok(()));
        assert_eq!(check(&"a".repeat(200), 200), Ok(()));
    }

    #[test]
    fn refuses_empty_long_and_control_characters() {
        assert_eq!(check("", 200), Err(NameError::Empty));
        assert_eq!(
            check(&"a".repeat(201), 200),
            Err(NameError::TooLong { len: 201, max: 200 })
        );
        assert_eq!(
            check("a\0b", 200),
            Err(NameError::ControlCharacter { code: 0, at: 1 })
        );
        assert_eq!(
            check("line\nbreak", 200),
            Err(NameError::ControlCharacter { code: 10, at: 4 })
        );
        assert_eq!(
            check("del\u{7f}", 200),
            Err(NameError::ControlCharacter { code: 0x7f, at: 3 })
        );
    }
}
