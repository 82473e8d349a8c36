//! Consumer groups through the real server, as a consumer in any language uses them: made
//! over HTTP, long-polled by two members that each see their own streams in order, acked and
//! nacked by delivery id, parked events listed and replayed once more, a stream of deliveries
//! over SSE, a restart that delivers again only what was not acknowledged, and bad input that
//! gets a clear error and changes nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::server::{Server, assert_error};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Opens `accounts` bank accounts named `prefix` and a number, and deposits into each
/// `deposits` times; returns the number of events.
async fn bank(server: &Server, prefix: &str, accounts: usize, deposits: usize) -> usize {
    for a in 0..accounts {
        let id = format!("{prefix}{a}");
        let open = json!({"type": "Open", "data": {"owner": id}});
        assert_eq!(server.command("bank_account", &id, open).await.0, 200);
        for d in 0..deposits {
            let deposit = json!({"type": "Deposit", "data": {"amount": d + 1}});
            assert_eq!(server.command("bank_account", &id, deposit).await.0, 200);
        }
    }
    accounts * (1 + deposits)
}

async fn poll(server: &Server, group: &str, member: &str) -> Vec<Value> {
    let reply = server
        .post(
            &format!("/v1/groups/{group}/poll"),
            json!({"member": member, "max": 50, "wait_ms": 300}),
        )
        .await;
    assert_eq!(reply.0, 200, "{}", reply.1);
    reply.1["deliveries"]
        .as_array()
        .expect("deliveries")
        .clone()
}

fn ids(deliveries: &[Value]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| d["delivery"].as_str().expect("an id").to_owned())
        .collect()
}

/// Polls as `member` until nothing comes, acking all but the types in `park`, which it parks;
/// returns (stream, position) in the order received.
async fn consume(server: &Server, group: &str, member: &str, park: &[&str]) -> Vec<(String, u64)> {
    let mut seen = Vec::new();
    loop {
        let deliveries = poll(server, group, member).await;
        if deliveries.is_empty() {
            return seen;
        }
        let (parked, acked): (Vec<Value>, Vec<Value>) = deliveries
            .into_iter()
            .partition(|d| park.contains(&d["event"]["type"].as_str().unwrap_or_default()));
        for d in acked.iter().chain(&parked) {
            seen.push((
                d["event"]["stream"].as_str().expect("a string").to_owned(),
                d["event"]["position"].as_u64().expect("a number"),
            ));
        }
        if !acked.is_empty() {
            let reply = server
                .post(
                    &format!("/v1/groups/{group}/ack"),
                    json!({"deliveries": ids(&acked)}),
                )
                .await;
            assert_eq!(reply.1["settled"], acked.len(), "{}", reply.1);
        }
        if !parked.is_empty() {
            let reply = server
                .post(
                    &format!("/v1/groups/{group}/nack"),
                    json!({"deliveries": ids(&parked), "action": "park", "reason": "cannot yet"}),
                )
                .await;
            assert_eq!(reply.0, 200, "{}", reply.1);
        }
    }
}

