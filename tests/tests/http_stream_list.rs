//! `GET /v1/streams`: streams listed by name prefix or category over HTTP, paged forward and
//! backward, with the listing's bad input refused in words.

mod common;

use common::server::Server;
use serde_json::{Value, json};

fn names(body: &Value) -> Vec<&str> {
    body["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| s["stream"].as_str().expect("a name"))
        .collect()
}

#[tokio::test]
async fn streams_are_listed_by_prefix_and_category_and_paged_both_ways() {
    let server = Server::start().await;
    for n in 0..30 {
        let events: Vec<Value> = (0..=n % 2)
            .map(|_| json!({"type": "Opened", "data": {}}))
            .collect();
        let (status, body) = server
            .append(&format!("order-{n:02}"), json!("no_stream"), json!(events))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, _) = server
        .append(
            "orderly-1",
            json!("no_stream"),
            json!([{"type": "X", "data": {}}]),
        )
        .await;
    assert_eq!(status, 201);

    // A category is its name and a `-`: `orderly-1` is not in `order`.
    let (status, page) = server.get("/v1/streams?category=order&limit=12").await;
    assert_eq!(status, 200, "{page}");
    let first: Vec<String> = (0..12).map(|n| format!("order-{n:02}")).collect();
    assert_eq!(names(&page), first);
    assert_eq!(page["more"], true);
    assert_eq!(page["streams"][1]["version"], 2);
    let (_, next) = server
        .get("/v1/streams?category=order&limit=12&after=order-11")
        .await;
    assert_eq!(names(&next).first(), Some(&"order-12"));
    let (_, last) = server
        .get("/v1/streams?category=order&limit=12&after=order-23")
        .await;
    assert_eq!(names(&last).len(), 6);
    assert_eq!(last["more"], false);
    // Backward from a name: descending, and `more` looks that way.
    let (_, back) = server
        .get("/v1/streams?category=order&limit=3&before=order-03")
        .await;
    assert_eq!(names(&back), ["order-02", "order-01", "order-00"]);
    assert_eq!(back["more"], false);
    // A prefix: `order` holds both.
    let (_, prefix) = server.get("/v1/streams?prefix=order&after=order-29").await;
    assert_eq!(names(&prefix), ["orderly-1"]);

    for (query, says) in [
        ("prefix=a&category=b", "not both"),
        ("after=a&before=b", "not both"),
        ("category=a-b", "not a category"),
        ("limit=0", "at least 1"),
        ("limit=1001", "at most 1000"),
        ("colour=blue", "not a query parameter"),
    ] {
        let (status, body) = server.get(&format!("/v1/streams?{query}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_query")),
            "{query}: {body}"
        );
        let message = body["message"].as_str().expect("a message");
        assert!(message.contains(says), "{query}: {message}");
    }
    server.stop().await;
}
