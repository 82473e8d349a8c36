//! Replies held to the API description: [`assert_declared`] fails a test whose request got a
//! status that the served `/openapi.json` does not declare for the request's operation. Every
//! request sent through [`Server::call`](super::server::Server::call) is checked, so a handler
//! that starts answering a new status without declaring it fails the tests that reach it.

use serde_json::Value;

/// The operation of `description` that `method` (lower case) `path` is, with its path template.
/// The path is the router's: of the templates that match, the one with the most literal
/// segments; the operation is its `method`'s, if it has one.
fn operation<'a>(description: &'a Value, method: &str, path: &str) -> Option<(&'a str, &'a Value)> {
    let segments: Vec<&str> = path.split('/').collect();
    let (template, item) = description["paths"]
        .as_object()?
        .iter()
        .filter(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    part == segment || (part.starts_with('{') && !segment.is_empty())
                })
        })
        .max_by_key(|(template, _)| template.split('/').filter(|p| !p.starts_with('{')).count())?;
    Some((template.as_str(), item.get(method)?))
}

/// Fails if `description` does not declare `status` for the operation `method` `path` is. A
/// request that is no operation (an unknown route or method) is not checked.
pub fn assert_declared(description: &Value, method: &str, path: &str, status: u16) {
    let method = method.to_ascii_lowercase();
    let Some((template, operation)) = operation(description, &method, path) else {
        return;
    };
    assert!(
        operation["responses"].get(status.to_string()).is_some(),
        "{method} {path} ({template}) answered {status}, which /openapi.json does not declare \
         for it: name where it comes from in the error table, host/server/src/http/route_errors/"
    );
}
