//! The console: an admin web UI served at `/ui`, made of static files compiled into the
//! binary (`host/server/console/`, plain JavaScript modules, no build step) that use only the
//! public HTTP API, as any client would.
//!
//! - `assets.rs`: the files, served with their content types and the console's security
//!   headers (a Content-Security-Policy that allows no script but the console's own). Every
//!   path under `/ui` that is not a file is the page shell, so a page's address can be
//!   bookmarked and reloaded.
//! - `session.rs`: signing in with the API key, for a session the console keeps in an
//!   `HttpOnly`, `SameSite=Strict` cookie, and the CSRF token that must go with every change
//!   made under that cookie (`auth.rs` checks both).
//!
//! `GET /` redirects to `/ui/`. None of these routes needs the key: the files hold no data, and
//! the session routes check it themselves.

mod assets;
mod session;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

use crate::http::AppState;

pub(crate) use session::{CSRF_HEADER, ConsoleSecret, signed_in};

/// Whether a request to `path` is the console's own, which needs no key.
pub(crate) fn is_console_path(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/")
}

/// The console's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route(
            "/ui/session",
            get(session::status)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/ui/assets/{*file}", get(assets::file))
        .route("/ui/", get(assets::shell))
        .route("/ui/{*page}", get(assets::shell))
}