fn in_stream_order(seen: &[(String, u64)]) -> bool {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    seen.iter()
        .all(|(stream, position)| last.insert(stream, *position).is_none_or(|p| p < *position))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_members_consume_every_event_once_in_stream_order_and_a_restart_resumes() {
    let server = Server::start().await;
    let events = bank(&server, "a", 6, 4).await;
    let made = server
        .post(
            "/v1/groups",
            json!({"name": "billing", "filter": {"categories": ["bank_account"]}}),
        )
        .await;
    assert_eq!(made.0, 201, "{}", made.1);
    assert_eq!(made.1["start_after"], 0);
    let again = server
        .post(
            "/v1/groups",
            json!({"name": "billing", "filter": {"categories": ["bank_account"]}}),
        )
        .await;
    assert_eq!(again.0, 200, "{}", again.1);
    assert_error(
        &server
            .post("/v1/groups", json!({"name": "billing", "start": "end"}))
            .await,
        409,
        "group_exists",
    );

    let (a, b) = tokio::join!(
        consume(&server, "billing", "a", &[]),
        consume(&server, "billing", "b", &[])
    );
    assert!(in_stream_order(&a) && in_stream_order(&b));
    let mut positions: Vec<u64> = a.iter().chain(&b).map(|(_, p)| *p).collect();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), events, "every event once");
    let streams: BTreeSet<&String> = a.iter().chain(&b).map(|(s, _)| s).collect();
    assert_eq!(streams.len(), 6);
    let (_, status) = server.get("/v1/groups/billing").await;
    assert_eq!(status["lag"], 0, "{status}");
    assert_eq!(status["in_flight"], 0, "{status}");
    assert_eq!(status["state"], "live", "{status}");

    // New events, one delivered and not acknowledged across a restart.
    bank(&server, "new", 2, 0).await;
    let out = poll(&server, "billing", "a").await;
    let (first, second) = (out[0].clone(), out[1].clone());
    let reply = server
        .post(
            "/v1/groups/billing/ack",
            json!({"deliveries": [first["delivery"]]}),
        )
        .await;
    assert_eq!(reply.0, 200);
    let dir = server.stop().await;
    let server = Server::start_in(dir, None, &["bank_account"]).await;
    let again = poll(&server, "billing", "c").await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["event"]["id"], second["event"]["id"]);
    assert_eq!(again[0]["attempt"], 1, "attempts are counted by the node");
    // The delivery id from before the restart is not in flight.
    assert_error(
        &server
            .post(
                "/v1/groups/billing/ack",
                json!({"deliveries": [second["delivery"]]}),
            )
            .await,
        409,
        "not_in_flight",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn parked_events_are_listed_and_a_replay_delivers_each_once_more() {
    let server = Server::start().await;
    bank(&server, "a", 3, 2).await;
    server.post("/v1/groups", json!({"name": "audit"})).await;
    // Each account's first deposit is parked; its second waits behind it, parked too, and is
    // not delivered.
    let first = consume(&server, "audit", "m", &["Deposited"]).await;
    assert_eq!(first.len(), 6);
    let (_, status) = server.get("/v1/groups/audit").await;
    assert_eq!(status["parked"], 6, "{status}");
    assert_eq!(status["checkpoint"], 9, "{status}");
    assert!(status["oldest_parked_age_ms"].is_u64(), "{status}");
    let (_, page) = server.get("/v1/groups/audit/parked?limit=4").await;
    let parked = page["parked"].as_array().expect("an array");
    assert_eq!(parked.len(), 4);
    assert_eq!(parked[0]["reason"], "nacked");
    assert_eq!(parked[0]["last_error"], "cannot yet");
    let after = parked[3]["position"].as_u64().expect("a number");
    let (_, rest) = server
        .get(&format!("/v1/groups/audit/parked?after={after}"))
        .await;
    assert_eq!(rest["parked"].as_array().expect("an array").len(), 2);

    let replayed = server
        .post("/v1/groups/audit/parked/replay", json!({"all": true}))
        .await;
    assert_eq!(replayed.1["count"], 6, "{}", replayed.1);
    let second = consume(&server, "audit", "m", &[]).await;
    assert_eq!(second.len(), 6);
    assert!(in_stream_order(&second));
    let (_, status) = server.get("/v1/groups/audit").await;
    assert_eq!(status["parked"], 0, "{status}");
    assert!(consume(&server, "audit", "m", &[]).await.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_can_hold_a_stream_of_deliveries() {
    let server = Server::start().await;
    server
        .post("/v1/groups", json!({"name": "live", "start": "end"}))
        .await;
    let response = server
        .http
        .get(server.url("/v1/groups/live/deliveries?member=s1"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    bank(&server, "a", 1, 0).await;
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), body.next())
            .await
            .expect("a delivery in time")
            .expect("in time")
            .expect("in time");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: delivery"), "{text}");
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("data");
    let delivery: Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(delivery["event"]["type"], "Opened");
    let (_, status) = server.get("/v1/groups/live").await;
    assert_eq!(status["members"][0]["kind"], "stream", "{status}");
    let reply = server
        .post(
            "/v1/groups/live/ack",
            json!({"deliveries": [delivery["delivery"]]}),
        )
        .await;
    assert_eq!(reply.0, 200, "{}", reply.1);
    drop(body);
    server
        .wait_until("/v1/groups/live", "the member left", |s| {
            s["members"].as_array().is_some_and(Vec::is_empty)
        })
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let server = Server::start().await;
    bank(&server, "a", 1, 1).await;
    assert_error(
        &server
            .post(
                "/v1/groups",
                json!({"name": "g", "filter": {"categories": ["no-such-thing"]}}),
            )
            .await,
        400,
        "invalid_group_config",
    );
    assert_error(
        &server.post("/v1/groups", json!({"name": "G!"})).await,
        400,
        "invalid_group_name",
    );
    assert_error(
        &server
            .post("/v1/groups", json!({"name": "g", "colour": "red"}))
            .await,
        422,
        "invalid_body",
    );
    let (_, list) = server.get("/v1/groups").await;
    assert_eq!(list["groups"], json!([]), "nothing was made");

    server.post("/v1/groups", json!({"name": "g"})).await;
    let out = poll(&server, "g", "m").await;
    assert_eq!(out.len(), 1, "one stream: one in flight");
    assert_error(
        &server
            .post(
                "/v1/groups/g/ack",
                json!({"deliveries": ["0-1", out[0]["delivery"]]}),
            )
            .await,
        409,
        "not_in_flight",
    );
    assert_error(
        &server
            .post("/v1/groups/g/ack", json!({"deliveries": ["what"]}))
            .await,
        400,
        "invalid_delivery",
    );
    assert_error(
        &server
            .post(
                "/v1/groups/g/nack",
                json!({"deliveries": [out[0]["delivery"]]}),
            )
            .await,
        422,
        "invalid_body",
    );
    assert_error(
        &server
            .post(
                "/v1/groups/g/nack",
                json!({"deliveries": [out[0]["delivery"]], "action": "explode"}),
            )
            .await,
        422,
        "invalid_body",
    );
    assert_error(
        &server
            .post(
                "/v1/groups/g/parked/replay",
                json!({"all": true, "limit": 3}),
            )
            .await,
        422,
        "invalid_body",
    );
    assert_error(
        &server
            .post("/v1/groups/g/parked/replay", json!({"positions": [1]}))
            .await,
        404,
        "not_parked",
    );
    assert_error(
        &server
            .post("/v1/groups/nope/poll", json!({"member": "m"}))
            .await,
        404,
        "unknown_group",
    );
    assert_error(
        &server
            .post(
                "/v1/groups/g/poll",
                json!({"member": "m", "wait_ms": 600000}),
            )
            .await,
        400,
        "invalid_request",
    );
    // The delivery is still in flight, and acknowledging it works.
    let (_, status) = server.get("/v1/groups/g").await;
    assert_eq!(status["in_flight"], 1, "{status}");
    let reply = server
        .post(
            "/v1/groups/g/ack",
            json!({"deliveries": [out[0]["delivery"]]}),
        )
        .await;
    assert_eq!(reply.0, 200, "{}", reply.1);

    // Reset and delete.
    let reset = server
        .post("/v1/groups/g/reset", json!({"start": {"position": 0}}))
        .await;
    assert_eq!(reset.1["start_after"], 0, "{}", reset.1);
    assert_eq!(poll(&server, "g", "m").await.len(), 1);
    let deleted = server
        .call(server.http.delete(server.url("/v1/groups/g")))
        .await;
    assert_eq!(deleted.0, 204);
    assert_error(&server.get("/v1/groups/g").await, 404, "unknown_group");
    server.stop().await;
}
