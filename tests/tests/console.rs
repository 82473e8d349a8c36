//! The console (`/ui`) in a real browser: Debian's headless Chromium over WebDriver
//! (`common/browser.rs`), against the real server on 127.0.0.1:0 with the example modules.
//! Each page is walked as a person would use it and checked against the API (reactors, with
//! parked events retried and a reset, in a test of their own); no page may log
//! a console error; hostile event data must stay inert; and with an API key the console asks
//! for it and guards every change against CSRF. Screenshots of every page go to
//! `target/console-screenshots/`.

mod common;

use std::time::{Duration, Instant};

use cairn_store::{ExpectedVersion, StreamId};
use common::browser::Browser;
use common::server::Server;
use futures_util::StreamExt;
use serde_json::{Value, json};

/// 10,000 streams `ledger-00000` to `ledger-09999`, ten events each, appended straight to the
/// store: a search must find one among them, and a projection that reads every event has
/// 100,000 to rebuild over.
async fn seed_ledgers(server: &Server) {
    let store = server.store();
    futures_util::stream::iter(0..10_000u32)
        .map(|n| {
            let store = store.clone();
            async move {
                let events = (0..10)
                    .map(|i| common::new_event("Entered", &format!(r#"{{"n":{n},"line":{i}}}"#)))
                    .collect();
                store
                    .append(
                        StreamId::new(&format!("ledger-{n:05}")).expect("a name"),
                        ExpectedVersion::NoStream,
                        events,
                    )
                    .await
                    .expect("append");
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;
}

/// Fails with every console error the browser logged since the last check.
async fn no_console_errors(browser: &Browser, page: &str) {
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "{page} logged console errors: {errors:#?}"
    );
}

/// The state of `bank_account` `id` at version `at`, as the API gives it.
async fn state_at(server: &Server, id: &str, at: u64) -> Value {
    let (status, body) = server
        .get(&format!("/v1/aggregates/bank_account/{id}?at={at}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["state"].clone()
}

/// The state the inspector shows.
async fn shown_state(browser: &Browser) -> Value {
    let json = browser
        .eval("return document.querySelector('#tt-state')?.dataset.json ?? 'null'")
        .await;
    serde_json::from_str(json.as_str().unwrap_or("null")).expect("the shown state is JSON")
}

/// Waits until the inspector shows the API's state at version `at`.
async fn inspector_shows(browser: &Browser, server: &Server, id: &str, at: u64) {
    let expected = state_at(server, id, at).await;
    let started = Instant::now();
    loop {
        let shown_version = browser
            .eval("return document.querySelector('#tt-version').value")
            .await;
        if shown_version.as_str() == Some(&at.to_string()) && shown_state(browser).await == expected
        {
            return;
        }
        assert!(
            started.elapsed() < common::browser::PATIENCE,
            "the inspector never showed version {at}: {expected} (it shows {})",
            shown_state(browser).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_works_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &["bank_account", "account_balances"]).await;
    let (status, body) = server
        .put_module(
            "picky",
            cairn_tests::guest("picky-projection"),
            "application/wasm",
        )
        .await;
    assert_eq!(status, 201, "{body}");
    seed_ledgers(&server).await;
    for command in [
        json!({"type": "Open", "data": {"owner": "Ada"}}),
        json!({"type": "Deposit", "data": {"amount": 100}}),
        json!({"type": "Deposit", "data": {"amount": 50}}),
        json!({"type": "Withdraw", "data": {"amount": 30}}),
    ] {
        let (status, body) = server.command("bank_account", "acct-1", command).await;
        assert_eq!(status, 200, "{body}");
    }
    let hostile = json!({
        "text": "<script>window.__xss = 'script'</script>",
        "attr": "\"><img src=x onerror=\"window.__xss='img'\">",
        "<b onmouseover=\"window.__xss='key'\">key</b>": 1,
    });
    let (status, body) = server
        .append(
            "xss-1",
            json!("no_stream"),
            json!([{"type": "Note<img src=x onerror=\"window.__xss='type'\">", "data": hostile, "metadata": hostile}]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    server
        .wait_for_projection("picky", "caught up", |s| {
            s["state"] == "live" && s["position"].as_u64() >= Some(100_005)
        })
        .await;
    let browser = Browser::start().await;

    // Overview: `/` leads there; the head and the modules.
    browser.open(&server.url("/")).await;
    assert_eq!(browser.text("main h1").await, "Overview");
    let (_, stats) = server.get("/v1/stats").await;
    let head = browser.text("#head").await.replace(',', "");
    assert_eq!(head, stats["head"].to_string());
    let modules = browser.text("#modules-table").await;
    for name in ["bank_account", "account_balances", "picky"] {
        assert!(modules.contains(name), "{name} is not listed: {modules}");
    }
    assert_eq!(
        browser.text("#version").await,
        stats["version"].as_str().expect("a version")
    );
    browser.screenshot("overview").await;
    browser.resize(390, 844).await;
    browser
        .wait_until(
            "the overview fits a phone's width",
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
        )
        .await;
    browser.screenshot("overview-phone").await;
    browser.resize(1280, 1000).await;
    no_console_errors(&browser, "the overview").await;

    // Streams: a search finds one stream among 10,000, and pages both ways.
    browser.open(&server.url("/ui/streams")).await;
    browser.fill("#stream-prefix", "ledger-0421").await;
    browser.click("#stream-search").await;
    browser
        .wait_until(
            "the search finds ledger-04217",
            "return document.querySelector('#streams-table')?.textContent.includes('ledger-04217') && !document.querySelector('#streams-table').textContent.includes('ledger-04220')",
        )
        .await;
    browser.fill("#stream-prefix", "ledger-").await;
    browser.click("#stream-search").await;
    let first_row = "return document.querySelector('#streams-table tbody tr td')?.textContent";
    browser
        .wait_until("the first page", &format!("{first_row} === 'ledger-00000'"))
        .await;
    browser.click("#streams-next").await;
    browser
        .wait_until("the next page", &format!("{first_row} === 'ledger-00025'"))
        .await;
    browser.click("#streams-previous").await;
    browser
        .wait_until(
            "the page before",
            &format!("{first_row} === 'ledger-00000'"),
        )
        .await;

    // The live tail shows an event within a second of its append, and holds it while paused.
    browser
        .wait_until(
            "the tail is live",
            "return document.querySelector('#tail-state').textContent === 'live'",
        )
        .await;
    let appended = Instant::now();
    let (status, _) = server
        .append(
            "tail-1",
            json!("any"),
            json!([{"type": "Pinged", "data": {}}]),
        )
        .await;
    assert_eq!(status, 201);
    browser
        .wait_until(
            "the tail shows tail-1",
            "return document.querySelector('#tail-rows').textContent.includes('tail-1')",
        )
        .await;
    let took = appended.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the tail showed the event after {took:?}"
    );
    browser.screenshot("streams").await;
    browser.click("#tail-pause").await;
    let (status, _) = server
        .append(
            "tail-2",
            json!("any"),
            json!([{"type": "Pinged", "data": {}}]),
        )
        .await;
    assert_eq!(status, 201);
    browser
        .wait_until(
            "the pause holds the event",
            "return document.querySelector('#tail-pause').textContent === 'Resume (1 new)'",
        )
        .await;
    let rows = browser.text("#tail-rows").await;
    assert!(
        !rows.contains("tail-2"),
        "a paused tail showed the event: {rows}"
    );
    browser.click("#tail-pause").await;
    browser
        .wait_until(
            "resuming shows it",
            "return document.querySelector('#tail-rows').textContent.includes('tail-2')",
        )
        .await;
    no_console_errors(&browser, "the streams page").await;

    // A stream of hostile data: every value is text, nothing runs, "expand all" opens all.
    browser.open(&server.url("/ui/streams/xss-1")).await;
    browser.wait_for("#events article").await;
    browser.click("#expand-all").await;
    let events = browser.text("#events").await;
    assert!(
        events.contains("<script>window.__xss = 'script'</script>"),
        "{events}"
    );
    assert!(events.contains("onerror"), "{events}");
    let inert = browser
        .eval("return [window.__xss === undefined, document.querySelectorAll('#events img, #events script, #events b').length, document.querySelectorAll('#events details:not([open])').length]")
        .await;
    assert_eq!(
        inert,
        json!([true, 0, 0]),
        "hostile data ran or became markup, or a fold stayed shut"
    );
    browser.screenshot("stream").await;
    no_console_errors(&browser, "a stream page").await;

    // Provenance: an aggregate's event links to its command and the command's events.
    browser
        .open(&server.url("/ui/streams/bank_account-acct-1"))
        .await;
    browser
        .click("article[data-version='2'] a[href^='/ui/commands/']")
        .await;
    browser.wait_for("#command-type").await;
    assert_eq!(browser.text("#command-type").await, "Deposit");
    let command_page = browser.text("main").await;
    assert!(
        command_page.contains("Deposited") && command_page.contains("appended"),
        "{command_page}"
    );
    browser.screenshot("command").await;
    no_console_errors(&browser, "a command page").await;

    // The inspector: each version's state equals the API's, stepping back and forth.
    browser
        .open(&server.url("/ui/aggregates/bank_account/acct-1"))
        .await;
    inspector_shows(&browser, &server, "acct-1", 4).await;
    for at in (0..4).rev() {
        browser.click("#tt-previous").await;
        inspector_shows(&browser, &server, "acct-1", at).await;
    }
    for at in 1..=4 {
        browser.click("#tt-next").await;
        inspector_shows(&browser, &server, "acct-1", at).await;
    }
    browser.click("#tt-previous").await;
    inspector_shows(&browser, &server, "acct-1", 3).await;
    let diff = browser.text("#diff").await;
    assert!(
        diff.contains("balance") && diff.contains("100") && diff.contains("150"),
        "{diff}"
    );
    browser.screenshot("inspector").await;

    // The command console: a command's events, and a rejection in the module's words.
    browser.fill("#command-type", "Deposit").await;
    browser.fill("#command-data", r#"{"amount": 25}"#).await;
    browser.click("#command-send").await;
    let accepted = browser.text("#command-accepted").await;
    assert!(accepted.contains("version 5"), "{accepted}");
    let result = browser.text("#command-result").await;
    assert!(result.contains("Deposited"), "{result}");
    inspector_shows(&browser, &server, "acct-1", 5).await;
    browser.fill("#command-type", "Withdraw").await;
    browser
        .fill("#command-data", r#"{"amount": 1000000}"#)
        .await;
    browser.click("#command-send").await;
    let rejected = browser.text("#command-rejected").await;
    assert!(
        rejected.contains("insufficient funds: the balance is 145"),
        "{rejected}"
    );
    browser.screenshot("inspector-command").await;
    no_console_errors(&browser, "the inspector").await;

    // Projections: a reset shows its progress, then live; a fault shows its event, linked.
    browser.open(&server.url("/ui/projections")).await;
    browser
        .wait_for("#projection-picky .state-slot .badge")
        .await;
    browser
        .eval("window.__sawRebuild = false; new MutationObserver(() => { if (document.querySelector('#projection-picky .rebuild progress')) window.__sawRebuild = true; }).observe(document.querySelector('#projections'), {subtree: true, childList: true, attributes: true}); return true")
        .await;
    let generation = server.get("/v1/projections/picky").await.1["generation"].clone();
    browser.click("#projection-picky button.reset").await;
    browser
        .client
        .accept_alert()
        .await
        .expect("the reset is confirmed");
    browser
        .wait_until(
            "the reset's progress shows",
            "return window.__sawRebuild === true",
        )
        .await;
    browser
        .wait_until(
            "the rebuilt projection is live",
            "const card = document.querySelector('#projection-picky'); return card.dataset.state === 'live' && card.dataset.rebuilding === ''",
        )
        .await;
    let after = server.get("/v1/projections/picky").await.1;
    assert_ne!(
        after["generation"], generation,
        "the reset built a new generation: {after}"
    );
    let (status, _) = server
        .append(
            "ledger-poison",
            json!("any"),
            json!([{"type": "Poison", "data": {}}]),
        )
        .await;
    assert_eq!(status, 201);
    let fault = browser.text("#projection-picky .fault").await;
    assert!(fault.contains("Poison"), "{fault}");
    browser.screenshot("projections").await;
    browser.click("#projection-picky .fault a").await;
    browser.wait_for("#stream-name").await;
    assert_eq!(browser.text("#stream-name").await, "ledger-poison");
    no_console_errors(&browser, "the projections page").await;

    // A query from the query box.
    browser.open(&server.url("/ui/projections")).await;
    browser
        .fill(
            "#query-picky",
            r#"{"type": "count", "event_type": "Entered"}"#,
        )
        .await;
    browser.click("#projection-picky button.ask").await;
    let answer = browser.text("#projection-picky .query-answer").await;
    assert!(answer.contains("100000"), "{answer}");

    // Modules: a version uploaded from a file, then removed.
    browser.open(&server.url("/ui/modules")).await;
    let path = cairn_tests::guest_path("customers");
    browser
        .wait_for("#module-file")
        .await
        .send_keys(path.to_str().expect("a UTF-8 path"))
        .await
        .expect("chooses the file");
    browser
        .wait_until(
            "the file is read",
            "return document.querySelector('#module-name').value === 'customers'",
        )
        .await;
    browser.click("#module-upload").await;
    let loaded = browser.text("#upload-ok").await;
    assert!(loaded.contains("customers v1 (aggregate)"), "{loaded}");
    browser
        .wait_until(
            "the list shows it",
            "return document.querySelector('#modules-table').textContent.includes('customers')",
        )
        .await;
    let (_, described) = server.get("/v1/modules/customers").await;
    let uploaded_at = described["versions"][0]["uploaded_at"]
        .as_u64()
        .unwrap_or_else(|| panic!("the upload is stamped: {described}"));
    let shown = browser
        .eval(&format!(
            "const row = [...document.querySelectorAll('#modules-table tr')]
               .find((row) => row.textContent.includes('customers'));
             const shown = row.querySelector('time');
             return shown !== null
               && shown.getAttribute('datetime') === new Date({uploaded_at}).toISOString()
               && shown.textContent.length > 0"
        ))
        .await;
    assert_eq!(shown, Value::Bool(true), "the row shows the upload time");
    browser.screenshot("modules").await;
    browser.click("button[aria-label='Remove customers']").await;
    browser
        .client
        .accept_alert()
        .await
        .expect("the removal is confirmed");
    browser
        .wait_until(
            "the list drops it",
            "return !document.querySelector('#modules-table').textContent.includes('customers')",
        )
        .await;
    let (status, _) = server.get("/v1/modules/customers").await;
    assert_eq!(status, 404);
    no_console_errors(&browser, "the modules page").await;

    // The overview again, its charts now holding the walk's minute of work.
    browser.open(&server.url("/ui/")).await;
    browser.wait_for("#modules-table").await;
    browser.screenshot("overview-later").await;
    no_console_errors(&browser, "the overview").await;

    browser.close().await;
    server.stop().await;
}

/// The number reactor `name`'s status gives under `field`.
async fn reactor_figure(server: &Server, name: &str, field: &str) -> Value {
    server.get(&format!("/v1/reactors/{name}")).await.1[field].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactors_show_their_parked_events_which_are_retried_from_the_page() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &["bank_account", "picky_reactor"]).await;
    for command in [
        json!({"type": "Open", "data": {"owner": "Ada"}}),
        json!({"type": "Deposit", "data": {"amount": 10}}),
        json!({"type": "Withdraw", "data": {"amount": 3}}),
        json!({"type": "Deposit", "data": {"amount": 4}}),
    ] {
        let (status, body) = server.command("bank_account", "r1", command).await;
        assert_eq!(status, 200, "{body}");
    }
    // The withdrawal traps (parked after its retries); the deposit after it waits behind it.
    server
        .wait_until("/v1/reactors/picky_reactor", "parked two events", |s| {
            s["parked"] == 2
        })
        .await;

    let browser = Browser::start().await;
    browser.open(&server.url("/ui/reactors")).await;
    browser
        .wait_until(
            "both parked events show",
            "return document.querySelectorAll('#reactor-picky_reactor .parked tbody tr').length === 2",
        )
        .await;
    let shown = browser.text("#reactor-picky_reactor .parked tbody").await;
    assert!(
        shown.contains("withdrawals are not handled") && shown.contains("behind"),
        "{shown}"
    );
    let card = browser.text("#reactor-picky_reactor").await;
    assert!(card.contains("live"), "{card}");
    browser.screenshot("reactors-parked").await;

    // The fix, then Retry all: both are let go, in the stream's order, each once.
    let (status, body) = server
        .put_module(
            "picky_reactor",
            cairn_tests::guest("picky-reactor-fixed"),
            "application/wasm",
        )
        .await;
    assert_eq!(status, 201, "{body}");
    browser
        .click("#reactor-picky_reactor button.retry-all")
        .await;
    browser
        .client
        .accept_alert()
        .await
        .expect("the retry is confirmed");
    browser
        .wait_until(
            "the page says both were let go and lists nothing",
            "const card = document.querySelector('#reactor-picky_reactor');
             return card.querySelector('.said').textContent.includes('2 retried')
               && card.querySelector('.parked').textContent.includes('Nothing is parked')",
        )
        .await;
    assert_eq!(reactor_figure(&server, "picky_reactor", "parked").await, 0);
    server
        .wait_until("/v1/aggregates/bank_account/r1_shadow", "reached 17", |a| {
            a["state"]["balance"] == 17
        })
        .await;
    browser.screenshot("reactors-retried").await;

    // A reset from a position, confirmed: the figures come back to what they were, since
    // every command is answered by its key.
    let issued = reactor_figure(&server, "picky_reactor", "intents_issued").await;
    let head = server.get("/v1/all?limit=1").await.1["head"].clone();
    browser.fill("#reset-from-picky_reactor", "0").await;
    browser.click("#reactor-picky_reactor button.reset").await;
    browser
        .client
        .accept_alert()
        .await
        .expect("the reset is confirmed");
    browser
        .wait_until(
            "the page says it was reset",
            "return document.querySelector('#reactor-picky_reactor .said').textContent.includes('Reset from position 0')",
        )
        .await;
    server
        .wait_until(
            "/v1/reactors/picky_reactor",
            "settled after the replay",
            |s| s["intents_executed"] == issued,
        )
        .await;
    let (_, body) = server.get("/v1/aggregates/bank_account/r1_shadow").await;
    assert_eq!(
        body["state"]["balance"], 17,
        "the replay executed nothing again"
    );
    assert_eq!(
        server.get("/v1/all?limit=1").await.1["head"],
        head,
        "the replay stored nothing"
    );
    no_console_errors(&browser, "the reactors page").await;
    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_api_key_the_console_asks_for_it_and_guards_changes() {
    let server = Server::start_with(Some("s3cret-key")).await;
    // The console's files need no key and forbid scripts that are not its own.
    let shell = server
        .http
        .get(server.url("/ui/"))
        .send()
        .await
        .expect("answers");
    assert_eq!(shell.status(), 200);
    let csp = shell.headers()["content-security-policy"]
        .to_str()
        .expect("ASCII");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let (status, body) = server.get("/v1/stats").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );

    let browser = Browser::start().await;
    browser
        .client
        .goto(&server.url("/ui/"))
        .await
        .expect("navigates");
    browser
        .wait_until(
            "the key is asked for",
            "return document.querySelector('#sign-in').open === true",
        )
        .await;
    let page = browser.text("#page").await;
    assert!(
        !page.contains("Overview"),
        "the console showed a page without the key: {page}"
    );
    browser.screenshot("sign-in").await;
    browser.fill("#sign-in-key", "wrong").await;
    browser.click("#sign-in-form button[type='submit']").await;
    let problem = browser.text("#sign-in-error").await;
    assert_eq!(problem, "That is not this server's key.");
    browser.fill("#sign-in-key", "s3cret-key").await;
    browser.click("#sign-in-form button[type='submit']").await;
    browser
        .wait_until(
            "the overview shows",
            "return document.querySelector('main h1')?.textContent === 'Overview'",
        )
        .await;
    // The key is in a cookie scripts cannot read.
    let cookies = browser.eval("return document.cookie").await;
    assert!(
        !cookies.as_str().unwrap_or_default().contains("cairn_key"),
        "{cookies}"
    );
    // A change under the cookie without the CSRF token is refused; with it, it goes through.
    let refused = browser
        .client
        .execute_async(
            "const done = arguments[0]; fetch('/v1/projections/none/pause', {method: 'POST'}).then(r => r.json().then(b => done([r.status, b.error])))",
            vec![],
        )
        .await
        .expect("the script runs");
    assert_eq!(refused, json!([403, "csrf_refused"]));
    let allowed = browser
        .client
        .execute_async(
            "const done = arguments[0]; fetch('/ui/session').then(r => r.json()).then(s => fetch('/v1/projections/none/pause', {method: 'POST', headers: {'x-cairn-csrf': s.csrf}})).then(r => r.json().then(b => done([r.status, b.error])))",
            vec![],
        )
        .await
        .expect("the script runs");
    assert_eq!(allowed, json!([404, "unknown_projection"]));
    no_console_errors(&browser, "signing in").await;
    // Signing out forgets the key.
    browser.click("#sign-out").await;
    browser
        .wait_until(
            "the key is asked for again",
            "return document.querySelector('#sign-in').open === true",
        )
        .await;
    browser.close().await;
    server.stop().await;
}
