//! Signing in to the console with the API key.
//!
//! The key goes in once (`POST /ui/session`) and comes back as a cookie the page's scripts
//! cannot read (`HttpOnly`), that no other site's page sends (`SameSite=Strict`), and that
//! travels only over TLS when the console is reached over it (`Secure`, when the request came
//! as `https`, directly or through a proxy that says so in `X-Forwarded-Proto`).
//!
//! A cookie goes with every request to this server, a forged one included, so a change made
//! under the cookie must also carry [`CSRF_HEADER`] with the session's token, which only a
//! page of this origin can read (`GET /ui/session`; another origin cannot read the reply).
//! The token is derived from the key, so it changes with it and needs no server-side state.

use axum::Json;
use axum::extract::State;
use axum::http::header::{COOKIE as COOKIE_HEADER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::http::{ApiError, AppState};

/// The cookie that holds the key, hex-encoded.
pub(crate) const COOKIE: &str = "cairn_key";
/// The header a change made under the cookie carries, with [`csrf_token`].
pub(crate) const CSRF_HEADER: &str = "x-cairn-csrf";

/// The CSRF token of a session under `key`.
pub(crate) fn csrf_token(key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"cairn console csrf\0")
        .chain_update(key.as_bytes())
        .finalize();
    hex(&digest)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The key a request's cookie holds, if it has one.
pub(crate) fn cookie_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| unhex(value))
        .and_then(|bytes| String::from_utf8(bytes).ok())
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
            let signed_in = cookie_key(&headers).is_some_and(|given| same(&given, key));
            SessionStatus {
                key_required: true,
                signed_in,
                csrf: signed_in.then(|| csrf_token(key)),
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
        hex(key.as_bytes()),
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

    use super::{cookie_key, csrf_token, hex};

    #[test]
    fn the_cookie_carries_any_key_and_the_token_follows_the_key() {
        let key = "s3cret; with=odd \"chars\" é";
        let mut headers = HeaderMap::new();
        let cookie = format!("other=1; cairn_key={}; last=2", hex(key.as_bytes()));
        headers.insert("cookie", HeaderValue::from_str(&cookie).expect("ASCII"));
        assert_eq!(cookie_key(&headers).as_deref(), Some(key));
        let mut broken = HeaderMap::new();
        broken.insert("cookie", HeaderValue::from_static("cairn_key=zz"));
        assert_eq!(cookie_key(&broken), None);
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a").len(), 64);
    }
}
