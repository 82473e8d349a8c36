//! `cairn deploy --plan`: asks the server what each candidate module would do to the history
//! it would serve, shows the plan's progress while it runs, and prints the report: counts,
//! then the first examples of each kind of change, each state or decision as a readable diff.

use std::io::IsTerminal;

use reqwest::Method;
use serde_json::Value;

use crate::client::api::Api;
use crate::client::commands::encode;
use crate::client::sse::SseReader;

/// How one module is planned.
#[derive(Debug)]
pub(super) struct PlanArgs<'a> {
    pub(super) sample: Option<usize>,
    /// The queries to compare, for a projection.
    pub(super) queries: Option<&'a Value>,
    pub(super) json: bool,
}

/// The queries of `--queries FILE`, by projection: a JSON object from names to arrays.
pub(super) fn queries_file(
    path: Option<&std::path::Path>,
) -> anyhow::Result<serde_json::Map<String, Value>> {
    let Some(path) = path else {
        return Ok(serde_json::Map::new());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let queries: serde_json::Map<String, Value> = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a JSON object from projection names to arrays of queries: {e}",
            path.display()
        )
    })?;
    for (name, list) in &queries {
        anyhow::ensure!(
            list.is_array(),
            "{}: the queries of {name} are not an array",
            path.display()
        );
    }
    Ok(queries)
}

/// Plans `bytes` as the next version of `name`. Returns whether the report found changes. A
/// reactor is not planned (the server says why, `not_planned`): that is said, and is no change,
/// so the plan of a cairn.toml goes on to its other modules.
pub(super) async fn plan(
    api: &Api,
    name: &str,
    bytes: Vec<u8>,
    options: PlanArgs<'_>,
) -> anyhow::Result<bool> {
    let PlanArgs {
        sample,
        queries,
        json,
    } = options;
    let path = format!("/v1/modules/{}/plan", encode(name));
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(sample) = sample {
        query.push(("sample", sample.to_string()));
    }
    if let Some(queries) = queries {
        query.push(("queries", queries.to_string()));
    }
    let request = api
        .request(Method::POST, &path)
        .query(&query)
        .header("content-type", "application/wasm")
        .header("accept", "text/event-stream")
        .body(bytes);
    let response = api
        .send(request)
        .await
        .map_err(|error| error.context(format!("planning {name}")))?;
    let report = match read_events(response, name).await? {
        PlanReply::Report(report) => report,
        PlanReply::Failed { code, message } if code == "not_planned" => {
            if json {
                let line = serde_json::json!({
                    "module": name,
                    "planned": false,
                    "reason": message,
                });
                println!("{line}");
            } else {
                println!("{name}: not planned: {message}");
            }
            return Ok(false);
        }
        PlanReply::Failed { code, message } => anyhow::bail!("planning {name}: {message} ({code})"),
    };
    if json {
        println!("{report}");
    } else if report["kind"] == "projection" {
        print_projection_report(name, &report);
    } else {
        print_report(name, &report);
    }
    Ok(report["changes"].as_bool().unwrap_or(true))
}

/// The report's first line: the candidate, and the version it is planned against.
fn print_candidate(name: &str, report: &Value) {
    let short = |hash: &Value| {
        hash.as_str()
            .unwrap_or("?")
            .chars()
            .take(12)
            .collect::<String>()
    };
    match report.get("live").filter(|live| !live.is_null()) {
        Some(live) => println!(
            "{name}: candidate {} against version {} ({})",
            short(&report["candidate"]["hash"]),
            live["version"],
            short(&live["hash"])
        ),
        None => println!(
            "{name}: candidate {} (nothing serves under this name yet)",
            short(&report["candidate"]["hash"])
        ),
    }
}

/// A projection's plan: the fold, then each query's answers, with a diff where they differ.
fn print_projection_report(name: &str, report: &Value) {
    print_candidate(name, report);
    println!(
        "fold: the log to position {} ({} events as read), into a read model in memory beside \
         the serving one",
        report["head"], report["events"]
    );
    if let Some(failure) = report.get("failure").filter(|f| !f.is_null()) {
        println!(
            "  fails    at position {}{}: {}",
            failure["position"],
            failure["type"]
                .as_str()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            failure["error"].as_str().unwrap_or("?")
        );
    }
    if report["queries_given"] != true {
        println!("queries: none given (--queries FILE compares the answers of both models)");
    } else {
        println!(
            "queries: {} same, {} different",
            report["same"], report["different"]
        );
        for query in report["queries"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            if query["same"] == true {
                continue;
            }
            println!("  different {}", query["request"]);
            print_diff(query);
        }
    }
    if report["changes"] == true {
        println!("{name}: the candidate folds the log or answers otherwise");
    } else {
        println!("{name}: no changes: the candidate folds the log and answers as the serving one");
    }
}

/// How a streamed plan ended: its report, or the error the server sent instead.
enum PlanReply {
    Report(Value),
    Failed { code: String, message: String },
}

