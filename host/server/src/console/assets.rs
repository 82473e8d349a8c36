//! The console's files, compiled into the binary, and the headers every console response
//! carries.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// The files under `host/server/console/`.
#[derive(rust_embed::RustEmbed)]
#[folder = "console/"]
struct Files;

/// What a console page may load and run: its own scripts, styles and images, and requests to
/// this server only. No inline script, no `eval`, no framing.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The page shell, for `/ui/` and every page under it.
pub(super) async fn shell() -> Response {
    served("index.html", "no-cache")
}

/// A file under `/ui/assets/`.
pub(super) async fn file(Path(file): Path<String>) -> Response {
    served(&file, "no-cache")
}

fn served(name: &str, cache: &'static str) -> Response {
    let Some(file) = Files::get(name) else {
        let mut response = (StatusCode::NOT_FOUND, "no such file in the console").into_response();
        secure(response.headers_mut());
        return response;
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    secure(&mut headers);
    (headers, file.data.into_owned()).into_response()
}

/// The security headers of every console response.
fn secure(headers: &mut HeaderMap) {
    headers.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::{Files, content_type};

    #[test]
    fn every_file_has_a_known_type_and_the_shell_loads_no_inline_script() {
        let names: Vec<String> = Files::iter().map(|n| n.into_owned()).collect();
        assert!(names.iter().any(|n| n == "index.html"), "{names:?}");
        for name in &names {
            assert_ne!(content_type(name), "application/octet-stream", "{name}");
        }
        let shell = Files::get("index.html").expect("the shell");
        let shell = std::str::from_utf8(&shell.data).expect("UTF-8");
        for (at, _) in shell.match_indices("<script") {
            let tag = &shell[at..at + shell[at..].find('>').expect("a closed tag")];
            assert!(tag.contains("src="), "an inline script: {tag}");
        }
        for (at, _) in shell.match_indices(" on") {
            let name: String = shell[at + 1..]
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            let after = shell[at + 1 + name.len()..].chars().next();
            assert!(after != Some('='), "an inline event handler: {name}");
        }
    }
}
