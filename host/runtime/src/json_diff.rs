//! [`diff`]: what changed between two JSON values, as lines a person reads: one per changed
//! leaf, named by its path (`items[2].qty`), rather than two dumps to compare by eye.
//!
//! Objects are compared key by key and arrays index by index; anything else (or two values of
//! different kinds) is compared whole. A line is `path: old → new` for a change, `+ path: new`
//! for what appeared, and `- path: old` for what went. Lines come in key order, then index
//! order, so the same two values always give the same lines.

use serde_json::Value;

/// The changes from `before` to `after`; none for equal values.
pub fn diff(before: &Value, after: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    walk("", before, after, &mut lines);
    lines
}

fn walk(path: &str, before: &Value, after: &Value, lines: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let inner = field(path, key);
                match (old.get(key), new.get(key)) {
                    (Some(o), Some(n)) => walk(&inner, o, n, lines),
                    (None, Some(n)) => lines.push(format!("+ {inner}: {}", compact(n))),
                    (Some(o), None) => lines.push(format!("- {inner}: {}", compact(o))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(old), Value::Array(new)) => {
            for index in 0..old.len().max(new.len()) {
                let inner = format!("{path}[{index}]");
                match (old.get(index), new.get(index)) {
                    (Some(o), Some(n)) => walk(&inner, o, n, lines),
                    (None, Some(n)) => lines.push(format!("+ {inner}: {}", compact(n))),
                    (Some(o), None) => lines.push(format!("- {inner}: {}", compact(o))),
                    (None, None) => {}
                }
            }
        }
        _ if before == after => {}
        _ => {
            let shown = if path.is_empty() { "(the state)" } else { path };
            lines.push(format!("{shown}: {} → {}", compact(before), compact(after)));
        }
    }
}

/// The path of `key` inside `path`: `a.b`, or `a["odd key"]` for a key that is not a plain
/// identifier.
fn field(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_owned())),
    }
}

fn compact(value: &Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_values_have_no_changes() {
        let state = json!({"owner": "Ada", "items": [1, 2], "nested": {"a": null}});
        assert!(diff(&state, &state).is_empty());
    }

    #[test]
    fn each_changed_leaf_is_one_line_named_by_its_path() {
        let before =
            json!({"balance": 500, "owner": null, "items": [{"qty": 1}, {"qty": 2}], "gone": true});
        let after = json!({"balance": 750, "owner": "Ada", "items": [{"qty": 1}, {"qty": 3}, {"qty": 9}], "odd key": 1});
        assert_eq!(
            diff(&before, &after),
            [
                "balance: 500 → 750",
                "- gone: true",
                "items[1].qty: 2 → 3",
                "+ items[2]: {\"qty\":9}",
                "+ [\"odd key\"]: 1",
                "owner: null → \"Ada\"",
            ]
        );
    }

    #[test]
    fn values_of_different_kinds_are_compared_whole() {
        assert_eq!(
            diff(&json!(null), &json!({"a": 1})),
            ["(the state): null → {\"a\":1}"]
        );
        assert_eq!(
            diff(&json!({"a": [1]}), &json!({"a": {"0": 1}})),
            ["a: [1] → {\"0\":1}"]
        );
    }
}
