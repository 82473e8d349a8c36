//! Errors that say how to fix them, against the real server: each mistake a newcomer made,
//! answered in cairn's words with what to do, never the framework's words or positions in a
//! text the caller never wrote.

mod common;

use common::server::{Server, assert_error};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn message(reply: &(u16, Value)) -> &str {
    reply.1["message"].as_str().unwrap_or("")
}

#[track_caller]
fn assert_no_framework_words(reply: &(u16, Value)) {
    let text = message(reply);
    for word in ["Failed to", "deserialize", "target type", "line 1 column"] {
        assert!(!text.contains(word), "{word:?} in {text:?}");
    }
}

/// The reply to a request with a body of `length` bytes, sent while the reply is read: the
/// server answers once it has read past its limit, and may close the connection before the
/// rest is sent, which is not an error here.
async fn oversized(
    server: &Server,
    method: &str,
    path: &str,
    content_type: &str,
    length: usize,
) -> (u16, Value) {
    let address = server.base.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connects");
    let (mut reading, mut writing) = socket.into_split();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    let sending = tokio::spawn(async move {
        writing.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < length {
            let n = chunk.len().min(length - sent);
            writing.write_all(&chunk[..n]).await?;
            sent += n;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        reading.read_to_end(&mut reply),
    )
    .await;
    sending.abort();
    let reply = String::from_utf8_lossy(&reply);
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_are_answered_with_what_to_do() {
    let server = Server::start_in(
        tempfile::tempdir().expect("temp dir"),
        None,
        &["customers", "bank_account", "customer_directory"],
    )
    .await;

    // A body over the limit says the limit.
    let reply = oversized(
        &server,
        "POST",
        "/v1/aggregates/customers/c1/commands",
        "application/json",
        2 * 1024 * 1024,
    )
    .await;
    assert_error(&reply, 413, "body_too_large");
    assert!(message(&reply).contains("1 MiB"), "{}", reply.1);
    assert_no_framework_words(&reply);

    // A command without its type names the field, in cairn's words.
    let reply = server
        .command("customers", "c1", json!({"data": {"name": "Ada"}}))
        .await;
    assert_error(&reply, 422, "invalid_body");
    assert!(message(&reply).contains("`type`"), "{}", reply.1);
    assert_no_framework_words(&reply);

    // A command the module cannot read: no column of the module's own re-encoded JSON.
    let reply = server
        .command(
            "customers",
            "c1",
            json!({"type": "Create", "data": {"name": 7}}),
        )
        .await;
    assert_error(&reply, 422, "invalid_command");
    assert!(!message(&reply).contains(" at line "), "{}", reply.1);

    // A command to a projection says it is one, and names the aggregates.
    let reply = server
        .command("customer_directory", "c1", json!({"type": "Create"}))
        .await;
    assert_error(&reply, 404, "unknown_module");
    assert!(message(&reply).contains("is a projection"), "{}", reply.1);
    assert!(message(&reply).contains("customers"), "{}", reply.1);

    // A slip of the name suggests the aggregate meant; `-` for `_` too.
    for slip in ["custmers", "bank-account"] {
        let reply = server.command(slip, "c1", json!({"type": "Create"})).await;
        assert_error(&reply, 404, "unknown_module");
        let meant = if slip == "custmers" {
            "customers"
        } else {
            "bank_account"
        };
        assert!(
            message(&reply).contains(&format!("did you mean the aggregate '{meant}'")),
            "{slip}: {}",
            reply.1
        );
    }

    // A query parameter a route does not take is refused, not ignored.
    let reply = server.get("/v1/aggregates/customers/c1?version=1").await;
    assert_error(&reply, 400, "invalid_query");
    assert_eq!(
        message(&reply),
        "`version` is not a query parameter of this route (it takes `at` or `module`)"
    );
    let reply = server.get("/v1/all?limt=5").await;
    assert_error(&reply, 400, "invalid_query");
    assert!(
        message(&reply).starts_with("`limt` is not a query parameter of this route (it takes"),
        "{}",
        reply.1
    );
    assert!(message(&reply).contains("limit"), "{}", reply.1);

    // A module over its limit says the limit.
    let path = "/v1/modules/too_big";
    let reply = oversized(&server, "PUT", path, "application/wasm", 17 * 1024 * 1024).await;
    assert_error(&reply, 413, "body_too_large");
    assert!(message(&reply).contains("16 MiB"), "{}", reply.1);

    // Nothing of it was stored.
    let log = server.get("/v1/all").await;
    assert_eq!(log.1["events"], json!([]), "{}", log.1);
    server.stop().await;
}
