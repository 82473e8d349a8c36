//! How the client commands show things to people.

use serde_json::Value;

/// The longest data [`event_line`] shows whole unless told to show all, in bytes.
pub(super) const SHORT_DATA: usize = 200;

/// One event on one line: `#position stream@version Type {data}`, and `(upcast from Old)` for
/// one an upcaster gave. An event with no data (`null`) shows none; data over [`SHORT_DATA`]
/// bytes is cut short unless `full`.
pub(super) fn event_line(event: &Value, full: bool) -> String {
    let mut line = format!(
        "#{:<6} {}@{} {}",
        event["position"].as_u64().unwrap_or(0),
        event["stream"].as_str().unwrap_or("?"),
        event["version"],
        event["type"].as_str().unwrap_or("?"),
    );
    if !event["data"].is_null() {
        line.push(' ');
        line.push_str(&shortened(&event["data"].to_string(), full));
    }
    if let Some(from) = event["upcast_from"].as_str() {
        line.push_str(&format!("  (upcast from {from})"));
    }
    line
}

/// `text`, or its first [`SHORT_DATA`] bytes (at a character's edge) and how long it is.
fn shortened(text: &str, full: bool) -> String {
    if full || text.len() <= SHORT_DATA {
        return text.to_owned();
    }
    let mut end = SHORT_DATA;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} bytes; --full shows it all)",
        &text[..end],
        text.len()
    )
}

/// Pretty JSON, or its plain text if it cannot be.
pub(super) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A page of parked events (a group's or a reactor's), one line each, and where the next page
/// starts when this one is full.
pub(super) fn parked_page(owner: &str, reply: &Value, after: u64, limit: usize) {
    let parked = reply["parked"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if parked.is_empty() {
        println!("{owner} has no parked events after position {after}");
    }
    for event in parked {
        println!(
            "position {} {} {} ({}, {} tries{}): {}",
            event["position"],
            event["stream"].as_str().unwrap_or(""),
            event["event_type"].as_str().unwrap_or(""),
            event["reason"].as_str().unwrap_or("?"),
            event["attempts"],
            if event["released"] == true {
                ", released"
            } else {
                ""
            },
            event["last_error"].as_str().unwrap_or("-"),
        );
    }
    if parked.len() == limit
        && let Some(last) = parked.last()
    {
        println!("more: --after {}", last["position"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(data: Value) -> Value {
        json!({"position": 7, "stream": "s-1", "version": 2, "type": "Noted", "data": data})
    }

    #[test]
    fn an_event_with_no_data_shows_none() {
        assert_eq!(
            event_line(&event(Value::Null), false),
            "#7      s-1@2 Noted"
        );
        let with_data = event_line(&event(json!({"a": 1})), false);
        assert!(
            with_data.ends_with("s-1@2 Noted {\"a\":1}"),
            "{with_data:?}"
        );
    }

    #[test]
    fn an_upcast_event_says_what_it_was_stored_as() {
        let mut upcast = event(json!({"a": 1}));
        upcast["upcast_from"] = json!("Jotted");
        assert_eq!(
            event_line(&upcast, false),
            "#7      s-1@2 Noted {\"a\":1}  (upcast from Jotted)"
        );
    }

    #[test]
    fn large_data_is_cut_short_unless_asked_for_whole() {
        let data = json!({"text": "é".repeat(400)});
        let short = event_line(&event(data.clone()), false);
        assert!(short.len() < 300, "{short}");
        assert!(short.ends_with("bytes; --full shows it all)"), "{short}");
        let full = event_line(&event(data.clone()), true);
        assert!(full.ends_with(&data.to_string()), "{full}");
    }
}
