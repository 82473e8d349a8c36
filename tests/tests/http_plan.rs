//! Plans over HTTP, against the real server: a candidate that folds, decides and reads events
//! otherwise (`tests/guests/bank-account-v2`, four rules) is planned over a history made to hold
//! a known number of each kind of change, and the report counts exactly those; a candidate
//! identical to the serving version reports nothing; nothing is installed either way; plans
//! sent at once each report what one alone does; bad candidates (a reactor among them, which is
//! not planned) are clear errors.

mod common;

use common::server::{Server, assert_error};
use serde_json::{Value, json};

/// The history: four accounts, nine accepted commands and nine events. Under the candidate:
/// - a1 (Ada; Open, Deposit 500): the same state, the same decisions;
/// - a2 (Eve; Open, Deposit 500): another state (rule 1), the same decisions;
/// - a3 (Ada; Open, Deposit 2,000, Withdraw 400): the same state; the deposit decided with one
///   more event (rule 4), the withdrawal refused (rule 3);
/// - a4 (Ada; Open, Deposit 70,000): the deposit event cannot be read (rule 2), and the deposit
///   is refused (rule 3).
async fn history(server: &Server) {
    for (id, owner, commands) in [
        (
            "a1",
            "Ada",
            vec![json!({"type": "Deposit", "data": {"amount": 500}})],
        ),
        (
            "a2",
            "Eve",
            vec![json!({"type": "Deposit", "data": {"amount": 500}})],
        ),
        (
            "a3",
            "Ada",
            vec![
                json!({"type": "Deposit", "data": {"amount": 2000}}),
                json!({"type": "Withdraw", "data": {"amount": 400}}),
            ],
        ),
        (
            "a4",
            "Ada",
            vec![json!({"type": "Deposit", "data": {"amount": 70000}})],
        ),
    ] {
        let open = json!({"type": "Open", "data": {"owner": owner}});
        for command in std::iter::once(open).chain(commands) {
            let reply = server.command("bank_account", id, command).await;
            assert_eq!(reply.0, 200, "{}", reply.1);
        }
    }
}