/// Reads the plan's events: progress to the terminal, until the report (or an error).
async fn read_events(response: reqwest::Response, name: &str) -> anyhow::Result<PlanReply> {
    let show_progress = std::io::stderr().is_terminal();
    let mut messages = SseReader::new(response.bytes_stream());
    while let Some(message) = messages.next().await? {
        let value: Value = serde_json::from_str(&message.data).unwrap_or(Value::Null);
        match message.event.as_deref() {
            Some("progress") if show_progress => eprint!("\r{}", progress_line(name, &value)),
            Some("progress") | None => {}
            Some("report") => {
                if show_progress {
                    eprint!("\r\x1b[K");
                }
                return Ok(PlanReply::Report(value));
            }
            Some(_) => {
                if show_progress {
                    eprint!("\r\x1b[K");
                }
                return Ok(PlanReply::Failed {
                    code: value["error"].as_str().unwrap_or("error").to_owned(),
                    message: value["message"]
                        .as_str()
                        .unwrap_or("the plan failed")
                        .to_owned(),
                });
            }
        }
    }
    anyhow::bail!("planning {name}: the server ended the plan without a report")
}

/// `bank_account: 4,000 of 10,000 streams, 40,000 events (81,000 events/s), 0 of 10,000 commands`.
fn progress_line(name: &str, progress: &Value) -> String {
    let number = |key: &str| progress[key].as_u64().unwrap_or(0);
    let seconds = number("elapsed_ms").max(1) as f64 / 1_000.0;
    format!(
        "{name}: {} of {} streams, {} events ({:.0} events/s), {} of {} commands",
        number("streams_done"),
        number("streams_total"),
        number("events_done"),
        number("events_done") as f64 / seconds,
        number("commands_done"),
        number("commands_total"),
    )
}

fn print_report(name: &str, report: &Value) {
    print_candidate(name, report);
    if report["kind"] == "upcaster" {
        println!(
            "upcaster of the {} category: its streams read through the serving upcasters and \
             through the candidate",
            report["category"].as_str().unwrap_or("?")
        );
    }
    let replay = &report["replay"];
    println!(
        "replay: {} streams{}, {} events: {} equal, {} differ, {} failed{}",
        replay["streams"],
        sampled(replay, "streams_total"),
        replay["events"],
        replay["equal"],
        replay["differ"],
        replay["failed"],
        match replay["live_failed"].as_u64() {
            Some(n) if n > 0 => format!(" ({n} the serving version itself cannot fold)"),
            _ => String::new(),
        }
    );
    for difference in list(replay, "differences") {
        println!(
            "  differs  {} at version {}",
            difference["stream"].as_str().unwrap_or("?"),
            difference["version"]
        );
        print_diff(difference);
    }
    for failure in list(replay, "failures") {
        println!(
            "  fails    {} at version {}{}: {}",
            failure["stream"].as_str().unwrap_or("?"),
            failure["version"],
            failure["type"]
                .as_str()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            failure["error"].as_str().unwrap_or("?")
        );
    }
    if replay["failed"].as_u64().unwrap_or(0) > 0 && report["kind"] == "upcaster" {
        println!(
            "  hint: the events of {} cannot be read through the candidate upcaster; fix it for \
             those events (`cairn_sdk::testing::upcast` tries one natively).",
            report["category"].as_str().unwrap_or("its category")
        );
    } else if replay["failed"].as_u64().unwrap_or(0) > 0 {
        println!(
            "  hint: the candidate cannot read events already stored, which are kept forever. \
             Read the old shape too (a serde default or alias on the field), or add an \
             upcaster that turns the old event into the new one."
        );
    }
    let redecide = &report["redecide"];
    println!(
        "re-decide: {} commands{}: {} same, {} different, {} flipped, {} failed",
        redecide["commands"],
        sampled(redecide, "commands_total"),
        redecide["same"],
        redecide["different"],
        redecide["flipped"],
        redecide["failed"]
    );
    for (label, key) in [("different", "differences"), ("flipped", "flips")] {
        for decision in list(redecide, key) {
            println!(
                "  {label:<9} {} {} (decided at version {}): {} → {}",
                decision["stream"].as_str().unwrap_or("?"),
                decision["type"].as_str().unwrap_or("?"),
                decision["decided_at"],
                decision["recorded"]["verdict"].as_str().unwrap_or("?"),
                decision["candidate"]["verdict"].as_str().unwrap_or("?"),
            );
            print_diff(decision);
        }
    }
    for failure in list(redecide, "failures") {
        println!(
            "  fails     {} {} (decided at version {}): {}",
            failure["stream"].as_str().unwrap_or("?"),
            failure["type"].as_str().unwrap_or("?"),
            failure["decided_at"],
            failure["error"].as_str().unwrap_or("?")
        );
    }
    if report["changes"] == true {
        println!("{name}: the candidate reads or decides the history otherwise");
    } else {
        println!("{name}: no changes: the candidate reads and decides the history as it was");
    }
}

fn print_diff(item: &Value) {
    for line in list(item, "diff") {
        println!("      {}", line.as_str().unwrap_or("?"));
    }
}

fn list<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value[key].as_array().into_iter().flatten()
}

/// ` (a sample of N)` when the part sampled, else ` (all)`.
fn sampled(part: &Value, total: &str) -> String {
    if part["sampled"] == true {
        format!(" (a sample of {})", part[total])
    } else {
        " (all)".to_owned()
    }
}
