//! Signing in to the console with the API key.
//!
//! The key goes in once (`POST /ui/session`) and comes back as a session cookie the page's
//! scripts cannot read (`HttpOnly`), that no other site's page sends (`SameSite=Strict`), and
//! that travels only over TLS when the console is reached over it (`Secure`, when the request
//! came as `https`, directly or through a proxy that says so in `X-Forwarded-Proto`).
//!
//! The cookie does not hold the key: it holds a digest of the key and a secret the server
//! draws at start ([`ConsoleSecret`]), so a copied cookie does not give the key away, and every
//! session ends when the server restarts.
//!
//! A cookie goes with every request to this server, a forged one included, so a change made
//! under the cookie must also carry [`CSRF_HEADER`] with the session's token, which only a
//! page of this origin can read (`GET /ui/session`; another origin cannot read the reply).
//! Both are derived from the key and the secret, so they need no server-side state.

use axum::Json;
use axum::extract::State;
use axum::http::header::{COOKIE as COOKIE_HEADER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::http::{ApiError, AppState};

/// The cookie that holds the session.
pub(crate) const COOKIE: &str = "cairn_key";
/// The header a change made under the cookie carries, with [`csrf_token`].
pub(crate) const CSRF_HEADER: &str = "x-cairn-csrf";

/// A secret drawn when the server starts, which sessions and their tokens are derived with.
#[derive(Clone)]
pub(crate) struct ConsoleSecret([u8; 32]);

impl ConsoleSecret {
    /// A fresh secret from the operating system's random source (two version 4 UUIDs).
    pub(crate) fn draw() -> Self {
        let mut bytes = [0; 32];
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self(bytes)
    }

    fn derive(&self, purpose: &[u8], key: &str) -> String {
        let digest = Sha256::new()
            .chain_update(purpose)
            .chain_update(self.0)
            .chain_update(key.as_bytes())
            .finalize();
        hex(&digest)
    }

    /// The session cookie's value for `key`.
    pub(crate) fn session(&self, key: &str) -> String {
        self.derive(b"cairn console session\0", key)
    }

    /// The CSRF token of a session under `key`.
    pub(crate) fn csrf_token(&self, key: &str) -> String {
        self.derive(b"cairn console csrf\0", key)
    }
}

impl std::fmt::Debug for ConsoleSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleSecret(..)")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session a request's cookie holds, if it has one.
pub(crate) fn cookie_session(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Whether a request's cookie holds the session of `key`.
pub(crate) fn signed_in(state: &AppState, headers: &HeaderMap, key: &str) -> bool {
    cookie_session(headers).is_some_and(|given| same(given, &state.console_secret.session(key)))
}

/// Where a console stands.
#[derive(Debug, serde::Serialize)]
pub(super) struct SessionStatus {
    /// Whether the server needs a key.
    key_required: bool,
    /// Whether this request may use the API: no key is needed, or its cookie holds the key.
    signed_in: bool,
    /// The token to send in `X-Cairn-CSRF` with every change, when signed in by cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<String>,
}

/// `GET /ui/session`.
pub(super) async fn status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let status = match &state.api_key {
        None => SessionStatus {
            key_required: false,
            signed_in: true,
            csrf: None,
        },
        Some(key) => {
            let signed_in = signed_in(&state, &headers, key);
            SessionStatus {
                key_required: true,
                signed_in,
                csrf: signed_in.then(|| state.console_secret.csrf_token(key)),
            }
        }
    };
    let mut response = Json(status).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

/// What signing in sends.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    key: String,
}

/// `POST /ui/session`: checks the key, and sets the cookie if it is right.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::http::JsonBody(request): crate::http::JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let Some(key) = &state.api_key else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if !same(&request.key, key) {
        return Err(ApiError::unauthorized());
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
        state.console_secret.session(key),
        if over_tls(&headers) { "; Secure" } else { "" }
    );
    Ok(set_cookie(cookie))
}

/// `DELETE /ui/session`: forgets the cookie.
pub(super) async fn sign_out(headers: HeaderMap) -> Response {
    let cookie = format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if over_tls(&headers) { "; Secure" } else { "" }
    );
    set_cookie(cookie)
}

fn set_cookie(cookie: String) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

/// Whether the request came over TLS, as a proxy in front says.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn same(given: &str, key: &str) -> bool {
    crate::http::keys_match(given.as_bytes(), key.as_bytes())
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::{ConsoleSecret, cookie_session};

    #[test]
    fn a_session_follows_the_key_and_the_secret_and_never_shows_the_key() {
        let key = "s3cret; with=odd \"chars\" é";
        let (one, other) = (ConsoleSecret::draw(), ConsoleSecret::draw());
        assert_eq!(one.session(key), one.session(key));
        assert_ne!(
            one.session(key),
            other.session(key),
            "a restart ends every session"
        );
        assert_ne!(one.session(key), one.session("another key"));
        assert_ne!(one.session(key), one.csrf_token(key));
        assert!(!one.session(key).contains("s3cret"));
        assert_eq!(one.session(key).len(), 64);
        let mut headers = HeaderMap::new();
        let cookie = format!("other=1; cairn_key={}; last=2", one.session(key));
        headers.insert("cookie", HeaderValue::from_str(&cookie).expect("ASCII"));
        assert_eq!(cookie_session(&headers), Some(one.session(key).as_str()));
        assert_eq!(cookie_session(&HeaderMap::new()), None);
    }
}
