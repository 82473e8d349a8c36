//! How the client commands show things to people.

use serde_json::Value;

/// One event on one line: `#position stream@version Type {data}`.
pub(super) fn event_line(event: &Value) -> String {
    format!(
        "#{:<6} {}@{} {} {}",
        event["position"],
        event["stream"].as_str().unwrap_or("?"),
        event["version"],
        event["type"].as_str().unwrap_or("?"),
        event["data"]
    )
}

/// Pretty JSON, or its plain text if it cannot be.
pub(super) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
