//! [`Json`]: a JSON text that is known to be valid, and readable by every JSON reader, kept as
//! text.
//!
//! Outside input is checked in two steps: serde_json checks the syntax without building
//! anything, then [`check_readable`] scans the bytes once more for what the syntax admits but
//! readers refuse: numbers beyond the range of an `f64` (`1e400`, which serde_json, Go and
//! most typed readers refuse, and others read as infinity) and `\u` escapes of lone surrogates
//! (`"\ud800"`, which no UTF-8 or UTF-16 string can hold). The scan is a loop over bytes that
//! parses only escapes of surrogates and numbers long enough or with an exponent to be out of
//! range, so valid text costs little more than the syntax check.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;

/// One complete, valid JSON text (an object, array, string, number, `true`, `false` or `null`).
///
/// Invariant: the text parses as JSON. It is checked when a `Json` is made from outside input,
/// so the store never parses event payloads again: it keeps and returns the text as it was given.
///
/// Cloning is cheap (a reference count). Events read together share buffers of up to 64 KiB
/// for their texts, so holding one event's text holds its buffer.
#[derive(Clone)]
pub struct Json(Text);

#[derive(Clone)]
enum Text {
    /// `{}`, which needs no allocation.
    EmptyObject,
    /// `buffer[span]`. Invariant: `span` lies inside `buffer`, on character boundaries.
    /// (`Arc<String>` rather than `Arc<str>`, so a buffer is shared without being copied.)
    Shared {
        buffer: Arc<String>,
        span: Range<usize>,
    },
}

/// Why a text is not JSON that cairn keeps.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The text is not JSON, or a value could not be turned into JSON or read from it.
    #[error("not valid JSON: {0}")]
    Invalid(#[from] serde_json::Error),
    /// A number is beyond the range of a 64-bit float, so readers would refuse it or read it
    /// as infinity.
    #[error(
        "the number at byte {at} is out of range: JSON numbers must fit a 64-bit float (at most \
         about 1.8e308 in magnitude)"
    )]
    NumberOutOfRange {
        /// The byte offset of the number in the text.
        at: usize,
    },
    /// A `\u` escape of a UTF-16 surrogate that is not half of a pair: it stands for no
    /// character, so no string can hold it.
    #[error(
        "the escape \\u{code:04x} at byte {at} is a lone surrogate: a \\ud800-\\udbff escape \
         must be followed by a \\udc00-\\udfff one, and the latter never stands alone"
    )]
    LoneSurrogate {
        /// The surrogate's code unit.
        code: u16,
        /// The byte offset of its `\` in the text.
        at: usize,
    },
}

impl Json {
    /// Checks `text` and keeps it as it is.
    pub fn parse(text: &str) -> Result<Self, JsonError> {
        serde_json::from_str::<serde::de::IgnoredAny>(text)?;
        check_readable(text)?;
        Ok(Self::whole(text.to_owned()))
    }

    /// The JSON text of a serialisable value.
    pub fn from_value<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, JsonError> {
        Ok(Self::whole(serde_json::to_string(value)?))
    }

    /// `{}`.
    pub fn empty_object() -> Self {
        Self(Text::EmptyObject)
    }

    fn whole(text: String) -> Self {
        let span = 0..text.len();
        Self(Text::Shared {
            buffer: Arc::new(text),
            span,
        })
    }

    /// Text the store wrote itself, after it was checked on the way in: `buffer[span]`.
    /// `span` must lie inside `buffer` on character boundaries.
    pub(crate) fn from_trusted(buffer: Arc<String>, span: Range<usize>) -> Self {
        debug_assert!(buffer.get(span.clone()).is_some(), "span off the buffer");
        Self(Text::Shared { buffer, span })
    }

