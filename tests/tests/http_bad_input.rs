//! Bad input over HTTP, table-driven: bodies, names, values and uploads. Each case gets its
//! documented status and error code, the server keeps serving, and nothing changes: the log
//! and the module list are as they were. Then uploads, good and bad, while a storm of commands
//! runs: every command is answered as documented and none is lost.

mod common;

use common::server::{Server, assert_error};
use serde_json::{Value, json};

/// One bad request and what it must get.
struct Case {
    what: &'static str,
    method: reqwest::Method,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn case(
    what: &'static str,
    method: reqwest::Method,
    path: &str,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_owned(),
        content_type: "application/json",
        body: Vec::new(),
        status,
        code,
    }
}

fn post_json(
    what: &'static str,
    path: &str,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        body: body.into(),
        ..case(what, reqwest::Method::POST, path, status, code)
    }
}

fn get(what: &'static str, path: &str, status: u16, code: &'static str) -> Case {
    case(what, reqwest::Method::GET, path, status, code)
}

fn upload(what: &'static str, bytes: Vec<u8>, status: u16, code: &'static str) -> Case {
    Case {
        content_type: "application/wasm",
        body: bytes,
        ..case(what, reqwest::Method::PUT, "/v1/modules/bad", status, code)
    }
}

fn events(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"type": "E", "data": {"i": i}}))
            .collect(),
    )
}

fn append_body(expected: Value, events: Value) -> Vec<u8> {
    json!({"expected_version": expected, "events": events})
        .to_string()
        .into_bytes()
}

