//! Arbitrary requests into the real HTTP API (the axum app over a real node on a temporary
//! directory): bodies into the API types, names and query strings into paths, bytes into
//! module uploads. Every request gets an answer below 500; a panic or a 5xx is a finding.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[derive(Arbitrary, Debug)]
struct Input {
    route: u8,
    json: bool,
    name: String,
    query: String,
    body: Vec<u8>,
}

struct Server {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let node = runtime
            .block_on(cairn_server::node::Node::open(
                dir.path(),
                &cairn_server::settings::Settings::default(),
            ))
            .expect("the node opens");
        let app = cairn_server::http::app(cairn_server::http::AppState::new(&node, None));
        // The node lives as long as the process.
        std::mem::forget(node);
        Server {
            runtime,
            app,
            _dir: dir,
        }
    })
}

/// Percent-encodes every byte, so any name is one path segment.
fn segment(name: &str) -> String {
    name.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Keeps what shapes a query string (`=`, `&`, letters, digits) and percent-encodes the rest.
fn query(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'=' | b'&' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b if b.is_ascii_alphanumeric() => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fuzz_target!(|input: Input| {
    let server = server();
    let name = segment(&input.name);
    let query = query(&input.query);
    let (method, path) = match input.route % 8 {
        0 => (Method::POST, format!("/v1/streams/{name}")),
        1 => (Method::GET, format!("/v1/streams/{name}?{query}")),
        2 => (Method::GET, format!("/v1/all?{query}")),
        3 => (
            Method::POST,
            format!("/v1/aggregates/bank_account/{name}/commands?{query}"),
        ),
        4 => (Method::GET, format!("/v1/aggregates/bank_account/{name}")),
        5 => (Method::PUT, format!("/v1/modules/{name}")),
        6 => (Method::POST, format!("/v1/projections/{name}/query")),
        _ => (Method::GET, format!("/v1/projections/{name}")),
    };
    let content_type = match (input.route % 8, input.json) {
        (5, true) => "application/wasm",
        (_, true) => "application/json",
        (_, false) => "text/plain",
    };
    let Ok(request) = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(Body::from(input.body))
    else {
        return; // not a request a client could send
    };
    let response = server
        .runtime
        .block_on(server.app.clone().oneshot(request))
        .expect("the app always answers");
    assert!(
        response.status().as_u16() < 500,
        "a request got {}",
        response.status()
    );
});