    /// The text, exactly as given.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Text::EmptyObject => "{}",
            // Every constructor keeps `span` inside `buffer` on character boundaries.
            Text::Shared { buffer, span } => &buffer[span.clone()],
        }
    }

    /// Whether the value is a JSON object.
    pub fn is_object(&self) -> bool {
        self.as_str().trim_start().starts_with('{')
    }

    /// Parses the text into a typed value.
    pub fn to_value<T: serde::de::DeserializeOwned>(&self) -> Result<T, JsonError> {
        Ok(serde_json::from_str(self.as_str())?)
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Json {}

impl Hash for Json {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialises as the JSON value itself, not as a string holding it.
impl serde::Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(self.as_str()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        check_readable(raw.get()).map_err(serde::de::Error::custom)?;
        Ok(Self::whole(String::from(Box::<str>::from(raw))))
    }
}

/// Refuses what serde_json's syntax check admits but readers do not: numbers out of the range
/// of an `f64`, and escapes of lone surrogates. `text` must be valid JSON (it is scanned
/// without the syntax being checked again).
fn check_readable(text: &str) -> Result<(), JsonError> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at = match byte {
            b'"' => check_string(bytes, at + 1)?,
            // Outside strings, only numbers hold digits or `-`.
            b'-' | b'0'..=b'9' => check_number(text, at)?,
            _ => at + 1,
        };
    }
    Ok(())
}

/// Checks the escapes of the string whose text begins at `at` (after its opening quote);
/// returns where the string ends (after its closing quote).
fn check_string(bytes: &[u8], mut at: usize) -> Result<usize, JsonError> {
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => return Ok(at + 1),
            b'\\' if bytes.get(at + 1) == Some(&b'u') => {
                let Some(code) = hex_escape(bytes, at) else {
                    at += 2;
                    continue;
                };
                match code {
                    0xD800..=0xDBFF => match hex_escape(bytes, at + 6) {
                        Some(0xDC00..=0xDFFF) => at += 12,
                        _ => return Err(JsonError::LoneSurrogate { code, at }),
                    },
                    0xDC00..=0xDFFF => return Err(JsonError::LoneSurrogate { code, at }),
                    _ => at += 6,
                }
            }
            // Any other escape is two bytes: `\"` must not end the string.
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
    Ok(at)
}

/// The code unit of the `\uXXXX` escape at `at`, if one is there.
fn hex_escape(bytes: &[u8], at: usize) -> Option<u16> {
    let escape = bytes.get(at..at + 6)?;
    if escape[..2] != *b"\\u" {
        return None;
    }
    escape[2..].iter().try_fold(0u16, |code, &digit| {
        let value = char::from(digit).to_digit(16)?;
        Some(code << 4 | u16::try_from(value).ok()?)
    })
}

