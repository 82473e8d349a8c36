//! The HTTP edge against hostile and careless clients, on the real server in process
//! (`cairn_server::http::LocalServer` on 127.0.0.1:0) with a cairn.toml `[http]` section:
//! sockets held idle or sending headers slowly, bodies that stall, subscribers that stop
//! reading, heads over the limits, and the details of auth.

#[path = "common/raw.rs"]
mod raw;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use cairn_server::http::LocalServer;
use cairn_server::node::Node;
use cairn_server::settings::Settings;
use raw::{closed_within, connect, connect_with_small_window, exchange, get, read_head};

/// A generous bound for what should happen within a second or two.
const PROMPTLY: Duration = Duration::from_secs(30);

/// The server in process, on its own runtime, until dropped.
struct InProcess {
    address: SocketAddr,
    server: Option<LocalServer>,
    node: Option<Node>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl InProcess {
    fn start(cairn_toml: &str, api_key: Option<&str>) -> Self {
        let settings = Settings::parse(cairn_toml).expect("valid settings");
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (server, node) = runtime.block_on(async {
            let node = Node::open(dir.path(), &settings).await.expect("opens");
            let server =
                LocalServer::start_with(&node, api_key.map(str::to_owned), settings.http.clone())
                    .await
                    .expect("serves");
            (server, node)
        });
        Self {
            address: server.address(),
            server: Some(server),
            node: Some(node),
            runtime,
            _dir: dir,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let (server, node) = (self.server.take(), self.node.take());
        self.runtime.block_on(async {
            if let Some(server) = server {
                let _ = server.stop().await;
            }
            if let Some(node) = node {
                node.close().await;
            }
        });
    }
}

#[test]
fn idle_and_slow_sockets_cannot_keep_others_out_and_are_closed() {
    let server = InProcess::start(
        "[http]\nmax_connections = 4\nheader_timeout_ms = 1_500\nidle_timeout_ms = 1_500\n",
        Some("k3y"),
    );
    // Twice the cap: half send nothing, half send a head that never ends (auth cannot refuse
    // them, it runs once the head is whole).
    let mut held: Vec<_> = (0..8)
        .map(|n| {
            let mut socket = connect(server.address);
            if n % 2 == 1 {
                socket
                    .write_all(b"GET /v1/all HTTP/1.1\r\nHost: x\r\n")
                    .expect("sends part of a head");
            }
            socket
        })
        .collect();
    let health = get(server.address, "/healthz");
    assert_eq!(health.status, 200, "{}", health.body);
    let read = exchange(
        server.address,
        b"GET /v1/all HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k3y\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(read.status, 200, "{}", read.body);
    for (n, socket) in held.iter_mut().enumerate() {
        assert!(
            closed_within(socket, PROMPTLY),
            "held socket {n} is still open"
        );
    }
}

#[test]
fn a_keep_alive_connection_left_idle_is_closed() {
    let server = InProcess::start("[http]\nidle_timeout_ms = 300\n", None);
    let mut socket = connect(server.address);
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("sends");
    let head = read_head(&mut socket);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        closed_within(&mut socket, PROMPTLY),
        "the idle connection stays open"
    );
}

#[test]
fn a_body_that_stalls_is_answered_408_and_closed() {
    let server = InProcess::start("[http]\nbody_timeout_ms = 300\n", None);
    let reply = exchange(
        server.address,
        b"POST /v1/streams/orders-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"events\": [",
    );
    assert_eq!(reply.status, 408, "{reply:?}");
    assert_eq!(reply.json()["error"], "body_timeout");
    assert_eq!(reply.header("connection"), Some("close"));
    let read = get(server.address, "/v1/streams/orders-1");
    assert_eq!(read.json()["version"], 0, "nothing was appended");
}

#[test]
fn a_subscriber_that_stops_reading_is_disconnected() {
    let server = InProcess::start("[http]\nwrite_stall_timeout_ms = 300\n", None);
    // More than the server's send buffer and the subscriber's small window can hold.
    raw::append_large(server.address, "large-1", 12, 900 * 1024);
    let mut subscriber = connect_with_small_window(server.address);
    subscriber
        .write_all(b"GET /v1/subscribe HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("subscribes");
    let head = read_head(&mut subscriber);
    assert!(head.contains("text/event-stream"), "{head}");
    // The subscriber stops reading, long past the stall timeout...
    std::thread::sleep(Duration::from_secs(3));
    // ... and finds, when it reads again, that the server gave up on it: what was buffered,
    // then the end. A server that waited would send the rest and then keep it open.
    assert!(
        closed_within(&mut subscriber, PROMPTLY),
        "the stalled subscriber is still connected"
    );
    // Others are served as before.
    assert_eq!(get(server.address, "/healthz").status, 200);
}

#[test]
fn heads_over_the_limits_get_cairns_json_errors() {
    let server = InProcess::start(
        "[http]\nmax_uri_bytes = 1_024\nmax_header_bytes = 4_096\n",
        None,
    );
    let long = format!("/v1/all?category={}", "c".repeat(2_000));
    let reply = get(server.address, &long);
    assert_eq!(reply.status, 414, "{reply:?}");
    assert_eq!(reply.json()["error"], "uri_too_long");
    assert!(
        reply.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("1024"))
    );

    let padding = "p".repeat(5_000);
    let reply = exchange(
        server.address,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {padding}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(reply.status, 431, "{reply:?}");
    assert_eq!(reply.json()["error"], "headers_too_large");
    assert_eq!(get(server.address, "/healthz").status, 200);
}

#[test]
fn the_bearer_scheme_is_taken_in_any_case_and_every_401_names_it() {
    let server = InProcess::start("", Some("k3y"));
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let reply = exchange(
            server.address,
            format!("GET /v1/all HTTP/1.1\r\nHost: x\r\nAuthorization: {scheme} k3y\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(reply.status, 200, "{scheme}: {}", reply.body);
    }
    for authorization in [
        "",
        "Authorization: Bearer wrong\r\n",
        "Authorization: Basic k3y\r\n",
    ] {
        let reply = exchange(
            server.address,
            format!("GET /v1/all HTTP/1.1\r\nHost: x\r\n{authorization}Connection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(reply.status, 401, "{authorization:?}");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("bearer"),
            "{authorization:?}"
        );
        assert_eq!(reply.json()["error"], "unauthorized");
    }
}
