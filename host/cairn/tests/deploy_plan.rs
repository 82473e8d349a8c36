//! `cairn deploy --plan` and `cairn history` as a user runs them, against `cairn serve`: a plan
//! of a candidate that reads and decides the history otherwise prints each change readably and
//! exits non-zero (zero with `--accept-changes`), `--json` prints the report, an identical
//! candidate has no changes, a reactor is said not to be planned, and nothing is installed;
//! `cairn history` prints each step's diff;
//! a projection's plan compares the answers to the queries of `--queries FILE`.

mod common;

use common::{client, kill, serve};

fn send(url: &str, id: &str, command: &str) {
    let (ok, stdout, stderr) = client(url, &["send", "bank_account", id, command]);
    assert!(ok, "{stdout}{stderr}");
}

#[test]
fn a_plan_prints_the_changes_and_fails_unless_they_are_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, url) = serve(&dir.path().join("data"));
    let live = dir.path().join("bank_account.wasm");
    let candidate = dir.path().join("v2.wasm");
    std::fs::write(
        &live,
        cairn_server::guests::build("bank_account").expect("builds"),
    )
    .expect("write");
    std::fs::write(
        &candidate,
        cairn_server::guests::build("bank-account-v2").expect("builds"),
    )
    .expect("write");
    let live_path = live.to_str().expect("utf-8");
    let candidate_path = candidate.to_str().expect("utf-8");
    let (ok, stdout, stderr) = client(&url, &["deploy", live_path]);
    assert!(ok, "{stdout}{stderr}");
    send(&url, "a2", r#"{"type": "Open", "data": {"owner": "Eve"}}"#);
    send(&url, "a4", r#"{"type": "Open", "data": {"owner": "Ada"}}"#);
    send(
        &url,
        "a4",
        r#"{"type": "Deposit", "data": {"amount": 70000}}"#,
    );

    let plan = ["deploy", "--plan", candidate_path, "--name", "bank_account"];
    let (ok, stdout, stderr) = client(&url, &plan);
    assert!(!ok, "changes fail the plan: {stdout}{stderr}");
    for line in [
        "replay: 2 streams (all), 3 events: 0 equal, 1 differ, 1 failed",
        "  differs  bank_account-a2 at version 1",
        "      owner: \"Eve\" → \"EVE\"",
        "  fails    bank_account-a4 at version 2 (Deposited): ",
        "  hint: the candidate cannot read events already stored",
        "re-decide: 3 commands (all): 2 same, 0 different, 1 flipped, 0 failed",
        "  flipped   bank_account-a4 Deposit (decided at version 1): accepted → rejected",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    assert!(
        stderr.contains("the plan found changes in bank_account"),
        "{stderr}"
    );

    let accepted: Vec<&str> = plan.iter().copied().chain(["--accept-changes"]).collect();
    let (ok, stdout, stderr) = client(&url, &accepted);
    assert!(ok, "{stdout}{stderr}");
    let json: Vec<&str> = plan.iter().copied().chain(["--json"]).collect();
    let (_, stdout, _) = client(&url, &json);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON report");
    assert_eq!(report["replay"]["failed"], 1);
    assert_eq!(report["changes"], true);

    let (ok, stdout, stderr) = client(&url, &["deploy", "--plan", live_path]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("bank_account: no changes"), "{stdout}");

    // A reactor is not planned: that is said, and is no change (so a cairn.toml with one
    // plans its other modules and can pass).
    let reactor = dir.path().join("transfers.wasm");
    std::fs::write(
        &reactor,
        cairn_server::guests::build("transfers").expect("builds"),
    )
    .expect("write");
    let reactor_path = reactor.to_str().expect("utf-8");
    let (ok, stdout, stderr) = client(&url, &["deploy", "--plan", reactor_path]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("transfers: not planned: the candidate for 'transfers' is a reactor"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = client(&url, &["deploy", "--plan", reactor_path, "--json"]);
    assert!(ok, "{stdout}{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(line["module"], "transfers");
    assert_eq!(line["planned"], false);
    let (ok, reactors, stderr) = client(&url, &["reactors", "status", "transfers"]);
    assert!(!ok, "nothing installed: {reactors}");
    assert!(stderr.contains("unknown_reactor"), "{stderr}");

    // Nothing was installed: the serving version still reads Eve as she was written.
    let (ok, stdout, _) = client(&url, &["state", "bank_account", "a2"]);
    assert!(ok);
    assert!(stdout.contains("\"Eve\""), "{stdout}");

    let (ok, stdout, stderr) = client(&url, &["history", "bank_account", "a4"]);
    assert!(ok, "{stdout}{stderr}");
    for line in [
        "bank_account-a4 is at version 2; each state computed by the module version that wrote its event",
        "    owner: null → \"Ada\"",
        "    balance: 0 → 70000",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    let (ok, stdout, _) = client(&url, &["history", "bank_account", "a4", "--at", "1"]);
    assert!(ok);
    assert!(stdout.contains("the state at version 1:"), "{stdout}");
    assert!(
        !stdout.contains("70000"),
        "only the step to version 1: {stdout}"
    );
    let (ok, stdout, _) = client(&url, &["state", "bank_account", "a4", "--at", "1"]);
    assert!(ok);
    assert!(
        stdout.contains("at version 1") && stdout.contains("\"balance\": 0"),
        "{stdout}"
    );
    kill(server);
}

#[test]
fn a_projection_plan_compares_the_answers_to_the_queries_given() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, url) = serve(&dir.path().join("data"));
    let write = |name: &str, package: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, cairn_server::guests::build(package).expect("builds"))
            .expect("write");
        path.to_str().expect("utf-8").to_owned()
    };
    let bank = write("bank_account.wasm", "bank_account");
    let picky = write("picky.wasm", "picky-projection-fixed");
    for module in [&bank, &picky] {
        let (ok, stdout, stderr) = client(&url, &["deploy", module]);
        assert!(ok, "{stdout}{stderr}");
    }
    send(&url, "a1", r#"{"type": "Open", "data": {"owner": "Ada"}}"#);
    let queries = dir.path().join("queries.json");
    std::fs::write(
        &queries,
        r#"{"picky": [{"type": "count", "event_type": "Opened"}]}"#,
    )
    .expect("write");
    let queries = queries.to_str().expect("utf-8");
    let plan = ["deploy", "--plan", &picky, "--queries", queries];

    // The projection keeps up: the candidate (the same code) answers as it does.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let stdout = loop {
        let (ok, stdout, stderr) = client(&url, &plan);
        if ok {
            break stdout;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the serving model never caught up: {stdout}{stderr}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(stdout.contains("queries: 1 same, 0 different"), "{stdout}");

    // Paused, the serving model misses the next event; the candidate's answer shows it.
    let (ok, stdout, stderr) = client(&url, &["projections", "pause", "picky"]);
    assert!(ok, "{stdout}{stderr}");
    send(&url, "a2", r#"{"type": "Open", "data": {"owner": "Eve"}}"#);
    let (ok, stdout, stderr) = client(&url, &plan);
    assert!(!ok, "a different answer fails the plan: {stdout}{stderr}");
    for line in [
        "fold: the log to position 2 (2 events as read)",
        "queries: 0 same, 1 different",
        "      count: 1 → 2",
        "picky: the candidate folds the log or answers otherwise",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    // Without queries, only the fold is checked, and the report says so.
    let (ok, stdout, stderr) = client(&url, &["deploy", "--plan", &picky]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("queries: none given"), "{stdout}");
    kill(server);
}
