//! Bearer-token auth: with an API key set, every route but `/healthz` needs
//! `Authorization: Bearer <key>`. The scheme is matched in any case (`bearer`, `BEARER`), as
//! RFC 9110 has it; the key exactly. Every 401 says `WWW-Authenticate: Bearer` (`error.rs`).

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

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
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match given {
        Some(given) if same(given.as_bytes(), key.as_bytes()) => Ok(next.run(request).await),
        _ => Err(ApiError::unauthorized()),
    }
}

/// Whether a request to `path` needs the key: every one but `/healthz`.
pub(super) fn needs_key(path: &str) -> bool {
    path != "/healthz"
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
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, same};

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