async fn plan(server: &Server, bytes: Vec<u8>, query: &str) -> (u16, Value) {
    server
        .call(
            server
                .http
                .post(server.url(&format!("/v1/modules/bank_account/plan{query}")))
                .header("content-type", "application/wasm")
                .body(bytes),
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_reports_exactly_the_known_changes() {
    let server = Server::start().await;
    history(&server).await;
    let before = server.get("/v1/modules/bank_account").await.1;

    let (status, report) = plan(&server, cairn_tests::guest("bank-account-v2"), "").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["module"], "bank_account");
    assert_eq!(report["live"]["hash"], before["hash"]);
    assert_eq!(report["changes"], true);

    let replay = &report["replay"];
    assert_eq!(
        [
            &replay["streams"],
            &replay["streams_total"],
            &replay["events"]
        ],
        [&json!(4), &json!(4), &json!(9)]
    );
    assert_eq!(replay["sampled"], false);
    assert_eq!(
        [
            &replay["equal"],
            &replay["differ"],
            &replay["failed"],
            &replay["live_failed"]
        ],
        [&json!(2), &json!(1), &json!(1), &json!(0)],
        "{replay}"
    );
    let difference = &replay["differences"][0];
    assert_eq!(difference["stream"], "bank_account-a2");
    assert_eq!(difference["diff"], json!(["owner: \"Eve\" → \"EVE\""]));
    let failure = &replay["failures"][0];
    assert_eq!(failure["stream"], "bank_account-a4");
    assert_eq!(failure["version"], 2);
    assert_eq!(failure["type"], "Deposited");
    assert!(
        failure["error"]
            .as_str()
            .is_some_and(|e| e.contains("70000")),
        "the module's own words: {failure}"
    );

    let redecide = &report["redecide"];
    assert_eq!(
        [&redecide["commands"], &redecide["commands_total"]],
        [&json!(9), &json!(9)]
    );
    assert_eq!(
        [
            &redecide["same"],
            &redecide["different"],
            &redecide["flipped"],
            &redecide["failed"]
        ],
        [&json!(6), &json!(1), &json!(2), &json!(0)],
        "{redecide}"
    );
    let different = &redecide["differences"][0];
    assert_eq!(different["stream"], "bank_account-a3");
    assert_eq!(different["type"], "Deposit");
    assert_eq!(different["decided_at"], 1);
    assert_eq!(
        different["diff"],
        json!(["+ events[1]: {\"data\":{},\"type\":\"BigDeposit\"}"])
    );
    let flipped: Vec<(&str, &str)> = redecide["flips"]
        .as_array()
        .expect("flips")
        .iter()
        .map(|f| {
            (
                f["stream"].as_str().unwrap_or(""),
                f["type"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        flipped,
        [
            ("bank_account-a3", "Withdraw"),
            ("bank_account-a4", "Deposit")
        ]
    );
    assert_eq!(redecide["flips"][0]["candidate"]["verdict"], "rejected");

    // Nothing was installed: the serving version and its answers are as before.
    assert_eq!(server.get("/v1/modules/bank_account").await.1, before);
    let state = server.get("/v1/aggregates/bank_account/a2").await.1;
    assert_eq!(state["state"]["owner"], "Eve");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identical_candidate_reports_nothing_and_a_sample_says_so() {
    let server = Server::start().await;
    history(&server).await;
    for bytes in [
        cairn_tests::guest("bank_account"),
        cairn_tests::rebuilt("bank_account"),
    ] {
        let (status, report) = plan(&server, bytes, "").await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["changes"], false, "{report}");
        assert_eq!(report["replay"]["equal"], 4);
        assert_eq!(report["redecide"]["same"], 9);
        for list in ["differences", "failures"] {
            assert_eq!(report["replay"][list], json!([]));
        }
    }
    let (_, sampled) = plan(&server, cairn_tests::guest("bank-account-v2"), "?sample=2").await;
    assert_eq!(sampled["replay"]["streams"], 2);
    assert_eq!(sampled["replay"]["streams_total"], 4);
    assert_eq!(sampled["replay"]["sampled"], true);
    assert_eq!(sampled["redecide"]["commands"], 2);
    assert_eq!(sampled["redecide"]["sampled"], true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_plan_sends_progress_then_the_report() {
    let server = Server::start().await;
    history(&server).await;
    let reply = server
        .http
        .post(server.url("/v1/modules/bank_account/plan"))
        .header("content-type", "application/wasm")
        .header("accept", "text/event-stream")
        .body(cairn_tests::guest("bank-account-v2"))
        .send()
        .await
        .expect("answers");
    assert_eq!(reply.status(), 200);
    let text = reply.text().await.expect("the stream ends");
    let report = text
        .split("\n\n")
        .find_map(|event| event.strip_prefix("event: report\ndata: "))
        .expect("a report event");
    let report: Value = serde_json::from_str(report).expect("JSON");
    assert_eq!(report["replay"]["failed"], 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_candidates_are_clear_errors() {
    let server = Server::start().await;
    let (status, reply) = plan(&server, b"not wasm".to_vec(), "").await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["error"], "invalid_module");
    let projection = plan(&server, cairn_tests::guest("customer_directory"), "").await;
    assert_error(&projection, 400, "not_a_projection");
    // A reactor has no history of its own to replay: it is not planned, and the reply says so.
    let reactor = plan(&server, cairn_tests::guest("transfers"), "").await;
    assert_error(&reactor, 400, "not_planned");
    let message = reactor.1["message"].as_str().unwrap_or("");
    assert!(
        message.contains("is a reactor, which a plan does not replay"),
        "{message}"
    );
    let plain = server
        .call(
            server
                .http
                .post(server.url("/v1/modules/bank_account/plan"))
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;
    assert_error(&plain, 415, "unsupported_media_type");
    let unknown_query = plan(&server, cairn_tests::guest("bank_account"), "?samples=3").await;
    assert_error(&unknown_query, 400, "invalid_query");
    let nothing = plan(&server, cairn_tests::guest("bank_account"), "?sample=0").await;
    assert_error(&nothing, 400, "invalid_query");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_that_cannot_read_the_history_is_refused_unless_forced() {
    let server = Server::start().await;
    history(&server).await;
    let before = server.get("/v1/modules/bank_account").await.1;
    let upload = |query: &'static str| {
        let server = &server;
        async move {
            server
                .put_module(
                    &format!("bank_account{query}"),
                    cairn_tests::guest("bank-account-v2"),
                    "application/wasm",
                )
                .await
        }
    };
    let refused = upload("").await;
    assert_error(&refused, 409, "incompatible_with_history");
    let failures = refused.1["failures"]
        .as_array()
        .expect("the plan's failures");
    assert_eq!(failures.len(), 1, "{}", refused.1);
    assert_eq!(failures[0]["stream"], "bank_account-a4");
    assert_eq!(failures[0]["version"], 2);
    assert_eq!(failures[0]["type"], "Deposited");
    let message = refused.1["message"].as_str().unwrap_or("");
    for words in ["1 of its 4 streams", "upcaster", "force=true"] {
        assert!(message.contains(words), "{words:?} in {message}");
    }
    assert_eq!(
        server.get("/v1/modules/bank_account").await.1,
        before,
        "nothing changed"
    );
    assert_error(&upload("?force=yes").await, 400, "invalid_query");

    let forced = upload("?force=true").await;
    assert_eq!(forced.0, 201, "{}", forced.1);
    assert_eq!(forced.1["version"], 2);
    // What it decides now is the candidate's: a withdrawal over 300 is refused.
    let refused = server
        .command(
            "bank_account",
            "a1",
            json!({"type": "Withdraw", "data": {"amount": 301}}),
        )
        .await;
    assert_error(&refused, 422, "rejected");
    // Uploading bytes that read everything is not checked in vain, and goes through.
    let back = server
        .put_module(
            "bank_account",
            cairn_tests::guest("bank_account"),
            "application/wasm",
        )
        .await;
    assert_eq!(back.0, 201, "{}", back.1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_an_older_version_decided_are_compared_with_what_serves() {
    let server = Server::start().await;
    history(&server).await;
    let v2 = cairn_tests::guest("bank-account-v2");
    let forced = server
        .put_module("bank_account?force=true", v2.clone(), "application/wasm")
        .await;
    assert_eq!(forced.0, 201, "{}", forced.1);
    // Planning what serves: every command v1 decided is compared with what v2 decides, and a
    // stream v2 cannot read is no change of the candidate's.
    let (status, report) = plan(&server, v2, "").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["changes"], false, "{report}");
    assert_eq!(report["replay"]["live_failed"], 1);
    assert_eq!(report["redecide"]["same"], 9);
    // The example again, against v2 serving: the flips are v2's, seen from v2.
    let (_, back) = plan(&server, cairn_tests::guest("bank_account"), "").await;
    let flips = back["redecide"]["flips"].as_array().expect("flips");
    assert_eq!(flips.len(), 2, "{back}");
    assert!(
        flips
            .iter()
            .all(|f| f["compared_with"] == "serving" && f["recorded"]["verdict"] == "rejected")
    );
    server.stop().await;
}

/// Plans share the host's cores (one plan worker a core, over every plan): several at once
/// each wait their turn and report what one alone does.
#[tokio::test(flavor = "multi_thread")]
async fn plans_at_once_each_report_what_one_alone_does() {
    let server = Server::start().await;
    history(&server).await;
    let without_time = |(status, mut report): (u16, Value)| {
        assert_eq!(status, 200, "{report}");
        report
            .as_object_mut()
            .map(|fields| fields.remove("elapsed_ms"));
        report
    };
    let alone = without_time(plan(&server, cairn_tests::guest("bank-account-v2"), "").await);
    assert_eq!(alone["changes"], true);
    let at_once = futures_util::future::join_all(
        (0..6).map(|_| plan(&server, cairn_tests::guest("bank-account-v2"), "")),
    )
    .await;
    for report in at_once {
        assert_eq!(without_time(report), alone);
    }
    server.stop().await;
}
