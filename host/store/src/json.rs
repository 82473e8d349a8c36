//! [`Json`]: a JSON text that is known to be valid, kept as text.

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

/// Why a text is not JSON.
#[derive(Debug, thiserror::Error)]
#[error("not valid JSON: {0}")]
pub struct JsonError(#[from] serde_json::Error);

impl Json {
    /// Checks `text` and keeps it as it is.
    pub fn parse(text: &str) -> Result<Self, JsonError> {
        serde_json::from_str::<serde::de::IgnoredAny>(text)?;
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
        Ok(Self::whole(String::from(Box::<str>::from(raw))))
    }
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
