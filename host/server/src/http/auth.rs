//! Bearer-token auth: with an API key set, every route but `/healthz` and the console's own
//! (its files and its sign-in) needs `Authorization: Bearer <key>`, or the console's session
//! cookie for the key (`console/session.rs`). The scheme is matched in any case (`bearer`,
//! `BEARER`), as RFC 9110 has it; the key exactly. Every 401 says `WWW-Authenticate: Bearer`
//! (`error.rs`). A request that changes anything under the cookie alone must carry the
//! session's CSRF token as well, or is refused with 403 `csrf_refused`: a page of another
//! site can make the browser send the cookie, but cannot read the token.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::console;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// The middleware: passes the request on, or answers 401 `unauthorized`.
pub(super) async fn require_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(key) = &state.api_key else {
        return Ok(next.run(request).await);
    };
    if !needs_key(request.uri().path()) {
        return Ok(next.run(request).await);
    }
    let headers = request.headers();
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    if let Some(given) = bearer {
        return if keys_match(given.as_bytes(), key.as_bytes()) {
            Ok(next.run(request).await)
        } else {
            Err(ApiError::unauthorized())
        };
    }
    if !console::signed_in(&state, headers, key) {
        return Err(ApiError::unauthorized());
    }
    let token = headers
        .get(console::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = state.console_secret.csrf_token(key);
    if !request.method().is_safe() && !keys_match(token.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::csrf_refused());
    }
    Ok(next.run(request).await)
}

/// Whether a request to `path` needs the key: every one but `/healthz` and the console's.
pub(crate) fn needs_key(path: &str) -> bool {
    path != "/healthz" && !console::is_console_path(path)
}

/// The token of an `Authorization` value of the `Bearer` scheme, in any case.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

/// Compares without stopping at the first difference, so the time taken does not tell an
/// attacker how much of a guess was right.
pub(crate) fn keys_match(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, keys_match as same};

    #[test]
    fn takes_the_scheme_in_any_case() {
        for value in ["Bearer k", "bearer k", "BEARER k", "bEaReR  k"] {
            assert_eq!(bearer_token(value), Some("k"), "{value}");
        }
        assert_eq!(bearer_token("Basic k"), None);
        assert_eq!(bearer_token("Bearerk"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn compares_whole_keys() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
        assert!(!same(b"", b"x"));
    }
}
