//! The one syntax check shared by every user-chosen name (streams, event types, snapshot keys,
//! module names, read model names, idempotency keys).
//!
//! The rule: 1 to `max` bytes of UTF-8 with no control characters (Unicode category Cc), no
//! format characters (category Cf: zero-width and bidirectional controls, the byte order mark,
//! the soft hyphen, tag characters, ...) and no line or paragraph separators (U+2028, U+2029).
//! Every character of a name is then visible, and a name reads the same in a log line, a URL, a
//! terminal and a JSON reader: two names that look alike are alike, and none can reorder or hide
//! the text around it.
//!
//! Names read back from the store go through [`check_stored`], which leaves out the format
//! characters: the store kept names under that rule before, and what it kept stays readable.

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
    /// The name holds an invisible format character (zero-width, a bidirectional control, the
    /// byte order mark, the soft hyphen, a tag character, ...) or a line or paragraph
    /// separator.
    #[error(
        "holds the invisible character U+{code:04X} at byte {at}; names refuse format \
         characters (zero-width and bidirectional controls, byte order marks, soft hyphens, tags) \
         and line and paragraph separators"
    )]
    InvisibleCharacter {
        /// The character's code point.
        code: u32,
        /// Its byte offset in the name.
        at: usize,
    },
}

/// Checks `name` by the rule in this file's docs: 1 to `max` bytes of UTF-8 with no control,
/// format or line-separating characters.
pub(crate) fn check(name: &str, max: usize) -> Result<(), NameError> {
    check_stored(name, max)?;
    match name.char_indices().find(|(_, c)| is_invisible(*c)) {
        Some((at, c)) => Err(NameError::InvisibleCharacter {
            code: u32::from(c),
            at,
        }),
        None => Ok(()),
    }
}

/// Unicode's format characters (category Cf, as of Unicode 15.1, with the whole tag block
/// U+E0000..=U+E007F), as sorted, disjoint, inclusive ranges.
const FORMAT_CHARACTERS: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x0600, 0x0605),   // Arabic number signs
    (0x061C, 0x061C),   // Arabic letter mark
    (0x06DD, 0x06DD),   // Arabic end of ayah
    (0x070F, 0x070F),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound and piastre marks above
    (0x08E2, 0x08E2),   // Arabic disputed end of ayah
    (0x180E, 0x180E),   // Mongolian vowel separator
    (0x200B, 0x200F),   // zero-width space, non-joiner, joiner; LRM, RLM
    (0x202A, 0x202E),   // bidirectional embeddings and overrides
    (0x2060, 0x2064),   // word joiner, invisible operators
    (0x2066, 0x206F),   // bidirectional isolates, deprecated format characters
    (0xFEFF, 0xFEFF),   // byte order mark, zero-width no-break space
    (0xFFF9, 0xFFFB),   // interlinear annotation
    (0x110BD, 0x110BD), // Kaithi number sign
    (0x110CD, 0x110CD), // Kaithi number sign above
    (0x13430, 0x1343F), // Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol beams, ties, slurs, phrases
    (0xE0000, 0xE007F), // tag characters
];

/// Whether `c` is a format character or a line or paragraph separator: a character that
/// shows nothing, or moves or hides the text around it.
fn is_invisible(c: char) -> bool {
    let code = u32::from(c);
    if code < 0xAD {
        return false;
    }
    if code == 0x2028 || code == 0x2029 {
        return true;
    }
    FORMAT_CHARACTERS
        .binary_search_by(|&(low, high)| {
            if high < code {
                std::cmp::Ordering::Less
            } else if low > code {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Checks a name read back from the store: 1 to `max` bytes of UTF-8 with no control
/// characters, the rule the store kept names under before it refused format characters.
pub(crate) fn check_stored(name: &str, max: usize) -> Result<(), NameError> {
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

            /// A name the store kept, read back: checked by [`crate::name::check_stored`], so
            /// a name kept before the format-character rule stays readable.
            #[allow(dead_code)] // Only the names the store reads back use it.
            pub(crate) fn from_stored(name: &str) -> Result<Self, $crate::name::NameError> {
                $crate::name::check_stored(name, Self::MAX_LEN)?;
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

    #[test]
    fn refuses_invisible_characters_naming_each_and_where() {
        let invisible = [
            0xAD, 0x600, 0x61C, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029,
            0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2060, 0x2061, 0x2064, 0x2066, 0x2067, 0x2068,
            0x2069, 0x206F, 0xFEFF, 0xFFF9, 0x110BD, 0x1343F, 0x1BCA3, 0x1D173, 0xE0000, 0xE0001,
            0xE0020, 0xE0041, 0xE007F,
        ];
        for code in invisible {
            let c = char::from_u32(code).expect("a character");
            let name = format!("ab-{c}x");
            assert_eq!(
                check(&name, 200),
                Err(NameError::InvisibleCharacter { code, at: 3 }),
                "U+{code:04X}"
            );
            assert_eq!(check_stored(&name, 200), Ok(()), "U+{code:04X} stored");
        }
        let message = check("a\u{202E}b", 200).expect_err("refused").to_string();
        assert!(message.contains("U+202E at byte 1"), "{message}");
        // Neighbours of the ranges, and visible characters beyond them, are names.
        for code in [
            0xAC, 0xAE, 0x5FF, 0x606, 0x200A, 0x2010, 0x2027, 0x202F, 0x205F, 0x2065, 0x2070,
            0xFEFE, 0xFF00, 0x1D172, 0x1D17B, 0x1F600, 0xE0080, 0xE0100,
        ] {
            let c = char::from_u32(code).expect("a character");
            assert_eq!(check(&format!("a{c}"), 200), Ok(()), "U+{code:04X}");
        }
        assert_eq!(check("emoji-😀-👍🏽", 200), Ok(()));
    }

    #[test]
    fn the_format_table_is_sorted_and_disjoint() {
        for pair in FORMAT_CHARACTERS.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }
}