fn cases() -> Vec<Case> {
    let one = || events(1);
    let stream = "/v1/streams/s-1";
    vec![
        // Bodies.
        post_json(
            "malformed JSON",
            stream,
            "{\"events\": [",
            400,
            "malformed_json",
        ),
        post_json("not JSON at all", stream, "events=1", 400, "malformed_json"),
        post_json(
            "events of the wrong type",
            stream,
            r#"{"events": "none"}"#,
            422,
            "invalid_body",
        ),
        post_json(
            "an event of the wrong type",
            stream,
            r#"{"events": [7]}"#,
            422,
            "invalid_body",
        ),
        post_json("no events field", stream, "{}", 422, "invalid_body"),
        post_json(
            "an event with no type",
            stream,
            r#"{"events": [{"data": {}}]}"#,
            422,
            "invalid_body",
        ),
        post_json(
            "an empty event type",
            stream,
            r#"{"events": [{"type": "", "data": {}}]}"#,
            422,
            "invalid_body",
        ),
        post_json(
            "an unknown field",
            stream,
            r#"{"events": [], "expect": 1}"#,
            422,
            "invalid_body",
        ),
        post_json(
            "a body over 1 MiB",
            stream,
            append_body(
                json!("any"),
                json!([{"type": "E", "data": "x".repeat(2 * 1024 * 1024)}]),
            ),
            413,
            "body_too_large",
        ),
        post_json(
            "1,001 events",
            stream,
            append_body(json!("any"), events(1_001)),
            422,
            "too_many_events",
        ),
        post_json(
            "no events",
            stream,
            append_body(json!("any"), json!([])),
            422,
            "no_events",
        ),
        Case {
            content_type: "text/plain",
            ..post_json(
                "a text body",
                stream,
                append_body(json!("any"), one()),
                415,
                "unsupported_media_type",
            )
        },
        // Names.
        post_json(
            "an empty stream name",
            "/v1/streams/",
            append_body(json!("any"), one()),
            404,
            "not_found",
        ),
        post_json(
            "a 201-byte stream name",
            &format!("/v1/streams/{}", "s".repeat(201)),
            append_body(json!("any"), one()),
            400,
            "invalid_stream",
        ),
        post_json(
            "a control character",
            "/v1/streams/a%07b",
            append_body(json!("any"), one()),
            400,
            "invalid_stream",
        ),
        post_json(
            "a NUL",
            "/v1/streams/a%00b",
            append_body(json!("any"), one()),
            400,
            "invalid_stream",
        ),
        post_json(
            "a newline",
            "/v1/streams/a%0Ab",
            append_body(json!("any"), one()),
            400,
            "invalid_stream",
        ),
        post_json(
            "$",
            "/v1/streams/%24",
            append_body(json!("any"), one()),
            400,
            "reserved_stream",
        ),
        post_json(
            "$$",
            "/v1/streams/%24%24",
            append_body(json!("any"), one()),
            400,
            "reserved_stream",
        ),
        post_json(
            "$all",
            "/v1/streams/%24all",
            append_body(json!("any"), one()),
            400,
            "reserved_stream",
        ),
        get(
            "reading a 201-byte stream name",
            &format!("/v1/streams/{}", "s".repeat(201)),
            400,
            "invalid_stream",
        ),
        get("reading a NUL", "/v1/streams/a%00b", 400, "invalid_stream"),
        post_json(
            "a command to an unknown module",
            "/v1/aggregates/nobody/1/commands",
            r#"{"type": "Open"}"#,
            404,
            "unknown_module",
        ),
        get(
            "the state of an unknown module",
            "/v1/aggregates/nobody/1",
            404,
            "unknown_module",
        ),
        post_json(
            "a command with a NUL in its id",
            "/v1/aggregates/customers/a%00b/commands",
            r#"{"type": "Delete"}"#,
            400,
            "invalid_name",
        ),
        get(
            "an unknown module's record",
            "/v1/modules/nobody",
            404,
            "unknown_module",
        ),
        post_json(
            "a query to an unknown projection",
            "/v1/projections/nobody/query",
            "{}",
            404,
            "unknown_projection",
        ),
        // Values.
        post_json(
            "a negative expected version",
            stream,
            append_body(json!(-1), one()),
            422,
            "invalid_body",
        ),
        post_json(
            "a fractional expected version",
            stream,
            append_body(json!(1.5), one()),
            422,
            "invalid_body",
        ),
        post_json(
            "a non-numeric expected version",
            stream,
            append_body(json!("sometimes"), one()),
            422,
            "invalid_body",
        ),
        post_json(
            "a negative ?expected_version",
            "/v1/aggregates/customers/c9/commands?expected_version=-1",
            r#"{"type": "Delete"}"#,
            400,
            "invalid_query",
        ),
        post_json(
            "a non-numeric ?expected_version",
            "/v1/aggregates/customers/c9/commands?expected_version=x",
            r#"{"type": "Delete"}"#,
            400,
            "invalid_query",
        ),
        get("after = -1", "/v1/all?after=-1", 400, "invalid_query"),
        get(
            "after past u64",
            "/v1/all?after=18446744073709551616",
            400,
            "invalid_query",
        ),
        get(
            "after not a number",
            "/v1/all?after=ten",
            400,
            "invalid_query",
        ),
        get("limit = 0", "/v1/all?limit=0", 400, "invalid_query"),
        get(
            "limit over the most",
            "/v1/all?limit=10001",
            400,
            "invalid_query",
        ),
        get(
            "a stream read from -1",
            "/v1/streams/s-1?from=-1",
            400,
            "invalid_query",
        ),
        get(
            "a stream read with limit 0",
            "/v1/streams/s-1?limit=0",
            400,
            "invalid_query",
        ),
        get(
            "a stream read in no direction",
            "/v1/streams/s-1?direction=sideways",
            400,
            "invalid_query",
        ),
        get(
            "a subscription after -1",
            "/v1/subscribe?after=-1",
            400,
            "invalid_query",
        ),
        // Uploads.
        upload("no bytes", Vec::new(), 400, "invalid_module"),
        upload(
            "text",
            b"this is not WebAssembly".to_vec(),
            400,
            "invalid_module",
        ),
        upload(
            "a truncated component",
            cairn_tests::guest("bank_account")[..2_000].to_vec(),
            400,
            "invalid_module",
        ),
        upload(
            "a core module",
            b"\0asm\x01\0\0\0".to_vec(),
            400,
            "core_module",
        ),
        upload(
            "a component of another world",
            cairn_tests::guest("wrong-world"),
            400,
            "wrong_world",
        ),
        upload(
            "an import the sandbox lacks",
            cairn_tests::guest("bad-import"),
            400,
            "bad_import",
        ),
        upload("20 MiB", vec![0; 20 * 1024 * 1024], 413, "body_too_large"),
        Case {
            content_type: "application/json",
            ..upload(
                "a module sent as JSON",
                cairn_tests::guest("customers"),
                415,
                "unsupported_media_type",
            )
        },
        Case {
            path: "/v1/modules/bad%00name".into(),
            ..upload(
                "a module name with a NUL",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        Case {
            path: "/v1/modules/Has%20Space".into(),
            ..upload(
                "a module name with a space and capitals",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        Case {
            path: "/v1/modules/%C3%BCn%C3%AF".into(),
            ..upload(
                "a module name that is not ASCII",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        Case {
            path: "/v1/modules/a%2Fb".into(),
            ..upload(
                "a module name with a slash",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        Case {
            path: "/v1/modules/..%2Fx".into(),
            ..upload(
                "a module name that climbs",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        Case {
            path: "/v1/modules/%24all".into(),
            ..upload(
                "a module name with `$`",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        Case {
            path: "/v1/modules/%24sys".into(),
            ..upload(
                "another module name with `$`",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        Case {
            path: "/v1/modules/bank-acct".into(),
            ..upload(
                "a module name with `-`, the category separator",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        Case {
            path: "/v1/modules/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            ..upload(
                "a module name over 64 bytes",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        Case {
            path: "/v1/modules/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".into(),
            ..upload(
                "a 200-byte module name",
                cairn_tests::guest("customers"),
                400,
                "invalid_module_name",
            )
        },
        // Routes.
        get("an unknown route", "/v2/streams/s-1", 404, "not_found"),
        case(
            "a method the route lacks",
            reqwest::Method::DELETE,
            stream,
            405,
            "method_not_allowed",
        ),
    ]
}

/// What must not change: the log's head and the modules.
async fn state_of(server: &Server) -> (Value, Value) {
    let (_, all) = server.get("/v1/all?limit=1").await;
    let (_, modules) = server.get("/v1/modules").await;
    (all["head"].clone(), modules)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_request_gets_its_code_and_changes_nothing() {
    let mut server =
        Server::start_in(tempfile::tempdir().expect("dir"), None, &["customers"]).await;
    // A new connection for every request: after a 413 the server closes the connection whose
    // body it left unread, and a pooled client may send its next request down it before it
    // sees that (hyper does no lingering close). The cases test the replies, not reuse.
    server.http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("a client");
    let (status, body) = server.append("s-1", json!("any"), events(2)).await;
    assert_eq!(status, 201, "{body}");
    let before = state_of(&server).await;
    for case in cases() {
        let request = server
            .http
            .request(case.method.clone(), server.url(&case.path))
            .header("content-type", case.content_type)
            .body(case.body.clone());
        let reply = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.expect("a body");
                Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
            }
            // Refusing a body over the limit, the server may close the connection before the
            // client has sent it all (hyper does no lingering close): the client then sees a
            // broken pipe instead of the 413. The checks below still run.
            Err(error) if case.status == 413 && cut_off(&error) => None,
            Err(error) => panic!("{}: the server answers: {error}", case.what),
        };
        if let Some((status, body)) = reply {
            assert_eq!(status, case.status, "{}: {}", case.what, body);
            assert_eq!(body["error"], case.code, "{}: {}", case.what, body);
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{}: an error says what went wrong: {}",
                case.what,
                body
            );
        }
        let (health, _) = server.get("/healthz").await;
        assert_eq!(health, 200, "{}: the server stopped serving", case.what);
        assert_eq!(
            state_of(&server).await,
            before,
            "{}: something changed",
            case.what
        );
    }
    // A name with a percent-encoded slash is a name with a slash: legal, and kept whole.
    let (status, body) = server.append("a%2Fb", json!("no_stream"), events(1)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["stream"], "a/b");
    let (status, read) = server.get("/v1/streams/a%2Fb").await;
    assert_eq!((status, read["version"].clone()), (200, json!(1)), "{read}");
    assert_error(&server.get("/v1/streams/a/b").await, 404, "not_found");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_during_a_command_storm_answer_every_command_as_documented() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &["customers"]).await;
    let storm: Vec<_> = (0..16)
        .map(|client| {
            let http = server.http.clone();
            let base = server.url("/v1/aggregates/customers");
            tokio::spawn(async move {
                let mut created = 0;
                for n in 0..40 {
                    let reply = http
                        .post(format!("{base}/c{client}-{n}/commands"))
                        .json(&json!({"type": "Create", "data": {"name": "N", "email": format!("c{client}.{n}@example.com")}}))
                        .send()
                        .await
                        .expect("the server answers");
                    let status = reply.status().as_u16();
                    let body: Value = reply.json().await.expect("JSON");
                    assert_eq!(status, 200, "a command during uploads: {body}");
                    created += 1;
                }
                created
            })
        })
        .collect();
    for round in 0..4 {
        let bad = server
            .put_module(
                "customers",
                cairn_tests::guest("wrong-world"),
                "application/wasm",
            )
            .await;
        assert_error(&bad, 400, "wrong_world");
        let garbage = server
            .put_module("customers", b"\0asm\x01\0\0\0".to_vec(), "application/wasm")
            .await;
        assert_error(&garbage, 400, "core_module");
        let bytes = if round % 2 == 0 {
            cairn_tests::rebuilt("customers")
        } else {
            cairn_tests::guest("customers")
        };
        let good = server
            .put_module("customers", bytes, "application/wasm")
            .await;
        assert_eq!(good.0, 201, "{}", good.1);
        assert_eq!(good.1["version"], round + 2);
    }
    let mut created = 0;
    for client in storm {
        created += client.await.expect("a storm client failed");
    }
    let (_, all) = server.get("/v1/all?limit=1").await;
    assert_eq!(all["head"], created, "every command's event is stored once");
    server.stop().await;
}

/// Whether sending failed because the server closed the connection while the body was going out.
fn cut_off(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            );
        }
        source = e.source();
    }
    false
}