/// Checks the number whose text begins at `at`; returns where it ends.
///
/// A number without an exponent and shorter than 300 bytes is at most 10^300 in magnitude, so
/// only longer numbers, and numbers with an exponent, are parsed: by serde_json, as cairn's
/// readers parse, and by the standard library, which rounds exactly as most other readers do.
/// Either finding it infinite refuses it. (A number too small for an `f64` reads as 0, which
/// readers accept.)
fn check_number(text: &str, at: usize) -> Result<usize, JsonError> {
    let bytes = text.as_bytes();
    let length = bytes[at..]
        .iter()
        .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        .unwrap_or(bytes.len() - at);
    let number = &text[at..at + length];
    let suspect = length >= 300 || number.bytes().any(|b| b == b'e' || b == b'E');
    if suspect {
        let by_serde_json = serde_json::from_str::<f64>(number).is_ok_and(f64::is_finite);
        let by_std = number.parse::<f64>().is_ok_and(f64::is_finite);
        if !(by_serde_json && by_std) {
            return Err(JsonError::NumberOutOfRange { at });
        }
    }
    Ok(at + length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_text_exactly_and_refuses_the_rest() {
        let text = r#"{ "b": 1,  "a": [true, null] }"#;
        assert_eq!(Json::parse(text).expect("valid").as_str(), text);
        for bad in ["", "{", "{} {}", "{'a':1}", "[1,]", "nul"] {
            assert!(Json::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn refuses_numbers_out_of_range_and_lone_surrogates_where_they_are() {
        let long = format!("[{}]", "9".repeat(400));
        let refused_numbers = [
            ("1e400", 0),
            ("-1e400", 0),
            ("[1, 2E+309]", 4),
            (r#"{"a": 1.5e99999}"#, 6),
            (r#"{"e": "1e400", "n": -18e307}"#, 20),
            (long.as_str(), 1),
        ];
        for (text, at) in refused_numbers {
            match Json::parse(text) {
                Err(JsonError::NumberOutOfRange { at: found }) => assert_eq!(found, at, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let refused_strings = [
            (r#""\ud800""#, 0xD800, 1),
            (r#""\udc00x""#, 0xDC00, 1),
            (r#"["ok", "a\uDBFFb"]"#, 0xDBFF, 9),
            (r#""\ud800\u0041""#, 0xD800, 1),
            (r#""\ude00\ud83d""#, 0xDE00, 1),
            (r#"{"\ud83d": 1}"#, 0xD83D, 2),
            (r#""\\\udc00""#, 0xDC00, 3),
            // An escaped quote does not end the string.
            (r#"{"a\"1e400": "\"\ud800 quoted\\"}"#, 0xD800, 16),
        ];
        for (text, code, at) in refused_strings {
            match Json::parse(text) {
                Err(JsonError::LoneSurrogate {
                    code: found,
                    at: found_at,
                }) => assert_eq!((found, found_at), (code, at), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let message = Json::parse(r#""\ud800""#).expect_err("refused").to_string();
        assert!(message.contains("lone surrogate"), "{message}");
        assert!(message.contains("byte 1"), "{message}");
        let message = Json::parse("1e400").expect_err("refused").to_string();
        assert!(message.contains("out of range"), "{message}");
    }

    #[test]
    fn keeps_numbers_in_range_and_paired_surrogates() {
        let long_fraction = format!("0.{}", "1".repeat(500));
        let long_integer = "9".repeat(300);
        for text in [
            "1e300",
            "-1.7976931348623157e308",
            "1e-400",
            "123456789012345678901234567890",
            "0.1000000000000000000000000000000001",
            long_fraction.as_str(),
            long_integer.as_str(),
            r#""\ud83d\ude00""#,
            r#"{"emoji \uD83D\uDE00": "\u00e9\ud7ff\ue000\uffff"}"#,
            r#""\\ud800 is text, not an escape""#,
            r#""1e400 in a string""#,
            r#"{"a\"1e400": "\"\ud7ff quoted\\"}"#,
        ] {
            let json = Json::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(json.as_str(), text);
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("a reader refuses {text}: {e}"));
        }
    }

    #[test]
    fn what_is_kept_near_the_limit_a_reader_reads() {
        let max_spelled_out = format!("{}", f64::MAX);
        let past_max = format!("18{}", "0".repeat(307));
        for text in [
            max_spelled_out.as_str(),
            past_max.as_str(),
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "1.8e308",
            "17976931348623157e292",
            "0.00017976931348623157e312",
        ] {
            if Json::parse(text).is_ok() {
                let value: serde_json::Value = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("kept {text}, which a reader refuses: {e}"));
                assert!(value.as_f64().is_some_and(f64::is_finite), "{text}");
                assert!(text.parse::<f64>().is_ok_and(f64::is_finite), "{text}");
            }
        }
        assert!(Json::parse("1.7976931348623157e308").is_ok());
        assert!(Json::parse("1.8e308").is_err());
    }

    #[test]
    fn deserialising_checks_the_same() {
        #[derive(Debug, serde::Deserialize)]
        struct Wrapper {
            #[allow(dead_code)]
            data: Json,
        }
        for body in [r#"{"data": [1e400]}"#, r#"{"data": "\udc00"}"#] {
            let error = serde_json::from_str::<Wrapper>(body).expect_err(body);
            assert!(
                error.to_string().contains("out of range")
                    || error.to_string().contains("lone surrogate"),
                "{error}"
            );
        }
        assert!(serde_json::from_str::<Wrapper>(r#"{"data": [1e300, "\ud83d\ude00"]}"#).is_ok());
    }

    #[test]
    fn knows_objects() {
        assert!(Json::parse(" {\"a\":1}").expect("valid").is_object());
        assert!(!Json::parse("[1]").expect("valid").is_object());
        assert!(!Json::parse("\"{\"").expect("valid").is_object());
    }

    #[test]
    fn serialises_as_the_value_not_a_string() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Wrapper {
            data: Json,
        }
        let w: Wrapper = serde_json::from_str(r#"{"data": {"x": [1, 2]}}"#).expect("valid");
        assert_eq!(w.data.as_str(), r#"{"x": [1, 2]}"#);
        assert_eq!(
            serde_json::to_string(&w).expect("serialises"),
            r#"{"data":{"x": [1, 2]}}"#
        );
    }
}
